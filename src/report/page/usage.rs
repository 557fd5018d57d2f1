//! Usage: per API, who called it and how often (from `usage`), per user and API, and the
//! calls to the service that matched no API (from `unmatched`).

use foldhash::HashMap;
use std::borrow::Cow;

use maud::{Markup, html};

use super::UsageTables;
use super::markup::{self, DataTable, col, num_col};

/// Callers named per API, and unmatched shapes shown.
const CALLERS_NAMED: usize = 8;
pub const UNMATCHED_ROWS: usize = 100;

/// The usage section and the unmatched calls (shown among the limits).
pub struct UsagePart {
    pub section: Markup,
    /// Requests that matched no route, and their shapes' rendered rows.
    pub unmatched_requests: u64,
    pub unmatched_shapes: usize,
    pub unmatched: Markup,
}

/// Requests by outcome: successful (`allowed`), refused (`denied`), anything else.
#[derive(Default, Clone, Copy)]
struct Calls {
    all: u64,
    allowed: u64,
    denied: u64,
    first: Option<i64>,
    last: Option<i64>,
}

impl Api<'_> {
    /// Callers (user ids), most requests first.
    fn callers(&self) -> Vec<(u32, u64)> {
        let mut callers: Vec<(u32, u64)> = self.users.iter().map(|(&u, &n)| (u, n)).collect();
        callers.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        callers
    }
}

impl Calls {
    fn add(&mut self, outcome: &str, n: u64, first: Option<i64>, last: Option<i64>) {
        self.all += n;
        match outcome {
            "allowed" => self.allowed += n,
            "denied" => self.denied += n,
            _ => {}
        }
        self.first = match (self.first, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(last);
    }

    fn cells(&self) -> Markup {
        html! {
            (markup::count_cell(self.all))
            (markup::count_cell(self.allowed))
            (markup::count_cell(self.denied))
            (markup::count_cell(self.all - self.allowed - self.denied))
        }
    }
}

/// Texts of a table: borrowed from the frame (copied only when a CSV cell was unescaped).
type Text<'a> = Cow<'a, str>;

/// One API (method and route) and its callers (by user id).
struct Api<'a> {
    method: Text<'a>,
    route: Text<'a>,
    name: Text<'a>,
    permission: Text<'a>,
    calls: Calls,
    users: HashMap<u32, u64>,
}

/// The usage rows grouped: users and APIs numbered in table order, calls per API and per
/// user and API. Rows are grouped by number, so each row's texts are hashed once.
struct Grouped<'a> {
    users: Vec<Text<'a>>,
    apis: Vec<Api<'a>>,
    pairs: HashMap<(u32, u32), Calls>,
}

fn group(u: &super::Table) -> anyhow::Result<Grouped<'_>> {
    let [user, method, route, api, permission, outcome] =
        ["user", "method", "route", "api", "permission", "outcome"].map(|c| u.texts(c));
    let (user, method, route) = (user?.all(), method?.all(), route?.all());
    let (api, permission, outcome) = (api?.all(), permission?.all(), outcome?.all());
    let (count, first, last) = (
        u.counts("count")?,
        u.times("first_seen")?,
        u.times("last_seen")?,
    );
    let mut g = Grouped {
        users: Vec::new(),
        apis: Vec::new(),
        pairs: HashMap::default(),
    };
    let mut user_ids: HashMap<&str, u32> = HashMap::default();
    let mut api_ids: HashMap<(&str, &str), u32> = HashMap::default();
    for i in 0..u.len() {
        let who = *user_ids.entry(&user[i]).or_insert_with(|| {
            g.users.push(user[i].clone());
            g.users.len() as u32 - 1
        });
        let which = *api_ids.entry((&method[i], &route[i])).or_insert_with(|| {
            g.apis.push(Api {
                method: method[i].clone(),
                route: route[i].clone(),
                name: api[i].clone(),
                permission: permission[i].clone(),
                calls: Calls::default(),
                users: HashMap::default(),
            });
            g.apis.len() as u32 - 1
        });
        let a = &mut g.apis[which as usize];
        a.calls.add(&outcome[i], count[i], first[i], last[i]);
        *a.users.entry(who).or_default() += count[i];
        g.pairs
            .entry((who, which))
            .or_default()
            .add(&outcome[i], count[i], first[i], last[i]);
    }
    Ok(g)
}

