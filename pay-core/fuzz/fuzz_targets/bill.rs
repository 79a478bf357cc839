//! Bills as downloaded: the SHA1 check, the trade bill and fund-flow parsers (header-driven,
//! any layout), and decimal amounts. Stage byte: 0 trade bill, 1 fund-flow bill, 2 decimal
//! parsing against exact integer arithmetic, 3 the SHA1 check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pay_core::bill::{checked_text, parse_decimal, parse_fund_flow_bill, parse_trade_bill};

fuzz_target!(|data: &[u8]| {
    let Some((&stage, data)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    match stage % 4 {
        0 => {
            if let Ok(bill) = parse_trade_bill(&text) {
                // Every line read has a row in the file: nothing is invented.
                assert!(bill.lines.len() <= text.lines().count());
            }
        }
        1 => {
            if let Ok(bill) = parse_fund_flow_bill(&text) {
                assert!(bill.lines.len() <= text.lines().count());
            }
        }
        2 => {
            for scale in 0..6u32 {
                if let Some(v) = parse_decimal(&text, scale) {
                    // Only `[-]digits[.digits]` parses, and its canonical form reads back the same.
                    let body = text.strip_prefix('-').unwrap_or(&text);
                    assert!(
                        body.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                        "{text:?}"
                    );
                    assert!(body.bytes().filter(|b| *b == b'.').count() <= 1, "{text:?}");
                    let unit = 10i64.pow(scale);
                    let canonical = format!(
                        "{}{}.{:0width$}",
                        if v < 0 { "-" } else { "" },
                        v.unsigned_abs() / unit as u64,
                        v.unsigned_abs() % unit as u64,
                        width = scale as usize
                    );
                    let canonical = canonical.trim_end_matches('.');
                    assert_eq!(
                        parse_decimal(canonical, scale),
                        Some(v),
                        "{text:?} → {canonical}"
                    );
                }
            }
        }
        _ => {
            let (sha1, file) = data.split_at(data.len().min(40));
            let _ = checked_text(file, &String::from_utf8_lossy(sha1));
        }
    }
});
