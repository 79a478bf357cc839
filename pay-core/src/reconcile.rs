//! Reconciliation: a day's bills from WeChat Pay against our books. Every difference gets a
//! kind and a resolution: only a payment whose notification never arrived is safe to fix
//! automatically (by asking WeChat Pay and applying the answer through the same state machine
//! as a notification); everything else is flagged for a person.

use std::collections::{BTreeMap, BTreeSet};

use crate::bill::{BillFee, FundFlowBill, TradeBill};
use crate::checkout::SessionStatus;
use crate::{CstDate, Fen, UnixTime};

/// An order as our books have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedOrder {
    pub out_trade_no: String,
    pub status: SessionStatus,
    pub amount: Fen,
    pub transaction_id: Option<String>,
    pub paid_at: Option<UnixTime>,
}

/// A refund as our books have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedRefund {
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub amount: Fen,
    /// The refunded order's amount (the fee given back is its share of the order's fee).
    pub order_amount: Fen,
    pub succeeded: bool,
    /// When it succeeded (for "which day"): `None` while not succeeded.
    pub succeeded_at: Option<UnixTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DifferenceKind {
    /// Paid on the platform, open in our books: the notification never arrived.
    PaidNotBooked,
    /// Paid on the platform, closed in our books (a payment after close: refund it).
    PaidButClosed,
    /// Paid on the platform for an order we do not have.
    UnknownOrder,
    /// Paid in our books that day, absent from the platform's bill.
    BookedNotPaid,
    /// The platform's amount differs from ours (payment or refund).
    AmountMismatch,
    /// A refund on the platform that our books do not have (made outside this Worker).
    RefundNotBooked,
    /// A refund our books consider done, absent from the platform's bill.
    RefundNotOnPlatform,
    /// A refund the platform shows done that our books still consider pending.
    RefundPendingInBooks,
    /// The fee charged differs from the agreed rate.
    FeeMismatch,
}

