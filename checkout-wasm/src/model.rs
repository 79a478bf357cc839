//! The widget's decisions, with no browser in them: which scene to use, which language to
//! speak, what a session's status means for the payer, how long to wait between polls.

/// How the payer pays (WeChat Pay's trade types) and a session's status: pay-core's types, the
/// same the Worker answers with.
pub use pay_core::checkout::SessionStatus as Status;
pub use pay_core::requests::Scene;

/// The scene for this browser: WeChat's in-app browser says `MicroMessenger`; phones and
/// tablets say one of the others. Everything else is a desktop, where the payer scans a code.
pub fn scene_for_user_agent(user_agent: &str) -> Scene {
    const MOBILE: [&str; 6] = ["Mobi", "Android", "iPhone", "iPad", "iPod", "HarmonyOS"];
    if user_agent.contains("MicroMessenger") {
        Scene::Jsapi
    } else if MOBILE.iter().any(|m| user_agent.contains(m)) {
        Scene::H5
    } else {
        Scene::Native
    }
}

/// The languages the widget speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    ZhCn,
    En,
}

impl Locale {
    /// Any Chinese (`zh`, `zh-CN`, `zh-Hans-CN`, `zh-TW`) gets Chinese; the rest English.
    pub fn from_tag(tag: &str) -> Locale {
        let tag = tag.trim().to_ascii_lowercase();
        if tag == "zh" || tag.starts_with("zh-") || tag.starts_with("zh_") {
            Locale::ZhCn
        } else {
            Locale::En
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }
}

/// The session as the widget API shows it to the payer's browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub amount_fen: i64,
    pub description: String,
    pub status: Status,
    /// The scene the session is being paid in, once a pay call fixed it.
    pub scene: Option<Scene>,
    /// Whether the Worker knows the payer's openid (the JSAPI scene needs it).
    pub payer_known: bool,
    pub expires_at: i64,
    pub server_time: i64,
    pub return_url: Option<String>,
}

/// What a session's status means for the payer now. Only the server's word makes "paid".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Paid,
    /// Closed: by the merchant, or by the Worker at its expiry. Nothing can be paid any more.
    Expired,
    /// Still open in the books but past its expiry: the Worker should close it (at WeChat Pay
    /// first, which may say it was paid at the last second) before the payer hears "expired".
    Due,
    Open,
}

impl Session {
    pub fn verdict(&self) -> Verdict {
        match self.status {
            Status::Paid => Verdict::Paid,
            Status::Closed => Verdict::Expired,
            Status::Open if self.server_time >= self.expires_at => Verdict::Due,
            Status::Open => Verdict::Open,
        }
    }

    /// The scene to pay in: the one the session is locked to, else the merchant's choice,
    /// else what the browser is.
    pub fn scene(&self, forced: Option<Scene>, user_agent: &str) -> Scene {
        self.scene
            .or(forced)
            .unwrap_or_else(|| scene_for_user_agent(user_agent))
    }
}

/// The time left, as the payer reads it: `14:59`, `1:02:03`; never negative.
pub fn countdown(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// Poll intervals: quick at first, when a payment is most likely to land, then slower.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    next_ms: i32,
}

impl Backoff {
    pub const FIRST_MS: i32 = 1000;
    pub const MAX_MS: i32 = 8000;

    pub fn new() -> Backoff {
        Backoff {
            next_ms: Self::FIRST_MS,
        }
    }

