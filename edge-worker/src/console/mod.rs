//! The merchant console, served by the Worker at `/console`: orders (search, filters, each
//! order's timeline, refunds), webhook deliveries (retry now), and per day the reconciliation
//! and settlement reports with charts. Plain server-rendered HTML and forms: no script at all.
//!
//! Sign-in: the merchant's secret key, once, for a `pay_core::sign_in` token in a cookie that
//! is HttpOnly, SameSite=Strict, and Secure everywhere but on localhost. Signing out (from the
//! console's own origin only) moves the sign-in generation on, which revokes every token. Every form POST must
//! come from the console's own origin (SameSite=Strict already keeps other sites' cookies out).

mod pages;

use pay_core::bill::parse_decimal;
use pay_core::crypto::webcrypto::random_hex;
use pay_core::risk::Flag;
use pay_core::{sign_in, CstDate};
use serde_json::json;
use worker::{Method, Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::store::SessionFilter;
use crate::{http, idempotency, rate_limits, reconcile, refunds, webhooks, App};

const COOKIE: &str = "wxc_console";
const PAGE_SIZE: u32 = 50;

/// Handles every `/console…` path.
pub async fn handle(mut req: Request, app: &App, segments: &[&str]) -> Response {
    let result = match signed_in(&req, app).await {
        Ok(signed_in) => route(&mut req, app, segments, signed_in).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| page(e.status(), pages::error(&e.summary())))
}

/// Whether the request carries a sign-in of the current generation, not expired.
async fn signed_in(req: &Request, app: &App) -> ApiResult<bool> {
    let Some(token) = http::cookie(req, COOKIE) else {
        return Ok(false);
    };
    let generation = app.store.console_generation().await?;
    Ok(sign_in::verify(
        &app.config.merchant_secret_key,
        &token,
        generation,
        app.now,
    ))
}

async fn route(
    req: &mut Request,
    app: &App,
    segments: &[&str],
    signed_in: bool,
) -> ApiResult<Response> {
    let cross_origin = || {
        ApiError::invalid(
            "cross_origin",
            "console forms are only accepted from the console itself",
        )
    };
    match (http::method(req), segments) {
        (Some(Method::Get), ["console", "login"]) => Ok(page(200, pages::login(None))),
        (Some(Method::Post), ["console", "login"]) => login(req, app).await,
        // Another site cannot sign the merchant out; signing out revokes every sign-in so far.
        (Some(Method::Post), ["console", "logout"]) if !same_origin(req) => Err(cross_origin()),
        (Some(Method::Post), ["console", "logout"]) => {
            if signed_in {
                app.store.next_console_generation().await?;
            }
            Ok(redirect("/console/login", Some(clear_cookie(req))))
        }
        (Some(Method::Get), _) if !signed_in => Ok(redirect("/console/login", None)),
        (_, _) if !signed_in => Err(ApiError::Unauthorized),
        (Some(Method::Post), _) if !same_origin(req) => Err(cross_origin()),
        (Some(Method::Get), ["console"]) => Ok(redirect("/console/orders", None)),
        (Some(Method::Get), ["console", "orders"]) => orders(req, app).await,
        (Some(Method::Get), ["console", "orders", id]) => order(app, id, None).await,
        (Some(Method::Post), ["console", "orders", id, "refunds"]) => refund(req, app, id).await,
        (Some(Method::Get), ["console", "webhooks"]) => {
            let deliveries = app.store.webhook_deliveries(100).await;
            deliveries.map(|d| page(200, pages::webhooks(&d, app.config.webhook.is_some())))
        }
        (Some(Method::Post), ["console", "webhooks", seq, "retry"]) => {
            retry_webhook(app, seq).await
        }
        (Some(Method::Get), ["console", "reports"]) => reports(app, None).await,
        (Some(Method::Post), ["console", "reports"]) => run_report(req, app).await,
        (Some(Method::Get), ["console", "reports", date]) => report(app, date).await,
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
    http::redirect(303, location, set_cookie.as_deref())
}

/// The console's cookie: only sent to `/console`, never on a request from another site.
fn cookie_attributes(req: &Request) -> String {
    http::cookie_attributes(req, "/console", "Strict")
}

fn clear_cookie(req: &Request) -> String {
    format!("{COOKIE}={}; Max-Age=0", cookie_attributes(req))
}

fn same_origin(req: &Request) -> bool {
    let own = req.url().map(|u| u.origin().ascii_serialization());
    match (req.headers().get("Origin").ok().flatten(), own) {
        (Some(origin), Ok(own)) => origin == own,
        // No Origin header (older browsers on same-origin POSTs): SameSite=Strict decides.
        (None, _) => true,
        _ => false,
    }
}

/// A posted form's fields (the body's size checked before it is parsed).
async fn form(req: &mut Request) -> ApiResult<impl Fn(&str) -> Option<String>> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&http::body_bytes(req).await?)
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

async fn login(req: &mut Request, app: &App) -> ApiResult<Response> {
    rate_limits::hit_by_ip(req, app, app.config.limits.sign_in_per_ip).await?;
    let field = form(req).await?;
    let key = field("key").unwrap_or_default();
    if !http::same_secret(&key, &app.config.merchant_secret_key) {
        return Ok(page(
            401,
            pages::login(Some("That is not this Worker's merchant secret key.")),
        ));
    }
    let generation = app.store.console_generation().await?;
    let token = sign_in::issue(&app.config.merchant_secret_key, generation, app.now);
    let cookie = format!(
        "{COOKIE}={token}; Max-Age={}{}",
        sign_in::LIFETIME_SECS,
        cookie_attributes(req)
    );
    Ok(redirect("/console/orders", Some(cookie)))
}

fn query(req: &Request) -> ApiResult<Vec<(String, String)>> {
    Ok(req
        .url()?
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

async fn orders(req: &Request, app: &App) -> ApiResult<Response> {
    let params = query(req)?;
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
                    ApiError::invalid("invalid_date", format!("{name} {d:?}: use YYYY-MM-DD"))
                })
            })
            .transpose()
    };
    let filter = SessionFilter {
        status: get("status").filter(|s| matches!(s.as_str(), "open" | "paid" | "closed")),
        search: get("q"),
        created_gte: day("from")?.map(|d| d.start().secs()),
        created_lt: day("to")?.map(|d| d.end().secs()),
        flag: get("flag").filter(|f| f == "any" || Flag::parse(f).is_some()),
    };
    let after = match get("after") {
        Some(id) => app.store.session_by_id(&id).await?,
        None => None,
    };
    let rows = app
        .store
        .list_sessions(&filter, after.as_ref(), PAGE_SIZE + 1)
        .await?;
    let more = rows.len() > PAGE_SIZE as usize;
    let rows = &rows[..rows.len().min(PAGE_SIZE as usize)];
    Ok(page(200, pages::orders(rows, &params, more)))
}

