//! Writing bills as WeChat Pay serves them (the simulator's side).

use super::*;

/// Bills start with a UTF-8 byte-order mark.
const BOM: &str = "\u{feff}";

/// `2026-11-24 13:17:57` in China time, as bill times are written.
pub fn bill_time(t: UnixTime) -> String {
    t.to_rfc3339_cst()[..19].replacen('T', " ", 1)
}

fn csv_line<I: IntoIterator<Item = String>>(fields: I) -> String {
    let mut line = fields
        .into_iter()
        .map(|f| format!("`{}", f.replace(',', "，")))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn rate(ppm: i64) -> String {
    format!("{}.{:02}%", ppm / 10_000, (ppm % 10_000) / 100)
}

/// Writes an `ALL` trade bill: header, lines, summary header and summary values.
pub fn write_trade_bill(lines: &[TradeBillLine]) -> String {
    let mut out = String::from(BOM);
    out += &(TRADE_BILL_HEADER.join(",") + "\r\n");
    let total = |f: &dyn Fn(&TradeBillLine) -> i64| lines.iter().map(f).sum::<i64>();
    let refund_of = |l: &TradeBillLine| l.refund.as_ref().map_or(0, |r| r.amount.get());
    let order_of = |l: &TradeBillLine| l.order_amount.unwrap_or(l.settlement_amount).get();
    for l in lines {
        let refund = l.refund.as_ref();
        let text = |f: fn(&RefundLine) -> &str, none: &str| {
            refund.map_or(none.to_string(), |r| f(r).to_string())
        };
        let refunded = Fen::new(refund_of(l)).yuan();
        out += &csv_line([
            bill_time(l.time),
            l.appid.clone(),
            l.mchid.clone(),
            l.sub_mchid.clone().unwrap_or_else(|| "0".into()),
            String::new(),
            l.transaction_id.clone(),
            l.out_trade_no.clone(),
            l.openid.clone(),
            l.trade_type.clone(),
            l.trade_state.clone(),
            l.bank_type.clone(),
            "CNY".into(),
            l.settlement_amount.yuan(),
            l.coupon_amount.yuan(),
            text(|r| &r.refund_id, "0"),
            text(|r| &r.out_refund_no, "0"),
            refunded.clone(),
            "0.00".into(),
            refund.map_or(String::new(), |_| "ORIGINAL".into()),
            text(|r| &r.status, ""),
            l.description.clone(),
            String::new(),
            l.fee.yuan(),
            rate(l.fee_rate_ppm),
            Fen::new(order_of(l)).yuan(),
            refunded,
            String::new(),
        ]);
    }
    out += &(TRADE_BILL_SUMMARY_HEADER.join(",") + "\r\n");
    out += &csv_line([
        lines.len().to_string(),
        Fen::new(total(&|l| l.settlement_amount.get())).yuan(),
        Fen::new(total(&refund_of)).yuan(),
        "0.00".into(),
        BillFee(total(&|l| l.fee.0)).yuan(),
        Fen::new(total(&order_of)).yuan(),
        Fen::new(total(&refund_of)).yuan(),
    ]);
    out
}

/// Writes a fund-flow bill for one account.
pub fn write_fund_flow_bill(rows: &[FundFlowLine]) -> String {
    let mut out = String::from(BOM);
    out += &(FUND_FLOW_HEADER.join(",") + "\r\n");
    let (mut income_n, mut income, mut expense_n, mut expense) = (0, 0i64, 0, 0i64);
    for r in rows {
        let direction = if r.amount.get() >= 0 {
            income_n += 1;
            income += r.amount.get();
            "收入"
        } else {
            expense_n += 1;
            expense -= r.amount.get();
            "支出"
        };
        out += &csv_line([
            bill_time(r.time),
            r.business_id.clone(),
            r.flow_id.clone(),
            r.name.clone(),
            r.kind.clone(),
            direction.into(),
            Fen::new(r.amount.get().abs()).yuan(),
            r.balance.yuan(),
            "system".into(),
            r.remark.clone(),
            r.voucher.clone(),
        ]);
    }
    out += &(FUND_FLOW_SUMMARY_HEADER.join(",") + "\r\n");
    out += &csv_line([
        rows.len().to_string(),
        income_n.to_string(),
        Fen::new(income).yuan(),
        expense_n.to_string(),
        Fen::new(expense).yuan(),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment() -> TradeBillLine {
        TradeBillLine {
            time: UnixTime::parse_rfc3339("2026-11-24T13:00:00+08:00").unwrap(),
            appid: "wxd930ea5d5a258f4f".into(),
            mchid: "1230000109".into(),
            sub_mchid: None,
            transaction_id: "4200001".into(),
            out_trade_no: "CS1".into(),
            openid: "oSbx1".into(),
            trade_type: "NATIVE".into(),
            trade_state: "SUCCESS".into(),
            bank_type: "ICBC_DEBIT".into(),
            settlement_amount: Fen::new(1999),
            coupon_amount: Fen::new(0),
            refund: None,
            description: "Tea, green".into(),
            fee: BillFee(12_000),
            fee_rate_ppm: 6000,
            order_amount: Some(Fen::new(1999)),
        }
    }

    #[test]
    fn trade_bill_lines_and_summary_read_back() {
        let refund = TradeBillLine {
            trade_state: "REFUND".into(),
            settlement_amount: Fen::new(0),
            refund: Some(RefundLine {
                refund_id: "5030001".into(),
                out_refund_no: "R1".into(),
                amount: Fen::new(1000),
                status: "SUCCESS".into(),
            }),
            fee: BillFee(-6_000),
            order_amount: Some(Fen::new(0)),
            ..payment()
        };
        let bill = write_trade_bill(&[payment(), refund.clone()]);
        let lines: Vec<_> = bill.split("\r\n").collect();
        assert!(lines[0].starts_with("\u{feff}交易时间,"));
        assert_eq!(lines[0].split(',').count(), 27);
        assert!(bill.ends_with("`10.00\r\n"));
        assert_eq!(
            lines[1],
            "`2026-11-24 13:00:00,`wxd930ea5d5a258f4f,`1230000109,`0,`,`4200001,`CS1,`oSbx1,`NATIVE,`SUCCESS,`ICBC_DEBIT,`CNY,`19.99,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea， green,`,`0.12000,`0.60%,`19.99,`0.00,`"
        );
        assert!(
            lines[2].contains("`REFUND,")
                && lines[2].contains("`5030001,`R1,`10.00,")
                && lines[2].contains("`-0.06000,")
        );
        assert_eq!(lines[3], TRADE_BILL_SUMMARY_HEADER.join(","));
        assert_eq!(lines[4], "`2,`19.99,`10.00,`0.00,`0.06000,`19.99,`10.00");
        // What the simulator writes, reconciliation reads back (commas became full-width).
        let read = parse_trade_bill(&bill).unwrap();
        let written = TradeBillLine {
            description: "Tea， green".into(),
            ..payment()
        };
        assert_eq!(
            read.lines,
            [
                written.clone(),
                TradeBillLine {
                    description: written.description,
                    ..refund
                }
            ]
        );
    }

    #[test]
    fn a_providers_line_names_its_sub_merchant_and_reads_back() {
        let line = TradeBillLine {
            appid: "wxa0b1c2d3e4f5a6b7".into(),
            mchid: "1230000112".into(),
            sub_mchid: Some("1900000201".into()),
            description: "Tea".into(),
            ..payment()
        };
        let bill = write_trade_bill(std::slice::from_ref(&line));
        let row = bill.split("\r\n").nth(1).unwrap();
        assert!(
            row.starts_with("`2026-11-24 13:00:00,`wxa0b1c2d3e4f5a6b7,`1230000112,`1900000201,`,")
        );
        assert_eq!(parse_trade_bill(&bill).unwrap().lines, [line]);
    }

    #[test]
    fn fund_flow_bill_signs_and_totals() {
        let t = UnixTime(1_795_000_000);
        let row = |amount: i64, balance: i64, name: &str| FundFlowLine {
            time: t,
            business_id: "4200001".into(),
            flow_id: format!("F{amount}"),
            name: name.into(),
            kind: name.into(),
            amount: Fen::new(amount),
            balance: Fen::new(balance),
            remark: String::new(),
            voucher: String::new(),
        };
        let bill =
            write_fund_flow_bill(&[row(1999, 1999, "交易"), row(-12, 1987, "扣除交易手续费")]);
        let lines: Vec<_> = bill.split("\r\n").collect();
        assert!(lines[1].contains("`收入,`19.99,`19.99,"));
        assert!(lines[2].contains("`支出,`0.12,`19.87,"));
        assert_eq!(lines[4], "`2,`1,`19.99,`1,`0.12");
        assert_eq!(parse_fund_flow_bill(&bill).unwrap().expense, Fen::new(12));
    }
}
