//! The console's sign-in generation per subject (`console_sign_ins`, pay_core::sign_in): a
//! merchant's id, or `platform` for the operator. Moving a subject's on revokes every sign-in
//! issued to it before.

use worker_kit::sql::{text, Db};

use crate::error::ApiResult;

pub struct ConsoleSignIns<'a>(pub(super) &'a Db);

impl ConsoleSignIns<'_> {
    pub async fn generation(&self, subject: &str) -> ApiResult<i64> {
        let n: Option<i64> = self
            .0
            .value(
                "SELECT generation FROM console_sign_ins WHERE subject = ?1",
                &[text(subject)],
                "generation",
            )
            .await?;
        Ok(n.unwrap_or(0))
    }

    pub async fn revoke_all(&self, subject: &str) -> ApiResult<()> {
        self.0
            .write(
                "INSERT INTO console_sign_ins (subject, generation) VALUES (?1, 1) \
                 ON CONFLICT (subject) DO UPDATE SET generation = generation + 1",
                &[text(subject)],
            )
            .await?;
        Ok(())
    }
}
