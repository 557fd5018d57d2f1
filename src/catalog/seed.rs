//! Parser for the provider's "API Access Permission" table, scraped as text.
//!
//! The scrape writes one table cell per line, each ending in ` |`. A row has six cells
//! (scenario, sub-scenario, API description, URL, permission code, supported action). Cells
//! merged across rows (rowspan) are missing from the continuation rows, and the scrape marks
//! them with a line of bare pipes at the *end* of the row: `||` for two missing cells, `|`
//! for one. The missing cells are the leading ones, inherited from the row above. The header
//! row ends with a `---|---|...` separator; the table ends at the first line that is not a
//! cell. URLs are `METHOD /path`, sometimes with no space (`GET/v2/...`).

use super::known::known_service;
use super::{CatalogError, CatalogFile, Method, RouteFile};

const HEADER: [&str; 6] = [
    "Scenario",
    "Sub-Scenario",
    "API Description",
    "URL",
    "Permission Code",
    "Supported Action",
];

/// Options for `catalog import`.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Hosts to record; when empty, the known hosts of the service (for `bss`) are used.
    pub hosts: Vec<String>,
}

/// Parses the seed table text and builds a catalog file: routes from the table, the service
/// from the permission codes, hosts and CTS trace names from what permlens knows of the
/// service. `origin` names the input in errors.
pub fn import(text: &str, origin: &str, opts: &ImportOptions) -> Result<CatalogFile, CatalogError> {
    let mut routes = parse_table(text, origin)?;
    let service = routes[0]
        .permission
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let known = known_service(&service);
    let hosts = if opts.hosts.is_empty() {
        known
            .map(|k| k.hosts.iter().map(|h| (*h).to_owned()).collect())
            .unwrap_or_default()
    } else {
        opts.hosts.clone()
    };
    if let Some(known) = known {
        for r in &mut routes {
            r.trace_names = known
                .trace_names
                .iter()
                .filter(|(m, path, _)| m.as_str() == r.method && *path == r.path)
                .map(|(_, _, name)| (*name).to_owned())
                .collect();
            r.console_trace_names = known
                .console_trace_names
                .iter()
                .filter(|(m, path, _)| m.as_str() == r.method && *path == r.path)
                .map(|(_, _, name)| (*name).to_owned())
                .collect();
            r.response_filtering = known
                .response_filtering
                .iter()
                .any(|(m, path)| m.as_str() == r.method && *path == r.path);
        }
    }
    Ok(CatalogFile {
        service,
        hosts,
        routes,
    })
}

