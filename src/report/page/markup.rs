//! Pieces every section uses: times, sizes, labels, and the shell of a data table (its
//! filter box, pager and the statement of how many rows it shows).

use maud::{Markup, html};

/// A time as the tables write it (RFC 3339, UTC), or a dash.
pub fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "-".to_owned(), crate::parse::time::format_micros)
}

/// A time to the second, for reading in a table (the exact time is the cell's title).
pub fn short_time(t: Option<i64>) -> String {
    t.and_then(|t| jiff::Timestamp::from_microsecond(t).ok())
        .map_or_else(
            || "-".to_owned(),
            |ts| ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
        )
}

/// A time cell: the day over the time of day, to the second; exact in its title; sorted by
/// its value.
pub fn time_cell(t: Option<i64>) -> Markup {
    let shown = short_time(t);
    let (day, clock) = shown.split_once(' ').unwrap_or((&shown, ""));
    html! {
        td.time data-sort=(t.unwrap_or(i64::MIN)) title=(time(t)) {
            (day) @if !clock.is_empty() { br; (clock) }
        }
    }
}

/// A permission code, breakable after each `:`.
pub fn permission(code: &str) -> Markup {
    html! {
        code.perm {
            @for (i, part) in code.split_inclusive(':').enumerate() {
                @if i > 0 { wbr; }
                (part)
            }
        }
    }
}

/// A method and route template, breakable after each `/` (routes are long and have no
/// spaces).
pub fn route(method: &str, route: &str) -> Markup {
    html! {
        code.route {
            @if !method.is_empty() { (method) " " }
            @for (i, part) in route.split_inclusive('/').enumerate() {
                @if i > 0 { wbr; }
                (part)
            }
        }
    }
}

/// A count cell, right-aligned and sorted as a number.
pub fn count_cell(n: u64) -> Markup {
    html! { td.num data-sort=(n) { (n) } }
}

/// Bytes in MiB, for a reader (the exact figure is shown beside it).
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// A verdict's name and what it means, for the headline.
pub fn verdict_label(verdict: &str) -> (&'static str, &'static str) {
    match verdict {
        "confirmed" => ("confirmed denials", "403s the snapshot explains"),
        "predicted_only" => ("predicted only", "successes the snapshot would deny"),
        "observed_only" => ("observed only", "403s the snapshot would allow"),
        _ => ("", ""),
    }
}

/// The verdicts in the order the page shows them.
pub const VERDICTS: [&str; 3] = ["confirmed", "predicted_only", "observed_only"];

/// What the recommended policy does with a grant, as a badge.
pub fn fate_badge(fate: &str) -> Markup {
    let text = match fate {
        "kept" => "kept",
        "removed" => "removed",
        "deny_kept" => "still denied",
        _ => fate,
    };
    html! { span class={"badge b-" (fate)} { (text) } }
}

/// A badge for a verdict, reason, state or confidence: its class is the value, when the
/// value is one the page knows (a value from a damaged table never becomes a class name).
pub fn badge(value: &str) -> Markup {
    const KNOWN: [&str; 13] = [
        "confirmed",
        "predicted_only",
        "observed_only",
        "used",
        "unused",
        "unobservable",
        "denied",
        "high",
        "low",
        "kept",
        "removed",
        "deny_kept",
        "console",
    ];
    let class = if KNOWN.contains(&value) {
        value
    } else {
        "other"
    };
    html! { span class={"badge b-" (class)} { (value) } }
}

/// A `;`-separated list (the tables' list format) as separate lines.
pub fn list(joined: &str) -> Markup {
    html! {
        @for (i, item) in joined.split(';').filter(|s| !s.is_empty()).enumerate() {
            @if i > 0 { br; }
            (item)
        }
    }
}

/// A column of a data table: its header and whether it sorts as a number.
pub struct Col {
    pub label: &'static str,
    pub numeric: bool,
}

pub const fn col(label: &'static str) -> Col {
    Col {
        label,
        numeric: false,
    }
}

pub const fn num_col(label: &'static str) -> Col {
    Col {
        label,
        numeric: true,
    }
}

/// A data table: a filter box, optional value filters (column index, label, values), the
/// rows, a pager, and how many of the table's rows are shown.
pub struct DataTable<'a> {
    pub id: &'a str,
    pub cols: &'a [Col],
    /// Rows of the table the page was made from.
    pub total: usize,
    /// Rows in this page (the first `shown` in the stated order).
    pub shown: usize,
    /// How the shown rows were chosen when not all are shown.
    pub order: &'a str,
    /// The file holding every row.
    pub file: &'a str,
    pub selects: Vec<(usize, &'a str, Vec<String>)>,
    pub rows: Markup,
}

/// Rows of a table the page holds at most (those the table's order puts first): enough to
/// browse, few enough that the page stays small and quick to make beside the tables.
pub const ROWS_SHOWN: usize = 1000;

/// Rows a page of a table shows at once (the pager moves through the rest).
const PAGE_ROWS: usize = 50;

impl DataTable<'_> {
    pub fn render(self) -> Markup {
        html! {
            div.table-block {
                p.count data-total=(self.total) data-shown=(self.shown) {
                    @if self.shown < self.total {
                        "Showing " (self.shown) " of " (self.total) " rows (" (self.order)
                        "); every row is in " code { (self.file) } "."
                    } @else {
                        (self.total) " rows."
                    }
                }
                @if self.shown > 0 {
                    div.controls {
                        input.filter type="search" placeholder="Filter rows" aria-label="Filter rows";
                        @for (index, label, values) in &self.selects {
                            select.column-filter data-column=(index) aria-label=(label) {
                                option value="" { "any " (label) }
                                @for v in values { option value=(v) { (v) } }
                            }
                        }
                        span.pager {}
                    }
                    div.scroll {
                        table.data id=(self.id) data-page-size=(PAGE_ROWS) {
                            thead { tr {
                                @for c in self.cols {
                                    th.num[c.numeric] scope="col" { (c.label) }
                                }
                            } }
                            tbody { (self.rows) }
                        }
                    }
                }
            }
        }
    }
}

/// Indices of `0..n` ordered by `key` (descending counts first, then the given order), the
/// first `cap` of them.
pub fn top_rows(n: usize, cap: usize, key: impl Fn(usize) -> u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| key(b).cmp(&key(a)).then(a.cmp(&b)));
    order.truncate(cap);
    order
}
