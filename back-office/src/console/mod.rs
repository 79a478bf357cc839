//! The merchant console, served by the Worker at `/console`: orders (search, filters, each
//! order's timeline, refunds), webhook deliveries (retry now), and per day the reconciliation
//! and settlement reports with charts. Plain server-rendered HTML and forms: no script at all.
//!
//! Sign-in: a merchant's key (the default merchant's secret key, or a registry merchant's API
//! key), once, for a `pay_core::sign_in` token signed with that merchant's own secret, in a
//! cookie that names its merchant and is HttpOnly, SameSite=Strict, and Secure everywhere but on
//! localhost: the merchant then sees its own books only. The platform key signs the operator in
//! instead, to every merchant's overview (operator.rs). Signing out (from the console's own
//! origin only) moves the subject's sign-in generation on, which revokes its every token. Every form POST must
//! come from the console's own origin (SameSite=Strict already keeps other sites' cookies out).

mod operator;
mod pages;

use pay_core::bill::parse_decimal;
use pay_core::checkout::SessionStatus;
use pay_core::crypto::webcrypto::random_hex;
use pay_core::merchant::MerchantId;
use pay_core::risk::Flag;
use pay_core::shard;
use pay_core::{sign_in, CstDate};
use serde_json::json;
use worker::{Method, Request, Response};

use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, cookie_attributes as attributes};
use checkout_service::http::{auth, limits, RequestContext};
use checkout_service::ledger::SessionFilter;
use checkout_service::services::{self, idempotency, refunds, webhooks};

use crate::reconcile;

const COOKIE: &str = "wxc_console";
const PAGE_SIZE: u32 = 50;

/// Who a console request is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    /// A merchant, with its own key: the request serves it (`rc.merchant`), and shows its
    /// orders, refunds, webhooks and reports only.
    Merchant,
    /// The platform operator, with the platform key: every merchant's overview.
    Operator,
}

/// The cookie's subject for the operator's sign-in (a merchant's is its id).
const OPERATOR: &str = "platform";

/// Handles every `/console…` path.
pub async fn handle(req: &mut Request, path: &str, rc: &mut RequestContext) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match signed_in(req, rc).await {
        Ok(viewer) => route(req, rc, &segments, viewer).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| page(e.status(), pages::error(&e.summary())))
}

/// The cookie's subject and token: `{subject}:{token}`; a token alone (issued before platform
/// mode) is the default merchant's.
fn subject_and_token(cookie: &str) -> (&str, &str) {
    cookie.split_once(':').unwrap_or(("default", cookie))
}

/// The key a subject's sign-in tokens are signed with: the platform key for the operator, the
/// merchant's own secret (the default merchant's `MERCHANT_SECRET_KEY`, a registry merchant's
/// derivation key) once the request serves it.
fn signing_key(rc: &RequestContext, viewer: Viewer) -> Option<&str> {
    match viewer {
        Viewer::Operator => rc
            .config
            .deployment
            .platform
            .as_ref()
            .map(|p| p.key.expose()),
        Viewer::Merchant => Some(rc.merchant.profile.secret_key.expose()),
    }
}

/// Who the request's sign-in is for, if it carries one of its subject's current generation,
/// not expired; a merchant's makes the request serve that merchant.
async fn signed_in(req: &Request, rc: &mut RequestContext) -> ApiResult<Option<Viewer>> {
    let Some(cookie) = request::cookie(req, COOKIE) else {
        return Ok(None);
    };
    let (subject, token) = subject_and_token(&cookie);
    let viewer = match subject {
        OPERATOR => Viewer::Operator,
        merchant => match MerchantId::parse(merchant) {
            Some(id) if rc.serve_named(&id).await? => Viewer::Merchant,
            _ => return Ok(None),
        },
    };
    let generation = rc.catalog.console_sign_ins().generation(subject).await?;
    let genuine =
        signing_key(rc, viewer).is_some_and(|key| sign_in::verify(key, token, generation, rc.now));
    Ok(genuine.then_some(viewer))
}

