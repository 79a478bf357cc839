//! Checkout sessions: what a merchant's server creates, a payer pays, and a notification or
//! query settles. The decisions here are pure; the Worker persists what they say.

use serde::{Deserialize, Serialize};

use crate::v3::model::{Payee, TradeState, Transaction};
use crate::{Error, Fen, UnixTime};

/// The closed set of states a session's order can be in. A paid order never goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Created; the payer may pay.
    Open,
    /// WeChat Pay confirmed the payment.
    Paid,
    /// Closed before payment (expired or closed by the merchant).
    Closed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Paid => "paid",
            SessionStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "open" => Ok(SessionStatus::Open),
            "paid" => Ok(SessionStatus::Paid),
            "closed" => Ok(SessionStatus::Closed),
            other => Err(Error::Malformed {
                what: "session status",
                reason: format!("{other:?}"),
            }),
        }
    }
}

/// Default and bounds of a session's life: WeChat Pay's `time_expire` must be at least a few
/// minutes out, and an unpaid order is closed by WeChat Pay after 7 days in any case.
pub const DEFAULT_TTL_SECS: i64 = 30 * 60;
pub const MIN_TTL_SECS: i64 = 5 * 60;
pub const MAX_TTL_SECS: i64 = 7 * 24 * 3600;

/// `description`: 1 to 127 characters, as WeChat Pay allows.
pub fn validate_description(text: &str) -> Result<(), Error> {
    let n = text.chars().count();
    if n == 0 || n > 127 || text.chars().any(char::is_control) {
        return Err(Error::InvalidField {
            field: "description",
            reason: format!("must be 1 to 127 characters without control characters (got {n})"),
        });
    }
    Ok(())
}

/// `out_trade_no`: 6 to 32 of `0-9 A-Z a-z _ - | *`, unique per merchant.
pub fn validate_out_trade_no(text: &str) -> Result<(), Error> {
    let ok_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*');
    if !(6..=32).contains(&text.len()) || !text.bytes().all(ok_char) {
        return Err(Error::InvalidField {
            field: "out_trade_no",
            reason: "must be 6 to 32 characters of 0-9, A-Z, a-z, _ - | *".into(),
        });
    }
    Ok(())
}

/// The session's lifetime in seconds, at least `min_secs` (normally [`MIN_TTL_SECS`]; a test
/// deployment may allow less) and at most [`MAX_TTL_SECS`].
pub fn validate_ttl(ttl_secs: Option<i64>, min_secs: i64) -> Result<i64, Error> {
    let ttl = ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
    if (min_secs..=MAX_TTL_SECS).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(Error::InvalidField {
            field: "expires_in",
            reason: format!("must be {min_secs} to {MAX_TTL_SECS} seconds (got {ttl})"),
        })
    }
}

/// `return_url`: an absolute http(s) URL of at most 1024 characters (where the payer returns).
pub fn validate_return_url(url: &str) -> Result<(), Error> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| !r.is_empty())
        && url.chars().count() <= 1024
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidField {
            field: "return_url",
            reason: "must be an absolute http(s) URL of at most 1024 characters".into(),
        })
    }
}

/// `metadata`: at most 20 keys of at most 40 characters, string values of at most 500, for the
/// merchant's own references (an order id in its shop, say). Never shown to the payer.
pub fn validate_metadata(
    metadata: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Error> {
    let bad = |reason: String| Error::InvalidField {
        field: "metadata",
        reason,
    };
    if metadata.len() > 20 {
        return Err(bad(format!("{} keys; at most 20", metadata.len())));
    }
    for (k, v) in metadata {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(bad(format!("key {k:?} must be 1 to 40 characters")));
        }
        match v.as_str() {
            Some(text) if text.chars().count() <= 500 => {}
            _ => {
                return Err(bad(format!(
                    "the value of {k:?} must be a string of at most 500 characters"
                )))
            }
        }
    }
    Ok(())
}

