//! Refunds in our books: their states, what an answer from WeChat Pay proves about one, and how
//! the record moves on WeChat Pay's signed word.
//!
//! The rule that keeps a refund from being paid twice: a refund is booked `failed` (its amount
//! refundable again) only on proof that WeChat Pay holds no refund under its out_refund_no: a
//! signed refusal of its only request, or a signed "does not exist" to a query. Anything else
//! (a timeout, a 5xx, a rate limit, an unsigned body) proves nothing and leaves it pending,
//! to be asked about before it is sent again.

use serde::{Deserialize, Serialize};

use crate::v3::model::RefundStatus;
use crate::Error;

/// The closed set of states of a refund in our books (stored and answered by these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Recorded; WeChat Pay's answer is not known yet (not sent, or the answer was lost).
    Pending,
    /// WeChat Pay accepted it; the bank has not finished.
    Processing,
    /// The payer has the money.
    Succeeded,
    /// WeChat Pay took the money from the merchant's balance but could not pay it into the
    /// payer's account (a closed card, a frozen account): it counts as refunded, so the amount
    /// is never refundable again, and a person settles it (WeChat Pay's abnormal-refund
    /// procedure or another channel).
    Abnormal,
    /// Proven not refunded (refused, or closed by WeChat Pay): the amount is refundable again.
    Failed,
}

impl RefundState {
    pub const ALL: [RefundState; 5] = [
        RefundState::Pending,
        RefundState::Processing,
        RefundState::Succeeded,
        RefundState::Abnormal,
        RefundState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "pending",
            RefundState::Processing => "processing",
            RefundState::Succeeded => "succeeded",
            RefundState::Abnormal => "abnormal",
            RefundState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        RefundState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::Malformed {
                what: "refund status",
                reason: format!("{text:?}"),
            })
    }

    /// What a refund first learnt of in this WeChat Pay status is booked as.
    pub fn of_platform(status: RefundStatus) -> Self {
        match status {
            RefundStatus::Processing => RefundState::Processing,
            RefundStatus::Success => RefundState::Succeeded,
            RefundStatus::Abnormal => RefundState::Abnormal,
            RefundStatus::Closed => RefundState::Failed,
        }
    }

    /// Whether the refund's amount has left (or may have left) the merchant's balance: every
    /// state but `failed`. What counts toward "never refund more than was paid".
    pub fn counts_as_refunded(self) -> bool {
        self != RefundState::Failed
    }
}

/// An answer of WeChat Pay other than a 2xx, as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct ErrorAnswer<'a> {
    /// The HTTP status; 502/504 for no answer at all (network failure, timeout).
    pub status: u16,
    pub code: &'a str,
    /// Whether the answer carried a `Wechatpay-Signature` that verified over its body.
    pub signed: bool,
}

/// What an answer proves about whether WeChat Pay refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEvidence {
    /// WeChat Pay holds the refund, in this status.
    Holds(RefundStatus),
    /// WeChat Pay holds no refund under this out_refund_no.
    NotRefunded,
    /// Nothing is proven.
    Unknown,
}

/// An error answer to `POST /v3/refund/domestic/refunds`. Only a signed 4xx that is not a rate
/// limit is a refusal; it proves nothing was refunded when this request is the only one ever
/// sent for the refund, or when a query just proved that WeChat Pay holds none (the caller
/// asks before it sends again, [`after_query_error`]).
pub fn after_refund_error(answer: ErrorAnswer) -> RefundEvidence {
    let rate_limited = answer.status == 429 || answer.code == "FREQUENCY_LIMITED";
    if answer.signed && (400..500).contains(&answer.status) && !rate_limited {
        RefundEvidence::NotRefunded
    } else {
        RefundEvidence::Unknown
    }
}

/// An error answer to `GET /v3/refund/domestic/refunds/{out_refund_no}`: only a signed 404
/// `RESOURCE_NOT_EXISTS` proves WeChat Pay holds no such refund.
pub fn after_query_error(answer: ErrorAnswer) -> RefundEvidence {
    if answer.signed && answer.status == 404 && answer.code == "RESOURCE_NOT_EXISTS" {
        RefundEvidence::NotRefunded
    } else {
        RefundEvidence::Unknown
    }
}

/// How our record of a refund moves on WeChat Pay's signed word about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundMove {
    /// Nothing to change (a duplicate, or an older word than what we have).
    Stay,
    /// The ordinary next state.
    To(RefundState),
    /// A state we had concluded is wrong: WeChat Pay refunded a refund booked `failed`. The
    /// record takes the true state and the order is flagged for a person.
    Corrected(RefundState),
}

