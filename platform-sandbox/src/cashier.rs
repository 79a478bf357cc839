//! The payer's side: the page a `code_url` (scanned) or an `h5_url` leads to. A test payer
//! picks one of the simulated bank cards and approves, or cancels. A card that cannot cover
//! the amount makes the transaction PAYERROR. Approval settles the transaction (the money moves
//! by trigger) and queues the TRANSACTION.SUCCESS notification.

use pay_core::crypto::webcrypto::random_hex;
use pay_core::html::escape;
use pay_core::v3::model::TradeState;
use pay_core::v3::notification::event_type;
use pay_core::Fen;
use worker::{FormEntry, Method, Request, Response, Url};

use crate::api::transaction_view;
use crate::error::{PlatformError, PlatformResult};
use crate::notification_sender::{self, Subject};
use crate::store::{Payment, PaymentOutcome, TransactionRow};
use crate::App;

pub async fn handle(mut req: Request, app: &App, segments: &[&str]) -> Response {
    let result = match (req.method(), segments) {
        (Method::Get, ["cashier"]) | (Method::Get, ["cgi-bin", "mmpayweb-bin", "checkmweb"]) => {
            show(&req, app).await.map(Answer::Page)
        }
        (Method::Post, ["cashier", "pay"]) => pay(&mut req, app).await,
        _ => Err(PlatformError::NoSuchPath),
    };
    match result {
        Ok(Answer::Page(html)) => page(200, &html),
        Ok(Answer::Redirect(url)) => Response::redirect_with_status(url, 303)
            .unwrap_or_else(|_| page(500, "bad redirect_url")),
        Err(e) => page(
            e.status(),
            &format!(
                "<h1 id=\"state\">{}</h1><p id=\"error\">{}</p>",
                e.code(),
                escape(&e.message())
            ),
        ),
    }
}

enum Answer {
    Page(String),
    Redirect(Url),
}

fn page(status: u16, content: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>WeChat Pay sandbox cashier</title><style>body{{font:16px system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}\
         button{{font:inherit;padding:.6rem 1.2rem;margin:.5rem .5rem 0 0}}.amount{{font-size:2rem}}label{{display:block;margin:.3rem 0}}</style></head>\
         <body><p><small>WeChat Pay sandbox: no real money moves here.</small></p>{content}</body></html>"
    );
    let mut response = Response::from_html(html)
        .expect("html response")
        .with_status(status);
    let _ = response.headers_mut().set("Cache-Control", "no-store");
    response
}

fn state_page(state: TradeState) -> String {
    format!("<h1 id=\"state\">{}</h1>", state.as_str())
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

/// The prepay token from `?pr=`, `?code_url=weixin://wxpay/bizpayurl?pr=…` or `?prepay_id=wx…`.
fn token_from(url: &Url) -> PlatformResult<String> {
    if let Some(pr) = param(url, "pr") {
        return Ok(pr);
    }
    if let Some(prepay_id) = param(url, "prepay_id") {
        return prepay_id
            .strip_prefix("wx")
            .map(str::to_string)
            .ok_or_else(|| PlatformError::Param("bad prepay_id".into()));
    }
    let code_url = param(url, "code_url")
        .ok_or_else(|| PlatformError::Param("open this page from a code_url or h5_url".into()))?;
    let inner =
        Url::parse(&code_url).map_err(|_| PlatformError::Param("code_url is not a URL".into()))?;
    param(&inner, "pr").ok_or_else(|| PlatformError::Param("code_url has no pr parameter".into()))
}

pub async fn transaction(app: &App, token: &str) -> PlatformResult<TransactionRow> {
    app.store
        .transaction_by_token(token)
        .await?
        .ok_or(PlatformError::OrderNotExist)
}

async fn show(req: &Request, app: &App) -> PlatformResult<String> {
    let url = req.url()?;
    let token = token_from(&url)?;
    let row = transaction(app, &token).await?;
    let state = transaction_view(&row, app.now)?.trade_state;
    if !matches!(state, TradeState::Notpay | TradeState::Payerror) {
        return Ok(state_page(state));
    }
    let cards: String = app
        .store
        .bank_cards()
        .await?
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "<label><input type=\"radio\" name=\"card\" value=\"{}\"{}> {} <small>({})</small></label>",
                escape(&c.id),
                if i == 0 { " checked" } else { "" },
                escape(&c.label),
                Fen::new(c.balance_fen).display_cny()
            )
        })
        .collect();
    let redirect = param(&url, "redirect_url").map_or(String::new(), |r| {
        format!(
            "<input type=\"hidden\" name=\"redirect_url\" value=\"{}\">",
            escape(&r)
        )
    });
    Ok(format!(
        "<h1>{}</h1><p class=\"amount\" id=\"amount\">{}</p><p>商户号 {} · 订单 {}</p>\
         <form method=\"post\" action=\"/cashier/pay\"><input type=\"hidden\" name=\"pr\" value=\"{}\">{redirect}\
         <fieldset><legend>付款方式 / Pay with</legend>{cards}</fieldset>\
         <button id=\"approve\" type=\"submit\" name=\"action\" value=\"approve\">确认支付 / Approve</button>\
         <button id=\"cancel\" type=\"submit\" name=\"action\" value=\"cancel\">取消 / Cancel</button></form>",
        escape(&row.description),
        Fen::new(row.amount_fen).display_cny(),
        escape(&row.mchid),
        escape(&row.out_trade_no),
        escape(&token),
    ))
}

