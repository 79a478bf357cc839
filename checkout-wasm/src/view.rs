//! What the widget shows in each state, as HTML: pure, so it is tested natively and in the
//! browser alike. Every state has the same frame (amount, description, a message that takes
//! focus, the countdown while payable, the actions as real buttons), so switching states
//! never moves the page around the widget.

pub use pay_core::html::escape;
use pay_core::Fen;

use crate::i18n::Text;
use crate::model::{countdown, Locale, Scene};

/// The widget's states, exposed as `data-state` on its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Loading,
    /// Native: the QR code to scan; the link is the sandbox cashier (test mode only).
    Scan {
        qr_svg: String,
        sandbox_link: Option<String>,
        notice: Option<Text>,
    },
    /// H5 and JSAPI: a button that opens WeChat Pay; `notice` says why we are back here.
    Ready {
        scene: Scene,
        notice: Option<Text>,
    },
    /// Between the payer's tap and WeChat Pay's sheet or page.
    Opening,
    /// Asking the server whether a payment arrived (after WeChat says it is done).
    Checking,
    Paid,
    Expired,
    Cancelled,
    /// A payment attempt failed; the payer may try again.
    Failed {
        message: String,
    },
    /// The session could not be loaded.
    Error {
        message: String,
    },
}

/// What every state shows around its content.
pub struct Frame<'a> {
    pub locale: Locale,
    /// `None` until the session is loaded.
    pub amount_fen: Option<i64>,
    pub description: &'a str,
    /// Seconds until the session expires, shown while it can be paid.
    pub remaining_secs: Option<i64>,
}

/// The buttons, by the action the widget takes when one is pressed (`data-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pay,
    Check,
    Cancel,
    Resume,
    Retry,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pay => "pay",
            Action::Check => "check",
            Action::Cancel => "cancel",
            Action::Resume => "resume",
            Action::Retry => "retry",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        [
            Action::Pay,
            Action::Check,
            Action::Cancel,
            Action::Resume,
            Action::Retry,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    fn label(self) -> Text {
        match self {
            Action::Pay => Text::PayWithWeChat,
            Action::Check => Text::IHavePaid,
            Action::Cancel => Text::Cancel,
            Action::Resume => Text::PayAgain,
            Action::Retry => Text::TryAgain,
        }
    }
}

impl View {
    pub fn state(&self) -> &'static str {
        match self {
            View::Loading => "loading",
            View::Scan { .. } => "scan",
            View::Ready { .. } => "ready",
            View::Opening => "opening",
            View::Checking => "checking",
            View::Paid => "paid",
            View::Expired => "expired",
            View::Cancelled => "cancelled",
            View::Failed { .. } => "failed",
            View::Error { .. } => "error",
        }
    }

    /// Whether the session can still be paid in this state (the countdown shows).
    pub fn payable(&self) -> bool {
        matches!(
            self,
            View::Scan { .. } | View::Ready { .. } | View::Opening | View::Checking
        )
    }

    fn message(&self) -> Text {
        match self {
            View::Loading => Text::Loading,
            View::Scan {
                notice: Some(notice),
                ..
            } => *notice,
            View::Scan { .. } => Text::ScanToPay,
            View::Ready {
                notice: Some(notice),
                ..
            } => *notice,
            View::Ready {
                scene: Scene::Jsapi,
                ..
            } => Text::ConfirmInWeChat,
            View::Ready { .. } => Text::RedirectToWeChat,
            View::Opening => Text::Opening,
            View::Checking => Text::Checking,
            View::Paid => Text::Paid,
            View::Expired => Text::Expired,
            View::Cancelled => Text::Cancelled,
            View::Failed { .. } => Text::Failed,
            View::Error { .. } => Text::CannotLoad,
        }
    }

    fn actions(&self) -> &'static [Action] {
        match self {
            View::Scan { .. } => &[Action::Check, Action::Cancel],
            View::Ready {
                notice: Some(Text::NotYetPaid),
                ..
            } => &[Action::Pay, Action::Check, Action::Cancel],
            View::Ready { .. } => &[Action::Pay, Action::Cancel],
            View::Cancelled => &[Action::Resume],
            View::Failed { .. } | View::Error { .. } => &[Action::Retry],
            _ => &[],
        }
    }

    /// What the aria-live region says when this state appears.
    pub fn announcement(&self, frame: &Frame) -> String {
        let mut text = frame.locale.text(self.message()).to_string();
        if let View::Failed { message } | View::Error { message } = self {
            text.push_str(": ");
            text.push_str(message);
        } else if let Some(fen) = frame.amount_fen.filter(|_| *self != View::Loading) {
            text.push(' ');
            text.push_str(&Fen::new(fen).display_cny());
        }
        text
    }

    pub fn html(&self, frame: &Frame) -> String {
        let t = |text| frame.locale.text(text);
        let mut html = String::with_capacity(1024);
        html.push_str("<div class=\"wx-head\">");
        if let Some(fen) = frame.amount_fen {
            push_element(
                &mut html,
                "p class=\"wx-amount\"",
                &Fen::new(fen).display_cny(),
            );
            push_element(&mut html, "p class=\"wx-desc\"", frame.description);
        }
        html.push_str("</div><div class=\"wx-main\">");
        if let View::Scan {
            qr_svg,
            sandbox_link,
            ..
        } = self
        {
            html.push_str("<div class=\"wx-qr\">");
            html.push_str(qr_svg);
            html.push_str("</div>");
            if let Some(href) = sandbox_link {
                html.push_str("<a class=\"wx-cashier\" target=\"_blank\" rel=\"opener\" href=\"");
                html.push_str(&escape(href));
                html.push_str("\">");
                html.push_str(&escape(t(Text::SandboxCashier)));
                html.push_str("</a>");
            }
        }
        let class = match self {
            View::Paid => "wx-msg wx-ok",
            View::Failed { .. } | View::Error { .. } => "wx-msg wx-bad",
            _ => "wx-msg",
        };
        html.push_str("<p class=\"");
        html.push_str(class);
        html.push_str("\" tabindex=\"-1\" data-focus>");
        html.push_str(&escape(t(self.message())));
        html.push_str("</p>");
        if let View::Failed { message } | View::Error { message } = self {
            push_element(&mut html, "p class=\"wx-detail\"", message);
        }
        html.push_str("</div>");
        if let Some(secs) = frame.remaining_secs.filter(|_| self.payable()) {
            html.push_str("<p class=\"wx-expiry\">");
            html.push_str(&escape(t(Text::ExpiresIn)));
            push_element(
                &mut html,
                "span class=\"wx-timer\" role=\"timer\"",
                &countdown(secs),
            );
            html.push_str("</p>");
        }
        html.push_str("<div class=\"wx-actions\">");
        for (i, action) in self.actions().iter().enumerate() {
            html.push_str("<button type=\"button\" class=\"");
            html.push_str(if i == 0 { "wx-primary" } else { "wx-secondary" });
            html.push_str("\" data-action=\"");
            html.push_str(action.name());
            html.push_str("\">");
            html.push_str(&escape(t(action.label())));
            html.push_str("</button>");
        }
        html.push_str("</div>");
        html
    }
}

