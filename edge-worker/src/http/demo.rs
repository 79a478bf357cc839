//! The demo shop's server side, standing in for a merchant's own backend: the catalog and its
//! prices live here, so the browser only ever names a product; a session is created by the
//! same use case as the merchant API's. Served when DEMO_SHOP=on.

use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::{limits, RequestContext};
use checkout_service::services::{self, sessions};
use pay_core::requests::NewSession;

struct Product {
    id: &'static str,
    name: &'static str,
    price_fen: i64,
}

const CATALOG: &[Product] = &[
    Product {
        id: "longjing-tea",
        name: "Longjing green tea, 50 g",
        price_fen: 1999,
    },
    Product {
        id: "mooncake",
        name: "Lotus-seed mooncake",
        price_fen: 888,
    },
    Product {
        id: "celadon-cup",
        name: "Celadon tea cup",
        price_fen: 12_800,
    },
];

/// The catalog, and in sandbox mode where the simulator's `WeixinJSBridge` is: the demo page
/// loads it when opened with WeChat's user agent (real WeChat injects its own).
pub fn products(rc: &RequestContext) -> ApiResult<Response> {
    let list: Vec<_> = CATALOG
        .iter()
        .map(|p| json!({ "id": p.id, "name": p.name, "price_fen": p.price_fen, "price_display": pay_core::Fen::new(p.price_fen).display_cny() }))
        .collect();
    let bridge = rc
        .config
        .deployment
        .sandbox_cashier_url
        .as_deref()
        .and_then(|cashier| {
            let url = worker_kit::url::Url::parse(cashier).ok()?;
            url.set_path_only("/jsapi/bridge.js");
            Some(url.as_string())
        });
    Ok(json(
        200,
        &json!({ "products": list, "sandbox_jsapi_bridge": bridge }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    product: String,
}

pub async fn checkout(req: &mut Request, rc: &RequestContext) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.sessions_per_ip).await?;
    let CheckoutRequest { product } = request::json_body(req).await?;
    let product = CATALOG.iter().find(|p| p.id == product).ok_or_else(|| {
        ApiError::invalid(
            BadInput::UnknownProduct,
            format!("no product {product:?} in the demo catalog"),
        )
    })?;
    let params = NewSession {
        amount_fen: product.price_fen,
        description: product.name.into(),
        out_trade_no: None,
        expires_in: None,
        return_url: None,
        metadata: [("product".to_string(), json!(product.id))]
            .into_iter()
            .collect(),
    };
    let (session, client_secret) =
        sessions::create(&rc.services(), params, &services::new_token()?).await?;
    Ok(json(
        201,
        &json!({ "session_id": session.id, "client_secret": client_secret }),
    ))
}
