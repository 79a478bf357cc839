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
        };
        match self {
            Locale::En => en,
            Locale::ZhCn => zh,
        }
    }
}