async fn pay(req: &mut Request, app: &App) -> PlatformResult<Answer> {
    let form = req.form_data().await?;
    let field = |name: &str| match form.get(name) {
        Some(FormEntry::Field(v)) => Some(v),
        _ => None,
    };
    let token = field("pr").ok_or_else(|| PlatformError::Param("pr is missing".into()))?;
    let redirect = field("redirect_url")
        .map(|r| Url::parse(&r).map_err(|_| PlatformError::Param("bad redirect_url".into())))
        .transpose()?;
    let row = transaction(app, &token).await?;
    let html = if field("action").as_deref() == Some("cancel") {
        "<h1 id=\"state\">CANCELLED</h1><p>支付已取消 / Payment cancelled. The order stays unpaid.</p>".to_string()
    } else {
        let card_id = field("card").ok_or_else(|| PlatformError::Param("choose a card".into()))?;
        approve(app, &row, &card_id).await?
    };
    Ok(match redirect {
        Some(url) => Answer::Redirect(url),
        None => Answer::Page(html),
    })
}

/// What became of a payer's approval.
pub enum Approval {
    Paid {
        transaction_id: String,
        amount: Fen,
    },
    InsufficientBalance,
    /// Already paid, closed or expired: the state it is in.
    NotPayable(TradeState),
}

/// The payer approves with `card_id`: the transaction is settled (money moves by trigger) and
/// its TRANSACTION.SUCCESS notification queued. Used by the cashier page and the JSAPI bridge.
pub async fn pay_with_card(
    app: &App,
    row: &TransactionRow,
    card_id: &str,
) -> PlatformResult<Approval> {
    let books = row.books();
    let account = app
        .config
        .merchant(books.account())
        .ok_or_else(|| PlatformError::System(format!("merchant {} vanished", books.account())))?;
    let transaction_id = format!("4200{}", random_hex(12)?);
    let openid = row
        .payer_openid
        .clone()
        .unwrap_or_else(|| crate::oauth_server::test_openid(row.payer_app(), 1));
    let fee = Fen::new(row.amount_fen).fee_at(app.store.fee_rate_ppm().await?);
    let payment = Payment {
        transaction_id: &transaction_id,
        openid: &openid,
        card_id,
        fee,
        at: app.now,
    };
    match app.store.settle_payment(row, &payment).await? {
        PaymentOutcome::Paid => {}
        PaymentOutcome::InsufficientBalance => return Ok(Approval::InsufficientBalance),
        PaymentOutcome::NotPayable => {
            let now = transaction(app, &row.prepay_token).await?;
            return Ok(Approval::NotPayable(
                transaction_view(&now, app.now)?.trade_state,
            ));
        }
    }
    let paid = transaction(app, &row.prepay_token).await?;
    let subject = Subject {
        event_type: event_type::TRANSACTION_SUCCESS,
        summary: "支付成功",
        original_type: "transaction",
        out_trade_no: &paid.out_trade_no,
        notify_url: &paid.notify_url,
    };
    notification_sender::enqueue(
        app,
        account,
        &paid.books(),
        subject,
        &transaction_view(&paid, app.now)?,
    )
    .await?;
    Ok(Approval::Paid {
        transaction_id,
        amount: Fen::new(paid.amount_fen),
    })
}

async fn approve(app: &App, row: &TransactionRow, card_id: &str) -> PlatformResult<String> {
    Ok(match pay_with_card(app, row, card_id).await? {
        Approval::Paid { transaction_id, amount } => format!(
            "<h1 id=\"state\">SUCCESS</h1><p>支付成功 / Payment successful: {}</p><p>transaction_id <code>{}</code> at {}</p>",
            amount.display_cny(),
            escape(&transaction_id),
            app.now.to_rfc3339_cst()
        ),
        Approval::InsufficientBalance => {
            "<h1 id=\"state\">PAYERROR</h1><p>余额不足 / Insufficient balance on this card. Try another card.</p>".into()
        }
        Approval::NotPayable(state) => state_page(state),
    })
}