impl DifferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::PaidNotBooked => "paid_not_booked",
            DifferenceKind::PaidButClosed => "paid_but_closed",
            DifferenceKind::UnknownOrder => "unknown_order",
            DifferenceKind::BookedNotPaid => "booked_not_paid",
            DifferenceKind::AmountMismatch => "amount_mismatch",
            DifferenceKind::RefundNotBooked => "refund_not_booked",
            DifferenceKind::RefundNotOnPlatform => "refund_not_on_platform",
            DifferenceKind::RefundPendingInBooks => "refund_pending_in_books",
            DifferenceKind::FeeMismatch => "fee_mismatch",
        }
    }

    /// Only a missed notification is fixed without a person: WeChat Pay is asked again and
    /// its signed answer goes through the notification's state machine.
    pub fn resolution(self) -> Resolution {
        match self {
            DifferenceKind::PaidNotBooked => Resolution::FixByQuery,
            _ => Resolution::Flag,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    FixByQuery,
    Flag,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::FixByQuery => "fix_by_query",
            Resolution::Flag => "flag",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: DifferenceKind,
    pub out_trade_no: String,
    pub out_refund_no: Option<String>,
    pub transaction_id: Option<String>,
    /// Amounts (fen; fees in thousandths of a fen) as we and as WeChat Pay have them.
    pub ours: Option<i64>,
    pub theirs: Option<i64>,
}

/// What the day's bill holds, in totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayTotals {
    pub payments: u64,
    pub paid: Fen,
    pub refunds: u64,
    pub refunded: Fen,
    pub fees: BillFee,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeReconciliation {
    pub totals: DayTotals,
    pub differences: Vec<Difference>,
}

fn add(a: Fen, b: Fen) -> Fen {
    Fen::new(a.get() + b.get())
}

/// Compares `day`'s trade bill with our books. `orders` must hold every order the bill names
/// and every order our books have paid that day; `refunds` every refund of those orders.
/// `fee_rate_ppm` is the rate agreed with WeChat Pay (6000 = 0.60%).
pub fn reconcile_trade_bill(
    day: CstDate,
    bill: &TradeBill,
    orders: &[BookedOrder],
    refunds: &[BookedRefund],
    fee_rate_ppm: i64,
) -> TradeReconciliation {
    let by_no: BTreeMap<&str, &BookedOrder> = orders
        .iter()
        .map(|o| (o.out_trade_no.as_str(), o))
        .collect();
    let refunds_by_no: BTreeMap<&str, &BookedRefund> = refunds
        .iter()
        .map(|r| (r.out_refund_no.as_str(), r))
        .collect();
    let mut differences = Vec::new();
    let mut totals = DayTotals::default();
    let mut paid_on_platform = BTreeSet::new();
    let mut refunded_on_platform = BTreeSet::new();
    let mut differ = |kind, line_no: &str, refund_no: Option<&str>, tx: &str, ours, theirs| {
        differences.push(Difference {
            kind,
            out_trade_no: line_no.to_string(),
            out_refund_no: refund_no.map(str::to_string),
            transaction_id: Some(tx.to_string()).filter(|t| !t.is_empty()),
            ours,
            theirs,
        })
    };
    for line in &bill.lines {
        totals.fees = BillFee(totals.fees.0 + line.fee.0);
        let no = line.out_trade_no.as_str();
        let tx = line.transaction_id.as_str();
        if let Some(refund) = &line.refund {
            totals.refunds += 1;
            totals.refunded = add(totals.refunded, refund.amount);
            refunded_on_platform.insert(refund.out_refund_no.as_str());
            let theirs = Some(refund.amount.get());
            match refunds_by_no.get(refund.out_refund_no.as_str()) {
                None => differ(
                    DifferenceKind::RefundNotBooked,
                    no,
                    Some(&refund.out_refund_no),
                    tx,
                    None,
                    theirs,
                ),
                Some(ours) if ours.amount != refund.amount => differ(
                    DifferenceKind::AmountMismatch,
                    no,
                    Some(&refund.out_refund_no),
                    tx,
                    Some(ours.amount.get()),
                    theirs,
                ),
                Some(ours) if !ours.succeeded => differ(
                    DifferenceKind::RefundPendingInBooks,
                    no,
                    Some(&refund.out_refund_no),
                    tx,
                    Some(ours.amount.get()),
                    theirs,
                ),
                Some(_) => {}
            }
            continue;
        }
        if line.trade_state != "SUCCESS" {
            continue;
        }
        totals.payments += 1;
        totals.paid = add(totals.paid, line.settlement_amount);
        paid_on_platform.insert(no);
        let expected_fee = BillFee::from_fen(line.settlement_amount.fee_at(fee_rate_ppm));
        if line.fee != expected_fee {
            differ(
                DifferenceKind::FeeMismatch,
                no,
                None,
                tx,
                Some(expected_fee.0),
                Some(line.fee.0),
            );
        }
        let theirs = Some(line.settlement_amount.get());
        match by_no.get(no) {
            None => differ(DifferenceKind::UnknownOrder, no, None, tx, None, theirs),
            Some(ours) if ours.amount != line.settlement_amount => differ(
                DifferenceKind::AmountMismatch,
                no,
                None,
                tx,
                Some(ours.amount.get()),
                theirs,
            ),
            Some(ours) => match ours.status {
                SessionStatus::Open => {
                    differ(DifferenceKind::PaidNotBooked, no, None, tx, None, theirs)
                }
                SessionStatus::Closed => {
                    differ(DifferenceKind::PaidButClosed, no, None, tx, None, theirs)
                }
                SessionStatus::Paid => {}
            },
        }
    }
    for order in orders {
        let paid_that_day =
            order.status == SessionStatus::Paid && order.paid_at.is_some_and(|t| day.contains(t));
        if paid_that_day && !paid_on_platform.contains(order.out_trade_no.as_str()) {
            differences.push(Difference {
                kind: DifferenceKind::BookedNotPaid,
                out_trade_no: order.out_trade_no.clone(),
                out_refund_no: None,
                transaction_id: order.transaction_id.clone(),
                ours: Some(order.amount.get()),
                theirs: None,
            });
        }
    }
    for refund in refunds {
        let done_that_day =
            refund.succeeded && refund.succeeded_at.is_some_and(|t| day.contains(t));
        if done_that_day && !refunded_on_platform.contains(refund.out_refund_no.as_str()) {
            differences.push(Difference {
                kind: DifferenceKind::RefundNotOnPlatform,
                out_trade_no: refund.out_trade_no.clone(),
                out_refund_no: Some(refund.out_refund_no.clone()),
                transaction_id: None,
                ours: Some(refund.amount.get()),
                theirs: None,
            });
        }
    }
    differences.sort_by(|a, b| (a.kind, &a.out_trade_no).cmp(&(b.kind, &b.out_trade_no)));
    TradeReconciliation {
        totals,
        differences,
    }
}

/// A day's money movements on the merchant's account, by what they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FundMovements {
    pub payments: Fen,
    pub fees: Fen,
    pub refunds: Fen,
    pub fees_returned: Fen,
    /// Paid out to the merchant's bank account (提现 / 结算).
    pub settled: Fen,
    pub other: Fen,
}

