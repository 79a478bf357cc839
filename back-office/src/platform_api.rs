//! The platform API (issue #19, in web/v1/openapi.json): the platform operator, with the
//! platform key, creates, reads, updates, suspends and lists the deployment's merchants and
//! the service providers (服务商) whose sub-merchants they may be, mints and revokes merchants'
//! API keys, and seals every stored secret again after a rotation of the key-encryption key.
//! Each POST takes an `Idempotency-Key`. Settings are checked by the code that reads the
//! default merchant's (checkout-service platform/); secrets are sealed before they are stored,
//! and no answer carries one (an API key is shown once, when it is made, and kept as its hash).

use checkout_service::catalog::{EntryRow, MerchantRow, NewApiKey, ProviderRow, Registry};
use checkout_service::config::Platform;
use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::routes::Route;
use checkout_service::http::{auth, idempotent, RequestContext};
use checkout_service::platform::changes::{Changes, MerchantStatus};
use checkout_service::platform::{self, Holder, SettingsMap, DERIVATION_KEY};
use checkout_service::services::new_token;
use pay_core::crypto::webcrypto::random_hex;
use pay_core::requests::{from_json, RegistryEntry};
use serde_json::{json, Value};
use worker::{Request, Response};

/// Merchants a page, unless asked otherwise, and at most.
const PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

pub async fn handle(
    route: Route,
    id: &str,
    req: &mut Request,
    rc: &RequestContext,
) -> ApiResult<Response> {
    let keys = auth::platform(req, rc)?;
    let api = Api {
        keys,
        registry: rc.catalog.registry(),
        changes: rc.registry_changes(),
        now: rc.now.secs(),
    };
    use Route::*;
    match route {
        ListProviders => {
            let providers = api.registry.providers().await?;
            let data: Vec<Value> = providers.iter().map(provider_view).collect();
            Ok(json(200, &json!({ "data": data })))
        }
        RetrieveProvider => Ok(json(200, &provider_view(&api.provider(id).await?))),
        ListMerchants => api.list_merchants(req).await,
        RetrieveMerchant => Ok(json(200, &merchant_view(&api.merchant(id).await?))),
        ListApiKeys => {
            let merchant = api.merchant(id).await?;
            let keys = api.registry.keys(&merchant.entry.id).await?;
            let data: Vec<Value> = keys
                .iter()
                .map(|k| key_view(&k.id, &k.merchant_id, &k.last4, k.created_at, k.revoked_at))
                .collect();
            Ok(json(200, &json!({ "data": data })))
        }
        // Every change: at most once per Idempotency-Key, for the one entry its path names.
        _ => {
            let scope = format!("platform:{route:?}:{id}");
            let token = new_token()?;
            let api = &api;
            idempotent::once(
                req,
                rc,
                &scope,
                token,
                no_key_in_a_replay,
                |body, token| async move {
                    match route {
                        CreateProvider => api.create_provider(&body, &token).await,
                        UpdateProvider => api.update_provider(id, &body).await,
                        CreateMerchant => api.create_merchant(&body, &token).await,
                        UpdateMerchant => api.update_merchant(id, &body).await,
                        SuspendMerchant => api.set_status(id, MerchantStatus::Suspended).await,
                        ResumeMerchant => api.set_status(id, MerchantStatus::Active).await,
                        CreateApiKey => api.create_key(id).await,
                        RevokeApiKey => api.revoke_key(id).await,
                        ResealSecrets => api.reseal().await,
                        _ => Err(ApiError::NotFound("route")),
                    }
                },
            )
            .await
        }
    }
}

/// A replayed answer never holds the API key it showed (it is kept as its hash only).
fn no_key_in_a_replay(body: &mut Value) {
    if let Some(fields) = body.as_object_mut() {
        if fields.contains_key("api_key_id") {
            fields.insert("api_key".into(), Value::Null);
        }
    }
}

struct Api<'a> {
    keys: &'a Platform,
    registry: Registry<'a>,
    /// Every write of a change (the cache purged with it).
    changes: Changes<'a>,
    now: i64,
}

type Answer = ApiResult<(u16, Value)>;

