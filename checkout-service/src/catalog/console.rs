//! The console's sign-in generation (`console_sign_ins`, pay_core::sign_in): moving it on
//! revokes every sign-in issued before.

use worker_kit::sql::Db;

use crate::error::ApiResult;

pub struct ConsoleSignIns<'a>(pub(super) &'a Db);

impl ConsoleSignIns<'_> {
    pub async fn generation(&self) -> ApiResult<i64> {
        let n: Option<i64> = self
            .0
            .value(
                "SELECT generation FROM console_sign_ins WHERE id = 1",
                &[],
                "generation",
            )
            .await?;
        Ok(n.unwrap_or(0))
    }

    pub async fn revoke_all(&self) -> ApiResult<()> {
        self.0
            .write(
                "UPDATE console_sign_ins SET generation = generation + 1 WHERE id = 1",
                &[],
            )
            .await?;
        Ok(())
    }
}
