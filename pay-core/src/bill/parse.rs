//! Reading bills. Columns are found by their names in the header rows (with the older names as
//! aliases), never by position: WeChat Pay has several layouts (ALL 27 columns, SUCCESS 20,
//! REFUND 29, the 2014 layout 24) and two summary layouts. Amounts are converted from yuan to
//! fen exactly, in integers; a line or summary that does not add up is refused.

use super::*;
use crate::Error;

/// A fee as bills write it: yuan with 5 decimals, so in thousandths of a fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct BillFee(pub i64);

impl BillFee {
    pub fn from_fen(fen: Fen) -> BillFee {
        BillFee(fen.get() * 1000)
    }

    /// `-1560` → `"-0.01560"`.
    pub fn yuan(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:05}", abs / 100_000, abs % 100_000)
    }
}

/// Which generation of the trade bill's columns a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeBillLayout {
    /// 应结订单金额, 代金券金额, 订单金额 … (since the coupon rework).
    Current,
    /// The 2014 layout: 总金额, 代金券或立减优惠金额 (or 企业红包金额), no 订单金额.
    Legacy,
}

/// One line of a trade bill: a payment (交易状态 SUCCESS or REVOKED) or a refund (REFUND). The
/// simulator writes these too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeBillLine {
    pub time: UnixTime,
    pub appid: String,
    pub mchid: String,
    /// 特约商户号: the sub-merchant in a service provider's bill (partner mode); a direct
    /// merchant's lines have none (written `0`).
    pub sub_mchid: Option<String>,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub openid: String,
    pub trade_type: String,
    pub trade_state: String,
    /// 付款银行: the payer's bank and card type (`ICBC_DEBIT`), or `OTHERS`.
    pub bank_type: String,
    /// 应结订单金额 (总金额 in the older layout); 0 on refund lines.
    pub settlement_amount: Fen,
    pub coupon_amount: Fen,
    /// Set on REFUND lines.
    pub refund: Option<RefundLine>,
    pub description: String,
    /// Negative on refund lines (the fee given back).
    pub fee: BillFee,
    pub fee_rate_ppm: i64,
    /// 订单金额; the older layout has none.
    pub order_amount: Option<Fen>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeBillSummary {
    pub count: u64,
    pub settlement_total: Fen,
    /// Absent from the SUCCESS bill's summary.
    pub refund_total: Option<Fen>,
    pub fee_total: BillFee,
    pub order_total: Option<Fen>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeBill {
    pub layout: TradeBillLayout,
    pub lines: Vec<TradeBillLine>,
    pub summary: TradeBillSummary,
}

/// One movement of a merchant account (the simulator writes these too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundFlowLine {
    pub time: UnixTime,
    /// 微信支付业务单号: the transaction, refund or settlement it belongs to.
    pub business_id: String,
    pub flow_id: String,
    pub name: String,
    /// 业务类型: 交易, 退款, 扣除交易手续费, 提现 …
    pub kind: String,
    /// Income positive (收入), expense negative (支出).
    pub amount: Fen,
    pub balance: Fen,
    pub remark: String,
    pub voucher: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundFlowBill {
    pub lines: Vec<FundFlowLine>,
    pub income: Fen,
    pub expense: Fen,
}

fn malformed(what: &'static str, reason: String) -> Error {
    Error::Malformed { what, reason }
}

/// The four parts of a bill file, split but not interpreted.
struct Table<'a> {
    columns: Vec<String>,
    rows: Vec<(usize, Vec<&'a str>)>,
    summary_columns: Vec<String>,
    summary: Vec<&'a str>,
}

impl<'a> Table<'a> {
    fn line(&self, what: &'static str, no: usize, row: &'a [&'a str]) -> Line<'a> {
        Line { what, no, row }
    }
}

/// Header names compared without spaces and with ASCII brackets: copies of the format differ.
fn column_name(raw: &str) -> String {
    raw.trim()
        .replace('（', "(")
        .replace('）', ")")
        .replace(' ', "")
}

/// A data line: every field starts with a back-tick and fields are joined by `,`+back-tick.
fn fields<'a>(what: &'static str, line_no: usize, line: &'a str) -> Result<Vec<&'a str>, Error> {
    let body = line.strip_prefix('`').ok_or_else(|| {
        malformed(
            what,
            format!("line {line_no} does not start with a back-tick"),
        )
    })?;
    Ok(body.split(",`").collect())
}

fn split_table<'a>(
    what: &'static str,
    text: &'a str,
    summary_first: &str,
) -> Result<Table<'a>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let (_, header) = lines
        .next()
        .filter(|(_, h)| !h.is_empty())
        .ok_or_else(|| malformed(what, "the file is empty".into()))?;
    let columns: Vec<String> = header.split(',').map(column_name).collect();
    let mut rows = Vec::new();
    let mut summary_columns = None;
    for (no, line) in lines.by_ref() {
        if line.starts_with(summary_first) {
            summary_columns = Some(line.split(',').map(column_name).collect::<Vec<_>>());
            break;
        }
        if line.is_empty() {
            continue;
        }
        let row = fields(what, no, line)?;
        if row.len() != columns.len() {
            return Err(malformed(
                what,
                format!(
                    "line {no} has {} fields where the header has {}",
                    row.len(),
                    columns.len()
                ),
            ));
        }
        rows.push((no, row));
    }
    let summary_columns = summary_columns
        .ok_or_else(|| malformed(what, format!("no summary ({summary_first}…) at the end")))?;
    let (no, summary_line) = lines
        .next()
        .ok_or_else(|| malformed(what, "the summary has no values".into()))?;
    let summary = fields(what, no, summary_line)?;
    if summary.len() != summary_columns.len() {
        return Err(malformed(
            what,
            "the summary's values do not match its header".into(),
        ));
    }
    if let Some((no, _)) = lines.find(|(_, l)| !l.is_empty()) {
        return Err(malformed(what, format!("line {no} follows the summary")));
    }
    Ok(Table {
        columns,
        rows,
        summary_columns,
        summary,
    })
}

/// Finds a column by any of its names.
fn column(columns: &[String], names: &[&str]) -> Option<usize> {
    columns.iter().position(|c| names.contains(&c.as_str()))
}

fn required(what: &'static str, columns: &[String], names: &[&str]) -> Result<usize, Error> {
    column(columns, names).ok_or_else(|| malformed(what, format!("no {} column", names[0])))
}

/// `"-1.56000"` with `scale` decimals kept → `-156000`: integers only, exact; digits past the
/// scale must be zeros (`"0.01000"` is 1 fen; `"0.015"` is not a fen amount).
pub fn parse_decimal(text: &str, scale: u32) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (kept, dropped) = fraction.split_at(fraction.len().min(scale as usize));
    if dropped.bytes().any(|b| b != b'0') {
        return None;
    }
    let mut value: i64 = whole.parse().ok()?;
    for i in 0..scale as usize {
        let digit = kept.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        value = value.checked_mul(10)?.checked_add(digit)?;
    }
    Some(if negative { -value } else { value })
}