async fn route(
    req: &mut Request,
    rc: &mut RequestContext,
    segments: &[&str],
    viewer: Option<Viewer>,
) -> ApiResult<Response> {
    let cross_origin = || {
        ApiError::invalid(
            BadInput::CrossOrigin,
            "console forms are only accepted from the console itself",
        )
    };
    let method = request::method(req);
    match (&method, segments) {
        (Some(Method::Get), ["console", "login"]) => return Ok(page(200, pages::login(None))),
        (Some(Method::Post), ["console", "login"]) => return login(req, rc).await,
        // Another site cannot sign anyone out; signing out revokes every sign-in of its subject.
        (Some(Method::Post), ["console", "logout"]) if !same_origin(req) => {
            return Err(cross_origin())
        }
        (Some(Method::Post), ["console", "logout"]) => {
            let cookie = request::cookie(req, COOKIE).unwrap_or_default();
            if viewer.is_some() {
                let (subject, _) = subject_and_token(&cookie);
                rc.catalog.console_sign_ins().revoke_all(subject).await?;
            }
            return Ok(redirect("/console/login", Some(clear_cookie(req))));
        }
        _ => {}
    }
    let rc = &*rc;
    match (method, segments, viewer) {
        (Some(Method::Get), _, None) => Ok(redirect("/console/login", None)),
        (_, _, None) => Err(ApiError::Unauthorized),
        (Some(Method::Post), _, _) if !same_origin(req) => Err(cross_origin()),
        (_, _, Some(Viewer::Operator)) => operator::route(req, rc, segments).await,
        (Some(Method::Get), ["console"], _) => Ok(redirect("/console/orders", None)),
        (Some(Method::Get), ["console", "orders"], _) => orders(req, rc).await,
        (Some(Method::Get), ["console", "orders", id], _) => order(rc, id, None).await,
        (Some(Method::Post), ["console", "orders", id, "refunds"], _) => refund(req, rc, id).await,
        (Some(Method::Get), ["console", "webhooks"], _) => {
            let deliveries = rc.ledger.outbox().deliveries(100).await;
            let configured = rc.merchant.profile.webhook.is_some();
            deliveries.map(|d| page(200, pages::webhooks(&d, configured)))
        }
        (Some(Method::Post), ["console", "webhooks", event, "retry"], _) => {
            retry_webhook(rc, event).await
        }
        (Some(Method::Get), ["console", "reports"], _) => reports(rc, None).await,
        (Some(Method::Post), ["console", "reports"], _) => run_report(req, rc).await,
        (Some(Method::Get), ["console", "reports", date], _) => report(rc, date).await,
        _ => Err(ApiError::NotFound("page")),
    }
}