impl Api<'_> {
    async fn provider(&self, id: &str) -> ApiResult<ProviderRow> {
        self.registry
            .provider(id)
            .await?
            .ok_or(ApiError::NotFound("provider"))
    }

    async fn merchant(&self, id: &str) -> ApiResult<MerchantRow> {
        self.changes.merchant(id).await
    }

    /// The account a sub-merchant of `provider_id` is checked with: its provider's public
    /// settings and opened secrets (a direct merchant's is its own: none).
    async fn account_of(
        &self,
        provider_id: Option<&str>,
    ) -> ApiResult<Option<(SettingsMap, SettingsMap)>> {
        let Some(provider_id) = provider_id else {
            return Ok(None);
        };
        let provider = self.provider(provider_id).await?;
        let secrets = self.open(Holder::Provider, &provider.id, &provider.secrets)?;
        Ok(Some((provider.settings, secrets)))
    }

    /// `entry` with the change `asked` made to it (its name; settings set, replaced or
    /// removed), checked whole and its secrets sealed again; refused whole if the result would
    /// not work.
    fn changed(
        &self,
        holder: Holder,
        account: Option<&(SettingsMap, SettingsMap)>,
        entry: &EntryRow,
        asked: &RegistryEntry,
    ) -> ApiResult<EntryRow> {
        let entered = platform::entered(holder, &asked.settings)?;
        let public = platform::apply(&entry.settings, &entered.public, &entered.removed);
        let opened = self.open(holder, &entry.id, &entry.secrets)?;
        let secrets = platform::apply(&opened, &entered.secret, &entered.removed);
        platform::check(holder, account, &public, &secrets)?;
        Ok(EntryRow {
            name: match asked.name.as_deref() {
                Some(name) => name_of(Some(name))?.into(),
                None => entry.name.clone(),
            },
            secrets: self.seal(holder, &entry.id, &secrets)?,
            settings: public,
            ..entry.clone()
        })
    }

    /// `entry`'s secrets sealed again under the current key-encryption key.
    fn sealed_again(&self, holder: Holder, entry: &mut EntryRow) -> ApiResult<()> {
        let opened = self.open(holder, &entry.id, &entry.secrets)?;
        entry.secrets = self.seal(holder, &entry.id, &opened)?;
        Ok(())
    }

    fn open(&self, holder: Holder, id: &str, sealed: &SettingsMap) -> ApiResult<SettingsMap> {
        platform::open(&self.keys.keyring, holder, id, sealed)
    }

    fn seal(&self, holder: Holder, id: &str, secrets: &SettingsMap) -> ApiResult<SettingsMap> {
        platform::seal(&self.keys.keyring, holder, id, secrets)
    }

    async fn create_provider(&self, body: &[u8], token: &str) -> Answer {
        let asked: RegistryEntry = from_json(body)?;
        let name = name_of(asked.name.as_deref())?;
        refuse_provider_id(&asked)?;
        let entered = platform::entered(Holder::Provider, &asked.settings)?;
        platform::check(Holder::Provider, None, &entered.public, &entered.secret)?;
        let id = format!("sp_{token}");
        // A request that died after its insert, taken over by a retry: its provider stands.
        if let Some(made) = self.registry.provider(&id).await? {
            return Ok((201, provider_view(&made)));
        }
        let sealed = self.seal(Holder::Provider, &id, &entered.secret)?;
        self.registry
            .insert_provider(&id, name, &entered.public, &sealed, self.now)
            .await?;
        Ok((201, provider_view(&self.provider(&id).await?)))
    }

    async fn update_provider(&self, id: &str, body: &[u8]) -> Answer {
        let asked: RegistryEntry = from_json(body)?;
        refuse_provider_id(&asked)?;
        let provider = self.provider(id).await?;
        self.save_provider(&self.changed(Holder::Provider, None, &provider, &asked)?)
            .await
    }

    /// The provider as changed, if nothing changed it meanwhile.
    async fn save_provider(&self, provider: &ProviderRow) -> Answer {
        self.changes.write_provider(provider).await?;
        Ok((200, provider_view(&self.provider(&provider.id).await?)))
    }

    async fn create_merchant(&self, body: &[u8], token: &str) -> Answer {
        let asked: RegistryEntry = from_json(body)?;
        let name = name_of(asked.name.as_deref())?;
        let holder = holder_of(&asked.provider_id);
        let account = self.account_of(asked.provider_id.as_deref()).await?;
        let entered = platform::entered(holder, &asked.settings)?;
        platform::check(holder, account.as_ref(), &entered.public, &entered.secret)?;
        let id = format!("mch_{token}");
        // A request that died after its insert, taken over by a retry: its merchant stands,
        // without the key it was shown with (only its hash is kept).
        if let Some(made) = self.registry.merchant(&id).await? {
            return Ok((201, merchant_view(&made)));
        }
        let mut secrets = entered.secret;
        secrets.insert(DERIVATION_KEY.into(), random_hex(32)?);
        let row = MerchantRow {
            entry: EntryRow {
                secrets: self.seal(holder, &id, &secrets)?,
                id,
                name: name.into(),
                settings: entered.public,
                version: 1,
                created_at: self.now,
                updated_at: self.now,
            },
            status: "active".into(),
            provider_id: asked.provider_id,
        };
        let key = ApiKey::new()?;
        self.registry.insert_merchant(&row, &key.row()).await?;
        let mut view = merchant_view(&self.merchant(&row.entry.id).await?);
        view["api_key_id"] = key.id.clone().into();
        view["api_key"] = key.key.into();
        Ok((201, view))
    }

    async fn update_merchant(&self, id: &str, body: &[u8]) -> Answer {
        let asked: RegistryEntry = from_json(body)?;
        refuse_provider_id(&asked)?;
        let mut merchant = self.merchant(id).await?;
        let holder = holder_of(&merchant.provider_id);
        let account = self.account_of(merchant.provider_id.as_deref()).await?;
        merchant.entry = self.changed(holder, account.as_ref(), &merchant.entry, &asked)?;
        self.save(&merchant).await
    }

    async fn set_status(&self, id: &str, status: MerchantStatus) -> Answer {
        Ok((
            200,
            merchant_view(&self.changes.set_status(id, status).await?),
        ))
    }

    /// The merchant as changed, if nothing changed it meanwhile.
    async fn save(&self, merchant: &MerchantRow) -> Answer {
        self.changes.write_merchant(merchant).await?;
        Ok((
            200,
            merchant_view(&self.merchant(&merchant.entry.id).await?),
        ))
    }

    async fn create_key(&self, merchant_id: &str) -> Answer {
        let merchant = self.merchant(merchant_id).await?;
        let key = ApiKey::new()?;
        self.registry
            .insert_key(&merchant.entry.id, &key.row(), self.now)
            .await?;
        let mut view = key_view(&key.id, &merchant.entry.id, key.last4(), self.now, None);
        view["api_key_id"] = key.id.clone().into();
        view["api_key"] = key.key.into();
        Ok((201, view))
    }

    async fn revoke_key(&self, id: &str) -> Answer {
        let key = self
            .registry
            .key(id)
            .await?
            .ok_or(ApiError::NotFound("API key"))?;
        self.registry.revoke_key(&key.id, self.now).await?;
        let key = self
            .registry
            .key(id)
            .await?
            .ok_or(ApiError::NotFound("API key"))?;
        Ok((
            200,
            key_view(
                &key.id,
                &key.merchant_id,
                &key.last4,
                key.created_at,
                key.revoked_at,
            ),
        ))
    }

    /// Every secret sealed under an older key-encryption key sealed again under the current
    /// one; after that the older key can go (`SECRETS_KEK_PREVIOUS`).
    async fn reseal(&self) -> Answer {
        let ring = &self.keys.keyring;
        let stale = |sealed: &SettingsMap| sealed.values().any(|s| ring.is_stale(s));
        let mut providers = 0;
        for mut provider in self.registry.providers().await? {
            if stale(&provider.secrets) {
                self.sealed_again(Holder::Provider, &mut provider)?;
                self.changes.write_provider(&provider).await?;
                providers += 1;
            }
        }
        let mut merchants = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.registry.merchants(after.as_deref(), MAX_PAGE).await?;
            for mut merchant in page.iter().filter(|m| stale(&m.entry.secrets)).cloned() {
                self.sealed_again(holder_of(&merchant.provider_id), &mut merchant.entry)?;
                self.changes.write_merchant(&merchant).await?;
                merchants += 1;
            }
            match page.last() {
                Some(last) if page.len() == MAX_PAGE as usize => {
                    after = Some(last.entry.id.clone())
                }
                _ => break,
            }
        }
        Ok((
            200,
            json!({ "kek_id": ring.current().id(), "providers": providers, "merchants": merchants }),
        ))
    }

    async fn list_merchants(&self, req: &Request) -> ApiResult<Response> {
        let (mut limit, mut after) = (PAGE, None);
        for (name, value) in request::query(req)? {
            match name.as_str() {
                "limit" => {
                    limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE).contains(n))
                        .ok_or_else(|| {
                            ApiError::invalid(
                                BadInput::InvalidLimit,
                                format!("limit is 1 to {MAX_PAGE}"),
                            )
                        })?
                }
                "starting_after" => after = Some(value),
                other => {
                    return Err(ApiError::invalid(
                        BadInput::UnknownParameter,
                        format!("unknown query parameter {other:?}"),
                    ))
                }
            }
        }
        if let Some(id) = &after {
            self.merchant(id).await?;
        }
        let found = self.registry.merchants(after.as_deref(), limit + 1).await?;
        let data: Vec<Value> = found
            .iter()
            .take(limit as usize)
            .map(merchant_view)
            .collect();
        Ok(json(
            200,
            &json!({ "data": data, "has_more": found.len() > limit as usize }),
        ))
    }
}

