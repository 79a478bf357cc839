//! The merchant's own risk rules, on top of WeChat Pay's: a ceiling per checkout session,
//! per-payer and per-client-IP budgets (count and amount per rolling hour and day), block lists
//! and the scenes allowed; and the anomaly flags kept on an order. The rules and the refusals
//! are decided here; the counting is the books' (one conditional insert in D1 per attempt, so
//! two concurrent attempts can never both fit where only one does).

use crate::client_ip::{ClientAddress, IpBlock};
use crate::requests::Scene;
use crate::{Error, Fen, UnixTime};

/// A budget over a rolling window: at most `max_count` attempts and `max_fen` in all; 0 leaves
/// that side unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    pub max_count: i64,
    pub max_fen: i64,
}

impl Budget {
    pub fn is_off(&self) -> bool {
        self.max_count <= 0 && self.max_fen <= 0
    }

    /// Whether one more attempt of `amount` fits after `used` (count, fen) in the window.
    pub fn fits(&self, used: (i64, i64), amount: Fen) -> bool {
        (self.max_count <= 0 || used.0 < self.max_count)
            && (self.max_fen <= 0 || used.1 + amount.get() <= self.max_fen)
    }
}

/// Who a budget is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The payer's openid (known before paying in the JSAPI scene only).
    Payer,
    /// The client's address.
    Ip,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Payer => "payer",
            Subject::Ip => "ip",
        }
    }

    /// The key attempts are counted under: `ip:<address>`, `payer:<openid>`.
    pub fn key(self, who: &str) -> String {
        format!("{}:{who}", self.as_str())
    }
}

/// One budget rule: a subject, a rolling window and its budget. `name` is the `limit` a
/// refusal reports (`payer_hourly`, `ip_daily`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetRule {
    pub name: &'static str,
    pub subject: Subject,
    pub window_secs: i64,
    pub budget: Budget,
}

/// Failed payment attempts kept as events (and webhooks) on one session, at most: they come
/// from unauthenticated requests, so the books must not grow without bound. The count that
/// raises `many_failed_attempts` is lower.
pub const MAX_FAILED_ATTEMPT_EVENTS: i64 = 20;

pub const HOUR_SECS: i64 = 3600;
pub const DAY_SECS: i64 = 24 * 3600;

/// Every rule a deployment sets (see the README's "Risk controls" for the settings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RiskRules {
    /// The largest amount one checkout session may ask (0: no ceiling of ours).
    pub max_session_fen: i64,
    pub payer_hourly: Budget,
    pub payer_daily: Budget,
    pub ip_hourly: Budget,
    pub ip_daily: Budget,
    pub blocked_payers: Vec<String>,
    /// Addresses and networks (`198.51.100.0/24`, `2001:db8:bad::/48`) that may not pay.
    pub blocked_ips: Vec<IpBlock>,
    /// Empty: every scene.
    pub allowed_scenes: Vec<Scene>,
    /// Failed payment attempts on one session that raise `many_failed_attempts` (0: never).
    pub failed_attempts_flag: i64,
    /// A refund this soon after its payment, of more than `quick_refund_share_ppm` of the
    /// day's paid volume, raises `quick_large_refund`.
    pub quick_refund_secs: i64,
    pub quick_refund_share_ppm: i64,
}

impl RiskRules {
    /// The budget rules that apply to an attempt, in the order they are checked.
    pub fn budgets(&self) -> [BudgetRule; 4] {
        let rule = |name, subject, window_secs, budget| BudgetRule {
            name,
            subject,
            window_secs,
            budget,
        };
        [
            rule("payer_hourly", Subject::Payer, HOUR_SECS, self.payer_hourly),
            rule("payer_daily", Subject::Payer, DAY_SECS, self.payer_daily),
            rule("ip_hourly", Subject::Ip, HOUR_SECS, self.ip_hourly),
            rule("ip_daily", Subject::Ip, DAY_SECS, self.ip_daily),
        ]
    }

    /// Session creation: the amount against the ceiling.
    pub fn check_session_amount(&self, amount: Fen) -> Result<(), Error> {
        if self.max_session_fen > 0 && amount.get() > self.max_session_fen {
            return Err(Error::LimitExceeded {
                limit: "max_session_amount",
                resets_at: None,
            });
        }
        Ok(())
    }

    /// Pay: the scene, then the block lists (a blocked payer or address learns only that it
    /// may not pay here).
    pub fn check_payer(
        &self,
        scene: Scene,
        openid: Option<&str>,
        client: &ClientAddress,
    ) -> Result<(), Error> {
        if !self.allowed_scenes.is_empty() && !self.allowed_scenes.contains(&scene) {
            return Err(Error::SceneNotAllowed(scene.as_str()));
        }
        let blocked = openid.is_some_and(|o| self.blocked_payers.iter().any(|b| b == o))
            || client
                .ip
                .is_some_and(|ip| self.blocked_ips.iter().any(|b| b.contains(ip)));
        if blocked {
            return Err(Error::Blocked);
        }
        Ok(())
    }

    /// Whether a refund of `refund` made `secs_after_payment` after its payment, on a day whose
    /// paid volume so far is `day_volume`, is the anomaly `quick_large_refund`.
    pub fn is_quick_large_refund(
        &self,
        refund: Fen,
        secs_after_payment: i64,
        day_volume: Fen,
    ) -> bool {
        self.quick_refund_secs > 0
            && secs_after_payment <= self.quick_refund_secs
            && i128::from(refund.get()) * 1_000_000
                > i128::from(day_volume.get()) * i128::from(self.quick_refund_share_ppm)
    }
}

