//! The HTTP plumbing both Workers' handlers stand on: what a request is served with
//! ([`RequestContext`]), the one route table (`routes`), reading a request (`request`: bodies,
//! JSON, cookies, the URL), who is asking (`auth`: the merchant key, a session's client
//! secret) and rate limits (`limits`).

pub mod auth;
pub mod idempotent;
pub mod limits;
pub mod request;
pub mod routes;

use std::rc::Rc;

use pay_core::merchant::MerchantId;
use pay_core::UnixTime;
use worker::Env;
use worker_kit::sql::Db;

use crate::back_office_client::BackOffice;
use crate::catalog::{Catalog, Reconciliations};
use crate::config::{BooksIn, Config};
use crate::error::{ApiError, ApiResult};
use crate::ledger::Ledger;
use crate::merchant_cache::MerchantCache;
use crate::objects::Books;
use crate::platform::changes::Changes;
use crate::platform::routing::Merchant;
use crate::services;
use crate::wechatpay::WechatPay;

/// The books of merchant `id`: its shards' objects, listed in D1; the default merchant's still in
/// D1 while the deployment has not moved them (`BOOKS_IN`; while moving, nothing but the move
/// reads them: `books_open`).
fn ledger_of(config: &Config, books: &Books, db: &Db, id: &MerchantId) -> Ledger {
    match (id, config.deployment.books_in) {
        (MerchantId::Default, BooksIn::D1 | BooksIn::Moving) => Ledger::in_d1(db.clone()),
        _ => Ledger::in_objects(books.of_merchant(id), config.deployment.shards, db.clone()),
    }
}

/// What a request is served with: the settings, the merchant it serves and that merchant's
/// books, the control plane, the back office, and its time.
pub struct RequestContext {
    pub config: Rc<Config>,
    /// The default merchant until the request names another ([`RequestContext::serve`]).
    pub merchant: Merchant,
    pub ledger: Ledger,
    pub catalog: Catalog,
    /// Registry merchants' rows in KV, for the paths that find a merchant by id.
    pub merchant_cache: MerchantCache,
    /// The books' Durable Objects: each subject's rate-limit windows, each session's sockets and
    /// due work.
    pub books: Books,
    pub back_office: BackOffice,
    pub now: UnixTime,
}

impl RequestContext {
    pub fn load(env: &Env, now: UnixTime) -> ApiResult<Self> {
        let db = Db::new(env.d1("DB")?);
        let config = Config::of_isolate(env)?;
        let books = Books::of(env);
        let ledger = ledger_of(&config, &books, &db, &MerchantId::Default);
        Ok(RequestContext {
            merchant: Merchant::default_of(&config),
            config,
            ledger,
            catalog: Catalog::new(db),
            merchant_cache: MerchantCache::of(env),
            books,
            back_office: BackOffice::of(env),
            now,
        })
    }

    /// This request serves `merchant`, with its books: each merchant's shards are objects of
    /// their own, so nothing of another merchant's can be read or changed through this context.
    pub fn serve(&mut self, merchant: Merchant) -> ApiResult<()> {
        if merchant.id != MerchantId::Default && self.config.deployment.books_in != BooksIn::Objects
        {
            return Err(ApiError::Config(
                "registry merchants need their books in the objects (BOOKS_IN = \"objects\")"
                    .into(),
            ));
        }
        if merchant.id != self.merchant.id {
            self.books = self.books.of_merchant(&merchant.id);
            self.ledger = self.books_of(&merchant.id);
        }
        self.merchant = merchant;
        Ok(())
    }

    /// The books of merchant `id`, whichever merchant this request serves (the operator's
    /// overview reads each merchant's).
    pub fn books_of(&self, id: &MerchantId) -> Ledger {
        ledger_of(&self.config, &self.books, self.catalog.db(), id)
    }

    /// This request serves the merchant `id` (a session id's, a notification URL's, an
    /// object's); false if the deployment has no such merchant.
    pub async fn serve_named(&mut self, id: &MerchantId) -> ApiResult<bool> {
        match Merchant::by_id(&self.catalog, &self.merchant_cache, &self.config, id).await? {
            Some(merchant) => self.serve(merchant).map(|_| true),
            None => Ok(false),
        }
    }

    /// The registry merchants, direct and sub-merchants (none without platform mode): the crons
    /// sweep and reconcile each of them beside the default merchant.
    pub async fn registry_merchants(&self) -> ApiResult<Vec<MerchantId>> {
        match self.config.deployment.platform {
            Some(_) => self.catalog.registry().merchant_ids().await,
            None => Ok(Vec::new()),
        }
    }

    /// Changes to the registry, written with their cached rows purged (the platform API, the
    /// operator's console).
    pub fn registry_changes(&self) -> Changes<'_> {
        Changes {
            registry: self.catalog.registry(),
            cache: &self.merchant_cache,
            now: self.now.secs(),
        }
    }

    /// The reconciliations of the merchant this request serves.
    pub fn reconciliations(&self) -> Reconciliations<'_> {
        self.catalog.reconciliations(&self.merchant.id)
    }

    /// Whether the books can be used: not while they are being moved (`BOOKS_IN = "moving"`),
    /// when every entry point to them (a route, the cron, an object's alarm) answers this.
    pub fn books_open(&self) -> ApiResult<()> {
        match self.config.deployment.books_in {
            BooksIn::Moving => Err(ApiError::BooksMoving),
            BooksIn::Objects | BooksIn::D1 => Ok(()),
        }
    }

    /// This context, for delivering the webhooks that its request's changes wrote: from the
    /// shards it asked about (every shard if it asked about none: a request the back office
    /// served), not from every shard after every request.
    pub fn delivering_what_it_wrote(mut self) -> Self {
        self.ledger = self.ledger.narrowed_to_asked();
        self
    }

    /// This context, for shard `number`'s own due work (its object's alarm).
    pub fn for_shard(mut self, number: u32) -> Self {
        self.ledger = self.ledger.narrowed_to(number);
        self
    }

    /// The use cases' ports for the merchant this request serves.
    pub fn services(&self) -> services::Ctx<'_> {
        services::Ctx {
            ledger: &self.ledger,
            books: &self.books,
            wechatpay: WechatPay::new(
                &self.config.deployment.wechatpay_api_base,
                &self.merchant.profile.account,
                self.catalog.certificates(),
                self.now,
            ),
            merchant: &self.merchant.profile,
            now: self.now,
        }
    }
}