    /// The wait before the next poll; each call waits half as long again, up to the maximum.
    pub fn next_delay(&mut self) -> i32 {
        let now = self.next_ms;
        self.next_ms = (now + now / 2).min(Self::MAX_MS);
        now
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// An `h5_url` is valid for 5 minutes at WeChat Pay; past 4 the widget asks for a fresh one
/// (the Worker hands out the same URL until then), so a payer never lands on a dead link.
const H5_URL_FRESH_MS: f64 = 4.0 * 60.0 * 1000.0;

/// Whether an `h5_url` handed out at `handed_out_ms` may still be used at `now_ms`.
pub fn h5_url_fresh(handed_out_ms: f64, now_ms: f64) -> bool {
    now_ms - handed_out_ms < H5_URL_FRESH_MS
}

/// Whether the widget may send the payer to `url`: https only, or http on this machine (the
/// local simulator). Anything else (`javascript:`, `data:`, plain http) is refused.
pub fn may_send_payer_to(url: &str) -> bool {
    pay_core::endpoint::is_https_or_loopback(url)
}

/// The `h5_url` with WeChat Pay's `redirect_url` parameter: where WeChat sends the payer
/// back, paid or not.
pub fn h5_url_with_return(h5_url: &str, return_url: &str) -> String {
    let joiner = if h5_url.contains('?') { '&' } else { '?' };
    format!(
        "{h5_url}{joiner}redirect_url={}",
        encode_uri_component(return_url)
    )
}

/// `encodeURIComponent`: UTF-8 percent-encoding of all but the unreserved marks.
pub fn encode_uri_component(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPHONE_SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";
    const WECHAT_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003237) NetType/WIFI Language/zh_CN";
    const DESKTOP_CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";

    fn session(status: Status, server_time: i64) -> Session {
        Session {
            id: "cs_1".into(),
            amount_fen: 1999,
            description: "Tea".into(),
            status,
            scene: None,
            payer_known: false,
            expires_at: 1000,
            server_time,
            return_url: None,
        }
    }

    #[test]
    fn scene_follows_the_browser_unless_locked_or_forced() {
        assert_eq!(scene_for_user_agent(WECHAT_ANDROID), Scene::Jsapi);
        assert_eq!(scene_for_user_agent(IPHONE_SAFARI), Scene::H5);
        assert_eq!(scene_for_user_agent(DESKTOP_CHROME), Scene::Native);
        assert_eq!(scene_for_user_agent(""), Scene::Native);
        let mut s = session(Status::Open, 0);
        assert_eq!(s.scene(None, IPHONE_SAFARI), Scene::H5);
        assert_eq!(s.scene(Some(Scene::Native), IPHONE_SAFARI), Scene::Native);
        s.scene = Some(Scene::Jsapi);
        assert_eq!(s.scene(Some(Scene::Native), DESKTOP_CHROME), Scene::Jsapi);
        for scene in [Scene::Native, Scene::H5, Scene::Jsapi] {
            assert_eq!(Scene::parse(scene.as_str()), Some(scene));
        }
        assert_eq!(Scene::parse("app"), None);
    }

    #[test]
    fn locale_from_language_tags() {
        for zh in ["zh", "zh-CN", "zh-Hans-CN", "ZH-tw", "zh_CN"] {
            assert_eq!(Locale::from_tag(zh), Locale::ZhCn, "{zh}");
        }
        for en in ["en", "en-US", "de", "", "zha"] {
            assert_eq!(Locale::from_tag(en), Locale::En, "{en}");
        }
    }

    #[test]
    fn only_the_server_status_makes_paid_and_expiry_is_the_servers_clock() {
        assert_eq!(session(Status::Paid, 5000).verdict(), Verdict::Paid);
        assert_eq!(session(Status::Closed, 0).verdict(), Verdict::Expired);
        assert_eq!(session(Status::Open, 999).verdict(), Verdict::Open);
        assert_eq!(session(Status::Open, 1000).verdict(), Verdict::Due);
    }

    #[test]
    fn countdown_reads_like_a_clock() {
        assert_eq!(countdown(0), "00:00");
        assert_eq!(countdown(-5), "00:00");
        assert_eq!(countdown(59), "00:59");
        assert_eq!(countdown(899), "14:59");
        assert_eq!(countdown(3723), "1:02:03");
    }

    #[test]
    fn backoff_grows_to_its_cap() {
        let mut b = Backoff::new();
        let waits: Vec<i32> = (0..8).map(|_| b.next_delay()).collect();
        assert_eq!(waits, [1000, 1500, 2250, 3375, 5062, 7593, 8000, 8000]);
    }

    #[test]
    fn the_payer_is_sent_to_an_h5_url_over_https_only_loopback_aside() {
        assert!(may_send_payer_to(
            "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1"
        ));
        assert!(may_send_payer_to(
            "http://127.0.0.1:8788/cgi-bin/mmpayweb-bin/checkmweb"
        ));
        for bad in [
            "http://wx.tenpay.com/x",
            "javascript:alert(1)",
            "data:text/html,x",
            "",
        ] {
            assert!(!may_send_payer_to(bad), "{bad}");
        }
    }

    #[test]
    fn an_h5_url_is_replaced_before_wechat_pay_drops_it() {
        let t = 1_700_000_000_000.0;
        assert!(h5_url_fresh(t, t));
        assert!(h5_url_fresh(t, t + 239_999.0));
        assert!(!h5_url_fresh(t, t + 240_000.0));
        assert!(!h5_url_fresh(t, t + 5.0 * 60_000.0));
    }

    #[test]
    fn redirect_url_is_appended_encoded() {
        assert_eq!(
            h5_url_with_return(
                "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=2",
                "https://shop.example/pay?order=7&lang=zh 中"
            ),
            "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=2\
             &redirect_url=https%3A%2F%2Fshop.example%2Fpay%3Forder%3D7%26lang%3Dzh%20%E4%B8%AD"
        );
        assert_eq!(
            h5_url_with_return("https://a/b", "x"),
            "https://a/b?redirect_url=x"
        );
        assert_eq!(encode_uri_component("a-_.!~*'()Z9"), "a-_.!~*'()Z9");
    }
}
