//! Idempotency keys (`idempotency_keys`): a claim with the request's hash and the id of the
//! resource it creates, then its stored answer (services::idempotency has the rules).

use pay_core::UnixTime;
use serde::Deserialize;
use worker_kit::sql::{int, text};

use super::Shards;

use crate::error::{ApiError, ApiResult};

/// The outcome of claiming a key.
pub enum Claim {
    New,
    Existing(ClaimedKey),
}

/// A key claimed before: by whom (its request's hash), for which resource, and its answer once
/// it has one.
#[derive(Deserialize)]
pub struct ClaimedKey {
    pub request_hash: String,
    pub status: Option<u16>,
    pub response: Option<String>,
    pub resource_id: String,
    pub created_at: i64,
}

/// Each key in the shard it hashes to.
pub struct IdempotencyKeys<'a>(pub(super) &'a Shards);

impl IdempotencyKeys<'_> {
    pub async fn claim(
        &self,
        key: &str,
        request_hash: &str,
        resource_id: &str,
        now: UnixTime,
    ) -> ApiResult<Claim> {
        let db = self.0.of_key(key)?;
        if db
            .write(
                "INSERT OR IGNORE INTO idempotency_keys (key, request_hash, resource_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                &[text(key), text(request_hash), text(resource_id), int(now.secs())],
            )
            .await?
        {
            return Ok(Claim::New);
        }
        let claimed: Option<ClaimedKey> = db
            .first(
                "SELECT request_hash, status, response, resource_id, created_at FROM idempotency_keys WHERE key = ?1",
                &[text(key)],
            )
            .await?;
        claimed
            .map(Claim::Existing)
            .ok_or_else(|| ApiError::Internal("idempotency key vanished".into()))
    }

    /// Takes over an unfinished claim last renewed at `claimed_at` (its request is presumed
    /// dead); false if another retry took it first or it was finished meanwhile.
    pub async fn take_over(&self, key: &str, claimed_at: i64, now: UnixTime) -> ApiResult<bool> {
        Ok(self
            .0
            .of_key(key)?
            .write(
                "UPDATE idempotency_keys SET created_at = ?3 WHERE key = ?1 AND status IS NULL AND created_at = ?2",
                &[text(key), int(claimed_at), int(now.secs())],
            )
            .await?)
    }

    pub async fn finish(&self, key: &str, status: u16, response: &str) -> ApiResult<()> {
        self.0
            .of_key(key)?
            .write(
                "UPDATE idempotency_keys SET status = ?2, response = ?3 WHERE key = ?1",
                &[text(key), int(status.into()), text(response)],
            )
            .await?;
        Ok(())
    }

    pub async fn release(&self, key: &str) -> ApiResult<()> {
        self.0
            .of_key(key)?
            .write(
                "DELETE FROM idempotency_keys WHERE key = ?1 AND status IS NULL",
                &[text(key)],
            )
            .await?;
        Ok(())
    }
}