/// An HTML page with the console's security headers: no script may run, nothing is cached,
/// no other site may frame it.
fn page(status: u16, html: String) -> Response {
    let mut response = Response::from_html(html)
        .expect("html response")
        .with_status(status);
    let headers = response.headers_mut();
    let _ = headers.set(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    let _ = headers.set("X-Content-Type-Options", "nosniff");
    // Not no-referrer: with it, browsers send `Origin: null` on the console's own form posts.
    let _ = headers.set("Referrer-Policy", "same-origin");
    let _ = headers.set("Cache-Control", "no-store");
    response
}

/// After a form: 303 to `location`.
fn redirect(location: &str, set_cookie: Option<String>) -> Response {
    request::redirect(303, location, set_cookie.as_deref())
}

/// The console's cookie: only sent to `/console`, never on a request from another site.
fn cookie_attributes(req: &Request) -> String {
    attributes(req, "/console", "Strict")
}

fn clear_cookie(req: &Request) -> String {
    format!("{COOKIE}={}; Max-Age=0", cookie_attributes(req))
}

fn same_origin(req: &Request) -> bool {
    let own = request::own_origin(req);
    match (req.headers().get("Origin").ok().flatten(), own) {
        (Some(origin), Ok(own)) => origin == own,
        // No Origin header (older browsers on same-origin POSTs): SameSite=Strict decides.
        (None, _) => true,
        _ => false,
    }
}

/// A posted form's fields (the body's size checked before it is parsed).
async fn form(req: &mut Request) -> ApiResult<impl Fn(&str) -> Option<String>> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&request::body_bytes(req).await?)
        .into_owned()
        .collect();
    Ok(move |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// A sign-in with a key: the platform key (the operator), the default merchant's secret key or
/// a registry merchant's API key (that merchant).
async fn login(req: &mut Request, rc: &mut RequestContext) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.sign_in_per_ip).await?;
    let field = form(req).await?;
    let key = field("key").unwrap_or_default();
    let operator = rc.config.deployment.platform.as_ref();
    let (viewer, subject, home) = if operator.is_some_and(|p| p.key.matches(&key)) {
        (Viewer::Operator, OPERATOR.to_string(), "/console/platform")
    } else {
        match auth::merchant_key(&key, rc).await {
            Ok(rc) => (
                Viewer::Merchant,
                rc.merchant.id.to_string(),
                "/console/orders",
            ),
            Err(ApiError::Unauthorized) => {
                return Ok(page(
                    401,
                    pages::login(Some("That is not a key of this deployment.")),
                ))
            }
            Err(e) => return Err(e),
        }
    };
    let generation = rc.catalog.console_sign_ins().generation(&subject).await?;
    let key = signing_key(rc, viewer).ok_or(ApiError::Unauthorized)?;
    let token = sign_in::issue(key, generation, rc.now);
    let cookie = format!(
        "{COOKIE}={subject}:{token}; Max-Age={}{}",
        sign_in::LIFETIME_SECS,
        cookie_attributes(req)
    );
    Ok(redirect(home, Some(cookie)))
}

fn query(req: &Request) -> ApiResult<Vec<(String, String)>> {
    Ok(request::query(req)?
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

/// The orders page's filter: what the form sent, anything unknown ignored.
fn filter_of(params: &[(String, String)]) -> ApiResult<SessionFilter> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let day = |name: &str| -> ApiResult<Option<CstDate>> {
        get(name)
            .map(|d| {
                CstDate::parse(&d).map_err(|_| {
                    ApiError::invalid(
                        BadInput::InvalidDate,
                        format!("{name} {d:?}: use YYYY-MM-DD"),
                    )
                })
            })
            .transpose()
    };
    Ok(SessionFilter {
        status: get("status").and_then(|s| SessionStatus::parse(&s).ok()),
        search: get("q"),
        created_gte: day("from")?.map(|d| d.start().secs()),
        created_lt: day("to")?.map(|d| d.end().secs()),
        flag: get("flag").and_then(|f| match f.as_str() {
            "any" => Some(None),
            other => Flag::parse(other).map(Some),
        }),
    })
}

async fn orders(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    let params = query(req)?;
    let filter = filter_of(&params)?;
    let after = params
        .iter()
        .find(|(k, _)| k == "after")
        .map(|(_, id)| id.as_str());
    let found = rc
        .ledger
        .listing()
        .sessions(&filter, after, PAGE_SIZE + 1)
        .await?;
    let more = found.len() > PAGE_SIZE as usize;
    let shown = &found[..found.len().min(PAGE_SIZE as usize)];
    Ok(page(200, pages::orders(shown, &params, more)))
}

async fn order(rc: &RequestContext, id: &str, problem: Option<String>) -> ApiResult<Response> {
    let session = rc
        .ledger
        .sessions()
        .by_id(id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))?;
    let events = rc.ledger.events().of(id).await?;
    let refunds = rc.ledger.refunds().of_session(id).await?;
    let status = if problem.is_some() { 400 } else { 200 };
    // A fresh token per rendering of the refund form: a double click posts it twice, and the
    // idempotency table lets only the first refund through.
    let refund_token = random_hex(16)?;
    Ok(page(
        status,
        pages::order(
            &session,
            &events,
            &refunds,
            &refund_token,
            problem.as_deref(),
        ),
    ))
}