pub fn part(t: &UsageTables) -> anyhow::Result<UsagePart> {
    let u = &t.usage;
    let g = group(u)?;
    let (unmatched_requests, unmatched) = unmatched(&t.unmatched)?;
    let section = html! {
        section #usage {
            h2 { "Usage" }
            p.lead { "Calls to the catalog's APIs in the window, whatever their outcome: "
                strong { "successful" } " (2xx/3xx, what makes a permission used), "
                strong { "refused" } " (403), " strong { "other" }
                " (401, 404, 429, 5xx, no status: never a use or a denial)." }
            h3 { "Per API" }
            (per_api(&g, &u.name))
            h3 { "Per user and API" }
            (per_user(&g, &u.name))
        }
    };
    Ok(UsagePart {
        section,
        unmatched_requests,
        unmatched_shapes: t.unmatched.len(),
        unmatched,
    })
}

fn per_api(g: &Grouped<'_>, file: &str) -> Markup {
    let mut list: Vec<&Api<'_>> = g.apis.iter().collect();
    // Most requests first; ties in the table's order (stable sort).
    list.sort_by_key(|a| std::cmp::Reverse(a.calls.all));
    let rows = html! {
        @for a in &list {
            @let callers = a.callers();
            tr {
                td.api { (a.name) br; (markup::route(&a.method, &a.route)) }
                td { (markup::permission(&a.permission)) }
                (a.calls.cells())
                (markup::count_cell(a.users.len() as u64))
                td.callers {
                    @for (i, (user, n)) in callers.iter().take(CALLERS_NAMED).enumerate() {
                        @if i > 0 { ", " }
                        span.caller { (g.users[*user as usize]) " " span.muted { "x" (n) } }
                    }
                    @if callers.len() > CALLERS_NAMED {
                        " " span.muted { "and " (callers.len() - CALLERS_NAMED) " more" }
                    }
                }
            }
        }
    };
    DataTable {
        id: "api-table",
        cols: &[
            col("API"),
            col("Permission"),
            num_col("Requests"),
            num_col("Successful"),
            num_col("Refused (403)"),
            num_col("Other"),
            num_col("Users"),
            col("Callers (most requests first)"),
        ],
        total: list.len(),
        shown: list.len(),
        order: "",
        file,
        selects: Vec::new(),
        rows,
    }
    .render()
}

fn per_user(g: &Grouped<'_>, file: &str) -> Markup {
    let mut list: Vec<(&(u32, u32), &Calls)> = g.pairs.iter().collect();
    list.sort_unstable_by(|a, b| b.1.all.cmp(&a.1.all).then(a.0.cmp(b.0)));
    let total = list.len();
    list.truncate(markup::ROWS_SHOWN);
    let rows = html! {
        @for ((user, api), c) in &list {
            @let a = &g.apis[*api as usize];
            tr {
                td { (g.users[*user as usize]) }
                td.api { (a.name) br; (markup::route(&a.method, &a.route)) }
                td { (markup::permission(&a.permission)) }
                (c.cells())
                (markup::time_cell(c.first))
                (markup::time_cell(c.last))
            }
        }
    };
    DataTable {
        id: "user-api-table",
        cols: &[
            col("User"),
            col("API"),
            col("Permission"),
            num_col("Requests"),
            num_col("Successful"),
            num_col("Refused (403)"),
            num_col("Other"),
            col("First seen"),
            col("Last seen"),
        ],
        total,
        shown: list.len(),
        order: "those with the most requests",
        file,
        selects: Vec::new(),
        rows,
    }
    .render()
}

/// The unmatched requests and a table of their most frequent shapes.
fn unmatched(t: &super::Table) -> anyhow::Result<(u64, Markup)> {
    let (method, shape, count) = (
        t.texts("method")?,
        t.texts("path_shape")?,
        t.counts("count")?,
    );
    let order = markup::top_rows(t.len(), UNMATCHED_ROWS, |i| count[i]);
    let rows = html! {
        @for &i in &order {
            tr { td { (method.get(i)) } td { (markup::route("", &shape.get(i))) } (markup::count_cell(count[i])) }
        }
    };
    let table = DataTable {
        id: "unmatched-table",
        cols: &[col("Method"), col("Path shape"), num_col("Requests")],
        total: t.len(),
        shown: order.len(),
        order: "those with the most requests",
        file: &t.name,
        selects: Vec::new(),
        rows,
    }
    .render();
    Ok((count.iter().sum(), table))
}