/// Parses the rows of the scraped table into routes, inheriting merged cells.
pub fn parse_table(text: &str, origin: &str) -> Result<Vec<RouteFile>, CatalogError> {
    let err = |line: usize, msg: String| CatalogError::Line {
        path: origin.to_owned(),
        line,
        msg,
    };
    let lines: Vec<&str> = text.lines().collect();
    let sep = lines.iter().position(|l| is_separator(l)).ok_or_else(|| {
        err(
            1,
            "expected a table header ending in a '---|---|...' line".into(),
        )
    })?;
    if sep < HEADER.len() {
        return Err(err(
            sep + 1,
            "expected six header cells before the separator".into(),
        ));
    }
    let header: Vec<&str> = lines[sep - HEADER.len()..sep]
        .iter()
        .map(|l| cell_text(l).unwrap_or(""))
        .collect();
    if header != HEADER {
        return Err(err(
            sep + 1 - HEADER.len(),
            format!("expected the header cells {HEADER:?}, got {header:?}"),
        ));
    }

    let mut routes = Vec::new();
    let mut previous: Option<[String; 6]> = None;
    let mut cells: Vec<String> = Vec::with_capacity(6);
    let mut row_start = sep + 2;
    for (idx, raw) in lines.iter().enumerate().skip(sep + 1) {
        let lineno = idx + 1;
        let line = raw.trim();
        if cells.is_empty() {
            row_start = lineno;
        }
        if !line.is_empty() && line.bytes().all(|b| b == b'|') {
            // Missing leading cells of a continuation row.
            let missing = line.len();
            if cells.len() + missing != 6 {
                return Err(err(
                    lineno,
                    format!(
                        "a row has {} cells and {missing} merged cell marker(s): expected 6 in all",
                        cells.len()
                    ),
                ));
            }
            let Some(prev) = &previous else {
                return Err(err(
                    lineno,
                    "the first row cannot inherit merged cells: no row above it".into(),
                ));
            };
            let mut row: [String; 6] = Default::default();
            row[..missing].clone_from_slice(&prev[..missing]);
            for (slot, cell) in row[missing..].iter_mut().zip(cells.drain(..)) {
                *slot = cell;
            }
            routes.push(route_from_row(&row, row_start, &err)?);
            previous = Some(row);
            continue;
        }
        let Some(text) = cell_text(line) else {
            // The first line that is not a cell ends the table.
            if !cells.is_empty() {
                return Err(err(
                    lineno,
                    format!(
                        "the table ended inside a row of {} cell(s): expected 6",
                        cells.len()
                    ),
                ));
            }
            break;
        };
        cells.push(text.to_owned());
        if cells.len() == 6 {
            let row: [String; 6] = std::mem::take(&mut cells)
                .try_into()
                .expect("exactly six cells");
            routes.push(route_from_row(&row, row_start, &err)?);
            previous = Some(row);
        }
    }
    if !cells.is_empty() {
        return Err(err(
            lines.len(),
            format!(
                "the input ended inside a row of {} cell(s): expected 6",
                cells.len()
            ),
        ));
    }
    if routes.is_empty() {
        return Err(err(
            sep + 1,
            "expected at least one row after the header".into(),
        ));
    }
    Ok(routes)
}

/// `text |` -> `text`; `None` for lines that are not cells.
fn cell_text(line: &str) -> Option<&str> {
    let text = line.trim().strip_suffix('|')?.trim();
    (!text.is_empty() && !text.contains('|')).then_some(text)
}

fn is_separator(line: &str) -> bool {
    let line = line.trim();
    line.contains("---|") && line.bytes().all(|b| b == b'-' || b == b'|')
}

fn route_from_row(
    row: &[String; 6],
    line: usize,
    err: &dyn Fn(usize, String) -> CatalogError,
) -> Result<RouteFile, CatalogError> {
    let (method, path) = split_url(&row[3]).ok_or_else(|| {
        err(
            line,
            format!("expected a URL cell 'METHOD /path', got {:?}", row[3]),
        )
    })?;
    Ok(RouteFile {
        scenario: row[0].clone(),
        sub_scenario: row[1].clone(),
        api: row[2].clone(),
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        permission: row[4].clone(),
        permission_description: row[5].clone(),
        trace_names: Vec::new(),
        console_trace_names: Vec::new(),
        response_filtering: false,
    })
}

