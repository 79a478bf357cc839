//! What the API answers and the webhooks carry, as types: the merchant's view of a session, the
//! payer's, a refund, and a webhook event (described in web/v1/openapi.json).

use pay_core::checkout::SessionStatus;
use pay_core::refund::RefundState;
use pay_core::requests::Scene;
use serde::Serialize;

use crate::ledger::{CheckoutSession, Refund};

/// `CheckoutSession` in the OpenAPI document.
#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    pub id: &'a str,
    pub out_trade_no: &'a str,
    pub amount_fen: i64,
    pub currency: &'a str,
    pub description: &'a str,
    pub status: SessionStatus,
    pub scene: Option<Scene>,
    pub transaction_id: Option<&'a str>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub return_url: Option<&'a str>,
    pub metadata: &'a serde_json::Map<String, serde_json::Value>,
}

impl<'a> From<&'a CheckoutSession> for SessionView<'a> {
    fn from(s: &'a CheckoutSession) -> Self {
        SessionView {
            id: &s.id,
            out_trade_no: &s.out_trade_no,
            amount_fen: s.amount_fen,
            currency: &s.currency,
            description: &s.description,
            status: s.status,
            scene: s.scene,
            transaction_id: s.transaction_id.as_deref(),
            paid_at: s.paid_at,
            created_at: s.created_at,
            expires_at: s.expires_at,
            return_url: s.return_url.as_deref(),
            metadata: &s.metadata,
        }
    }
}

/// `CheckoutSessionCreated`: the session, with the client secret shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedSessionView<'a> {
    #[serde(flatten)]
    pub session: SessionView<'a>,
    pub client_secret: &'a str,
}

/// `SessionList`.
#[derive(Debug, Serialize)]
pub struct SessionListView<'a> {
    pub data: Vec<SessionView<'a>>,
    pub has_more: bool,
}

/// `WidgetSession`: what the payer's browser may see.
#[derive(Debug, Serialize)]
pub struct WidgetSessionView<'a> {
    pub id: &'a str,
    pub amount_fen: i64,
    pub amount_display: String,
    pub currency: &'a str,
    pub description: &'a str,
    pub status: SessionStatus,
    pub scene: Option<Scene>,
    pub payer_known: bool,
    pub expires_at: i64,
    pub return_url: Option<&'a str>,
    pub server_time: i64,
}

impl<'a> WidgetSessionView<'a> {
    pub fn new(s: &'a CheckoutSession, now: pay_core::UnixTime) -> Self {
        WidgetSessionView {
            id: &s.id,
            amount_fen: s.amount_fen,
            amount_display: s.amount().display_cny(),
            currency: &s.currency,
            description: &s.description,
            status: s.status,
            scene: s.scene,
            payer_known: s.payer_openid.is_some(),
            expires_at: s.expires_at,
            return_url: s.return_url.as_deref(),
            server_time: now.secs(),
        }
    }
}

/// `Refund`.
#[derive(Debug, Serialize)]
pub struct RefundView<'a> {
    pub id: &'a str,
    pub session_id: &'a str,
    pub out_refund_no: &'a str,
    pub amount_fen: i64,
    pub reason: Option<&'a str>,
    pub status: RefundState,
    pub refund_id: Option<&'a str>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl<'a> From<&'a Refund> for RefundView<'a> {
    fn from(r: &'a Refund) -> Self {
        RefundView {
            id: &r.id,
            session_id: &r.session_id,
            out_refund_no: &r.out_refund_no,
            amount_fen: r.amount_fen,
            reason: r.reason.as_deref(),
            status: r.status,
            refund_id: r.refund_id.as_deref(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A merchant webhook (`Notification` in the OpenAPI document): `evt_<seq>` is stable, for the
/// receiver to deduplicate; `data.session` is the session as it is when the event is sent.
#[derive(Debug, Serialize)]
pub struct WebhookEvent<'a> {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: WebhookData<'a>,
}

#[derive(Debug, Serialize)]
pub struct WebhookData<'a> {
    pub session: SessionView<'a>,
    pub detail: &'a serde_json::Map<String, serde_json::Value>,
}
