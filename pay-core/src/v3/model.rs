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

/// Who is paid, as a request or a transaction names it: a merchant with its own account
/// (`appid`, `mchid`), or a service provider's sub-merchant (服务商模式: `sp_appid`, `sp_mchid`,
/// `sub_mchid`, and `sub_appid` when the sub-merchant has an app of its own). Flattened into
/// the bodies, so each mode's fields are on the wire where WeChat Pay documents them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Payee {
    Partner {
        sp_appid: String,
        sp_mchid: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sub_appid: Option<String>,
        sub_mchid: String,
    },
    Direct {
        appid: String,
        mchid: String,
    },
}

impl Payee {
    /// The merchant whose books the money is in: the sub-merchant in partner mode.
    pub fn books_mchid(&self) -> &str {
        match self {
            Payee::Partner { sub_mchid, .. } => sub_mchid,
            Payee::Direct { mchid, .. } => mchid,
        }
    }

    /// The account that signs the calls (the provider's in partner mode).
    pub fn account_mchid(&self) -> &str {
        match self {
            Payee::Partner { sp_mchid, .. } => sp_mchid,
            Payee::Direct { mchid, .. } => mchid,
        }
    }

    /// The app the payer pays in (whose openid the JSAPI payer has): the sub-merchant's own app
    /// when it has one.
    pub fn payer_appid(&self) -> &str {
        match self {
            Payee::Partner {
                sub_appid: Some(app),
                ..
            } => app,
            Payee::Partner { sp_appid, .. } => sp_appid,
            Payee::Direct { appid, .. } => appid,
        }
    }

    /// The numbers a close, a partner query or a refund notice name.
    pub fn mchids(&self) -> Mchids {
        match self {
            Payee::Partner {
                sp_mchid,
                sub_mchid,
                ..
            } => Mchids::Partner {
                sp_mchid: sp_mchid.clone(),
                sub_mchid: sub_mchid.clone(),
            },
            Payee::Direct { mchid, .. } => Mchids::Direct {
                mchid: mchid.clone(),
            },
        }
    }
}

/// The merchant numbers alone: the body of a close (`POST …/close`) and the merchant of a
/// `REFUND.*` resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Mchids {
    Partner { sp_mchid: String, sub_mchid: String },
    Direct { mchid: String },
}

impl Mchids {
    pub fn books_mchid(&self) -> &str {
        match self {
            Mchids::Partner { sub_mchid, .. } => sub_mchid,
            Mchids::Direct { mchid } => mchid,
        }
    }
}

/// `POST /v3/pay/transactions/{jsapi,h5,native}`, or in partner mode
/// `/v3/pay/partner/transactions/{jsapi,h5,native}`: JSAPI adds `payer`, H5 adds `scene_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayRequest {
    #[serde(flatten)]
    pub payee: Payee,
    pub description: String,
    pub out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    pub notify_url: String,
    pub amount: OrderAmount,
    /// JSAPI: who pays (`openid` under `appid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    /// H5: the payer's real IP and the H5 kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_info: Option<SceneInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneInfo {
    pub payer_client_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h5_info: Option<H5Info>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct H5Info {
    /// `Wap`, `iOS` or `Android`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativePrepayResponse {
    pub code_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiPrepayResponse {
    pub prepay_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct H5PrepayResponse {
    pub h5_url: String,
}

/// `POST /v3/refund/domestic/refunds` (partner mode adds `sub_mchid`; the caller is the
/// provider).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    pub out_refund_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    pub amount: RefundAmountRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmountRequest {
    pub refund: Fen,
    pub total: Fen,
    #[serde(default = "cny")]
    pub currency: String,
}

/// `status` of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    Success,
    Closed,
    Processing,
    Abnormal,
}

/// A refund as the refund API returns it and as a `REFUND.*` resource decrypts (the resource
/// uses `refund_status` and a flatter amount; both shapes are served by their own types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refund_id: String,
    pub out_refund_no: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub channel: String,
    pub user_received_account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    pub create_time: String,
    pub status: RefundStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funds_account: Option<String>,
    pub amount: RefundAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    pub total: Fen,
    pub refund: Fen,
    pub payer_total: Fen,
    pub payer_refund: Fen,
    pub settlement_refund: Fen,
    pub settlement_total: Fen,
    pub discount_refund: Fen,
    #[serde(default = "cny")]
    pub currency: String,
}