impl FundMovements {
    /// What the day's business leaves on the account: payments less fees and refunds.
    pub fn net(self) -> Fen {
        Fen::new(
            self.payments.get() - self.fees.get() - self.refunds.get() + self.fees_returned.get(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SettlementDifferenceKind {
    Payments,
    Fees,
    Refunds,
    FeesReturned,
    /// What reached the bank differs from the net of the day's business.
    Settled,
}

impl SettlementDifferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementDifferenceKind::Payments => "settlement_payments",
            SettlementDifferenceKind::Fees => "settlement_fees",
            SettlementDifferenceKind::Refunds => "settlement_refunds",
            SettlementDifferenceKind::FeesReturned => "settlement_fees_returned",
            SettlementDifferenceKind::Settled => "settlement_amount",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementReport {
    /// What the fund-flow bill shows.
    pub platform: FundMovements,
    /// What our books expect: payments and refunds as booked, fees at the agreed rate.
    pub expected: FundMovements,
    pub differences: Vec<(SettlementDifferenceKind, Fen, Fen)>,
}

/// Sorts a fund-flow bill's lines into movements by 业务类型.
pub fn fund_movements(bill: &FundFlowBill) -> FundMovements {
    let mut m = FundMovements::default();
    for line in &bill.lines {
        let magnitude = Fen::new(line.amount.get().abs());
        let slot = match line.kind.as_str() {
            "交易" => &mut m.payments,
            "扣除交易手续费" => &mut m.fees,
            "退款" => &mut m.refunds,
            "退回交易手续费" | "退还交易手续费" => &mut m.fees_returned,
            "提现" | "结算" => &mut m.settled,
            _ => {
                m.other = add(m.other, line.amount);
                continue;
            }
        };
        *slot = add(*slot, magnitude);
    }
    m
}

/// What our books expect the day's fund flow to be: the payments booked that day with their fee
/// at the agreed rate, the refunds that succeeded that day with the fee's share given back, and
/// — the account settling each day — the net of it all paid out to the bank.
pub fn expected_movements(
    day: CstDate,
    orders: &[BookedOrder],
    refunds: &[BookedRefund],
    fee_rate_ppm: i64,
) -> FundMovements {
    let mut m = FundMovements::default();
    for o in orders {
        if o.status == SessionStatus::Paid && o.paid_at.is_some_and(|t| day.contains(t)) {
            m.payments = add(m.payments, o.amount);
            m.fees = add(m.fees, o.amount.fee_at(fee_rate_ppm));
        }
    }
    for r in refunds {
        if r.succeeded && r.succeeded_at.is_some_and(|t| day.contains(t)) {
            m.refunds = add(m.refunds, r.amount);
            let fee = r.order_amount.fee_at(fee_rate_ppm);
            m.fees_returned = add(m.fees_returned, fee.share(r.amount, r.order_amount));
        }
    }
    m.settled = m.net();
    m
}

/// WeChat Pay publishes a day's bills after 10:00 China time the next day.
const BILLS_READY_SECS_INTO_DAY: i64 = 10 * 3600;
/// A failed scheduled run is tried again after an hour, not on every cron tick.
const RETRY_FAILED_AFTER_SECS: i64 = 3600;

/// The day the scheduled run should reconcile at `now`: yesterday, once its bills are out,
/// unless `previous` (yesterday's last run: done?, when) says it is done or failed recently.
pub fn scheduled_day(now: UnixTime, previous: Option<(bool, UnixTime)>) -> Option<CstDate> {
    let today = CstDate::of(now);
    if now.secs() - today.start().secs() < BILLS_READY_SECS_INTO_DAY {
        return None;
    }
    match previous {
        Some((true, _)) => None,
        Some((false, at)) if now.secs() - at.secs() < RETRY_FAILED_AFTER_SECS => None,
        _ => Some(today.previous()),
    }
}

/// Compares what reached (and left) the merchant's account with what our books expect.
/// `expected.settled` is what should have been paid out: the day's net when the account
/// settles daily.
pub fn reconcile_settlement(bill: &FundFlowBill, expected: FundMovements) -> SettlementReport {
    let platform = fund_movements(bill);
    let pairs = [
        (
            SettlementDifferenceKind::Payments,
            expected.payments,
            platform.payments,
        ),
        (SettlementDifferenceKind::Fees, expected.fees, platform.fees),
        (
            SettlementDifferenceKind::Refunds,
            expected.refunds,
            platform.refunds,
        ),
        (
            SettlementDifferenceKind::FeesReturned,
            expected.fees_returned,
            platform.fees_returned,
        ),
        (
            SettlementDifferenceKind::Settled,
            expected.settled,
            platform.settled,
        ),
    ];
    SettlementReport {
        platform,
        expected,
        differences: pairs
            .into_iter()
            .filter(|(_, ours, theirs)| ours != theirs)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bill::parse_trade_bill;

    const ALL: &str = include_str!("../tests/vectors/bills/trade-all.csv");

    fn day() -> CstDate {
        CstDate::parse("2026-11-23").unwrap()
    }

    fn at(t: &str) -> UnixTime {
        UnixTime::parse_rfc3339(t).unwrap()
    }

    fn order(no: &str, status: SessionStatus, fen: i64, paid_at: Option<&str>) -> BookedOrder {
        BookedOrder {
            out_trade_no: no.into(),
            status,
            amount: Fen::new(fen),
            transaction_id: paid_at.map(|_| format!("tx-{no}")),
            paid_at: paid_at.map(at),
        }
    }

    /// Order A of the fixture bill, paid in our books as on the bill.
    fn paid_a() -> BookedOrder {
        order(
            "WXC20261123A",
            SessionStatus::Paid,
            123_450,
            Some("2026-11-23T10:15:02+08:00"),
        )
    }

    fn refund(no: &str, order: &str, fen: i64, done: bool) -> BookedRefund {
        BookedRefund {
            out_refund_no: no.into(),
            out_trade_no: order.into(),
            amount: Fen::new(fen),
            order_amount: Fen::new(123_450),
            succeeded: done,
            succeeded_at: done.then(|| at("2026-11-23T22:05:20+08:00")),
        }
    }

    fn kinds(r: &TradeReconciliation) -> Vec<(DifferenceKind, &str)> {
        r.differences
            .iter()
            .map(|d| (d.kind, d.out_trade_no.as_str()))
            .collect()
    }

    #[test]
    fn matching_books_have_no_difference() {
        let bill = parse_trade_bill(ALL).unwrap();
        let orders = [
            paid_a(),
            order(
                "WXC20261123B",
                SessionStatus::Paid,
                1,
                Some("2026-11-23T21:40:59+08:00"),
            ),
        ];
        let refunds = [refund("RF20261123A", "WXC20261123A", 10_000, true)];
        let r = reconcile_trade_bill(day(), &bill, &orders, &refunds, 6000);
        assert_eq!(r.differences, []);
        assert_eq!(
            r.totals,
            DayTotals {
                payments: 2,
                paid: Fen::new(123_451),
                refunds: 1,
                refunded: Fen::new(10_000),
                fees: BillFee(681_000),
            }
        );
    }

    #[test]
    fn every_kind_of_difference_is_found_and_classified() {
        let bill = parse_trade_bill(ALL).unwrap();
        let orders = [
            // Open in our books but paid on the platform: the notification was lost.
            order("WXC20261123A", SessionStatus::Open, 123_450, None),
            // Another amount than the platform's.
            order(
                "WXC20261123B",
                SessionStatus::Paid,
                2,
                Some("2026-11-23T21:40:59+08:00"),
            ),
            // Paid in our books that day, not on the platform's bill.
            order(
                "WXC20261123Z",
                SessionStatus::Paid,
                500,
                Some("2026-11-23T12:00:00+08:00"),
            ),
            // Paid the day before: not this bill's business.
            order(
                "WXC20261122Y",
                SessionStatus::Paid,
                500,
                Some("2026-11-22T23:59:59+08:00"),
            ),
        ];
        // The platform's refund RF20261123A is not in our books; ours RF-LOCAL is not on the bill.
        let refunds = [refund("RF-LOCAL", "WXC20261123Z", 100, true)];
        // The bill charged 0.60%; the merchant agreed 0.38%.
        let r = reconcile_trade_bill(day(), &bill, &orders, &refunds, 3800);
        assert_eq!(
            kinds(&r),
            [
                (DifferenceKind::PaidNotBooked, "WXC20261123A"),
                (DifferenceKind::BookedNotPaid, "WXC20261123Z"),
                (DifferenceKind::AmountMismatch, "WXC20261123B"),
                (DifferenceKind::RefundNotBooked, "WXC20261123A"),
                (DifferenceKind::RefundNotOnPlatform, "WXC20261123Z"),
                (DifferenceKind::FeeMismatch, "WXC20261123A"),
            ]
        );
        let fee = &r.differences[5];
        // 1234.50 × 0.38% = 4.6911 → 4.69 expected; 7.41 charged.
        assert_eq!((fee.ours, fee.theirs), (Some(469_000), Some(741_000)));
        let amount = &r.differences[2];
        assert_eq!((amount.ours, amount.theirs), (Some(2), Some(1)));
        assert_eq!(
            r.differences[0].transaction_id.as_deref(),
            Some("4200002026112300000000000001")
        );
        let fixable: Vec<_> = r
            .differences
            .iter()
            .filter(|d| d.kind.resolution() == Resolution::FixByQuery)
            .collect();
        assert_eq!(fixable.len(), 1);
        assert_eq!(fixable[0].out_trade_no, "WXC20261123A");
    }

    #[test]
    fn closed_unknown_and_pending_refunds() {
        let bill = parse_trade_bill(ALL).unwrap();
        let orders = [order("WXC20261123A", SessionStatus::Closed, 123_450, None)];
        let refunds = [refund("RF20261123A", "WXC20261123A", 10_000, false)];
        let r = reconcile_trade_bill(day(), &bill, &orders, &refunds, 6000);
        assert_eq!(
            kinds(&r),
            [
                (DifferenceKind::PaidButClosed, "WXC20261123A"),
                (DifferenceKind::UnknownOrder, "WXC20261123B"),
                (DifferenceKind::RefundPendingInBooks, "WXC20261123A"),
            ]
        );
        assert!(r
            .differences
            .iter()
            .all(|d| d.kind.resolution() == Resolution::Flag));
    }

    #[test]
    fn yesterday_after_ten_once_and_failed_runs_hourly() {
        let ten = at("2026-11-24T10:00:00+08:00");
        assert_eq!(scheduled_day(ten.plus(-1), None), None);
        assert_eq!(scheduled_day(ten, None).unwrap().to_string(), "2026-11-23");
        assert_eq!(scheduled_day(ten, Some((true, ten))), None);
        assert_eq!(scheduled_day(ten.plus(3599), Some((false, ten))), None);
        assert_eq!(
            scheduled_day(ten.plus(3600), Some((false, ten))),
            Some(day())
        );
        // Just before midnight China time it is still the 24th: the 23rd is due.
        assert_eq!(
            scheduled_day(at("2026-11-24T23:59:59+08:00"), None),
            Some(day())
        );
    }

    #[test]
    fn what_our_books_expect_of_the_fund_flow() {
        let orders = [
            paid_a(),
            order(
                "WXC20261122Y",
                SessionStatus::Paid,
                500,
                Some("2026-11-22T23:59:59+08:00"),
            ),
            order("WXC20261123C", SessionStatus::Open, 700, None),
        ];
        let refunds = [refund("RF20261123A", "WXC20261123A", 10_000, true)];
        let m = expected_movements(day(), &orders, &refunds, 6000);
        assert_eq!(m.payments, Fen::new(123_450));
        assert_eq!(m.fees, Fen::new(741));
        assert_eq!(m.refunds, Fen::new(10_000));
        // 741 × 10000 / 123450 = 60.02… → 60.
        assert_eq!(m.fees_returned, Fen::new(60));
        assert_eq!(m.settled, Fen::new(123_450 - 741 - 10_000 + 60));
        let flow =
            crate::bill::parse_fund_flow_bill(include_str!("../tests/vectors/bills/fund-flow.csv"))
                .unwrap();
        assert_eq!(reconcile_settlement(&flow, m).differences, []);
    }

    #[test]
    fn settlement_against_the_fund_flow_bill() {
        let flow =
            crate::bill::parse_fund_flow_bill(include_str!("../tests/vectors/bills/fund-flow.csv"))
                .unwrap();
        let platform = fund_movements(&flow);
        assert_eq!(platform.payments, Fen::new(123_450));
        assert_eq!(platform.net(), Fen::new(112_769));
        assert_eq!(platform.settled, Fen::new(112_769));
        let expected = FundMovements {
            settled: platform.net(),
            ..platform
        };
        assert_eq!(reconcile_settlement(&flow, expected).differences, []);
        // Our books expected a lower fee (0.38%): the fee and what reached the bank differ.
        let cheaper = FundMovements {
            fees: Fen::new(469),
            settled: Fen::new(112_769 + 741 - 469),
            ..platform
        };
        let report = reconcile_settlement(&flow, cheaper);
        let kinds: Vec<_> = report.differences.iter().map(|d| d.0).collect();
        assert_eq!(
            kinds,
            [
                SettlementDifferenceKind::Fees,
                SettlementDifferenceKind::Settled
            ]
        );
        assert_eq!(report.differences[0].1, Fen::new(469));
        assert_eq!(report.differences[0].2, Fen::new(741));
    }
}
