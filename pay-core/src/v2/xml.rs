//! A deliberately small reader and writer for API v2 XML: one root element holding flat child
//! elements whose content is text or CDATA. No DTD, no entity definitions, no external
//! anything: only the five predefined entities and numeric references are expanded, so entity
//! expansion attacks (XXE, "billion laughs") have nothing to work with.

use super::Params;
use crate::Error;

fn bad(reason: impl Into<String>) -> Error {
    Error::Malformed {
        what: "v2 XML",
        reason: reason.into(),
    }
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, prefix: &str) -> bool {
        if self.rest().starts_with(prefix) {
            self.at += prefix.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, prefix: &str) -> Result<(), Error> {
        if self.eat(prefix) {
            Ok(())
        } else {
            Err(bad(format!("expected {prefix:?} at byte {}", self.at)))
        }
    }

    fn name(&mut self) -> Result<&'a str, Error> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_alphabetic()
                    || c == '_'
                    || (i > 0 && (c.is_ascii_digit() || c == '-' || c == '.')))
            })
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            return Err(bad(format!("expected an element name at byte {}", self.at)));
        }
        self.at += len;
        Ok(&rest[..len])
    }

    /// Text and CDATA up to the next `</`.
    fn content(&mut self) -> Result<String, Error> {
        let mut value = String::new();
        loop {
            let rest = self.rest();
            if rest.starts_with("</") {
                return Ok(value);
            }
            if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
                let end = cdata
                    .find("]]>")
                    .ok_or_else(|| bad("unterminated CDATA section"))?;
                value.push_str(&cdata[..end]);
                self.at += "<![CDATA[".len() + end + "]]>".len();
                continue;
            }
            let next = rest.find('<').ok_or_else(|| bad("unterminated element"))?;
            if next == 0 {
                return Err(bad(format!(
                    "nested element or markup at byte {}: v2 messages are flat",
                    self.at
                )));
            }
            value.push_str(&unescape(&rest[..next])?);
            self.at += next;
        }
    }
}

fn unescape(text: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp + 1..];
        let semi = tail.find(';').ok_or_else(|| bad("'&' without ';'"))?;
        let entity = &tail[..semi];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    return Err(bad(format!("entity &{entity}; is not allowed")));
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| bad(format!("bad character reference &{entity};")))?
            }
        };
        out.push(c);
        rest = &tail[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses `<xml><name>value</name>…</xml>` (any root name) into a parameter map.
pub fn parse(xml: &str) -> Result<Params, Error> {
    let mut c = Cursor {
        text: xml.trim_start_matches('\u{feff}'),
        at: 0,
    };
    c.skip_whitespace();
    if c.eat("<?xml") {
        let end = c
            .rest()
            .find("?>")
            .ok_or_else(|| bad("unterminated XML declaration"))?;
        c.at += end + 2;
        c.skip_whitespace();
    }
    if c.rest().starts_with("<!") || c.rest().starts_with("<?") {
        return Err(bad(
            "DOCTYPE, comments and processing instructions are not accepted",
        ));
    }
    c.expect("<")?;
    let root = c.name()?;
    c.skip_whitespace();
    let mut params = Params::new();
    if c.eat("/>") {
        return finish(c, params);
    }
    c.expect(">")?;
    loop {
        c.skip_whitespace();
        if c.eat("</") {
            if c.name()? != root {
                return Err(bad("mismatched root end tag"));
            }
            c.skip_whitespace();
            c.expect(">")?;
            return finish(c, params);
        }
        if c.rest().starts_with("<!") || c.rest().starts_with("<?") {
            return Err(bad(
                "DOCTYPE, comments and processing instructions are not accepted",
            ));
        }
        c.expect("<")?;
        let name = c.name()?;
        c.skip_whitespace();
        let value = if c.eat("/>") {
            String::new()
        } else {
            c.expect(">")?;
            let value = c.content()?;
            c.expect("</")?;
            if c.name()? != name {
                return Err(bad(format!("<{name}> is closed by another tag")));
            }
            c.skip_whitespace();
            c.expect(">")?;
            value
        };
        if params.insert(name.to_string(), value).is_some() {
            return Err(bad(format!("<{name}> appears twice")));
        }
    }
}

fn finish(mut c: Cursor<'_>, params: Params) -> Result<Params, Error> {
    c.skip_whitespace();
    if c.rest().is_empty() {
        Ok(params)
    } else {
        Err(bad("content after the root element"))
    }
}

/// Writes `<xml>` with every value in CDATA (a `]]>` inside a value is split safely).
pub fn to_xml(params: &Params) -> String {
    let mut out = String::from("<xml>");
    for (k, v) in params {
        out.push_str(&format!(
            "<{k}><![CDATA[{}]]></{k}>",
            v.replace("]]>", "]]]]><![CDATA[>")
        ));
    }
    out.push_str("</xml>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFY: &str = r#"<xml>
<appid><![CDATA[wx2421b1c4370ec43b]]></appid>
<attach><![CDATA[支付测试]]></attach>
<bank_type><![CDATA[CFT]]></bank_type>
<mch_id><![CDATA[10000100]]></mch_id>
<out_trade_no><![CDATA[1409811653]]></out_trade_no>
<result_code><![CDATA[SUCCESS]]></result_code>
<return_code><![CDATA[SUCCESS]]></return_code>
<total_fee>1</total_fee>
<coupon_fee_0><![CDATA[10]]></coupon_fee_0>
<is_subscribe/>
</xml>"#;

    #[test]
    fn parses_a_payment_notification() {
        let p = parse(NOTIFY).unwrap();
        assert_eq!(p["attach"], "支付测试");
        assert_eq!(p["total_fee"], "1");
        assert_eq!(p["is_subscribe"], "");
        assert_eq!(p.len(), 10);
    }

    #[test]
    fn expands_only_predefined_and_numeric_entities() {
        let p = parse("<?xml version=\"1.0\"?><xml><a>x &lt;&amp;&gt; &#20013;&#x6587;</a><b><![CDATA[&lt;raw]]>&amp;</b></xml>").unwrap();
        assert_eq!(p["a"], "x <&> 中文");
        assert_eq!(p["b"], "&lt;raw&");
    }

    #[test]
    fn refuses_dtds_entities_and_structure_it_does_not_expect() {
        for bad in [
            "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><a>&x;</a></xml>",
            "<xml><a>&x;</a></xml>",
            "<xml><a><b>1</b></a></xml>",
            "<xml><a>1</a><a>2</a></xml>",
            "<xml><a>1</b></xml>",
            "<xml><a>1</a>",
            "<xml><a>1</a></xml><xml/>",
            "<xml><!-- c --><a>1</a></xml>",
            "<xml><a><![CDATA[1</a></xml>",
            "<xml><a>&#xD800;</a></xml>",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_what_it_reads() {
        let mut p = Params::new();
        p.insert("return_code".into(), "SUCCESS".into());
        p.insert("tricky".into(), "a]]>b<c>&".into());
        assert_eq!(parse(&to_xml(&p)).unwrap(), p);
        assert_eq!(
            parse(crate::v2::SUCCESS_REPLY).unwrap()["return_code"],
            "SUCCESS"
        );
    }
}