/// The decrypted resource of a `REFUND.SUCCESS | REFUND.ABNORMAL | REFUND.CLOSED` notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNotice {
    #[serde(flatten)]
    pub mchids: Mchids,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub out_refund_no: String,
    pub refund_id: String,
    pub refund_status: RefundStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    pub user_received_account: String,
    pub amount: RefundNoticeAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNoticeAmount {
    pub total: Fen,
    pub refund: Fen,
    pub payer_total: Fen,
    pub payer_refund: Fen,
}

/// `GET /v3/bill/tradebill` and `/v3/bill/fundflowbill`: where to download the bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLocation {
    pub hash_type: String,
    pub hash_value: String,
    pub download_url: String,
}

/// `GET /v3/bill/sub-merchant-fundflowbill`: where each part of a sub-merchant's fund-flow bill
/// is, and how it is sealed (bill::encrypted). Parts join in `bill_sequence` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedBillList {
    pub download_bill_count: u32,
    #[serde(default)]
    pub download_bill_list: Vec<EncryptedBillPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedBillPart {
    pub bill_sequence: u32,
    pub download_url: String,
    /// The part's AES-256 key, RSA-OAEP encrypted to the provider's merchant key (base64).
    pub encrypt_key: String,
    pub hash_type: String,
    pub hash_value: String,
    /// The AES-GCM nonce, used as its ASCII bytes.
    pub nonce: String,
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

impl TradeState {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::Notpay => "NOTPAY",
            TradeState::Closed => "CLOSED",
            TradeState::Revoked => "REVOKED",
            TradeState::Userpaying => "USERPAYING",
            TradeState::Payerror => "PAYERROR",
            TradeState::Other => "OTHER",
        }
    }

    /// Reads a state name as stored or sent; unknown names are `Other`.
    pub fn parse(text: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(text.to_string()))
            .unwrap_or(TradeState::Other)
    }
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

/// The JSAPI payer: `openid` under the merchant's `appid`; in partner mode `sp_openid` under
/// `sp_appid` or `sub_openid` under `sub_appid` (one of the two in a prepay, both possible in a
/// transaction).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_openid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_openid: Option<String>,
}

impl Payer {
    /// The payer `openid` is, as the payee's mode names it in a prepay: under the sub-merchant's
    /// own app when it has one, else under the provider's.
    pub fn of(payee: &Payee, openid: String) -> Self {
        match payee {
            Payee::Direct { .. } => Payer {
                openid: Some(openid),
                ..Payer::default()
            },
            Payee::Partner {
                sub_appid: Some(_), ..
            } => Payer {
                sub_openid: Some(openid),
                ..Payer::default()
            },
            Payee::Partner { .. } => Payer {
                sp_openid: Some(openid),
                ..Payer::default()
            },
        }
    }
}