/// Our next state, from ours and WeChat Pay's status (an answer, a query or a notification).
pub fn next_state(ours: RefundState, theirs: RefundStatus) -> RefundMove {
    use RefundState as S;
    use RefundStatus as W;
    match (ours, theirs) {
        (S::Pending, W::Processing) => RefundMove::To(S::Processing),
        (S::Pending | S::Processing | S::Abnormal, W::Success) => RefundMove::To(S::Succeeded),
        (S::Pending | S::Processing, W::Abnormal) => RefundMove::To(S::Abnormal),
        (S::Pending | S::Processing | S::Abnormal, W::Closed) => RefundMove::To(S::Failed),
        (S::Failed, W::Success) => RefundMove::Corrected(S::Succeeded),
        (S::Failed, W::Abnormal) => RefundMove::Corrected(S::Abnormal),
        _ => RefundMove::Stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str, signed: bool) -> ErrorAnswer<'_> {
        ErrorAnswer {
            status,
            code,
            signed,
        }
    }

    #[test]
    fn only_a_signed_refusal_that_is_not_a_rate_limit_proves_nothing_was_refunded() {
        assert_eq!(
            after_refund_error(answer(400, "INVALID_REQUEST", true)),
            RefundEvidence::NotRefunded
        );
        assert_eq!(
            after_refund_error(answer(403, "NOT_ENOUGH", true)),
            RefundEvidence::NotRefunded
        );
        for unknown in [
            answer(429, "FREQUENCY_LIMITED", true),
            answer(403, "FREQUENCY_LIMITED", true),
            answer(400, "INVALID_REQUEST", false),
            answer(401, "HTTP_401", false),
            answer(500, "SYSTEM_ERROR", true),
            answer(502, "NETWORK", false),
            answer(504, "TIMEOUT", false),
        ] {
            assert_eq!(
                after_refund_error(unknown),
                RefundEvidence::Unknown,
                "{unknown:?}"
            );
        }
    }

    #[test]
    fn only_a_signed_resource_not_exists_proves_there_is_no_refund() {
        assert_eq!(
            after_query_error(answer(404, "RESOURCE_NOT_EXISTS", true)),
            RefundEvidence::NotRefunded
        );
        for unknown in [
            answer(404, "RESOURCE_NOT_EXISTS", false),
            answer(404, "HTTP_404", false),
            answer(429, "FREQUENCY_LIMITED", true),
            answer(400, "PARAM_ERROR", true),
            answer(500, "SYSTEM_ERROR", true),
        ] {
            assert_eq!(
                after_query_error(unknown),
                RefundEvidence::Unknown,
                "{unknown:?}"
            );
        }
    }

    #[test]
    fn a_signed_success_or_abnormal_corrects_a_refund_booked_failed() {
        assert_eq!(
            next_state(RefundState::Failed, RefundStatus::Success),
            RefundMove::Corrected(RefundState::Succeeded)
        );
        assert_eq!(
            next_state(RefundState::Failed, RefundStatus::Abnormal),
            RefundMove::Corrected(RefundState::Abnormal)
        );
        assert_eq!(
            next_state(RefundState::Failed, RefundStatus::Closed),
            RefundMove::Stay
        );
    }

    #[test]
    fn the_ordinary_moves_and_what_never_goes_back() {
        use RefundState as S;
        use RefundStatus as W;
        assert_eq!(
            next_state(S::Pending, W::Processing),
            RefundMove::To(S::Processing)
        );
        assert_eq!(
            next_state(S::Processing, W::Success),
            RefundMove::To(S::Succeeded)
        );
        assert_eq!(
            next_state(S::Abnormal, W::Success),
            RefundMove::To(S::Succeeded)
        );
        assert_eq!(
            next_state(S::Processing, W::Abnormal),
            RefundMove::To(S::Abnormal)
        );
        assert_eq!(
            next_state(S::Processing, W::Closed),
            RefundMove::To(S::Failed)
        );
        // A refund the payer has is never moved again; older words change nothing.
        for theirs in [W::Processing, W::Closed, W::Abnormal, W::Success] {
            assert_eq!(next_state(S::Succeeded, theirs), RefundMove::Stay);
        }
        assert_eq!(next_state(S::Processing, W::Processing), RefundMove::Stay);
        assert_eq!(next_state(S::Abnormal, W::Processing), RefundMove::Stay);
    }

    #[test]
    fn a_refund_first_seen_is_booked_as_the_pending_one_would_move() {
        for theirs in [
            RefundStatus::Processing,
            RefundStatus::Success,
            RefundStatus::Abnormal,
            RefundStatus::Closed,
        ] {
            assert_eq!(
                next_state(RefundState::Pending, theirs),
                RefundMove::To(RefundState::of_platform(theirs))
            );
        }
    }

    #[test]
    fn abnormal_counts_as_refunded_and_only_failed_frees_the_amount() {
        for s in RefundState::ALL {
            assert_eq!(s.counts_as_refunded(), s != RefundState::Failed);
            assert_eq!(RefundState::parse(s.as_str()).unwrap(), s);
        }
        assert!(RefundState::parse("refunded").is_err());
    }
}
