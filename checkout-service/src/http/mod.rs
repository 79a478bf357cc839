//! The HTTP plumbing both Workers' handlers stand on: what a request is served with
//! ([`RequestContext`]), the one route table (`routes`), reading a request (`request`: bodies,
//! JSON, cookies, the URL), who is asking (`auth`: the merchant key, a session's client
//! secret) and rate limits (`limits`).

pub mod auth;
pub mod limits;
pub mod request;
pub mod routes;

use std::rc::Rc;

use pay_core::UnixTime;
use worker::Env;
use worker_kit::d1::Db;

use crate::back_office_client::BackOffice;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::ApiResult;
use crate::ledger::Ledger;
use crate::objects::Books;
use crate::services;
use crate::wechatpay::WechatPay;

/// What a request is served with: the settings, the books, the control plane, the back
/// office, and its time.
pub struct RequestContext {
    pub config: Rc<Config>,
    pub ledger: Ledger,
    pub catalog: Catalog,
    /// The books' Durable Objects: each subject's rate-limit windows, each session's sockets and
    /// due work.
    pub books: Books,
    pub back_office: BackOffice,
    pub now: UnixTime,
}

impl RequestContext {
    pub fn load(env: &Env, now: UnixTime) -> ApiResult<Self> {
        let db = Db::new(env.d1("DB")?);
        Ok(RequestContext {
            config: Config::of_isolate(env)?,
            ledger: Ledger::new(db.clone()),
            catalog: Catalog::new(db),
            books: Books::of(env),
            back_office: BackOffice::of(env),
            now,
        })
    }

    /// The use cases' ports for the merchant this request serves.
    pub fn services(&self) -> services::Ctx<'_> {
        services::Ctx {
            ledger: &self.ledger,
            books: &self.books,
            wechatpay: WechatPay::new(
                &self.config.deployment.wechatpay_api_base,
                &self.config.merchant.account,
                self.catalog.certificates(),
                self.now,
            ),
            merchant: &self.config.merchant,
            now: self.now,
        }
    }
}