/// A transaction as the query API returns it and as a `TRANSACTION.SUCCESS` resource decrypts
/// (in partner mode with the sp_ and sub_ numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    #[serde(flatten)]
    pub payee: Payee,
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
        for t in [
            TradeState::Success,
            TradeState::Refund,
            TradeState::Notpay,
            TradeState::Closed,
            TradeState::Payerror,
        ] {
            assert_eq!(TradeState::parse(t.as_str()), t);
        }
    }

    #[test]
    fn prepay_request_omits_absent_fields() {
        let req = PrepayRequest {
            payee: Payee::Direct {
                appid: "wx1".into(),
                mchid: "19".into(),
            },
            description: "d".into(),
            out_trade_no: "o123456".into(),
            time_expire: None,
            attach: None,
            notify_url: "https://m.example/n".into(),
            amount: OrderAmount {
                total: Fen::new(1),
                currency: cny(),
            },
            payer: None,
            scene_info: None,
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"appid":"wx1","mchid":"19","description":"d","out_trade_no":"o123456","notify_url":"https://m.example/n","amount":{"total":1,"currency":"CNY"}}"#
        );
    }

    #[test]
    fn a_partner_transaction_reads_with_its_sp_and_sub_numbers() {
        // The partner query's answer, in the documented shape (wechatpay-go
        // services/partnerpayments.Transaction): sp_ and sub_ numbers, the payer under both apps.
        let tx: Transaction = serde_json::from_str(
            r#"{"sp_appid":"wxd678efh567hg6787","sp_mchid":"1230000109","sub_appid":"wxd678efh567hg6999",
            "sub_mchid":"1900000109","out_trade_no":"1217752501201407033233368018",
            "transaction_id":"1217752501201407033233368018","trade_type":"JSAPI","trade_state":"SUCCESS",
            "trade_state_desc":"支付成功","bank_type":"CMC","success_time":"2018-06-08T10:34:56+08:00",
            "payer":{"sp_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","sub_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}"#,
        )
        .unwrap();
        assert_eq!(tx.payee.books_mchid(), "1900000109");
        assert_eq!(tx.payee.account_mchid(), "1230000109");
        assert_eq!(tx.payee.payer_appid(), "wxd678efh567hg6999");
        assert_eq!(tx.trade_state, TradeState::Success);
        assert!(tx.payer.unwrap().openid.is_none());
        // A direct one still reads as direct, and a partner one without a sub_appid pays in the
        // provider's app.
        let direct: Transaction = serde_json::from_str(
            r#"{"appid":"wx1","mchid":"19","out_trade_no":"o1","trade_state":"NOTPAY"}"#,
        )
        .unwrap();
        assert_eq!(
            direct.payee,
            Payee::Direct {
                appid: "wx1".into(),
                mchid: "19".into()
            }
        );
        let no_sub_app: Transaction = serde_json::from_str(
            r#"{"sp_appid":"wxsp","sp_mchid":"1","sub_mchid":"2","out_trade_no":"o1","trade_state":"NOTPAY"}"#,
        )
        .unwrap();
        assert_eq!(no_sub_app.payee.payer_appid(), "wxsp");
    }

    #[test]
    fn a_partner_prepay_names_the_payer_under_the_app_it_pays_in() {
        let payee = Payee::Partner {
            sp_appid: "wxsp".into(),
            sp_mchid: "1230000109".into(),
            sub_appid: Some("wxsub".into()),
            sub_mchid: "1900000109".into(),
        };
        let req = PrepayRequest {
            payer: Some(Payer::of(&payee, "o-sub".into())),
            payee,
            description: "d".into(),
            out_trade_no: "o123456".into(),
            time_expire: None,
            attach: None,
            notify_url: "https://m.example/n/mch_1".into(),
            amount: OrderAmount {
                total: Fen::new(1),
                currency: cny(),
            },
            scene_info: None,
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"sp_appid":"wxsp","sp_mchid":"1230000109","sub_appid":"wxsub","sub_mchid":"1900000109","description":"d","out_trade_no":"o123456","notify_url":"https://m.example/n/mch_1","amount":{"total":1,"currency":"CNY"},"payer":{"sub_openid":"o-sub"}}"#
        );
        let without_app = Payee::Partner {
            sp_appid: "wxsp".into(),
            sp_mchid: "1".into(),
            sub_appid: None,
            sub_mchid: "2".into(),
        };
        assert_eq!(
            serde_json::to_string(&Payer::of(&without_app, "o-sp".into())).unwrap(),
            r#"{"sp_openid":"o-sp"}"#
        );
        assert_eq!(
            serde_json::to_string(&without_app.mchids()).unwrap(),
            r#"{"sp_mchid":"1","sub_mchid":"2"}"#
        );
    }

    #[test]
    fn a_refund_notice_names_its_merchant_in_either_mode() {
        let body = |who: &str| {
            format!(
                r#"{{{who},"out_trade_no":"o1","transaction_id":"t1","out_refund_no":"r1","refund_id":"w1",
                "refund_status":"SUCCESS","user_received_account":"招商银行信用卡0403",
                "amount":{{"total":100,"refund":50,"payer_total":100,"payer_refund":50}}}}"#
            )
        };
        let partner: RefundNotice =
            serde_json::from_str(&body(r#""sp_mchid":"1230000109","sub_mchid":"1900000109""#))
                .unwrap();
        assert_eq!(partner.mchids.books_mchid(), "1900000109");
        let direct: RefundNotice = serde_json::from_str(&body(r#""mchid":"19""#)).unwrap();
        assert_eq!(direct.mchids, Mchids::Direct { mchid: "19".into() });
        assert_eq!(direct.amount.refund, Fen::new(50));
    }
}
