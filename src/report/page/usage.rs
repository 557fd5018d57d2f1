//! Usage: per API, who called it and how often (from `usage`), per user and API, and the
//! calls to the service that matched no API (from `unmatched`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use maud::{Markup, html};

use super::UsageTables;
use super::markup::{self, DataTable, col, num_col};

/// Rows of the user x API table the page shows, callers named per API, and unmatched shapes.
const USER_API_ROWS: usize = 2000;
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

impl<'a> Api<'a> {
    /// Callers, most requests first.
    fn callers(&self) -> Vec<(&Cow<'a, str>, &u64)> {
        let mut callers: Vec<(&Cow<'a, str>, &u64)> = self.users.iter().collect();
        callers.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
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

/// One API (method and route) and its callers.
#[derive(Default)]
struct Api<'a> {
    name: Text<'a>,
    permission: Text<'a>,
    calls: Calls,
    users: HashMap<Text<'a>, u64>,
}

/// (method, route) of an API; (user, method, route) of a user's calls to it.
type ApiKey<'a> = (Text<'a>, Text<'a>);
type PairKey<'a> = (Text<'a>, Text<'a>, Text<'a>);

pub fn part(t: &UsageTables) -> anyhow::Result<UsagePart> {
    let u = &t.usage;
    let (user, method, route, api, permission, outcome) = (
        u.texts("user")?,
        u.texts("method")?,
        u.texts("route")?,
        u.texts("api")?,
        u.texts("permission")?,
        u.texts("outcome")?,
    );
    let (count, first, last) = (
        u.counts("count")?,
        u.times("first_seen")?,
        u.times("last_seen")?,
    );
    let mut apis: BTreeMap<ApiKey<'_>, Api<'_>> = BTreeMap::new();
    let mut pairs: HashMap<PairKey<'_>, Calls> = HashMap::new();
    for i in 0..u.len() {
        let key = (method.get(i), route.get(i));
        let a = apis.entry(key.clone()).or_default();
        if a.name.is_empty() {
            a.name = api.get(i);
            a.permission = permission.get(i);
        }
        let o = outcome.get(i);
        a.calls.add(&o, count[i], first[i], last[i]);
        *a.users.entry(user.get(i)).or_default() += count[i];
        pairs
            .entry((user.get(i), key.0, key.1))
            .or_default()
            .add(&o, count[i], first[i], last[i]);
    }
    let (unmatched_requests, unmatched) = unmatched(&t.unmatched)?;
    let section = html! {
        section #usage {
            h2 { "Usage" }
            p.lead { "Calls to the catalog's APIs in the window, whatever their outcome: "
                strong { "successful" } " (2xx/3xx, what makes a permission used), "
                strong { "refused" } " (403), " strong { "other" }
                " (401, 404, 429, 5xx, no status: never a use or a denial)." }
            h3 { "Per API" }
            (per_api(&apis, &u.name))
            h3 { "Per user and API" }
            (per_user(&pairs, &apis, &u.name))
        }
    };
    Ok(UsagePart {
        section,
        unmatched_requests,
        unmatched_shapes: t.unmatched.len(),
        unmatched,
    })
}

fn per_api(apis: &BTreeMap<ApiKey<'_>, Api<'_>>, file: &str) -> Markup {
    let mut list: Vec<(&ApiKey<'_>, &Api<'_>)> = apis.iter().collect();
    list.sort_by(|a, b| b.1.calls.all.cmp(&a.1.calls.all).then(a.0.cmp(b.0)));
    let rows = html! {
        @for ((method, route), a) in &list {
            @let callers = a.callers();
            tr {
                td.api { (a.name) br; (markup::route(method, route)) }
                td { (markup::permission(&a.permission)) }
                (a.calls.cells())
                (markup::count_cell(a.users.len() as u64))
                td.callers {
                    @for (i, (user, n)) in callers.iter().take(CALLERS_NAMED).enumerate() {
                        @if i > 0 { ", " }
                        span.caller { (user) " " span.muted { "x" (n) } }
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

fn per_user(
    pairs: &HashMap<PairKey<'_>, Calls>,
    apis: &BTreeMap<ApiKey<'_>, Api<'_>>,
    file: &str,
) -> Markup {
    let mut list: Vec<(&PairKey<'_>, &Calls)> = pairs.iter().collect();
    list.sort_by(|a, b| b.1.all.cmp(&a.1.all).then(a.0.cmp(b.0)));
    let total = list.len();
    list.truncate(USER_API_ROWS);
    let rows = html! {
        @for ((user, method, route), c) in &list {
            @let api = apis.get(&(method.clone(), route.clone()));
            tr {
                td { (user) }
                td.api { (api.map_or("", |a| &*a.name)) br; (markup::route(method, route)) }
                td { (markup::permission(api.map_or("", |a| &*a.permission))) }
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
