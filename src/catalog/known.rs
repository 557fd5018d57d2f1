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

use super::{Method, V5Basis};

/// One route's IAM 5.0 requirement: see [`V5_BSS`].
pub(super) struct KnownV5 {
    pub method: Method,
    /// The path template as written in the table.
    pub path: &'static str,
    pub action: Option<&'static str>,
    pub basis: V5Basis,
    pub aliases: &'static [&'static str],
    pub source: &'static str,
}

pub(super) struct KnownService {
    pub name: &'static str,
    pub hosts: &'static [&'static str],
    /// (method, path template as written in the table, CTS trace name).
    pub trace_names: &'static [(Method, &'static str, &'static str)],
    /// (method, path template, console operation name): see the module's header.
    pub console_trace_names: &'static [(Method, &'static str, &'static str)],
    /// Each route's IAM 5.0 identity-policy requirement, with its source.
    pub v5: &'static [KnownV5],
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
    v5: V5_BSS,
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

const fn v5(
    method: Method,
    path: &'static str,
    action: &'static str,
    basis: V5Basis,
    source: &'static str,
) -> KnownV5 {
    KnownV5 {
        method,
        path,
        action: Some(action),
        basis,
        aliases: &[],
        source,
    }
}

/// The BSS routes' IAM 5.0 actions. `confirmed`: the provider's page for the API ("授权信息",
/// identity-policy authorization) or its BSS v5 action table (`api-oce/jac_000054`, English
/// `usermanual-permissions/iam_11_0110`) names the action. `inferred`: no page for this API
/// was found; the action is the one the provider gives for the same operation elsewhere (the
/// v1.1 code's v5 counterpart, another version of the API, the action's description).
/// Order cancel needs no identity-policy permission; invoices and enterprise-project
/// activation have no v5 action the provider's pages confirm.
const V5_BSS: &[KnownV5] = {
    use Method::{Delete, Get, Post, Put};
    use V5Basis::{Confirmed, Inferred};
    const DISCOUNT: &str = "billing:contract:viewDiscount";
    &[
        v5(
            Post,
            "/v2/bills/ratings/on-demand-resources",
            DISCOUNT,
            Confirmed,
            "BSS API page bcloud_01001 and v5 action table jac_000054 (only the discounts in the response depend on it)",
        ),
        v5(
            Post,
            "/v2/bills/ratings/period-resources/subscribe-rate",
            DISCOUNT,
            Confirmed,
            "BSS API page bcloud_01002 and v5 action table jac_000054",
        ),
        v5(
            Post,
            "/v2/bills/ratings/period-resources/renew-rate",
            DISCOUNT,
            Confirmed,
            "BSS API page bcloud_01007 and v5 action table jac_000054",
        ),
        v5(
            Get,
            "/v2/accounts/customer-accounts/balances",
            "billing:balance:view",
            Confirmed,
            "BSS API page mac_00001 and v5 action table jac_000054",
        ),
        v5(
            Get,
            "/v2/promotions/benefits/coupons",
            "billing:coupon:view",
            Confirmed,
            "BSS API page mp_02001 and v5 action table jac_000054",
        ),
        v5(
            Get,
            "/v2/orders/customer-orders",
            "billing:order:view",
            Confirmed,
            "BSS API page api_order_00013",
        ),
        v5(
            Get,
            "/v2/orders/customer-orders/details/{order_id}",
            "billing:order:view",
            Confirmed,
            "BSS API page api_order_00014",
        ),
        KnownV5 {
            method: Put,
            path: "/v2/orders/customer-orders/cancel",
            action: None,
            basis: V5Basis::NotRequired,
            aliases: &[],
            source: "BSS API page for canceling orders: \"当前API调用无需身份策略权限\" (no identity-policy permission needed)",
        },
        v5(
            Post,
            "/v2/orders/customer-orders/pay",
            "billing:order:pay",
            Inferred,
            "the v3 pay API's page (api_order_00030) names billing:order:pay; no page for the v2 API was found",
        ),
        v5(
            Get,
            "/v2/orders/customer-orders/order-discounts",
            DISCOUNT,
            Inferred,
            "v5 counterpart of bss:discount:view (jac_000054 lists billing:contract:viewDiscount for discounts); no page for this API was found",
        ),
        v5(
            Post,
            "/v3/orders/customer-orders/pay",
            "billing:order:pay",
            Confirmed,
            "BSS API page api_order_00030",
        ),
        v5(
            Get,
            "/v2/orders/customer-orders/refund-orders",
            "billing:order:view",
            Inferred,
            "v5 counterpart of bss:order:view (\"view order information\"); no page for this API was found",
        ),
        v5(
            Post,
            "/v2/orders/suscriptions/resources/query",
            "billing:subscription:view",
            Confirmed,
            "BSS API page api_order_00021",
        ),
        v5(
            Post,
            "/v2/orders/subscriptions/resources/renew",
            "billing:subscription:renew",
            Confirmed,
            "BSS API page api_order_00018",
        ),
        v5(
            Post,
            "/v2/orders/subscriptions/resources/unsubscribe",
            "billing:subscription:unsubscribe",
            Confirmed,
            "BSS API page api_order_00019",
        ),
        v5(
            Post,
            "/v2/orders/subscriptions/resources/autorenew/**",
            "billing:subscription:renew",
            Confirmed,
            "BSS API page api_order_00022",
        ),
        v5(
            Delete,
            "/v2/orders/subscriptions/resources/autorenew/{resource_id}",
            "billing:subscription:renew",
            Confirmed,
            "BSS API page api_order_00023",
        ),
        v5(
            Post,
            "/v2/orders/subscriptions/resources/to-on-demand",
            "billing:subscription:renew",
            Inferred,
            "billing:subscription:renew covers setting the expiration policy (v5 action description, SCP table); no page for this API was found",
        ),
        v5(
            Post,
            "/v3/payments/free-resources/query",
            "billing:resourcePackages:view",
            Confirmed,
            "BSS API page api_order_00027",
        ),
        v5(
            Get,
            "/v2/bills/customer-bills/free-resources-usage-records",
            "billing:resourcePackages:view",
            Inferred,
            "billing:resourcePackages:view covers resource package usage details (v5 action description, SCP table); no page for this API was found",
        ),
        v5(
            Post,
            "/v2/payments/free-resources/usages/details/query",
            "billing:resourcePackages:view",
            Confirmed,
            "BSS API page api_order_00028",
        ),
        v5(
            Post,
            "/v2/bills/customer-bills/res-records/query",
            "billing:billDetail:view",
            Confirmed,
            "BSS API page for viewing bill details (mbc_00007)",
        ),
        v5(
            Get,
            "/v1.0/{domain_id}/customer/account-mgr/bill/monthly-sum",
            "billing:bill:view",
            Inferred,
            "the v2 monthly-sum API's page (ShowCustomerMonthlySum) names billing:bill:view; no page for this v1.0 API was found",
        ),
        v5(
            Get,
            "/v2/bills/customer-bills/res-fee-records",
            "billing:billDetail:view",
            Confirmed,
            "BSS API page for expenditure records (mbc_00003/00004): billing:billDetail:view (recommended)",
        ),
        KnownV5 {
            method: Post,
            path: "/v4/costs/cost-analysed-bills/query",
            action: Some("costCenter:costAnalysis:listCosts"),
            basis: Inferred,
            aliases: &["bss:costanalysis:view"],
            source: "Cost Center v5 table (costcenter_000007_08): costCenter:costAnalysis:listCosts has the alias bss:costanalysis:view, this API's v1.1 code; no page for this API was found",
        },
        KnownV5 {
            method: Post,
            path: "/v2/enterprises/enterprise-projects/authority",
            action: None,
            basis: V5Basis::Unknown,
            aliases: &[],
            source: "not found: the SCP table lists \"Billing::activeEPFinance\" (so spelled, not an action of the usual form) for enabling enterprise projects; not used",
        },
        KnownV5 {
            method: Get,
            path: "/v1.0/{domain_id}/payments/intl-invoices",
            action: None,
            basis: V5Basis::Unknown,
            aliases: &[],
            source: "not found: no v5 action for invoices in the provider's tables",
        },
    ]
};

pub(super) fn known_service(name: &str) -> Option<&'static KnownService> {
    KNOWN_SERVICES.iter().find(|s| s.name == name)
}
