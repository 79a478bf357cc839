//! The payer's side: the page a `code_url` (scanned) or `h5_url` leads to, where a test payer
//! approves or declines. Approval settles the transaction and notifies the merchant.

use pay_core::{Fen, UnixTime};
use worker::{Method, Request, Response, Url};

use crate::error::{PlatformError, PlatformResult};
use crate::store::TransactionRow;
use crate::{notify, App};
use pay_core::crypto::webcrypto::random_hex;

/// The stable openid of the simulator's default test payer.
const TEST_PAYER_OPENID: &str = "oSandboxPayer000000000000001";

pub async fn handle(mut req: Request, app: &App, segments: &[&str]) -> Response {
    let result = match (req.method(), segments) {
        (Method::Get, ["cashier"]) => show(&req, app).await,
        (Method::Post, ["cashier", "approve"]) => approve(&mut req, app).await,
        _ => Err(PlatformError::NoSuchPath),
    };
    match result {
        Ok(html) => page(200, &html),
        Err(e) => page(
            e.status(),
            &format!(
                "<h1>{}</h1><p id=\"error\">{}</p>",
                e.code(),
                escape(&e.message())
            ),
        ),
    }
}

fn page(status: u16, content: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>WeChat Pay sandbox cashier</title><style>body{{font:16px system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}\
         button{{font:inherit;padding:.6rem 1.2rem;margin-right:.5rem}}.amount{{font-size:2rem}}</style></head>\
         <body><p><small>WeChat Pay sandbox: no real money moves here.</small></p>{content}</body></html>"
    );
    let mut response = Response::from_html(html)
        .expect("html response")
        .with_status(status);
    let _ = response.headers_mut().set("Cache-Control", "no-store");
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The prepay token from `?code_url=weixin://wxpay/bizpayurl?pr=…` or `?pr=…`.
fn token_from(url: &Url) -> PlatformResult<String> {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    if let Some(pr) = param("pr") {
        return Ok(pr);
    }
    let code_url = param("code_url")
        .ok_or_else(|| PlatformError::Param("open this page from a code_url".into()))?;
    let inner =
        Url::parse(&code_url).map_err(|_| PlatformError::Param("code_url is not a URL".into()))?;
    inner
        .query_pairs()
        .find(|(k, _)| k == "pr")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| PlatformError::Param("code_url has no pr parameter".into()))
}

async fn payable(app: &App, token: &str) -> PlatformResult<TransactionRow> {
    let row = app
        .store
        .transaction_by_token(token)
        .await?
        .ok_or(PlatformError::OrderNotExist)?;
    if row.time_expire.is_some_and(|t| UnixTime(t) <= app.now) {
        return Err(PlatformError::OrderState {
            code: "ORDER_CLOSED",
            message: "订单已过期 / this order has expired".into(),
        });
    }
    Ok(row)
}

async fn show(req: &Request, app: &App) -> PlatformResult<String> {
    let token = token_from(&req.url()?)?;
    let row = payable(app, &token).await?;
    if row.trade_state != "NOTPAY" {
        return Ok(format!(
            "<h1 id=\"state\">{}</h1>",
            escape(&row.trade_state)
        ));
    }
    Ok(format!(
        "<h1>{}</h1><p class=\"amount\" id=\"amount\">{}</p><p>商户号 {} · 订单 {}</p>\
         <form method=\"post\" action=\"/cashier/approve\"><input type=\"hidden\" name=\"pr\" value=\"{}\">\
         <button id=\"approve\" type=\"submit\">确认支付 / Approve</button></form>",
        escape(&row.description),
        Fen::new(row.amount_fen).display_cny(),
        escape(&row.mchid),
        escape(&row.out_trade_no),
        escape(&token),
    ))
}

async fn approve(req: &mut Request, app: &App) -> PlatformResult<String> {
    let form = req.form_data().await?;
    let token = match form.get("pr") {
        Some(worker::FormEntry::Field(v)) => v,
        _ => return Err(PlatformError::Param("pr is missing".into())),
    };
    let row = payable(app, &token).await?;
    let merchant = app
        .config
        .merchant(&row.mchid)
        .ok_or_else(|| PlatformError::System(format!("merchant {} vanished", row.mchid)))?;
    let transaction_id = format!("4200{}", &random_hex(12)?);
    if !app
        .store
        .mark_success(&row, &transaction_id, TEST_PAYER_OPENID, app.now)
        .await?
    {
        return Ok(format!(
            "<h1 id=\"state\">{}</h1>",
            escape(&row.trade_state)
        ));
    }
    let paid = app
        .store
        .transaction(&row.mchid, &row.out_trade_no)
        .await?
        .ok_or(PlatformError::OrderNotExist)?;
    notify::transaction_success(app, merchant, &paid).await?;
    Ok(format!(
        "<h1 id=\"state\">SUCCESS</h1><p>支付成功 / Payment successful: {}</p><p>transaction_id <code>{}</code></p>",
        Fen::new(paid.amount_fen).display_cny(),
        escape(&transaction_id)
    ))
}