/// A new merchant API key: shown once, stored as its SHA-256.
struct ApiKey {
    id: String,
    key: String,
    hash: String,
}

impl ApiKey {
    fn new() -> ApiResult<Self> {
        let key = platform::new_api_key()?;
        Ok(ApiKey {
            id: format!("key_{}", random_hex(8)?),
            hash: pay_core::sha256_hex(key.as_bytes()),
            key,
        })
    }

    fn last4(&self) -> &str {
        &self.key[self.key.len() - 4..]
    }

    fn row(&self) -> NewApiKey<'_> {
        NewApiKey {
            id: &self.id,
            hash: &self.hash,
            last4: self.last4(),
        }
    }
}

/// A merchant with a provider is its sub-merchant; one without is direct.
fn holder_of(provider_id: &Option<String>) -> Holder {
    match provider_id {
        Some(_) => Holder::SubMerchant,
        None => Holder::Direct,
    }
}

fn name_of(name: Option<&str>) -> ApiResult<&str> {
    name.map(str::trim)
        .filter(|n| (1..=100).contains(&n.chars().count()))
        .ok_or_else(|| ApiError::invalid(BadInput::InvalidMerchant, "name is 1 to 100 characters"))
}

/// A provider has none; a merchant's is fixed when it is made.
fn refuse_provider_id(asked: &RegistryEntry) -> ApiResult<()> {
    match asked.provider_id {
        Some(_) => Err(ApiError::invalid(
            BadInput::InvalidMerchant,
            "provider_id is given only when a sub-merchant is created",
        )),
        None => Ok(()),
    }
}

/// A provider's answer; a merchant's begins with it.
fn provider_view(p: &EntryRow) -> Value {
    json!({
        "id": p.id,
        "object": "provider",
        "name": p.name,
        "settings": platform::shown(&p.settings),
        "secrets_set": platform::secrets_set(&p.secrets),
        "version": p.version,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

fn merchant_view(m: &MerchantRow) -> Value {
    let mut view = provider_view(&m.entry);
    view["object"] = "merchant".into();
    view["status"] = m.status.clone().into();
    view["mode"] = match m.provider_id {
        Some(_) => "sub_merchant",
        None => "direct",
    }
    .into();
    view["provider_id"] = m.provider_id.clone().into();
    view
}

fn key_view(id: &str, merchant: &str, last4: &str, created: i64, revoked: Option<i64>) -> Value {
    json!({
        "id": id,
        "object": "api_key",
        "merchant_id": merchant,
        "last4": last4,
        "created_at": created,
        "revoked_at": revoked,
    })
}
