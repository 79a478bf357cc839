//! Rate limits on the routes a browser can reach that cost something: creating sessions, and
//! pay and check (each asks WeChat Pay). Per client IP before credentials are looked at (so
//! guessing secrets is slow too), per session after (so nobody else can use up a payer's).
//! Counted in D1 (`Store::count_hit`), decided by `pay_core::rate_limit`.

use pay_core::client_ip::ClientAddress;
use pay_core::rate_limit::RateLimit;
use worker::Request;

use crate::error::ApiResult;
use crate::App;

/// The client as the limits count it (pay_core::client_ip: an IPv6 client by its network), from
/// the address Cloudflare gives (`CF-Connecting-IP`, set by the edge and not by the client;
/// locally `wrangler dev` sets it to the loopback address).
pub fn client(req: &Request, app: &App) -> ClientAddress {
    let raw = req
        .headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .unwrap_or_default();
    ClientAddress::parse(&raw, app.config.limits.v6_prefix)
}

/// Counts this hit on `limit` for `subject`; a `rate_limited` error (429) when over.
pub async fn hit(app: &App, limit: RateLimit, subject: &str) -> ApiResult<()> {
    if limit.is_off() {
        return Ok(());
    }
    let window = limit.window(subject, app.now);
    let hits = app.store.count_hit(&window.bucket, window.start).await?;
    Ok(limit.check(&window, hits, app.now)?)
}

/// Counts this request against `limit` for its client IP.
pub async fn hit_by_ip(req: &Request, app: &App, limit: RateLimit) -> ApiResult<()> {
    hit(app, limit, &client(req, app).key).await
}
