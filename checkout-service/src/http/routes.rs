//! The route table: every (method, path) the Worker answers, in one list. A request is matched
//! by path first; a known path asked with another method is a 405 whose `Allow` comes from the
//! same list. The merchant API's and the widget API's entries are exactly the operations of
//! web/v1/openapi.json (a test below holds them to it); the console, the demo shop and the
//! tests' routes are apart (`/console…` and `/_test/…` are routed by their own modules).

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    /// A static asset (web/v1/openapi.json), served before the Worker; it reaches the Worker
    /// only when assets are not in front of it.
    OpenApi,
    CreateSession,
    ListSessions,
    RetrieveSession,
    CloseSession,
    CreateRefund,
    RetrieveRefund,
    RunScheduled,
    MoveBooks,
    Reconcile,
    ListReconciliations,
    RetrieveReconciliation,
    WidgetRetrieve,
    WidgetPay,
    WidgetCheck,
    WidgetEvents,
    WidgetOauthTicket,
    WidgetOauthStart,
    WidgetOauthCallback,
    WechatPayNotify,
    DemoProducts,
    DemoCheckout,
    ListProviders,
    CreateProvider,
    RetrieveProvider,
    UpdateProvider,
    ListMerchants,
    CreateMerchant,
    RetrieveMerchant,
    UpdateMerchant,
    SuspendMerchant,
    ResumeMerchant,
    ListApiKeys,
    CreateApiKey,
    RevokeApiKey,
    ResealSecrets,
}

impl Route {
    /// The demo shop's routes exist only where it is switched on (`DEMO_SHOP=on`).
    fn is_demo(self) -> bool {
        matches!(self, Route::DemoProducts | Route::DemoCheckout)
    }
}

/// Method, path (`{id}` stands for one segment) and route; a path's GET before its POST.
pub const ROUTES: &[(&str, &str, Route)] = &[
    ("GET", "/health", Route::Health),
    ("GET", "/v1/openapi.json", Route::OpenApi),
    ("GET", "/v1/checkout/sessions", Route::ListSessions),
    ("POST", "/v1/checkout/sessions", Route::CreateSession),
    ("GET", "/v1/checkout/sessions/{id}", Route::RetrieveSession),
    (
        "POST",
        "/v1/checkout/sessions/{id}/close",
        Route::CloseSession,
    ),
    ("POST", "/v1/refunds", Route::CreateRefund),
    ("GET", "/v1/refunds/{id}", Route::RetrieveRefund),
    ("POST", "/v1/admin/run-scheduled", Route::RunScheduled),
    ("POST", "/v1/admin/books/move", Route::MoveBooks),
    (
        "GET",
        "/v1/admin/reconciliations",
        Route::ListReconciliations,
    ),
    ("POST", "/v1/admin/reconciliations", Route::Reconcile),
    (
        "GET",
        "/v1/admin/reconciliations/{date}",
        Route::RetrieveReconciliation,
    ),
    ("GET", "/v1/widget/sessions/{id}", Route::WidgetRetrieve),
    ("POST", "/v1/widget/sessions/{id}/pay", Route::WidgetPay),
    ("POST", "/v1/widget/sessions/{id}/check", Route::WidgetCheck),
    (
        "GET",
        "/v1/widget/sessions/{id}/events",
        Route::WidgetEvents,
    ),
    (
        "GET",
        "/v1/widget/sessions/{id}/oauth",
        Route::WidgetOauthStart,
    ),
    (
        "POST",
        "/v1/widget/sessions/{id}/oauth",
        Route::WidgetOauthTicket,
    ),
    (
        "GET",
        "/v1/widget/oauth/callback",
        Route::WidgetOauthCallback,
    ),
    ("POST", "/v1/wechatpay/notify", Route::WechatPayNotify),
    // A registry merchant's (its id: WeChat Pay refuses query strings in notify_url).
    ("POST", "/v1/wechatpay/notify/{id}", Route::WechatPayNotify),
    ("GET", "/demo/products", Route::DemoProducts),
    ("POST", "/demo/checkout", Route::DemoCheckout),
    ("GET", "/v1/platform/providers", Route::ListProviders),
    ("POST", "/v1/platform/providers", Route::CreateProvider),
    (
        "GET",
        "/v1/platform/providers/{id}",
        Route::RetrieveProvider,
    ),
    ("POST", "/v1/platform/providers/{id}", Route::UpdateProvider),
    ("GET", "/v1/platform/merchants", Route::ListMerchants),
    ("POST", "/v1/platform/merchants", Route::CreateMerchant),
    (
        "GET",
        "/v1/platform/merchants/{id}",
        Route::RetrieveMerchant,
    ),
    ("POST", "/v1/platform/merchants/{id}", Route::UpdateMerchant),
    (
        "POST",
        "/v1/platform/merchants/{id}/suspend",
        Route::SuspendMerchant,
    ),
    (
        "POST",
        "/v1/platform/merchants/{id}/resume",
        Route::ResumeMerchant,
    ),
    (
        "GET",
        "/v1/platform/merchants/{id}/api-keys",
        Route::ListApiKeys,
    ),
    (
        "POST",
        "/v1/platform/merchants/{id}/api-keys",
        Route::CreateApiKey,
    ),
    (
        "POST",
        "/v1/platform/api-keys/{id}/revoke",
        Route::RevokeApiKey,
    ),
    ("POST", "/v1/platform/secrets/reseal", Route::ResealSecrets),
];

