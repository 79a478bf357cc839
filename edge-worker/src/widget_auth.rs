//! The widget's credential: a session's client secret, sent as `Authorization: Bearer …`.
//! Shared by the widget API and the OAuth round trip's start.

use worker::Request;

use crate::error::{ApiError, ApiResult};
use crate::store::SessionRow;
use crate::{http, sha256_hex, App};

/// The session `id`, if the request carries its client secret. The same answer for an unknown
/// session and a wrong secret: nothing to probe.
pub async fn authorized_session(req: &Request, app: &App, id: &str) -> ApiResult<SessionRow> {
    let secret = http::bearer(req)?;
    let row = app.store.session_by_id(id).await?;
    match row {
        Some(row) if http::same_secret(&sha256_hex(secret.as_bytes()), &row.client_secret_hash) => {
            Ok(row)
        }
        _ => Err(ApiError::Unauthorized),
    }
}
