//! API v3 request and response bodies, as they are on the wire.

use serde::{Deserialize, Serialize};

use crate::Fen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAmount {
    pub total: Fen,
    #[serde(default = "cny")]
    pub currency: String,
}

pub fn cny() -> String {
    "CNY".to_string()
}

/// `POST /v3/pay/transactions/native` (JSAPI and H5 add `payer` / `scene_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayRequest {
    pub appid: String,
    pub mchid: String,
    pub description: String,
    pub out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    pub notify_url: String,
    pub amount: OrderAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativePrepayResponse {
    pub code_url: String,
}

/// `trade_state` of a transaction. Unknown future states read as `Other` and are never paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeState {
    Success,
    Refund,
    Notpay,
    Closed,
    Revoked,
    Userpaying,
    Payerror,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionAmount {
    pub total: Fen,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<Fen>,
    #[serde(default = "cny")]
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    pub openid: String,
}

/// A transaction as the query API returns it and as a `TRANSACTION.SUCCESS` resource decrypts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    pub trade_state: TradeState,
    #[serde(default)]
    pub trade_state_desc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<TransactionAmount>,
}

/// Every non-2xx answer of API v3: `{"code": "PARAM_ERROR", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_states_read_as_documented_and_unknown_ones_are_not_success() {
        let t: TradeState = serde_json::from_str("\"SUCCESS\"").unwrap();
        assert_eq!(t, TradeState::Success);
        let t: TradeState = serde_json::from_str("\"USERPAYING\"").unwrap();
        assert_eq!(t, TradeState::Userpaying);
        let t: TradeState = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(t, TradeState::Other);
    }

    #[test]
    fn prepay_request_omits_absent_fields() {
        let req = PrepayRequest {
            appid: "wx1".into(),
            mchid: "19".into(),
            description: "d".into(),
            out_trade_no: "o123456".into(),
            time_expire: None,
            attach: None,
            notify_url: "https://m.example/n".into(),
            amount: OrderAmount {
                total: Fen::new(1),
                currency: cny(),
            },
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"appid":"wx1","mchid":"19","description":"d","out_trade_no":"o123456","notify_url":"https://m.example/n","amount":{"total":1,"currency":"CNY"}}"#
        );
    }
}
