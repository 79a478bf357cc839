//! WeChat Pay's bill files (对账单): the daily trade bill and the fund-flow bill, as CSV with a
//! header row, every value prefixed by a back-tick, amounts in yuan, and summary rows at the
//! end. The simulator writes them with these functions; reconciliation reads them.

use crate::{Fen, UnixTime};

/// The columns of an `ALL` trade bill, in order.
pub const TRADE_BILL_HEADER: [&str; 27] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];

pub const TRADE_BILL_SUMMARY_HEADER: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

pub const FUND_FLOW_HEADER: [&str; 11] = [
    "记账时间",
    "微信支付业务单号",
    "资金流水单号",
    "业务名称",
    "业务类型",
    "收支类型",
    "收支金额（元）",
    "账户结余（元）",
    "资金变更提交申请人",
    "备注",
    "业务凭证号",
];

pub const FUND_FLOW_SUMMARY_HEADER: [&str; 5] = [
    "资金流水总笔数",
    "收入笔数",
    "收入金额",
    "支出笔数",
    "支出金额",
];

/// One line of a trade bill: a payment, or a refund of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeBillRow {
    pub time: UnixTime,
    pub appid: String,
    pub mchid: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub openid: String,
    pub trade_type: String,
    pub bank_type: String,
    pub description: String,
    /// `None` for a payment line.
    pub refund: Option<RefundLine>,
    /// Positive for a payment, negative (the fee returned) for a refund.
    pub fee: Fen,
    pub fee_rate_ppm: i64,
    /// The order's amount (payment lines) — 0 on refund lines.
    pub order_amount: Fen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub refund_id: String,
    pub out_refund_no: String,
    pub amount: Fen,
    pub status: String,
}

/// One movement of a merchant account in a fund-flow bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundFlowRow {
    pub time: UnixTime,
    pub business_id: String,
    pub flow_id: String,
    pub name: String,
    pub kind: String,
    /// Positive: income (收入); negative: expense (支出).
    pub amount: Fen,
    pub balance: Fen,
    pub voucher: String,
}

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
pub fn write_trade_bill(rows: &[TradeBillRow]) -> String {
    let mut out = TRADE_BILL_HEADER.join(",") + "\r\n";
    let (mut settled, mut refunded, mut fees, mut ordered) =
        (Fen::new(0), Fen::new(0), Fen::new(0), Fen::new(0));
    for r in rows {
        let (state, refund_id, out_refund_no, refund_amount, refund_type, refund_status) =
            match &r.refund {
                None => (
                    "SUCCESS",
                    "0".to_string(),
                    "0".to_string(),
                    Fen::new(0),
                    String::new(),
                    String::new(),
                ),
                Some(l) => (
                    "REFUND",
                    l.refund_id.clone(),
                    l.out_refund_no.clone(),
                    l.amount,
                    "ORIGINAL".to_string(),
                    l.status.clone(),
                ),
            };
        settled = Fen::new(settled.get() + r.order_amount.get());
        refunded = Fen::new(refunded.get() + refund_amount.get());
        fees = Fen::new(fees.get() + r.fee.get());
        ordered = Fen::new(ordered.get() + r.order_amount.get());
        out += &csv_line([
            bill_time(r.time),
            r.appid.clone(),
            r.mchid.clone(),
            "0".into(),
            String::new(),
            r.transaction_id.clone(),
            r.out_trade_no.clone(),
            r.openid.clone(),
            r.trade_type.clone(),
            state.into(),
            r.bank_type.clone(),
            "CNY".into(),
            r.order_amount.yuan(),
            "0.00".into(),
            refund_id,
            out_refund_no,
            refund_amount.yuan(),
            "0.00".into(),
            refund_type,
            refund_status,
            r.description.clone(),
            String::new(),
            r.fee.yuan(),
            rate(r.fee_rate_ppm),
            r.order_amount.yuan(),
            refund_amount.yuan(),
            String::new(),
        ]);
    }
    out += &(TRADE_BILL_SUMMARY_HEADER.join(",") + "\r\n");
    out += &csv_line([
        rows.len().to_string(),
        settled.yuan(),
        refunded.yuan(),
        "0.00".into(),
        fees.yuan(),
        ordered.yuan(),
        refunded.yuan(),
    ]);
    out
}

/// Writes a fund-flow bill for one account.
pub fn write_fund_flow_bill(rows: &[FundFlowRow]) -> String {
    let mut out = FUND_FLOW_HEADER.join(",") + "\r\n";
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
            String::new(),
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

    fn payment() -> TradeBillRow {
        TradeBillRow {
            time: UnixTime::parse_rfc3339("2026-11-24T13:00:00+08:00").unwrap(),
            appid: "wxd930ea5d5a258f4f".into(),
            mchid: "1230000109".into(),
            transaction_id: "4200001".into(),
            out_trade_no: "CS1".into(),
            openid: "oSbx1".into(),
            trade_type: "NATIVE".into(),
            bank_type: "ICBC_DEBIT".into(),
            description: "Tea, green".into(),
            refund: None,
            fee: Fen::new(12),
            fee_rate_ppm: 6000,
            order_amount: Fen::new(1999),
        }
    }

    #[test]
    fn trade_bill_lines_and_summary() {
        let refund = TradeBillRow {
            refund: Some(RefundLine {
                refund_id: "5030001".into(),
                out_refund_no: "R1".into(),
                amount: Fen::new(1000),
                status: "SUCCESS".into(),
            }),
            fee: Fen::new(-6),
            order_amount: Fen::new(0),
            ..payment()
        };
        let bill = write_trade_bill(&[payment(), refund]);
        let lines: Vec<_> = bill.split("\r\n").collect();
        assert_eq!(lines[0].split(',').count(), 27);
        assert_eq!(
            lines[1],
            "`2026-11-24 13:00:00,`wxd930ea5d5a258f4f,`1230000109,`0,`,`4200001,`CS1,`oSbx1,`NATIVE,`SUCCESS,`ICBC_DEBIT,`CNY,`19.99,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea， green,`,`0.12,`0.60%,`19.99,`0.00,`"
        );
        assert!(
            lines[2].contains("`REFUND,")
                && lines[2].contains("`5030001,`R1,`10.00,")
                && lines[2].contains("`-0.06,")
        );
        assert_eq!(lines[3], TRADE_BILL_SUMMARY_HEADER.join(","));
        assert_eq!(lines[4], "`2,`19.99,`10.00,`0.00,`0.06,`19.99,`10.00");
    }

    #[test]
    fn fund_flow_bill_signs_and_totals() {
        let t = UnixTime(1_795_000_000);
        let row = |amount: i64, balance: i64, name: &str| FundFlowRow {
            time: t,
            business_id: "4200001".into(),
            flow_id: format!("F{amount}"),
            name: name.into(),
            kind: name.into(),
            amount: Fen::new(amount),
            balance: Fen::new(balance),
            voucher: String::new(),
        };
        let bill =
            write_fund_flow_bill(&[row(1999, 1999, "交易"), row(-12, 1987, "扣除交易手续费")]);
        let lines: Vec<_> = bill.split("\r\n").collect();
        assert!(lines[1].contains("`收入,`19.99,`19.99,"));
        assert!(lines[2].contains("`支出,`0.12,`19.87,"));
        assert_eq!(lines[4], "`2,`1,`19.99,`1,`0.12");
    }
}
