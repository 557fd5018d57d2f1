//! What `catalog import` knows about services beyond the provider's table: the hosts that
//! serve them and the Cloud Trace Service operation names of their APIs. The table text has
//! neither, so they live here, next to the importer that adds them.

use super::Method;

pub(super) struct KnownService {
    pub name: &'static str,
    pub hosts: &'static [&'static str],
    /// (method, path template as written in the table, CTS trace name).
    pub trace_names: &'static [(Method, &'static str, &'static str)],
}

pub(super) const KNOWN_SERVICES: &[KnownService] = &[KnownService {
    name: "bss",
    hosts: &["bss.myhuaweicloud.com", "bss-intl.myhuaweicloud.com"],
    trace_names: &[
        (
            Method::Put,
            "/v2/orders/customer-orders/cancel",
            "cancelCustomerOrder",
        ),
        (
            Method::Post,
            "/v3/orders/customer-orders/pay",
            "payCustomerOrderV3",
        ),
        (
            Method::Post,
            "/v2/orders/subscriptions/resources/renew",
            "renewResources",
        ),
        (
            Method::Post,
            "/v2/orders/subscriptions/resources/unsubscribe",
            "unsubscribeResources",
        ),
        (
            Method::Post,
            "/v2/orders/subscriptions/resources/autorenew/**",
            "setResourcesAutorenew",
        ),
        (
            Method::Delete,
            "/v2/orders/subscriptions/resources/autorenew/{resource_id}",
            "cancelResourcesAutoRenew",
        ),
        (
            Method::Post,
            "/v2/orders/subscriptions/resources/to-on-demand",
            "updatePeriodToOnDemand",
        ),
        (
            Method::Get,
            "/v2/bills/customer-bills/res-fee-records",
            "queryResFeeRecords",
        ),
        (
            Method::Post,
            "/v2/bills/customer-bills/res-records/query",
            "queryResRecordsDetail",
        ),
    ],
}];

pub(super) fn known_service(name: &str) -> Option<&'static KnownService> {
    KNOWN_SERVICES.iter().find(|s| s.name == name)
}