/// What the table says of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved<'p> {
    /// The route, and the path's one variable segment if it has one.
    Found(Route, Option<&'p str>),
    /// A known path with another method: the methods it takes.
    NotAllowed(String),
    /// No such path: under `/v1` a route, elsewhere a page.
    NotFound { api: bool },
}

/// The path's variable segment if `path` fits `pattern`, `Some(None)` for a fit without one.
fn fit<'p>(pattern: &str, path: &'p str) -> Option<Option<&'p str>> {
    let mut wanted = pattern.trim_matches('/').split('/');
    let mut given = path.trim_matches('/').split('/');
    let mut variable = None;
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(variable),
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => variable = Some(g),
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// Resolves `method` (`None`: one the runtime does not name) and `path`.
pub fn resolve<'p>(method: Option<&str>, path: &'p str, demo_shop: bool) -> Resolved<'p> {
    let mut allow: Vec<&str> = Vec::new();
    for (m, pattern, route) in ROUTES {
        if route.is_demo() && !demo_shop {
            continue;
        }
        if let Some(variable) = fit(pattern, path) {
            if method == Some(*m) {
                return Resolved::Found(*route, variable);
            }
            allow.push(m);
        }
    }
    if allow.is_empty() {
        return Resolved::NotFound {
            api: path.trim_start_matches('/').starts_with("v1/"),
        };
    }
    // Each (method, path) is listed once, a path's GET before its POST: `allow` is in order.
    Resolved::NotAllowed(allow.join(", "))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{resolve, Resolved, Route, ROUTES};

    #[test]
    fn the_table_is_the_openapi_document() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../web/v1/openapi.json")).unwrap();
        let documented: BTreeSet<String> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                    .map(move |m| format!("{} {path}", m.to_uppercase()))
            })
            .collect();
        let routed: BTreeSet<String> = ROUTES
            .iter()
            .map(|(m, path, _)| format!("{m} {path}"))
            .collect();
        assert_eq!(routed, documented);
        assert_eq!(routed.len(), ROUTES.len(), "a route is listed twice");
    }

    #[test]
    fn paths_then_methods() {
        use Resolved::*;
        assert_eq!(
            resolve(Some("GET"), "/v1/checkout/sessions", false),
            Found(Route::ListSessions, None)
        );
        assert_eq!(
            resolve(Some("POST"), "/v1/checkout/sessions/", false),
            Found(Route::CreateSession, None)
        );
        assert_eq!(
            resolve(Some("GET"), "/v1/checkout/sessions/cs_1", false),
            Found(Route::RetrieveSession, Some("cs_1"))
        );
        assert_eq!(
            resolve(Some("POST"), "/v1/widget/sessions/cs_2/pay", false),
            Found(Route::WidgetPay, Some("cs_2"))
        );
        assert_eq!(
            resolve(Some("GET"), "/v1/admin/reconciliations/2026-11-30", false),
            Found(Route::RetrieveReconciliation, Some("2026-11-30"))
        );
        // A known path with another method names the methods it takes.
        assert_eq!(
            resolve(Some("DELETE"), "/v1/checkout/sessions", false),
            NotAllowed("GET, POST".into())
        );
        assert_eq!(
            resolve(Some("GET"), "/v1/checkout/sessions/cs_1/close", false),
            NotAllowed("POST".into())
        );
        assert_eq!(
            resolve(Some("PUT"), "/v1/widget/sessions/x/oauth", false),
            NotAllowed("GET, POST".into())
        );
        // A method the runtime does not name is never taken for another.
        assert_eq!(
            resolve(None, "/v1/refunds/re_1", false),
            NotAllowed("GET".into())
        );
        assert_eq!(
            resolve(Some("POST"), "/health", false),
            NotAllowed("GET".into())
        );
        // Unknown paths: a route under /v1, a page elsewhere; an empty segment is not an id.
        assert_eq!(
            resolve(Some("GET"), "/v1/nothing", false),
            NotFound { api: true }
        );
        assert_eq!(
            resolve(Some("GET"), "/v1/checkout/sessions//close", false),
            NotFound { api: true }
        );
        assert_eq!(
            resolve(Some("GET"), "/elsewhere", false),
            NotFound { api: false }
        );
        assert_eq!(
            resolve(Some("GET"), "/v1/checkout/sessions/a/b/c", false),
            NotFound { api: true }
        );
    }

    #[test]
    fn the_demo_shop_exists_only_when_switched_on() {
        assert_eq!(
            resolve(Some("GET"), "/demo/products", false),
            Resolved::NotFound { api: false }
        );
        assert_eq!(
            resolve(Some("POST"), "/demo/checkout", false),
            Resolved::NotFound { api: false }
        );
        assert_eq!(
            resolve(Some("GET"), "/demo/products", true),
            Resolved::Found(Route::DemoProducts, None)
        );
        assert_eq!(
            resolve(Some("GET"), "/demo/checkout", true),
            Resolved::NotAllowed("POST".into())
        );
    }
}
