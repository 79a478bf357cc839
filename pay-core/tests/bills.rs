//! The bill parser against fixtures in each real layout (tests/vectors/bills), the writer
//! read back, and bills that do not add up.

use pay_core::bill::*;
use pay_core::{Fen, UnixTime};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/vectors/bills/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn cst(text: &str) -> UnixTime {
    UnixTime::parse_rfc3339(text).unwrap()
}

#[test]
fn all_layout_lines_refunds_and_summary() {
    let bill = parse_trade_bill(&fixture("trade-all.csv")).unwrap();
    assert_eq!(bill.layout, TradeBillLayout::Current);
    assert_eq!(bill.lines.len(), 3);
    let p1 = &bill.lines[0];
    assert_eq!(p1.time, cst("2026-11-23T10:15:02+08:00"));
    assert_eq!(p1.out_trade_no, "WXC20261123A");
    assert_eq!(p1.transaction_id, "4200002026112300000000000001");
    assert_eq!(p1.trade_state, "SUCCESS");
    assert_eq!(p1.settlement_amount, Fen::new(123_450));
    assert_eq!(p1.fee, BillFee(741_000));
    assert_eq!(p1.fee_rate_ppm, 6000);
    assert_eq!(p1.order_amount, Some(Fen::new(123_450)));
    assert_eq!(p1.description, "龙井茶 礼盒");
    assert!(p1.refund.is_none());
    assert_eq!(bill.lines[1].settlement_amount, Fen::new(1));
    let r1 = &bill.lines[2];
    assert_eq!(r1.trade_state, "REFUND");
    assert_eq!(r1.settlement_amount, Fen::new(0));
    assert_eq!(r1.fee, BillFee(-60_000));
    assert_eq!(
        r1.refund,
        Some(RefundLine {
            refund_id: "50300002026112300000000000001".into(),
            out_refund_no: "RF20261123A".into(),
            amount: Fen::new(10_000),
            status: "SUCCESS".into(),
        })
    );
    assert_eq!(
        bill.summary,
        TradeBillSummary {
            count: 3,
            settlement_total: Fen::new(123_451),
            refund_total: Some(Fen::new(10_000)),
            fee_total: BillFee(681_000),
            order_total: Some(Fen::new(123_451)),
        }
    );
}

#[test]
fn refund_and_success_layouts() {
    let refunds = parse_trade_bill(&fixture("trade-refund.csv")).unwrap();
    assert_eq!(refunds.lines.len(), 1);
    assert_eq!(
        refunds.lines[0].refund.as_ref().unwrap().amount,
        Fen::new(10_000)
    );
    assert_eq!(refunds.lines[0].time, cst("2026-11-23T22:05:13+08:00"));
    let success = parse_trade_bill(&fixture("trade-success.csv")).unwrap();
    assert_eq!(success.lines.len(), 2);
    assert_eq!(success.summary.refund_total, None);
    assert_eq!(success.summary.settlement_total, Fen::new(123_451));
    assert_eq!(success.lines[1].description, "Mooncake");
}

#[test]
fn legacy_layout_of_2014() {
    let bill = parse_trade_bill(&fixture("trade-legacy.csv")).unwrap();
    assert_eq!(bill.layout, TradeBillLayout::Legacy);
    assert_eq!(bill.lines.len(), 2);
    let pay = &bill.lines[0];
    // Full-width colons in the time, as the official example writes it.
    assert_eq!(pay.time, cst("2014-11-10T16:33:45+08:00"));
    assert_eq!(pay.settlement_amount, Fen::new(1));
    assert_eq!(pay.trade_type, "MICROPAY");
    assert_eq!(pay.order_amount, None);
    assert_eq!(pay.fee, BillFee(0));
    assert_eq!(bill.lines[1].refund.as_ref().unwrap().amount, Fen::new(1));
    assert_eq!(bill.summary.count, 2);
    assert_eq!(bill.summary.refund_total, Some(Fen::new(1)));
    assert_eq!(bill.summary.order_total, None);
}

#[test]
fn fund_flow_income_expense_and_settlement() {
    let bill = parse_fund_flow_bill(&fixture("fund-flow.csv")).unwrap();
    let kinds: Vec<(&str, i64)> = bill
        .lines
        .iter()
        .map(|l| (l.kind.as_str(), l.amount.get()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("交易", 123_450),
            ("扣除交易手续费", -741),
            ("退款", -10_000),
            ("退回交易手续费", 60),
            ("提现", -112_769),
        ]
    );
    assert_eq!(bill.lines[4].balance, Fen::new(0));
    assert_eq!(bill.income, Fen::new(123_510));
    assert_eq!(bill.expense, Fen::new(123_510));
}

#[test]
fn bills_that_do_not_add_up_or_do_not_read_are_refused() {
    let all = fixture("trade-all.csv");
    let code = |text: &str| match parse_trade_bill(text) {
        Err(pay_core::Error::Malformed { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // A summary that does not match the lines.
    assert!(code(&all.replace("`1234.51,`100.00", "`1234.52,`100.00")).contains("应结订单总金额"));
    assert!(code(&all.replace("`3,`1234.51", "`4,`1234.51")).contains("总交易单数"));
    assert!(code(&all.replace("`6.81000", "`6.82000")).contains("手续费总金额"));
    // An amount that is not a whole fen, a line missing a field, no summary.
    assert!(code(&all.replace("`0.01,`0.00,`0,", "`0.015,`0.00,`0,")).contains("应结订单金额"));
    assert!(code(&all.replace(",`order=42", "")).contains("fields where the header has 27"));
    let cut = all.split("总交易单数").next().unwrap();
    assert!(code(cut).contains("no summary"));
    assert!(code("").contains("empty"));
}

#[test]
fn decimals_are_exact_integers() {
    assert_eq!(parse_decimal("1234.50", 2), Some(123_450));
    assert_eq!(parse_decimal("0.1", 2), Some(10));
    assert_eq!(parse_decimal("7", 2), Some(700));
    assert_eq!(parse_decimal("-1.56000", 5), Some(-156_000));
    assert_eq!(parse_decimal("0.01000", 2), Some(1));
    assert_eq!(parse_decimal("45.0", 0), Some(45));
    assert_eq!(parse_decimal("0.015", 2), None);
    assert_eq!(parse_decimal("1e3", 2), None);
    assert_eq!(parse_decimal("", 2), None);
    assert_eq!(parse_decimal(".5", 2), None);
    assert_eq!(parse_decimal("99999999999999999999", 2), None);
    assert_eq!(BillFee(-600).yuan(), "-0.00600");
}

#[test]
fn a_download_is_checked_against_its_sha1() {
    let csv = fixture("trade-all.csv");
    // SHA1 of the uncompressed file, BOM and CRLFs included (as `sha1sum trade-all.csv`).
    let sha1 = pay_core::to_hex(&<sha1::Sha1 as sha1::Digest>::digest(csv.as_bytes()));
    assert_eq!(checked_text(csv.as_bytes(), &sha1).unwrap(), csv);
    assert_eq!(
        checked_text(csv.as_bytes(), &sha1.to_uppercase()).unwrap(),
        csv
    );
    let damaged = csv.replace("`1234.50", "`1234.60");
    assert!(matches!(
        checked_text(damaged.as_bytes(), &sha1),
        Err(pay_core::Error::BillHash { .. })
    ));
    let not_utf8 = [0xff, 0xfe];
    let hash = pay_core::to_hex(&<sha1::Sha1 as sha1::Digest>::digest(not_utf8));
    assert!(matches!(
        checked_text(&not_utf8, &hash),
        Err(pay_core::Error::Malformed { .. })
    ));
}