/// The refusal of an attempt over `rule`, which frees up when the oldest attempt counted
/// (`oldest_at`) leaves the window.
pub fn over_budget(rule: &BudgetRule, oldest_at: Option<UnixTime>, now: UnixTime) -> Error {
    Error::LimitExceeded {
        limit: rule.name,
        resets_at: Some(UnixTime(oldest_at.unwrap_or(now).secs() + rule.window_secs)),
    }
}

/// The anomalies kept on an order, once each, each raising a `checkout.session.flagged` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// A payment WeChat Pay notified for an order this Worker had closed.
    PaidAfterClose,
    /// A signed notification whose amount or mchid disagrees with the order.
    NotificationMismatch,
    /// Many failed payment attempts on one session.
    ManyFailedAttempts,
    /// A refund soon after payment, large against the day's volume.
    QuickLargeRefund,
    /// WeChat Pay's signed word moved a refund the books had concluded `failed` (its amount was
    /// refundable again): a person checks that it was not refunded a second time.
    RefundCorrected,
}

impl Flag {
    pub const ALL: [Flag; 5] = [
        Flag::PaidAfterClose,
        Flag::NotificationMismatch,
        Flag::ManyFailedAttempts,
        Flag::QuickLargeRefund,
        Flag::RefundCorrected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flag::PaidAfterClose => "paid_after_close",
            Flag::NotificationMismatch => "notification_mismatch",
            Flag::ManyFailedAttempts => "many_failed_attempts",
            Flag::QuickLargeRefund => "quick_large_refund",
            Flag::RefundCorrected => "refund_corrected",
        }
    }

    pub fn parse(text: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(n: i64) -> Fen {
        Fen::chargeable(n).unwrap()
    }

    #[test]
    fn a_budget_takes_the_attempt_at_its_edge_and_refuses_the_next() {
        let b = Budget {
            max_count: 3,
            max_fen: 1000,
        };
        assert!(b.fits((2, 0), fen(1)));
        assert!(!b.fits((3, 0), fen(1)), "the fourth attempt");
        assert!(b.fits((0, 999), fen(1)), "one fen under, then at the limit");
        assert!(!b.fits((0, 1000), fen(1)), "one over");
        assert!(Budget {
            max_count: 0,
            max_fen: 0
        }
        .fits((1 << 40, 1 << 50), fen(1)));
    }

    fn client(ip: &str) -> ClientAddress {
        ClientAddress::parse(ip, crate::client_ip::DEFAULT_V6_PREFIX)
    }

    #[test]
    fn the_session_ceiling_scenes_and_block_lists() {
        let rules = RiskRules {
            max_session_fen: 500,
            blocked_payers: vec!["o-bad".into()],
            blocked_ips: vec![
                IpBlock::parse("10.9.9.9").unwrap(),
                IpBlock::parse("2001:db8:bad::/48").unwrap(),
            ],
            allowed_scenes: vec![Scene::Native, Scene::Jsapi],
            ..RiskRules::default()
        };
        assert!(rules.check_session_amount(fen(500)).is_ok());
        assert_eq!(
            rules.check_session_amount(fen(501)).unwrap_err().code(),
            "limit_exceeded"
        );
        assert_eq!(
            rules
                .check_payer(Scene::H5, None, &client("1.1.1.1"))
                .unwrap_err()
                .code(),
            "scene_not_allowed"
        );
        assert_eq!(
            rules
                .check_payer(Scene::Jsapi, Some("o-bad"), &client("1.1.1.1"))
                .unwrap_err()
                .code(),
            "blocked"
        );
        assert_eq!(
            rules
                .check_payer(Scene::Native, None, &client("10.9.9.9"))
                .unwrap_err()
                .code(),
            "blocked"
        );
        assert!(rules
            .check_payer(Scene::Native, None, &client("1.1.1.1"))
            .is_ok());
        for blocked in ["::ffff:10.9.9.9", "2001:DB8:BAD:7::1"] {
            assert_eq!(
                rules
                    .check_payer(Scene::Native, None, &client(blocked))
                    .unwrap_err()
                    .code(),
                "blocked",
                "{blocked}"
            );
        }
        assert!(rules
            .check_payer(Scene::Native, None, &client("2001:db8:bae::1"))
            .is_ok());
        assert!(RiskRules::default()
            .check_session_amount(fen(i32::MAX as i64))
            .is_ok());
    }

    #[test]
    fn a_quick_large_refund_is_over_the_share_and_inside_the_time() {
        let rules = RiskRules {
            quick_refund_secs: 600,
            quick_refund_share_ppm: 200_000,
            ..RiskRules::default()
        };
        assert!(rules.is_quick_large_refund(fen(201), 60, fen(1000)));
        assert!(
            !rules.is_quick_large_refund(fen(200), 60, fen(1000)),
            "exactly the share"
        );
        assert!(
            !rules.is_quick_large_refund(fen(900), 601, fen(1000)),
            "too late to be quick"
        );
    }

    #[test]
    fn a_refusal_says_which_limit_and_when_it_frees_up() {
        let rule = RiskRules {
            ip_hourly: Budget {
                max_count: 1,
                max_fen: 0,
            },
            ..RiskRules::default()
        }
        .budgets()[2];
        let e = over_budget(&rule, Some(UnixTime(1000)), UnixTime(1500));
        assert!(matches!(
            e,
            Error::LimitExceeded {
                limit: "ip_hourly",
                resets_at: Some(UnixTime(4600))
            }
        ));
        assert!(e.to_string().contains("ip_hourly"));
    }
}
