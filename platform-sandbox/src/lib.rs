//! A local WeChat Pay: the merchant-facing API v3 (`/v3/…`, signed both ways, as the real one)
//! and the payer's side (`/cashier`), which approves payments and sends notifications.

mod api;
mod books;
mod cashier;
mod config;
mod dispatch;
mod error;
mod jsapi;
mod notification_sender;
mod oauth_server;
mod sandbox;
mod store;

pub use dispatch::Dispatcher;

use pay_core::crypto::webcrypto::{random_hex, WebCryptoSigner};
use pay_core::v3::SignedHeaders;
use pay_core::UnixTime;
use worker::{event, Context, Env, Request, Response};

use crate::config::{Config, Merchant};
use crate::error::PlatformResult;
use crate::store::Store;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub env: Env,
    pub now: UnixTime,
    pub now_ms: i64,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(str::to_string)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if segments == ["health"] {
        return Ok(worker_kit::json::health());
    }
    let app = match App::load(&env) {
        Ok(app) => app,
        Err(e) => return Ok(Response::from_json(&e.body())?.with_status(e.status())),
    };
    match segments.first() {
        Some(&"v3") => Ok(api::handle(req, &app, &segments).await),
        Some(&"cashier") | Some(&"cgi-bin") => Ok(cashier::handle(req, &app, &segments).await),
        Some(&"sandbox") => Ok(sandbox::handle(req, &app, &segments).await),
        Some(&"jsapi") => Ok(jsapi::handle(req, &app, &segments).await),
        Some(&"connect") | Some(&"sns") => Ok(oauth_server::handle(req, &app, &segments).await),
        _ => Response::error("not found", 404),
    }
}

impl App {
    pub fn load(env: &Env) -> PlatformResult<Self> {
        let now_ms = worker::Date::now().as_millis() as i64;
        Ok(App {
            config: Config::from_env(env)?,
            store: Store::new(env.d1("DB")?),
            env: env.clone(),
            now: UnixTime(now_ms / 1000),
            now_ms,
        })
    }

    /// Signs `body` as the platform signs every answer and notification: under the key ID
    /// `merchant` trusts (public key ID or certificate serial), with a fresh nonce and this
    /// request's time.
    pub async fn sign_as_platform(
        &self,
        body: &[u8],
        merchant: Option<&Merchant>,
    ) -> PlatformResult<SignedHeaders> {
        let signer = WebCryptoSigner::cached(&self.config.platform_key).await?;
        let mode = match merchant {
            Some(m) => {
                self.store
                    .setting(&format!("trust_mode:{}", m.mchid))
                    .await?
            }
            None => None,
        };
        let serial = match mode.as_deref() {
            Some("certificate") => &self.config.platform_certificate.serial,
            Some("public_key") => &self.config.public_key_id,
            _ => self.config.serial_for(merchant),
        };
        Ok(SignedHeaders::sign(&*signer, serial, self.now, &random_hex(16)?, body).await?)
    }
}
