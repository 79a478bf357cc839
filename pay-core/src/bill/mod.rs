//! WeChat Pay's bill files (对账单): the daily trade bill and the fund-flow bill. UTF-8 with a
//! BOM, CRLF line ends, a header row, every value prefixed by a back-tick, amounts in yuan
//! (手续费 with 5 decimals), and a summary header and row at the end. The simulator writes them
//! (`write`); reconciliation reads them (`parse`), driven by the header rows so that the older
//! 24-column layout and the SUCCESS/REFUND layouts read as well.

pub mod encrypted;
mod parse;
mod write;

pub use parse::*;
pub use write::*;

use sha1::{Digest, Sha1};

/// A downloaded bill file (already gunzipped when it was asked for as gzip) as text, checked
/// against the SHA1 WeChat Pay gave with its `download_url`, which is of the uncompressed file
/// ("原始账单（gzip需要解压缩）的摘要值"). A file that does not match is refused.
pub fn checked_text(file: &[u8], sha1_hex: &str) -> Result<String, crate::Error> {
    let actual = crate::to_hex(&Sha1::digest(file));
    if !actual.eq_ignore_ascii_case(sha1_hex) {
        return Err(crate::Error::BillHash {
            expected: sha1_hex.to_string(),
            actual,
        });
    }
    String::from_utf8(file.to_vec()).map_err(|_| crate::Error::Malformed {
        what: "bill file",
        reason: "not UTF-8".into(),
    })
}

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

/// The refund a REFUND line of a trade bill describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub refund_id: String,
    pub out_refund_no: String,
    pub amount: Fen,
    pub status: String,
}
