//! Table-driven classification cases: every route of the embedded catalog and every
//! normalisation rule, through the library.

use std::collections::HashSet;

use permlens::catalog::Catalog;
use permlens::classify::{Classifier, Scratch};

/// (method, target, expected permission or "" for not in the catalog, expected route path).
const CASES: &[(&str, &str, &str, &str)] = &[
    // All 27 routes, as a client would call them.
    (
        "POST",
        "/v2/bills/ratings/on-demand-resources",
        "bss:discount:view",
        "/v2/bills/ratings/on-demand-resources",
    ),
    (
        "POST",
        "/v2/bills/ratings/period-resources/subscribe-rate",
        "bss:discount:view",
        "/v2/bills/ratings/period-resources/subscribe-rate",
    ),
    (
        "POST",
        "/v2/bills/ratings/period-resources/renew-rate",
        "bss:discount:view",
        "/v2/bills/ratings/period-resources/renew-rate",
    ),
    (
        "GET",
        "/v2/accounts/customer-accounts/balances",
        "bss:balance:view",
        "/v2/accounts/customer-accounts/balances",
    ),
    (
        "GET",
        "/v2/promotions/benefits/coupons?offset=0&limit=10",
        "bss:coupon:view",
        "/v2/promotions/benefits/coupons",
    ),
    (
        "GET",
        "/v2/orders/customer-orders?status=2",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "GET",
        "/v2/orders/customer-orders/details/CS2211281234ABCDE",
        "bss:order:view",
        "/v2/orders/customer-orders/details/{order_id}",
    ),
    (
        "PUT",
        "/v2/orders/customer-orders/cancel",
        "bss:order:update",
        "/v2/orders/customer-orders/cancel",
    ),
    (
        "POST",
        "/v2/orders/customer-orders/pay",
        "bss:order:pay",
        "/v2/orders/customer-orders/pay",
    ),
    (
        "GET",
        "/v2/orders/customer-orders/order-discounts?order_id=CS1",
        "bss:discount:view",
        "/v2/orders/customer-orders/order-discounts",
    ),
    (
        "POST",
        "/v3/orders/customer-orders/pay",
        "bss:order:pay",
        "/v3/orders/customer-orders/pay",
    ),
    (
        "GET",
        "/v2/orders/customer-orders/refund-orders",
        "bss:order:view",
        "/v2/orders/customer-orders/refund-orders",
    ),
    (
        "POST",
        "/v2/orders/suscriptions/resources/query",
        "bss:order:view",
        "/v2/orders/suscriptions/resources/query",
    ),
    (
        "POST",
        "/v2/orders/subscriptions/resources/renew",
        "bss:renewal:update",
        "/v2/orders/subscriptions/resources/renew",
    ),
    (
        "POST",
        "/v2/orders/subscriptions/resources/unsubscribe",
        "bss:order:update",
        "/v2/orders/subscriptions/resources/unsubscribe",
    ),
    (
        "POST",
        "/v2/orders/subscriptions/resources/autorenew/abc",
        "bss:renewal:update",
        "/v2/orders/subscriptions/resources/autorenew/**",
    ),
    (
        "DELETE",
        "/v2/orders/subscriptions/resources/autorenew/abc",
        "bss:renewal:update",
        "/v2/orders/subscriptions/resources/autorenew/{resource_id}",
    ),
    (
        "POST",
        "/v2/orders/subscriptions/resources/to-on-demand",
        "bss:renewal:update",
        "/v2/orders/subscriptions/resources/to-on-demand",
    ),
    (
        "POST",
        "/v3/payments/free-resources/query",
        "bss:bill:view",
        "/v3/payments/free-resources/query",
    ),
    (
        "GET",
        "/v2/bills/customer-bills/free-resources-usage-records?limit=5",
        "bss:billDetail:view",
        "/v2/bills/customer-bills/free-resources-usage-records",
    ),
    (
        "POST",
        "/v2/payments/free-resources/usages/details/query",
        "bss:bill:view",
        "/v2/payments/free-resources/usages/details/query",
    ),
    (
        "POST",
        "/v2/bills/customer-bills/res-records/query",
        "bss:billDetail:view",
        "/v2/bills/customer-bills/res-records/query",
    ),
    (
        "GET",
        "/v1.0/0c5d1f7a9e8b4d3c/customer/account-mgr/bill/monthly-sum?cycle=2026-10",
        "bss:bill:view",
        "/v1.0/{domain_id}/customer/account-mgr/bill/monthly-sum",
    ),
    (
        "GET",
        "/v2/bills/customer-bills/res-fee-records?cycle=2026-10",
        "bss:bill:view",
        "/v2/bills/customer-bills/res-fee-records",
    ),
    (
        "POST",
        "/v4/costs/cost-analysed-bills/query",
        "bss:costanalysis:view",
        "/v4/costs/cost-analysed-bills/query",
    ),
    (
        "POST",
        "/v2/enterprises/enterprise-projects/authority",
        "bss:enterpriseProjectFunction:update",
        "/v2/enterprises/enterprise-projects/authority",
    ),
    (
        "GET",
        "/v1.0/any-domain-id-123/payments/intl-invoices",
        "bss:invoice:update",
        "/v1.0/{domain_id}/payments/intl-invoices",
    ),
    // Method: any case must match; the wrong method is not the route.
    (
        "get",
        "/v2/orders/customer-orders",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "Delete",
        "/v2/orders/subscriptions/resources/autorenew/r-1",
        "bss:renewal:update",
        "/v2/orders/subscriptions/resources/autorenew/{resource_id}",
    ),
    ("POST", "/v2/orders/customer-orders", "", ""),
    ("GET", "/v2/orders/customer-orders/cancel", "", ""),
    (
        "PUT",
        "/v2/orders/subscriptions/resources/autorenew/abc",
        "",
        "",
    ),
    ("FETCH", "/v2/orders/customer-orders", "", ""),
    // `**` takes one or more segments; a parameter exactly one non-empty segment.
    (
        "POST",
        "/v2/orders/subscriptions/resources/autorenew/a/b/c",
        "bss:renewal:update",
        "/v2/orders/subscriptions/resources/autorenew/**",
    ),
    (
        "POST",
        "/v2/orders/subscriptions/resources/autorenew",
        "",
        "",
    ),
    (
        "POST",
        "/v2/orders/subscriptions/resources/autorenew/",
        "",
        "",
    ),
    (
        "DELETE",
        "/v2/orders/subscriptions/resources/autorenew/a/b",
        "",
        "",
    ),
    ("GET", "/v2/orders/customer-orders/details", "", ""),
    ("GET", "/v2/orders/customer-orders/details/", "", ""),
    (
        "GET",
        "/v2/orders/customer-orders/details/CS1/extra",
        "",
        "",
    ),
    // A literal beats a parameter.
    (
        "GET",
        "/v2/orders/customer-orders/details/refund-orders",
        "bss:order:view",
        "/v2/orders/customer-orders/details/{order_id}",
    ),
    // The misspelling is the real path; the spelled-right one is not in the table.
    ("POST", "/v2/orders/subscriptions/resources/query", "", ""),
    // Query strings and fragments are ignored, even when they hold slashes.
    (
        "GET",
        "/v2/orders/customer-orders/details/CS123?x=1",
        "bss:order:view",
        "/v2/orders/customer-orders/details/{order_id}",
    ),
    (
        "GET",
        "/v2/orders/customer-orders#/details/x",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "GET",
        "/v2/promotions/benefits/coupons?next=/v2/orders/customer-orders",
        "bss:coupon:view",
        "/v2/promotions/benefits/coupons",
    ),
    // Trailing and repeated slashes are tolerated.
    (
        "GET",
        "/v2/orders/customer-orders/",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "GET",
        "//v2//orders///customer-orders",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    // Full URLs are reduced to their path.
    (
        "GET",
        "https://bss.myhuaweicloud.com/v2/accounts/customer-accounts/balances",
        "bss:balance:view",
        "/v2/accounts/customer-accounts/balances",
    ),
    (
        "GET",
        "https://bss-intl.myhuaweicloud.com:443/v2/orders/customer-orders?x=1",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    // Paths compare case-sensitively.
    ("GET", "/V2/orders/customer-orders", "", ""),
    ("GET", "/v2/Orders/customer-orders", "", ""),
    // Dot segments are resolved as the server resolves them.
    (
        "PUT",
        "/v2/orders/customer-orders/details/../cancel",
        "bss:order:update",
        "/v2/orders/customer-orders/cancel",
    ),
    (
        "GET",
        "/v2/orders/./customer-orders",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "GET",
        "/v2/promotions/benefits/coupons/../../../orders/customer-orders",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "GET",
        "/../../v2/orders/customer-orders",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    ("GET", "/v2/orders/customer-orders/details/CS1/..", "", ""),
    (
        "GET",
        "/v2/orders/customer-orders/details/CS1/../..",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "PUT",
        "/v2/orders/customer-orders/details/%2E%2E/cancel",
        "bss:order:update",
        "/v2/orders/customer-orders/cancel",
    ),
    // Percent-escapes are decoded per segment after splitting.
    (
        "GET",
        "/v2/orders/%63ustomer-orders",
        "bss:order:view",
        "/v2/orders/customer-orders",
    ),
    (
        "GET",
        "/v2/orders/customer%2Dorders/details/CS1",
        "bss:order:view",
        "/v2/orders/customer-orders/details/{order_id}",
    ),
    // An encoded slash never separates segments: one (odd) order id, not another route.
    (
        "GET",
        "/v2/orders/customer-orders/details/..%2Fcancel",
        "bss:order:view",
        "/v2/orders/customer-orders/details/{order_id}",
    ),
    ("PUT", "/v2/orders/customer-orders%2Fcancel", "", ""),
    ("GET", "/v2/orders%2Fcustomer-orders", "", ""),
    // Other services' APIs are not in the catalog.
    ("GET", "/v3/projects/abc/cloudservers", "", ""),
    ("GET", "/", "", ""),
    ("GET", "", "", ""),
];

#[test]
fn case_table_has_no_duplicates() {
    let mut seen = HashSet::new();
    for (m, t, _, _) in CASES {
        assert!(seen.insert((m, t)), "duplicate case {m} {t}");
    }
}

#[test]
fn classifies_every_case() {
    let catalog = Catalog::embedded();
    let classifier = Classifier::new(&catalog);
    let mut scratch = Scratch::new();
    let mut failures = Vec::new();
    for (method, target, permission, route) in CASES {
        let got = classifier
            .classify(method.as_bytes(), target.as_bytes(), &mut scratch)
            .route
            .map(|id| catalog.route(id));
        let got = got.map_or(("", ""), |r| (r.permission.as_str(), r.template.as_str()));
        if got != (*permission, *route) {
            failures.push(format!(
                "{method} {target}: got {got:?}, want {:?}",
                (permission, route)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_route_is_covered_by_a_case() {
    let catalog = Catalog::embedded();
    for r in catalog.routes() {
        assert!(
            CASES
                .iter()
                .any(|(m, _, _, route)| *route == r.template.as_str()
                    && m.eq_ignore_ascii_case(r.method.as_str())),
            "no case for {} {}",
            r.method,
            r.template
        );
    }
}

#[test]
fn dot_segments_are_flagged() {
    let catalog = Catalog::embedded();
    let classifier = Classifier::new(&catalog);
    let mut scratch = Scratch::new();
    let c = classifier.classify(
        b"PUT",
        b"/v2/orders/customer-orders/details/../cancel",
        &mut scratch,
    );
    assert!(c.normalized.dot_segments);
    let c = classifier.classify(b"PUT", b"/v2/orders/customer-orders/cancel", &mut scratch);
    assert!(!c.normalized.dot_segments);
}

#[test]
fn cts_trace_names_name_their_routes() {
    let catalog = Catalog::embedded();
    let cases = [
        (
            "setResourcesAutorenew",
            "POST",
            "/v2/orders/subscriptions/resources/autorenew/**",
        ),
        (
            "cancelResourcesAutoRenew",
            "DELETE",
            "/v2/orders/subscriptions/resources/autorenew/{resource_id}",
        ),
        (
            "renewResources",
            "POST",
            "/v2/orders/subscriptions/resources/renew",
        ),
        (
            "unsubscribeResources",
            "POST",
            "/v2/orders/subscriptions/resources/unsubscribe",
        ),
        (
            "updatePeriodToOnDemand",
            "POST",
            "/v2/orders/subscriptions/resources/to-on-demand",
        ),
        (
            "cancelCustomerOrder",
            "PUT",
            "/v2/orders/customer-orders/cancel",
        ),
        (
            "payCustomerOrderV3",
            "POST",
            "/v3/orders/customer-orders/pay",
        ),
        (
            "queryResFeeRecords",
            "GET",
            "/v2/bills/customer-bills/res-fee-records",
        ),
        (
            "queryResRecordsDetail",
            "POST",
            "/v2/bills/customer-bills/res-records/query",
        ),
    ];
    for (name, method, path) in cases {
        let r = catalog.route(
            catalog
                .route_for_trace(name)
                .unwrap_or_else(|| panic!("{name}")),
        );
        assert_eq!(
            (r.method.as_str(), r.template.as_str()),
            (method, path),
            "{name}"
        );
    }
    assert_eq!(
        catalog.route_for_trace("setresourcesautorenew"),
        None,
        "trace names are case-sensitive"
    );
    assert_eq!(catalog.route_for_trace("listCustomerOrders"), None);
}
