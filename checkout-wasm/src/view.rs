//! What the widget shows for each state, as HTML strings: pure, so it is tested natively
//! and in the browser alike.

/// The widget's states, as shown to the payer and exposed as `data-state` on the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Loading,
    /// Waiting for the payer to scan `code_url`; the link is the sandbox cashier (test mode only).
    Scan {
        amount: String,
        description: String,
        qr_svg: String,
        sandbox_link: Option<String>,
    },
    Paid {
        amount: String,
    },
    Closed,
    Error {
        message: String,
    },
}

impl View {
    pub fn state(&self) -> &'static str {
        match self {
            View::Loading => "loading",
            View::Scan { .. } => "scan",
            View::Paid { .. } => "paid",
            View::Closed => "closed",
            View::Error { .. } => "error",
        }
    }

    pub fn html(&self) -> String {
        match self {
            View::Loading => "<p class=\"wx-msg\">Loading…</p>".into(),
            View::Scan {
                amount,
                description,
                qr_svg,
                sandbox_link,
            } => {
                let link = sandbox_link.as_ref().map_or(String::new(), |href| {
                    format!(
                        "<p class=\"wx-sandbox\"><a class=\"wx-cashier\" href=\"{}\" target=\"_blank\" rel=\"opener\">Open the sandbox cashier</a></p>",
                        escape(href)
                    )
                });
                format!(
                    "<p class=\"wx-amount\">{}</p><p class=\"wx-desc\">{}</p><div class=\"wx-qr\">{qr_svg}</div>\
                     <p class=\"wx-msg\">Scan with WeChat to pay</p>{link}",
                    escape(amount),
                    escape(description)
                )
            }
            View::Paid { amount } => format!(
                "<p class=\"wx-amount\">{}</p><p class=\"wx-msg wx-paid\">Paid</p>",
                escape(amount)
            ),
            View::Closed => "<p class=\"wx-msg\">This checkout is closed.</p>".into(),
            View::Error { message } => {
                format!("<p class=\"wx-msg wx-error\">{}</p>", escape(message))
            }
        }
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_escapes_what_it_shows() {
        let scan = View::Scan {
            amount: "¥19.99".into(),
            description: "<b>tea</b>".into(),
            qr_svg: "<svg/>".into(),
            sandbox_link: Some("http://127.0.0.1:8788/cashier?code_url=a&b".into()),
        };
        let html = scan.html();
        assert!(html.contains("&lt;b&gt;tea&lt;/b&gt;"));
        assert!(html.contains("href=\"http://127.0.0.1:8788/cashier?code_url=a&amp;b\""));
        assert!(html.contains("<svg/>"));
        assert_eq!(scan.state(), "scan");
        assert!(View::Error {
            message: "<x>".into()
        }
        .html()
        .contains("&lt;x&gt;"));
        assert_eq!(
            View::Paid {
                amount: "¥1.00".into()
            }
            .state(),
            "paid"
        );
    }
}
