//! The day's bills: which one, where it is asked for, and gunzip on the runtime's own
//! `DecompressionStream` (native speed, and no inflate code in the Worker's wasm).

use pay_core::CstDate;

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillKind {
    /// The trade bill, every transaction and refund (`bill_type=ALL`).
    Trade,
    /// The fund-flow bill of the BASIC account: what moved the balance.
    FundFlow,
}

impl BillKind {
    /// Where the bill is asked for; a provider's trade bill is asked for one sub-merchant.
    pub fn location_path(self, day: CstDate, sub_mchid: Option<&str>) -> String {
        match self {
            BillKind::Trade => {
                let sub = sub_mchid.map_or(String::new(), |s| format!("&sub_mchid={s}"));
                format!("/v3/bill/tradebill?bill_date={day}{sub}&bill_type=ALL&tar_type=GZIP")
            }
            BillKind::FundFlow => {
                format!("/v3/bill/fundflowbill?bill_date={day}&account_type=BASIC&tar_type=GZIP")
            }
        }
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's `DecompressionStream` (web-sys has it only behind an unstable cfg).
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, wasm_bindgen::JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &DecompressionStream) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &DecompressionStream) -> web_sys::WritableStream;
}

/// A bill that does not read is WeChat Pay's data at fault, not the request.
pub fn unreadable(message: String) -> ApiError {
    ApiError::Upstream {
        signed: false,
        status: 502,
        code: "BILL_UNREADABLE".into(),
        message,
    }
}

pub async fn gunzip(gz: &[u8]) -> ApiResult<Vec<u8>> {
    use wasm_bindgen::JsCast;
    use web_sys::{Blob, ReadableWritablePair};
    let js = |e: wasm_bindgen::JsValue| {
        unreadable(format!(
            "the bill is not gzip: {}",
            e.as_string().unwrap_or_default()
        ))
    };
    let parts = worker::js_sys::Array::of1(&worker::js_sys::Uint8Array::from(gz));
    let blob = Blob::new_with_u8_array_sequence(&parts).map_err(js)?;
    let inflate = DecompressionStream::new("gzip").map_err(js)?;
    let pair = ReadableWritablePair::new(&inflate.readable(), &inflate.writable());
    let unpacked =
        web_sys::Response::new_with_opt_readable_stream(Some(&blob.stream().pipe_through(&pair)))
            .map_err(js)?;
    let buffer = wasm_bindgen_futures::JsFuture::from(unpacked.array_buffer().map_err(js)?)
        .await
        .map_err(js)?;
    Ok(worker::js_sys::Uint8Array::new(&buffer.unchecked_into()).to_vec())
}

#[cfg(test)]
mod tests {
    use super::BillKind;
    use pay_core::CstDate;

    #[test]
    fn bills_are_asked_for_gzipped_for_the_whole_day() {
        let day = CstDate::parse("2026-11-30").unwrap();
        assert_eq!(
            BillKind::Trade.location_path(day, None),
            "/v3/bill/tradebill?bill_date=2026-11-30&bill_type=ALL&tar_type=GZIP"
        );
        assert_eq!(
            BillKind::Trade.location_path(day, Some("1900000109")),
            "/v3/bill/tradebill?bill_date=2026-11-30&sub_mchid=1900000109&bill_type=ALL&tar_type=GZIP"
        );
        assert_eq!(
            BillKind::FundFlow.location_path(day, None),
            "/v3/bill/fundflowbill?bill_date=2026-11-30&account_type=BASIC&tar_type=GZIP"
        );
    }
}