/// `<tag attrs>text</tag>` with `text` escaped; `open` is the tag name and its attributes.
fn push_element(html: &mut String, open: &str, text: &str) {
    let name = open.split(' ').next().unwrap_or(open);
    html.push('<');
    html.push_str(open);
    html.push('>');
    html.push_str(&escape(text));
    html.push_str("</");
    html.push_str(name);
    html.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(locale: Locale) -> Frame<'static> {
        Frame {
            locale,
            amount_fen: Some(123_450),
            description: "<b>tea</b>",
            remaining_secs: Some(899),
        }
    }

    #[test]
    fn amounts_are_exact_from_fen_and_text_is_escaped() {
        let scan = View::Scan {
            qr_svg: "<svg/>".into(),
            sandbox_link: Some("http://127.0.0.1:8788/cashier?code_url=a&b".into()),
            notice: None,
        };
        let html = scan.html(&frame(Locale::En));
        assert!(
            html.contains("<p class=\"wx-amount\">¥1,234.50</p>"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;tea&lt;/b&gt;"));
        assert!(html.contains("href=\"http://127.0.0.1:8788/cashier?code_url=a&amp;b\""));
        assert!(html.contains("<svg/>"));
        assert!(html.contains("<span class=\"wx-timer\" role=\"timer\">14:59</span>"));
        assert!(html.contains("data-action=\"check\">I have paid</button>"));
        let cent = Frame {
            amount_fen: Some(1),
            ..frame(Locale::En)
        };
        assert!(View::Paid.html(&cent).contains("¥0.01"));
        assert_eq!(View::Paid.announcement(&cent), "Paid ¥0.01");
        let failed = View::Failed {
            message: "<x>".into(),
        };
        assert!(failed.html(&cent).contains("&lt;x&gt;"));
        assert_eq!(failed.announcement(&cent), "The payment failed: <x>");
    }

    #[test]
    fn chinese_when_asked() {
        let ready = View::Ready {
            scene: Scene::H5,
            notice: None,
        };
        let html = ready.html(&frame(Locale::ZhCn));
        assert!(html.contains("将打开微信完成支付"));
        assert!(html.contains(">微信支付</button>"));
        assert!(html.contains("剩余支付时间 <span"));
        assert_eq!(
            View::Paid.announcement(&frame(Locale::ZhCn)),
            "支付成功 ¥1,234.50"
        );
    }

    #[test]
    fn only_payable_states_count_down_and_every_state_has_a_focus_target() {
        let states = [
            View::Loading,
            View::Scan {
                qr_svg: String::new(),
                sandbox_link: None,
                notice: Some(Text::NotYetPaid),
            },
            View::Ready {
                scene: Scene::Jsapi,
                notice: Some(Text::NotYetPaid),
            },
            View::Opening,
            View::Checking,
            View::Paid,
            View::Expired,
            View::Cancelled,
            View::Failed {
                message: "x".into(),
            },
            View::Error {
                message: "x".into(),
            },
        ];
        for view in &states {
            let html = view.html(&frame(Locale::En));
            assert!(html.contains("tabindex=\"-1\" data-focus>"), "{view:?}");
            assert_eq!(html.contains("wx-timer"), view.payable(), "{view:?}");
            for action in view.actions() {
                assert_eq!(Action::parse(action.name()), Some(*action));
            }
        }
        let loading = Frame {
            amount_fen: None,
            ..frame(Locale::En)
        };
        assert!(!View::Loading.html(&loading).contains("wx-amount"));
        assert_eq!(View::Loading.announcement(&loading), "Loading…");
    }
}