/// A refund from the order page; the amount is typed in yuan and read exactly into fen.
async fn refund(req: &mut Request, rc: &RequestContext, id: &str) -> ApiResult<Response> {
    let field = form(req).await?;
    let amount = field("amount").unwrap_or_default();
    let Some(fen) = parse_decimal(&amount, 2).filter(|f| *f > 0) else {
        let problem = format!("{amount:?} is not an amount in yuan, such as 12.30");
        return order(rc, id, Some(problem)).await;
    };
    let token =
        field("refund_token").filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(token) = token else {
        return order(rc, id, Some("the form is out of date: try again".into())).await;
    };
    let reason = field("reason");
    // The same idempotency as the API's Idempotency-Key, keyed by the form's token.
    let body = json!({ "session_id": id, "amount_fen": fen, "reason": reason });
    let once = idempotency::Request {
        scope: "console_refund",
        key: Some(&token),
        body: body.to_string().into_bytes(),
        new_id: services::new_token()?,
    };
    let ctx = rc.services();
    let refunded = idempotency::run(
        rc.ledger.idempotency_keys(),
        rc.now,
        once,
        |_| {},
        |_, token| async move {
            let refund = refunds::start(&ctx, id, fen, reason, &token).await?;
            Ok((201, json!({ "id": refund.id })))
        },
    )
    .await;
    match refunded {
        // Done now, done by the first click, or still being done by it: the order page shows it.
        Ok(_) | Err(ApiError::IdempotencyInProgress) => {
            Ok(redirect(&format!("/console/orders/{id}"), None))
        }
        Err(e) => order(rc, id, Some(e.summary())).await,
    }
}

/// Retries the webhook event `event` (its id: `evt_…`, which names its shard) now.
async fn retry_webhook(rc: &RequestContext, event: &str) -> ApiResult<Response> {
    let (shard, seq) = shard::parse_event_id(event).ok_or(ApiError::NotFound("webhook event"))?;
    rc.ledger.outbox().retry_now(shard, seq, rc.now).await?;
    webhooks::deliver_due(&rc.services()).await?;
    Ok(redirect("/console/webhooks", None))
}

async fn reports(rc: &RequestContext, problem: Option<String>) -> ApiResult<Response> {
    let runs = rc.reconciliations().latest(31).await?;
    let status = if problem.is_some() { 400 } else { 200 };
    Ok(page(status, pages::reports(&runs, problem.as_deref())))
}

async fn run_report(req: &mut Request, rc: &RequestContext) -> ApiResult<Response> {
    let field = form(req).await?;
    let date = field("date").unwrap_or_default();
    let Ok(day) = CstDate::parse(&date) else {
        return reports(rc, Some(format!("{date:?} is not a date (YYYY-MM-DD)"))).await;
    };
    // A failed run is recorded and shown on the day's page.
    let _ = reconcile::run(&rc.services(), &rc.reconciliations(), day).await;
    Ok(redirect(&format!("/console/reports/{day}"), None))
}

async fn report(rc: &RequestContext, date: &str) -> ApiResult<Response> {
    let report = reconcile::report(&rc.reconciliations(), date).await?;
    Ok(page(200, pages::report(&report.run, &report.differences)))
}

#[cfg(test)]
mod tests {
    use super::filter_of;
    use pay_core::checkout::SessionStatus;
    use pay_core::risk::Flag;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_orders_form_narrows_by_what_it_knows() {
        let f = filter_of(&params(&[
            ("status", "paid"),
            ("q", "tea"),
            ("from", "2026-11-30"),
            ("flag", "any"),
        ]))
        .unwrap();
        assert_eq!(f.status, Some(SessionStatus::Paid));
        assert_eq!(f.search.as_deref(), Some("tea"));
        // China time: 2026-11-30 00:00 +08:00.
        assert_eq!(f.created_gte, Some(1_795_968_000));
        assert_eq!(f.flag, Some(None));
        let f = filter_of(&params(&[
            ("status", "bogus"),
            ("flag", "paid_after_close"),
        ]))
        .unwrap();
        assert_eq!(f.status, None);
        assert_eq!(f.flag, Some(Some(Flag::PaidAfterClose)));
        assert!(filter_of(&params(&[("flag", "nonsense")]))
            .unwrap()
            .flag
            .is_none());
        assert!(filter_of(&params(&[("to", "30/11/2026")])).is_err());
    }
}