/// A session's client secret: `{id}_secret_{32 hex}`, an HMAC of the session id under the
/// merchant's secret key. Derived rather than random so that a create retried after a crash
/// answers the same secret for the same session; only its hash is stored, and it is as hard to
/// guess as 128 random bits while the key is secret.
pub fn client_secret(merchant_secret_key: &str, session_id: &str) -> String {
    let mac = crate::hmac_sha256_hex(
        merchant_secret_key.as_bytes(),
        &[b"client_secret:", session_id.as_bytes()],
    );
    format!("{session_id}_secret_{}", &mac[..32])
}

/// How long an open session whose order was asked about waits before it is asked again (the
/// cron's period: WeChat Pay's query is rate-limited per merchant).
pub const REQUERY_SECS: i64 = 60;

/// When an open session next needs looking at: its expiry (to close it), or before that the
/// query of its order at WeChat Pay, `query_after_secs` after its prepay and then every
/// [`REQUERY_SECS`] after the last look (a notification may never come).
pub fn next_due(
    expires_at: UnixTime,
    prepay_at: Option<UnixTime>,
    query_after_secs: i64,
    looked_at: Option<UnixTime>,
) -> UnixTime {
    let query = match (prepay_at, looked_at) {
        (None, _) => return expires_at,
        (Some(_), Some(looked)) => looked.plus(REQUERY_SECS),
        (Some(prepay), None) => prepay.plus(query_after_secs),
    };
    query.min(expires_at)
}

/// A fresh merchant-side number (out_trade_no, out_refund_no) from the clock and 8 random
/// bytes: `prefix` + seconds + 16 hex digits, within WeChat Pay's 6–32 characters of
/// `0-9 A-Z a-z _ - | *` for a prefix of up to 4 such characters.
pub fn generate_reference(prefix: &str, now: UnixTime, random: [u8; 8]) -> String {
    let mut s = format!("{prefix}{}", now.secs());
    for b in random {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The merchant-side number of an order whose merchant gave none: `prefix` + the token of its
/// session's id (24 hex digits), so that a retried create makes the same number, and so finds
/// the same shard (pay_core::shard), without a clock or randomness of its own.
pub fn reference_of_token(prefix: &str, token: &str) -> String {
    format!("{prefix}{token}")
}

/// What the merchant's books hold about one order, for comparing with WeChat Pay's word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts<'a> {
    /// Who the order was made to pay (a direct merchant, or a provider's sub-merchant).
    pub payee: &'a Payee,
    pub out_trade_no: &'a str,
    pub amount: Fen,
    pub status: SessionStatus,
    pub transaction_id: Option<&'a str>,
}

/// What to do with a transaction WeChat Pay reported (by notification or query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentDecision {
    /// Record the payment: one conditional write from `open` to `paid`.
    MarkPaid {
        transaction_id: String,
        paid_at: UnixTime,
    },
    /// Already recorded with this very transaction: a duplicate, answer success, change nothing.
    AlreadyPaid,
    /// Paid at WeChat Pay although our order was closed: keep it as an anomaly to refund.
    PaidAfterClose { transaction_id: String },
    /// Not (yet) a successful payment: nothing to record.
    NotPaid(TradeState),
}

