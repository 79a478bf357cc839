//! Everything the widget says, in English and Simplified Chinese, side by side.

use crate::model::Locale;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Loading,
    ScanToPay,
    QrLabel,
    SandboxCashier,
    RedirectToWeChat,
    ConfirmInWeChat,
    PayWithWeChat,
    Opening,
    Checking,
    NotYetPaid,
    IHavePaid,
    Cancel,
    PayAgain,
    TryAgain,
    ExpiresIn,
    Paid,
    Expired,
    Cancelled,
    Failed,
    OpenInWeChat,
    CannotLoad,
    LimitReached,
    NotAccepted,
    SceneNotTaken,
    TooManyAttempts,
}

impl Text {
    /// What the payer reads for a refusal the Worker answers with `code` (the merchant's risk
    /// rules, rate limits), instead of the Worker's English message; `None` for other codes.
    pub fn for_refusal(code: &str) -> Option<Text> {
        Some(match code {
            "limit_exceeded" => Text::LimitReached,
            "blocked" => Text::NotAccepted,
            "scene_not_allowed" => Text::SceneNotTaken,
            "rate_limited" => Text::TooManyAttempts,
            _ => return None,
        })
    }
}

impl Locale {
    pub fn text(self, text: Text) -> &'static str {
        let (en, zh) = match text {
            Text::Loading => ("Loading…", "正在加载…"),
            Text::ScanToPay => ("Scan with WeChat to pay", "请使用微信扫一扫支付"),
            Text::QrLabel => ("WeChat Pay QR code for ", "微信支付二维码，金额 "),
            Text::SandboxCashier => ("Open the sandbox cashier", "打开沙箱收银台"),
            Text::RedirectToWeChat => ("WeChat opens to take the payment", "将打开微信完成支付"),
            Text::ConfirmInWeChat => ("Confirm the payment in WeChat", "请在微信中确认支付"),
            Text::PayWithWeChat => ("Pay with WeChat", "微信支付"),
            Text::Opening => ("Opening WeChat Pay…", "正在打开微信支付…"),
            Text::Checking => ("Checking the payment…", "正在确认支付结果…"),
            Text::NotYetPaid => ("No payment has arrived yet", "尚未收到付款"),
            Text::IHavePaid => ("I have paid", "我已支付"),
            Text::Cancel => ("Cancel", "取消"),
            Text::PayAgain => ("Pay again", "重新支付"),
            Text::TryAgain => ("Try again", "重试"),
            Text::ExpiresIn => ("Expires in ", "剩余支付时间 "),
            Text::Paid => ("Paid", "支付成功"),
            Text::Expired => ("This checkout has expired", "订单已过期"),
            Text::Cancelled => ("Payment cancelled", "已取消支付"),
            Text::Failed => ("The payment failed", "支付失败"),
            Text::OpenInWeChat => (
                "Open this page in WeChat to pay",
                "请在微信中打开此页面完成支付",
            ),
            Text::CannotLoad => ("This checkout cannot be shown", "无法显示此订单"),
            Text::LimitReached => (
                "This merchant's payment limit is reached for now; try again later",
                "已达到商户的支付限额，请稍后再试",
            ),
            Text::NotAccepted => (
                "This payment cannot be accepted here",
                "此笔支付无法在此完成",
            ),
            Text::SceneNotTaken => (
                "This merchant does not take this way of paying; try another device",
                "商户不支持此支付方式，请换一台设备支付",
            ),
            Text::TooManyAttempts => (
                "Too many attempts; wait a minute and try again",
                "操作过于频繁，请稍后再试",
            ),
        };
        match self {
            Locale::En => en,
            Locale::ZhCn => zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_in_the_payers_language() {
        let limit = Text::for_refusal("limit_exceeded").unwrap();
        assert_eq!(Locale::ZhCn.text(limit), "已达到商户的支付限额，请稍后再试");
        for code in [
            "limit_exceeded",
            "blocked",
            "scene_not_allowed",
            "rate_limited",
        ] {
            let text = Text::for_refusal(code).unwrap();
            assert_ne!(Locale::En.text(text), Locale::ZhCn.text(text), "{code}");
        }
        assert!(Text::for_refusal("network").is_none());
    }
}
