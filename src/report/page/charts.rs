//! The page's charts: SVG drawn by plotters into a string and inlined. plotters escapes the
//! text it draws (group names are labels here). The `xmlns` attribute is dropped: inline SVG
//! in HTML needs none, and the page names no URL.

use maud::{Markup, PreEscaped};
use plotters::prelude::*;

/// Verdict colours (confirmed, predicted only, observed only) and grant-state colours (used,
/// unused, unobservable, denied); `page.css` gives the legends the same ones.
const VERDICT_COLOURS: [RGBColor; 3] = [
    RGBColor(0xb4, 0x23, 0x18),
    RGBColor(0xdc, 0x68, 0x03),
    RGBColor(0x69, 0x41, 0xc6),
];
const STATE_COLOURS: [RGBColor; 4] = [
    RGBColor(0x06, 0x76, 0x47),
    RGBColor(0xb4, 0x23, 0x18),
    RGBColor(0x98, 0xa2, 0xb3),
    RGBColor(0x34, 0x40, 0x54),
];
const FONT: (&str, u32) = ("sans-serif", 16);
const WIDTH: u32 = 1100;

/// Denied requests per day (`day` at midnight UTC, microseconds), stacked by verdict.
pub fn per_day(days: &[(i64, [u64; 3])]) -> Markup {
    let label = |i: usize| {
        days.get(i)
            .map(|(d, _)| {
                super::markup::time(Some(*d))
                    .get(5..10)
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default()
    };
    let top = days
        .iter()
        .map(|(_, c)| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = days.len().max(1);
    draw((WIDTH, 280), "Denied requests per day by verdict", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0u64..top + top.div_ceil(12))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xea, 0xec, 0xf0))
            .x_labels(n.min(14))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    label(i as usize)
                } else {
                    String::new()
                }
            })
            .y_labels(6)
            .label_style(FONT)
            .draw()?;
        for (i, (_, counts)) in days.iter().enumerate() {
            let x = i as f64;
            let mut bottom = 0u64;
            for (v, &c) in counts.iter().enumerate() {
                if c == 0 {
                    continue;
                }
                let bar = [(x - 0.38, bottom), (x + 0.38, bottom + c)];
                chart.draw_series(std::iter::once(Rectangle::new(
                    bar,
                    VERDICT_COLOURS[v].filled(),
                )))?;
                bottom += c;
            }
        }
        Ok(())
    })
}

/// Grants per group by state (used, unused, unobservable, denied), one bar a group.
pub fn groups(groups: &[(&str, [usize; 4])]) -> Markup {
    let n = groups.len().max(1);
    let top = groups
        .iter()
        .map(|(_, s)| s.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let name = |i: usize| {
        groups.get(i).map_or_else(String::new, |(g, _)| {
            // Long names are cut for the axis; the table below gives them whole.
            let mut s: String = g.chars().take(28).collect();
            if g.chars().count() > 28 {
                s.push_str("...");
            }
            s
        })
    };
    let height = 60 + 26 * n as u32;
    draw((WIDTH, height), "Grants per group by state", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(230)
            .build_cartesian_2d(0usize..top + top.div_ceil(20), -0.5f64..n as f64 - 0.5)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xea, 0xec, 0xf0))
            .y_labels(n)
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 1e-6 && i >= 0.0 {
                    name(n - 1 - i as usize)
                } else {
                    String::new()
                }
            })
            .x_labels(8)
            .label_style(FONT)
            .draw()?;
        for (i, (_, states)) in groups.iter().enumerate() {
            // The worst group on top.
            let y = (n - 1 - i) as f64;
            let mut left = 0usize;
            for (s, &c) in states.iter().enumerate() {
                if c == 0 {
                    continue;
                }
                let bar = [(left, y - 0.35), (left + c, y + 0.35)];
                chart.draw_series(std::iter::once(Rectangle::new(
                    bar,
                    STATE_COLOURS[s].filled(),
                )))?;
                left += c;
            }
        }
        Ok(())
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Draws on an SVG canvas and returns the SVG as markup (or a note, if drawing failed).
fn draw(
    size: (u32, u32),
    title: &str,
    paint: impl for<'r, 'b> FnOnce(&'r Area<'b>) -> Result<(), Box<dyn std::error::Error>>,
) -> Markup {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let painted = paint(&root).map_err(|e| e.to_string());
        painted.and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match drawn {
        Ok(()) => {
            let svg = svg
                .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
                .replacen(
                    "<svg ",
                    &format!(
                        "<svg role=\"img\" aria-label=\"{}\" ",
                        maud::html! { (title) }.0
                    ),
                    1,
                );
            PreEscaped(svg)
        }
        Err(e) => maud::html! { p.note { "The chart could not be drawn: " (e) } },
    }
}