async fn order(app: &App, id: &str, problem: Option<String>) -> ApiResult<Response> {
    let row = app
        .store
        .session_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))?;
    let events = app.store.order_events(id).await?;
    let refunds = app.store.refunds_of(id).await?;
    let status = if problem.is_some() { 400 } else { 200 };
    // A fresh token per rendering of the refund form: a double click posts it twice, and the
    // idempotency table lets only the first refund through.
    let refund_token = random_hex(16)?;
    Ok(page(
        status,
        pages::order(&row, &events, &refunds, &refund_token, problem.as_deref()),
    ))
}

/// A refund from the order page; the amount is typed in yuan and read exactly into fen.
async fn refund(req: &mut Request, app: &App, id: &str) -> ApiResult<Response> {
    let field = form(req).await?;
    let amount = field("amount").unwrap_or_default();
    let Some(fen) = parse_decimal(&amount, 2).filter(|f| *f > 0) else {
        return order(
            app,
            id,
            Some(format!(
                "{amount:?} is not an amount in yuan, such as 12.30"
            )),
        )
        .await;
    };
    let token =
        field("refund_token").filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(token) = token else {
        return order(app, id, Some("the form is out of date: try again".into())).await;
    };
    let reason = field("reason");
    // The same idempotency as the API's Idempotency-Key, keyed by the form's token.
    let request = json!({ "session_id": id, "amount_fen": fen, "reason": reason });
    let refunded = idempotency::run(
        app,
        "console_refund",
        Some(&token),
        request.to_string().into_bytes(),
        refunds::new_refund_id()?,
        |_, _| {},
        |_, refund_id| async move {
            let row = refunds::start(app, id, fen, reason, refund_id).await?;
            Ok((201, json!({ "id": row.id })))
        },
    )
    .await;
    match refunded {
        // Done now, done by the first click, or still being done by it: the order page shows it.
        Ok(_) => Ok(redirect(&format!("/console/orders/{id}"), None)),
        Err(ApiError::Refused { code, .. }) if code == idempotency::IN_PROGRESS => {
            Ok(redirect(&format!("/console/orders/{id}"), None))
        }
        Err(e) => order(app, id, Some(e.summary())).await,
    }
}

async fn retry_webhook(app: &App, seq: &str) -> ApiResult<Response> {
    let seq: i64 = seq
        .parse()
        .map_err(|_| ApiError::NotFound("webhook event"))?;
    app.store.retry_webhook_now(seq, app.now).await?;
    webhooks::deliver_due(app).await?;
    Ok(redirect("/console/webhooks", None))
}

async fn reports(app: &App, problem: Option<String>) -> ApiResult<Response> {
    let runs = app.store.reconciliation_runs(31).await?;
    let status = if problem.is_some() { 400 } else { 200 };
    Ok(page(status, pages::reports(&runs, problem.as_deref())))
}

async fn run_report(req: &mut Request, app: &App) -> ApiResult<Response> {
    let field = form(req).await?;
    let date = field("date").unwrap_or_default();
    let Ok(day) = CstDate::parse(&date) else {
        return reports(app, Some(format!("{date:?} is not a date (YYYY-MM-DD)"))).await;
    };
    // A failed run is recorded and shown on the day's page.
    let _ = reconcile::run(app, day).await;
    Ok(redirect(&format!("/console/reports/{day}"), None))
}

async fn report(app: &App, date: &str) -> ApiResult<Response> {
    let (run, differences) = reconcile::stored(app, date).await?;
    Ok(page(200, pages::report(&run, &differences)))
}