/// A bill's time, `2026-11-24 13:17:57` in China time (the 2014 format's documentation even
/// has full-width colons).
fn bill_time_value(text: &str) -> Option<UnixTime> {
    let text = text.replace('：', ":");
    let (date, time) = text.split_once(' ')?;
    UnixTime::parse_rfc3339(&format!("{date}T{time}+08:00")).ok()
}

/// Reads the fields of one line by column.
struct Line<'a> {
    what: &'static str,
    no: usize,
    row: &'a [&'a str],
}

impl<'a> Line<'a> {
    fn text(&self, col: Option<usize>) -> String {
        col.and_then(|c| self.row.get(c))
            .map_or(String::new(), |s| s.to_string())
    }

    fn parsed<T>(
        &self,
        col: usize,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, Error> {
        let raw = self.row[col];
        parse(raw).ok_or_else(|| {
            malformed(
                self.what,
                format!("line {}: {name} {raw:?} does not read", self.no),
            )
        })
    }

    fn fen(&self, col: usize, name: &str) -> Result<Fen, Error> {
        self.parsed(col, name, |s| parse_decimal(s, 2).map(Fen::new))
    }

    fn fen_or_zero(&self, col: Option<usize>, name: &str) -> Result<Fen, Error> {
        col.map_or(Ok(Fen::new(0)), |c| self.fen(c, name))
    }
}

fn summary_value<T>(
    what: &'static str,
    table: &Table,
    names: &[&str],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, Error> {
    column(&table.summary_columns, names)
        .map(|c| {
            let raw = table.summary[c];
            parse(raw).ok_or_else(|| {
                malformed(what, format!("summary {}: {raw:?} does not read", names[0]))
            })
        })
        .transpose()
}

fn must_add_up(what: &'static str, name: &str, summary: i64, lines: i64) -> Result<(), Error> {
    if summary == lines {
        Ok(())
    } else {
        Err(malformed(
            what,
            format!("the summary's {name} is {summary} but the lines add up to {lines}"),
        ))
    }
}

/// Parses a trade bill of any layout; checks its summary against its lines.
pub fn parse_trade_bill(text: &str) -> Result<TradeBill, Error> {
    const WHAT: &str = "trade bill";
    let table = split_table(WHAT, text, "总交易单数")?;
    let c = &table.columns;
    let time = required(WHAT, c, &["交易时间"])?;
    let appid = column(c, &["公众账号ID"]);
    let mchid = column(c, &["商户号"]);
    let sub_mchid = column(c, &["特约商户号"]);
    let transaction_id = required(WHAT, c, &["微信订单号"])?;
    let out_trade_no = required(WHAT, c, &["商户订单号"])?;
    let openid = column(c, &["用户标识"]);
    let trade_type = column(c, &["交易类型"]);
    let bank_type = column(c, &["付款银行"]);
    let state = required(WHAT, c, &["交易状态"])?;
    let settlement = required(WHAT, c, &["应结订单金额", "总金额"])?;
    let coupon = column(c, &["代金券金额", "代金券或立减优惠金额", "企业红包金额"]);
    let refund_id = column(c, &["微信退款单号"]);
    let out_refund_no = column(c, &["商户退款单号"]);
    let refund_amount = column(c, &["退款金额"]);
    let refund_status = column(c, &["退款状态"]);
    let description = column(c, &["商品名称"]);
    let fee = required(WHAT, c, &["手续费"])?;
    let rate = required(WHAT, c, &["费率"])?;
    let order_amount = column(c, &["订单金额"]);
    let layout = if column(c, &["总金额"]).is_some() {
        TradeBillLayout::Legacy
    } else {
        TradeBillLayout::Current
    };
    let mut lines = Vec::with_capacity(table.rows.len());
    for (no, row) in &table.rows {
        let l = table.line(WHAT, *no, row);
        let trade_state = l.text(Some(state));
        let refund = if trade_state == "REFUND" {
            let (Some(id), Some(out_no), Some(amount)) = (refund_id, out_refund_no, refund_amount)
            else {
                return Err(malformed(
                    WHAT,
                    format!("line {no}: a refund in a bill without refund columns"),
                ));
            };
            Some(RefundLine {
                refund_id: l.text(Some(id)),
                out_refund_no: l.text(Some(out_no)),
                amount: l.fen(amount, "退款金额")?,
                status: l.text(refund_status),
            })
        } else {
            None
        };
        lines.push(TradeBillLine {
            time: l.parsed(time, "交易时间", bill_time_value)?,
            appid: l.text(appid),
            mchid: l.text(mchid),
            sub_mchid: Some(l.text(sub_mchid)).filter(|s| !s.is_empty() && s != "0"),
            transaction_id: l.text(Some(transaction_id)),
            out_trade_no: l.text(Some(out_trade_no)),
            openid: l.text(openid),
            trade_type: l.text(trade_type),
            trade_state,
            bank_type: l.text(bank_type),
            settlement_amount: l.fen(settlement, "应结订单金额")?,
            coupon_amount: l.fen_or_zero(coupon, "代金券金额")?,
            refund,
            description: l.text(description),
            fee: l.parsed(fee, "手续费", |s| parse_decimal(s, 5).map(BillFee))?,
            fee_rate_ppm: l.parsed(rate, "费率", |s| parse_decimal(s.strip_suffix('%')?, 4))?,
            order_amount: order_amount.map(|c| l.fen(c, "订单金额")).transpose()?,
        });
    }
    let fen = |s: &str| parse_decimal(s, 2).map(Fen::new);
    let summary = TradeBillSummary {
        count: summary_value(WHAT, &table, &["总交易单数"], |s| {
            parse_decimal(s, 0).and_then(|n| u64::try_from(n).ok())
        })?
        .ok_or_else(|| malformed(WHAT, "no 总交易单数".into()))?,
        settlement_total: summary_value(WHAT, &table, &["应结订单总金额", "总交易额"], fen)?
            .ok_or_else(|| malformed(WHAT, "no 应结订单总金额".into()))?,
        refund_total: summary_value(WHAT, &table, &["退款总金额", "总退款金额"], fen)?,
        fee_total: summary_value(WHAT, &table, &["手续费总金额"], |s| {
            parse_decimal(s, 5).map(BillFee)
        })?
        .ok_or_else(|| malformed(WHAT, "no 手续费总金额".into()))?,
        order_total: summary_value(WHAT, &table, &["订单总金额"], fen)?,
    };
    must_add_up(WHAT, "总交易单数", summary.count as i64, lines.len() as i64)?;
    let sum = |f: &dyn Fn(&TradeBillLine) -> i64| lines.iter().map(f).sum::<i64>();
    must_add_up(
        WHAT,
        "应结订单总金额",
        summary.settlement_total.get(),
        sum(&|l| l.settlement_amount.get()),
    )?;
    if let Some(total) = summary.refund_total {
        let refunds = sum(&|l| l.refund.as_ref().map_or(0, |r| r.amount.get()));
        must_add_up(WHAT, "退款总金额", total.get(), refunds)?;
    }
    must_add_up(WHAT, "手续费总金额", summary.fee_total.0, sum(&|l| l.fee.0))?;
    Ok(TradeBill {
        layout,
        lines,
        summary,
    })
}

/// Parses a fund-flow bill; checks its summary against its lines.
pub fn parse_fund_flow_bill(text: &str) -> Result<FundFlowBill, Error> {
    const WHAT: &str = "fund-flow bill";
    let table = split_table(WHAT, text, "资金流水总笔数")?;
    let c = &table.columns;
    let time = required(WHAT, c, &["记账时间"])?;
    let business_id = required(WHAT, c, &["微信支付业务单号"])?;
    let flow_id = column(c, &["资金流水单号"]);
    let name = column(c, &["业务名称"]);
    let kind = required(WHAT, c, &["业务类型"])?;
    let direction = required(WHAT, c, &["收支类型"])?;
    let amount = required(WHAT, c, &["收支金额(元)"])?;
    let balance = required(WHAT, c, &["账户结余(元)"])?;
    let remark = column(c, &["备注"]);
    let voucher = column(c, &["业务凭证号"]);
    let mut lines = Vec::with_capacity(table.rows.len());
    for (no, row) in &table.rows {
        let l = table.line(WHAT, *no, row);
        let magnitude = l.fen(amount, "收支金额")?;
        let signed = match row[direction] {
            "收入" => magnitude,
            "支出" => Fen::new(-magnitude.get()),
            other => {
                return Err(malformed(
                    WHAT,
                    format!("line {no}: 收支类型 {other:?} is neither 收入 nor 支出"),
                ))
            }
        };
        lines.push(FundFlowLine {
            time: l.parsed(time, "记账时间", bill_time_value)?,
            business_id: l.text(Some(business_id)),
            flow_id: l.text(flow_id),
            name: l.text(name),
            kind: l.text(Some(kind)),
            amount: signed,
            balance: l.fen(balance, "账户结余")?,
            remark: l.text(remark),
            voucher: l.text(voucher),
        });
    }
    let count = |s: &str| parse_decimal(s, 0);
    let fen = |s: &str| parse_decimal(s, 2);
    let value = |names: &[&str], parse: &dyn Fn(&str) -> Option<i64>| {
        summary_value(WHAT, &table, names, parse)?
            .ok_or_else(|| malformed(WHAT, format!("no {} in the summary", names[0])))
    };
    let income: i64 = lines
        .iter()
        .map(|l| l.amount.get())
        .filter(|a| *a >= 0)
        .sum();
    let expense: i64 = -lines
        .iter()
        .map(|l| l.amount.get())
        .filter(|a| *a < 0)
        .sum::<i64>();
    let incomes = lines.iter().filter(|l| l.amount.get() >= 0).count() as i64;
    must_add_up(
        WHAT,
        "资金流水总笔数",
        value(&["资金流水总笔数"], &count)?,
        lines.len() as i64,
    )?;
    must_add_up(WHAT, "收入笔数", value(&["收入笔数"], &count)?, incomes)?;
    must_add_up(WHAT, "收入金额", value(&["收入金额"], &fen)?, income)?;
    must_add_up(
        WHAT,
        "支出笔数",
        value(&["支出笔数"], &count)?,
        lines.len() as i64 - incomes,
    )?;
    must_add_up(WHAT, "支出金额", value(&["支出金额"], &fen)?, expense)?;
    Ok(FundFlowBill {
        lines,
        income: Fen::new(income),
        expense: Fen::new(expense),
    })
}