/// Splits `GET /v2/x` and `GET/v2/x` into method and path.
fn split_url(url: &str) -> Option<(Method, &str)> {
    let slash = url.find('/')?;
    let method = url[..slash].trim().parse().ok()?;
    Some((method, url[slash..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, EMBEDDED_JSON, EMBEDDED_SEED};

    #[test]
    fn embedded_catalog_is_what_import_produces_from_the_seed() {
        let imported = import(EMBEDDED_SEED, "seed", &ImportOptions::default()).unwrap();
        let embedded: CatalogFile = serde_json::from_str(EMBEDDED_JSON).unwrap();
        assert_eq!(imported, embedded);
        assert_eq!(
            imported.to_json(),
            EMBEDDED_JSON,
            "regenerate with: cargo run -- catalog import src/catalog/data/bss-api-permissions.txt --out src/catalog/data/bss.json"
        );
        let catalog = Catalog::from_file(imported, "seed").unwrap();
        assert_eq!(catalog.routes().len(), 27);
        assert_eq!(catalog.permissions().len(), 12);
    }

    #[test]
    fn merged_cells_are_inherited_from_the_row_above() {
        let routes = parse_table(EMBEDDED_SEED, "seed").unwrap();
        let order_list = routes
            .iter()
            .find(|r| r.api == "Querying order lists")
            .unwrap();
        assert_eq!(order_list.scenario, "Managing transactions");
        assert_eq!(order_list.sub_scenario, "Managing yearly/monthly orders");
        let details = routes
            .iter()
            .find(|r| r.api == "Querying order details")
            .unwrap();
        assert_eq!(details.scenario, "Managing transactions");
        assert_eq!(details.sub_scenario, "Managing yearly/monthly orders");
        let v3 = routes
            .iter()
            .find(|r| r.api == "Querying the resource packages (V3)")
            .unwrap();
        assert_eq!(v3.sub_scenario, "Managing resource packages");
        assert_eq!(
            (v3.method.as_str(), v3.path.as_str()),
            ("POST", "/v3/payments/free-resources/query")
        );
    }

    #[test]
    fn quirks_are_kept_as_written() {
        let routes = parse_table(EMBEDDED_SEED, "seed").unwrap();
        let has = |m: &str, p: &str| routes.iter().any(|r| r.method == m && r.path == p);
        assert!(has("POST", "/v2/orders/suscriptions/resources/query"));
        assert!(has("GET", "/v2/accounts/customer-accounts/balances"));
        assert!(has("POST", "/v2/orders/customer-orders/pay"));
        assert!(has("POST", "/v3/orders/customer-orders/pay"));
        assert!(has(
            "POST",
            "/v2/orders/subscriptions/resources/autorenew/**"
        ));
        assert!(has(
            "DELETE",
            "/v2/orders/subscriptions/resources/autorenew/{resource_id}"
        ));
        assert!(has(
            "GET",
            "/v1.0/{domain_id}/customer/account-mgr/bill/monthly-sum"
        ));
        let invoices = routes
            .iter()
            .find(|r| r.path == "/v1.0/{domain_id}/payments/intl-invoices")
            .unwrap();
        assert_eq!(
            (invoices.method.as_str(), invoices.permission.as_str()),
            ("GET", "bss:invoice:update")
        );
        let pays = routes
            .iter()
            .filter(|r| r.api == "Paying a yearly/monthly order")
            .count();
        assert_eq!(pays, 2);
    }

    #[test]
    fn broken_tables_are_rejected_with_a_line_number() {
        let header = "Scenario |\nSub-Scenario |\nAPI Description |\nURL |\nPermission Code |\nSupported Action |\n---|---|---|---|---|---|\n";
        let cases = [
            ("no table here\n", ":1: expected a table header"),
            (
                &*format!("{header}a |\nb |\nc |\nFETCH /x |\nbss:a:b |\nd |\n"),
                ":8: expected a URL cell 'METHOD /path', got \"FETCH /x\"",
            ),
            (
                &*format!("{header}c |\nGET /x |\nbss:a:b |\nd |\n||\n"),
                ":12: the first row cannot inherit",
            ),
            (
                &*format!(
                    "{header}a |\nb |\nc |\nGET /x |\nbss:a:b |\nd |\nc |\nGET /y |\nbss:a:b |\n||\n"
                ),
                ":17: a row has 3 cells and 2 merged cell marker(s)",
            ),
            (
                &*format!("{header}a |\nb |\nc |\nGET /x |\nFeedback\n"),
                ":12: the table ended inside a row of 4 cell(s)",
            ),
        ];
        for (text, want) in cases {
            let err = parse_table(text, "t.txt").unwrap_err().to_string();
            assert!(err.starts_with("t.txt:"), "{err}");
            assert!(err.contains(want), "want {want:?} in {err:?}");
        }
    }

    #[test]
    fn urls_with_and_without_a_space() {
        assert_eq!(split_url("GET/v2/a"), Some((Method::Get, "/v2/a")));
        assert_eq!(split_url("POST /v2/a"), Some((Method::Post, "/v2/a")));
        assert_eq!(split_url("/v2/a"), None);
        assert_eq!(split_url("GET"), None);
    }
}