/// Cross-checks a reported transaction against the stored order, then decides. Any
/// disagreement in merchant, app, order number or amount is an error and changes nothing.
pub fn decide_payment(
    order: &OrderFacts<'_>,
    tx: &Transaction,
    now: UnixTime,
) -> Result<PaymentDecision, Error> {
    let mismatch = |field, ours: &str, theirs: &str| Error::Mismatch {
        field,
        ours: ours.into(),
        theirs: theirs.into(),
    };
    let (ours, theirs) = (order.payee, &tx.payee);
    for (field, ours, theirs) in [
        ("mchid", ours.account_mchid(), theirs.account_mchid()),
        ("sub_mchid", ours.books_mchid(), theirs.books_mchid()),
        ("appid", ours.payer_appid(), theirs.payer_appid()),
    ] {
        if ours != theirs {
            return Err(mismatch(field, ours, theirs));
        }
    }
    // The same numbers in another mode, or another sp_appid beside a sub_appid.
    if ours != theirs {
        return Err(mismatch(
            "payee",
            &format!("{ours:?}"),
            &format!("{theirs:?}"),
        ));
    }
    if tx.out_trade_no != order.out_trade_no {
        return Err(mismatch(
            "out_trade_no",
            order.out_trade_no,
            &tx.out_trade_no,
        ));
    }
    if tx.trade_state != TradeState::Success {
        return Ok(PaymentDecision::NotPaid(tx.trade_state));
    }
    let total = tx.amount.as_ref().map(|a| a.total);
    if total != Some(order.amount) {
        let theirs = total.map_or("none".to_string(), |t| t.get().to_string());
        return Err(mismatch(
            "amount.total",
            &order.amount.get().to_string(),
            &theirs,
        ));
    }
    let transaction_id = match tx.transaction_id.as_deref() {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => {
            return Err(Error::Malformed {
                what: "transaction",
                reason: "SUCCESS without transaction_id".into(),
            })
        }
    };
    let paid_at = match tx.success_time.as_deref() {
        Some(t) => UnixTime::parse_rfc3339(t)?,
        None => now,
    };
    Ok(match (order.status, order.transaction_id) {
        (SessionStatus::Open, _) => PaymentDecision::MarkPaid {
            transaction_id,
            paid_at,
        },
        (SessionStatus::Paid, Some(ours)) if ours == transaction_id => PaymentDecision::AlreadyPaid,
        (SessionStatus::Paid, ours) => {
            return Err(mismatch(
                "transaction_id",
                ours.unwrap_or(""),
                &transaction_id,
            ))
        }
        (SessionStatus::Closed, _) => PaymentDecision::PaidAfterClose { transaction_id },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v3::model::TransactionAmount;

    #[test]
    fn a_session_is_due_at_its_expiry_or_for_the_query_of_its_order() {
        let (expires, prepay) = (UnixTime(10_000), UnixTime(1_000));
        assert_eq!(
            next_due(expires, None, 60, None),
            expires,
            "no order yet: its expiry"
        );
        assert_eq!(next_due(expires, Some(prepay), 60, None), UnixTime(1_060));
        assert_eq!(
            next_due(expires, Some(prepay), 0, None),
            prepay,
            "asked at once"
        );
        let looked = UnixTime(1_060);
        assert_eq!(
            next_due(expires, Some(prepay), 60, Some(looked)),
            UnixTime(1_120)
        );
        assert_eq!(
            next_due(expires, Some(prepay), 60, Some(UnixTime(9_990))),
            expires
        );
        assert_eq!(
            next_due(UnixTime(1_030), Some(prepay), 60, None),
            UnixTime(1_030),
            "expiry first"
        );
    }

    static DIRECT: std::sync::LazyLock<Payee> = std::sync::LazyLock::new(|| Payee::Direct {
        appid: "wxdemo".into(),
        mchid: "1900000001".into(),
    });

    fn order(status: SessionStatus, txid: Option<&'static str>) -> OrderFacts<'static> {
        OrderFacts {
            payee: &DIRECT,
            out_trade_no: "CS1",
            amount: Fen::new(1999),
            status,
            transaction_id: txid,
        }
    }

    fn tx() -> Transaction {
        serde_json::from_str(
            r#"{"appid":"wxdemo","mchid":"1900000001","out_trade_no":"CS1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"2026-11-24T13:00:00+08:00","amount":{"total":1999,"payer_total":1999,"currency":"CNY"}}"#,
        )
        .unwrap()
    }

    const NOW: UnixTime = UnixTime(1_795_000_000);

    #[test]
    fn success_on_an_open_order_marks_it_paid_at_success_time() {
        assert_eq!(
            decide_payment(&order(SessionStatus::Open, None), &tx(), NOW),
            Ok(PaymentDecision::MarkPaid {
                transaction_id: "4200001".into(),
                paid_at: UnixTime::parse_rfc3339("2026-11-24T13:00:00+08:00").unwrap()
            })
        );
    }

    #[test]
    fn duplicates_change_nothing_and_a_second_transaction_is_refused() {
        assert_eq!(
            decide_payment(&order(SessionStatus::Paid, Some("4200001")), &tx(), NOW),
            Ok(PaymentDecision::AlreadyPaid)
        );
        let err =
            decide_payment(&order(SessionStatus::Paid, Some("4200999")), &tx(), NOW).unwrap_err();
        assert_eq!(err.code(), "order_mismatch");
    }

    #[test]
    fn payment_on_a_closed_order_is_an_anomaly_not_dropped() {
        assert_eq!(
            decide_payment(&order(SessionStatus::Closed, None), &tx(), NOW),
            Ok(PaymentDecision::PaidAfterClose {
                transaction_id: "4200001".into()
            })
        );
    }

    #[test]
    fn every_cross_checked_field_is_enforced() {
        let o = order(SessionStatus::Open, None);
        type Alteration = fn(&mut Transaction);
        let cases: [(&str, Alteration); 7] = [
            ("mchid", |t| {
                t.payee = Payee::Direct {
                    appid: "wxdemo".into(),
                    mchid: "1900000002".into(),
                }
            }),
            ("appid", |t| {
                t.payee = Payee::Direct {
                    appid: "wxother".into(),
                    mchid: "1900000001".into(),
                }
            }),
            // A provider's account whose sub-merchant number is the direct merchant's.
            ("sub_mchid", |t| {
                t.payee = Payee::Partner {
                    sp_appid: "wxdemo".into(),
                    sp_mchid: "1900000001".into(),
                    sub_appid: None,
                    sub_mchid: "1900000009".into(),
                }
            }),
            ("payee", |t| {
                t.payee = Payee::Partner {
                    sp_appid: "wxdemo".into(),
                    sp_mchid: "1900000001".into(),
                    sub_appid: None,
                    sub_mchid: "1900000001".into(),
                }
            }),
            ("out_trade_no", |t| t.out_trade_no = "CS2".into()),
            ("amount.total", |t| {
                t.amount = Some(TransactionAmount {
                    total: Fen::new(1),
                    payer_total: None,
                    currency: "CNY".into(),
                    payer_currency: None,
                })
            }),
            ("amount.total", |t| t.amount = None),
        ];
        for (field, alter) in cases {
            let mut t = tx();
            alter(&mut t);
            match decide_payment(&o, &t, NOW) {
                Err(Error::Mismatch { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_sub_merchants_order_is_paid_only_through_its_provider_and_its_app() {
        let partner =
            |sp_appid: &str, sp_mchid: &str, sub_appid: Option<&str>, sub: &str| Payee::Partner {
                sp_appid: sp_appid.into(),
                sp_mchid: sp_mchid.into(),
                sub_appid: sub_appid.map(Into::into),
                sub_mchid: sub.into(),
            };
        let ours = partner("wxsp", "1230000109", Some("wxsub"), "1900000109");
        let order = OrderFacts {
            payee: &ours,
            ..order(SessionStatus::Open, None)
        };
        let mut t = tx();
        t.payee = ours.clone();
        assert!(matches!(
            decide_payment(&order, &t, NOW),
            Ok(PaymentDecision::MarkPaid { .. })
        ));
        for (field, theirs) in [
            (
                "mchid",
                partner("wxsp", "1230000999", Some("wxsub"), "1900000109"),
            ),
            (
                "sub_mchid",
                partner("wxsp", "1230000109", Some("wxsub"), "1900000110"),
            ),
            ("appid", partner("wxsp", "1230000109", None, "1900000109")),
            (
                "payee",
                partner("wxother", "1230000109", Some("wxsub"), "1900000109"),
            ),
        ] {
            t.payee = theirs;
            match decide_payment(&order, &t, NOW) {
                Err(Error::Mismatch { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn non_success_states_record_nothing() {
        let mut t = tx();
        t.trade_state = TradeState::Notpay;
        assert_eq!(
            decide_payment(&order(SessionStatus::Open, None), &t, NOW),
            Ok(PaymentDecision::NotPaid(TradeState::Notpay))
        );
    }

    #[test]
    fn field_rules() {
        assert!(validate_description("Tea").is_ok());
        assert!(validate_description("").is_err());
        assert!(validate_description(&"茶".repeat(127)).is_ok());
        assert!(validate_description(&"茶".repeat(128)).is_err());
        assert!(validate_description("a\nb").is_err());
        assert!(validate_out_trade_no("ab-1|*_").is_ok());
        assert!(validate_out_trade_no("abc").is_err());
        assert!(validate_out_trade_no("abc def").is_err());
        assert!(validate_out_trade_no(&"a".repeat(33)).is_err());
        assert_eq!(validate_ttl(None, MIN_TTL_SECS), Ok(DEFAULT_TTL_SECS));
        assert!(validate_ttl(Some(60), MIN_TTL_SECS).is_err());
        assert_eq!(validate_ttl(Some(60), 1), Ok(60));
        assert!(validate_ttl(Some(MAX_TTL_SECS + 1), 1).is_err());
        let no = generate_reference("CS", UnixTime(1_795_000_000), [0xab; 8]);
        assert_eq!(no, "CS1795000000abababababababab");
        assert!(validate_out_trade_no(&no).is_ok());
        assert_eq!(
            generate_reference("RF", UnixTime(1_795_000_000), [0; 8]),
            "RF17950000000000000000000000"
        );
        let token = "0123456789abcdef01234567";
        assert_eq!(reference_of_token("CS", token), format!("CS{token}"));
        assert!(validate_out_trade_no(&reference_of_token("CS", token)).is_ok());
    }

    #[test]
    fn a_client_secret_is_fixed_by_the_session_and_the_key() {
        let a = client_secret("sk_test_key_one_0123456789", "cs_0123");
        assert!(a.starts_with("cs_0123_secret_") && a.len() == "cs_0123_secret_".len() + 32);
        assert_eq!(a, client_secret("sk_test_key_one_0123456789", "cs_0123"));
        assert_ne!(a, client_secret("sk_test_key_two_0123456789", "cs_0123"));
        assert_ne!(
            a[8..],
            client_secret("sk_test_key_one_0123456789", "cs_0124")[8..]
        );
    }

    #[test]
    fn return_urls_and_metadata() {
        assert!(validate_return_url("https://shop.example/thanks?o=1").is_ok());
        for bad in [
            "",
            "shop.example",
            "javascript:alert(1)",
            "https://",
            "https://a b",
            &format!("https://{}", "a".repeat(1020)),
        ] {
            assert!(validate_return_url(bad).is_err(), "{bad}");
        }
        let ok: serde_json::Map<_, _> =
            serde_json::from_str(r#"{"order":"A-1","note":"茶"}"#).unwrap();
        assert!(validate_metadata(&ok).is_ok());
        for bad in [r#"{"n":1}"#, r#"{"":"x"}"#, r#"{"o":{"nested":"x"}}"#] {
            let m: serde_json::Map<_, _> = serde_json::from_str(bad).unwrap();
            assert!(validate_metadata(&m).is_err(), "{bad}");
        }
        let many: serde_json::Map<_, _> = (0..21)
            .map(|i| (format!("k{i}"), serde_json::json!("v")))
            .collect();
        assert!(validate_metadata(&many).is_err());
        let long: serde_json::Map<_, _> = [("k".to_string(), serde_json::json!("x".repeat(501)))]
            .into_iter()
            .collect();
        assert!(validate_metadata(&long).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            SessionStatus::Open,
            SessionStatus::Paid,
            SessionStatus::Closed,
        ] {
            assert_eq!(SessionStatus::parse(s.as_str()), Ok(s));
        }
        assert!(SessionStatus::parse("refunded?").is_err());
    }
}
