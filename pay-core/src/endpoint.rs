//! Which URLs the product may talk to or send a payer to: https, or plain http only to this
//! machine (the local simulator). Checked when a deployment's settings are read (so a
//! production deployment with a development base fails at once, with the setting named) and
//! by the widget before it sends a payer to WeChat Pay's H5 page.

/// The host of an `http://` or `https://` URL, without brackets or port; `None` for any other
/// scheme, a URL with user info (`user@host`), or no host.
fn host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

/// Whether `url` names this machine: `localhost`, 127.0.0.0/8 or `[::1]`. (Read by hand, not
/// with an address parser: the widget carries this too, and every byte of it is downloaded.)
pub fn is_loopback(url: &str) -> bool {
    let Some(host) = host(url) else {
        return false;
    };
    let octets: Vec<&str> = host.split('.').collect();
    let ipv4_loopback = octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok());
    host.eq_ignore_ascii_case("localhost") || host == "::1" || ipv4_loopback
}

/// Whether secrets may travel to `url` and a payer may be sent there: https to any host, or
/// http to this machine.
pub fn is_https_or_loopback(url: &str) -> bool {
    host(url).is_some() && (url.starts_with("https://") || is_loopback(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_to_this_machine() {
        for ok in [
            "https://api.mch.weixin.qq.com",
            "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1",
            "http://127.0.0.1:8788",
            "http://127.9.9.9/x",
            "http://localhost:8788/x",
            "http://[::1]:8788/x",
        ] {
            assert!(is_https_or_loopback(ok), "{ok}");
        }
        for bad in [
            "http://api.mch.weixin.qq.com",
            "http://127.0.0.1.evil.example/x",
            "http://user@127.0.0.1/x",
            "https://user@host.example/",
            "javascript:alert(1)",
            "data:text/html,x",
            "//evil.example/x",
            "ftp://127.0.0.1/",
            "https://",
            "HTTPS://api.mch.weixin.qq.com",
            "",
        ] {
            assert!(!is_https_or_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_is_this_machine_only() {
        assert!(is_loopback("http://127.0.0.1:8788"));
        assert!(is_loopback("https://localhost"));
        assert!(is_loopback("http://[::1]/"));
        assert!(!is_loopback("http://10.0.0.1"));
        assert!(!is_loopback("https://api.mch.weixin.qq.com"));
        assert!(!is_loopback("http://[::2]/"));
        assert!(!is_loopback("http://127.0.0.256/"));
        assert!(!is_loopback("http://127.0.0/"));
        assert!(!is_loopback("http://127.0.0.1.2/"));
    }
}
