//! The back office: the deployment's other Worker (back-office/), which serves the console and
//! reconciliation. They are apart so that every isolate on the payer's path loads less code
//! (README, "Two Workers"). The back office is not on the internet: this Worker forwards it
//! the requests that are its, unchanged, over the service binding `BACK_OFFICE`.

use serde::Deserialize;
use worker::{Env, Fetcher, Request, Response};

use crate::error::{ApiError, ApiResult};

/// Whether a request path is the back office's: the console, the reconciliation routes and
/// the move of the books.
pub fn serves(path: &str) -> bool {
    [
        "/console",
        "/v1/admin/reconciliations",
        "/v1/admin/books",
        "/v1/platform",
    ]
    .iter()
    .any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The service binding, if the deployment has one (a bench build under workerd has none).
pub struct BackOffice(Option<Fetcher>);

impl BackOffice {
    pub fn of(env: &Env) -> Self {
        BackOffice(env.service("BACK_OFFICE").ok())
    }

    /// The back office's answer to `req`, which it authenticates itself.
    pub async fn forward(&self, req: Request) -> ApiResult<Response> {
        let fetcher = self.0.as_ref().ok_or_else(|| {
            ApiError::Config("BACK_OFFICE: no service binding to the back-office Worker".into())
        })?;
        Ok(fetcher.fetch_request(req).await?)
    }

    /// Asks the back office for its due work (`req` is the merchant's authenticated
    /// `POST /v1/admin/run-scheduled`): the day it reconciled, if it did.
    pub async fn run_due(&self, req: &Request) -> ApiResult<Option<String>> {
        #[derive(Deserialize)]
        struct Ran {
            reconciled: Option<String>,
        }
        let mut answer = self.forward(req.clone()?).await?;
        if answer.status_code() != 200 {
            return Err(ApiError::Internal(format!(
                "the back office's run answered {}",
                answer.status_code()
            )));
        }
        Ok(answer.json::<Ran>().await?.reconciled)
    }
}

#[cfg(test)]
mod tests {
    use super::serves;

    #[test]
    fn the_console_and_reconciliations_are_the_back_offices() {
        for path in [
            "/console",
            "/console/orders/cs_1",
            "/v1/admin/reconciliations",
            "/v1/admin/reconciliations/2026-12-01",
        ] {
            assert!(serves(path), "{path}");
        }
        for path in [
            "/consoles",
            "/v1/admin/run-scheduled",
            "/v1/admin/reconciliationsx",
            "/v1/checkout/sessions",
            "/",
        ] {
            assert!(!serves(path), "{path}");
        }
    }
}
