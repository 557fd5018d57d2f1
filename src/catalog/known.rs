//! What `catalog import` knows about services beyond the provider's table: the hosts that
//! serve them and the Cloud Trace Service operation names of their APIs. The table text has
//! neither, so they live here, next to the importer that adds them.
//!
//! API trace names come from the provider's CTS table for BSS ("Operations recorded by CTS",
//! API side): every name there that is a catalog API is mapped; `listEnterpriseSubCustomers`,
//! `createSubCustomerV2`, `transferEnterpriseMultiAccount` and
//! `retrieveEnterpriseMultiAccount` are APIs the table does not list, so they stay unlisted.
//!
//! Console trace names come from the Billing Center's CTS table: operations made in the
//! console, recorded under names of their own. Those that perform a catalog API's operation
//! are mapped to that API (an inference from the operation, not a documented mapping):
//! renewal, payment and unsubscription. `changeResource` (changing specifications),
//! `changeBillingMode` (pay-per-use to yearly/monthly, the opposite of `to-on-demand`),
//! `accountTopUp` and `createInvoiceNew` (requesting an invoice, not querying the list) have
//! no catalog API doing the same, so they stay unlisted.
//!
//! Response-filtering permissions: the provider's "API Access Permission (Customer)" page
//! (support.huaweicloud.com/eu/api-oce/jac_00006.html) says "the bss:discount:view permission
//! code only affects the discount information returned in the response, but it does not
//! affect the API call. When there is no permission, the API can still be accessed normally,
//! but it will not return the discount information" — of the code, not of one API, so every
//! route needing it is marked: the three rating APIs and the order-discounts query. The IAM
//! 5.0 action table says the same of `billing:contract:viewDiscount`. No other code in the
//! table carries such a note.

use super::Method;

pub(super) struct KnownService {
    pub name: &'static str,
    pub hosts: &'static [&'static str],
    /// (method, path template as written in the table, CTS trace name).
    pub trace_names: &'static [(Method, &'static str, &'static str)],
    /// (method, path template, console operation name): see the module's header.
    pub console_trace_names: &'static [(Method, &'static str, &'static str)],
    /// (method, path template) of the routes whose permission only filters the response
    /// (`RouteFile::response_filtering`): see the module's header.
    pub response_filtering: &'static [(Method, &'static str)],
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
        (
            Method::Post,
            "/v2/enterprises/enterprise-projects/authority",
            "openEnterpriseProjectAuth",
        ),
    ],
    console_trace_names: &[
        (
            Method::Post,
            "/v2/orders/subscriptions/resources/renew",
            "renewResource",
        ),
        (Method::Post, "/v3/orders/customer-orders/pay", "payOrder"),
        (
            Method::Post,
            "/v2/orders/subscriptions/resources/unsubscribe",
            "unsubscribeResource",
        ),
    ],
    response_filtering: &[
        (Method::Post, "/v2/bills/ratings/on-demand-resources"),
        (
            Method::Post,
            "/v2/bills/ratings/period-resources/subscribe-rate",
        ),
        (
            Method::Post,
            "/v2/bills/ratings/period-resources/renew-rate",
        ),
        (Method::Get, "/v2/orders/customer-orders/order-discounts"),
    ],
}];

pub(super) fn known_service(name: &str) -> Option<&'static KnownService> {
    KNOWN_SERVICES.iter().find(|s| s.name == name)
}
