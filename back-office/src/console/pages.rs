//! The console's pages as HTML strings, from the rows they show: no I/O here. Every value
//! that came from outside goes through `escape`.

use pay_core::html::escape;
use pay_core::risk::Flag;
use pay_core::shard;
use pay_core::{Fen, UnixTime};

use checkout_service::catalog::{Difference, ReconciliationRun};
use checkout_service::ledger::{
    CheckoutSession, ListingSummary, OrderEvent, Refund, WebhookDelivery,
};

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1a1a1a}\
header{display:flex;gap:1.2rem;align-items:center;padding:.7rem 1.2rem;background:#07c160;color:#fff}\
header a{color:#fff;text-decoration:none;font-weight:600}header form{margin-left:auto}\
main{padding:1rem 1.2rem;max-width:72rem}table{border-collapse:collapse;width:100%;margin:.6rem 0}\
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eee;vertical-align:top}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
form.inline{display:inline}input,select,button{font:inherit;padding:.3rem .5rem}\
button{background:#07c160;color:#fff;border:0;border-radius:4px;cursor:pointer}\
.bad{color:#c62828}.ok{color:#07803f}.muted{color:#666}.box{border:1px solid #e5e5e5;border-radius:8px;padding:.8rem;margin:.8rem 0}\
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-weight:600;margin:.3rem 0}";

/// `2026-11-24 13:17:57` (China time).
fn time(t: i64) -> String {
    UnixTime(t).to_rfc3339_cst()[..19].replacen('T', " ", 1)
}

fn money(fen: i64) -> String {
    Fen::new(fen).display_cny()
}

/// Whose links the header shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Guest,
    Merchant,
    Operator,
}

const SIGN_OUT: &str = "<form method=\"post\" action=\"/console/logout\"><button type=\"submit\">Sign out</button></form>";

fn layout(title: &str, nav: Nav, body: &str) -> String {
    let nav = match nav {
        Nav::Guest => String::new(),
        Nav::Merchant => format!(
            "<a href=\"/console/orders\">Orders</a><a href=\"/console/webhooks\">Webhooks</a>\
             <a href=\"/console/reports\">Reconciliation</a>{SIGN_OUT}"
        ),
        Nav::Operator => format!("<a href=\"/console/platform\">Merchants</a>{SIGN_OUT}"),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} · WeChat Pay console</title><style>{STYLE}</style></head><body>\
         <header><span>WeChat Pay console</span>{nav}</header><main><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title)
    )
}

fn problem_box(problem: Option<&str>) -> String {
    problem.map_or(String::new(), |p| {
        format!("<p class=\"bad\" role=\"alert\">{}</p>", escape(p))
    })
}

pub fn login(problem: Option<&str>) -> String {
    layout(
        "Sign in",
        Nav::Guest,
        &format!(
            "{}<form method=\"post\" action=\"/console/login\" class=\"box\">\
             <label>Key <input type=\"password\" name=\"key\" autocomplete=\"current-password\" required autofocus></label> \
             <button type=\"submit\">Sign in</button></form>\
             <p class=\"muted\">A merchant signs in with its key (the Worker's <code>MERCHANT_SECRET_KEY</code>, or \
             the API key the platform gave it) and sees its own books; the operator with the platform key \
             (<code>PLATFORM_SECRET_KEY</code>) sees every merchant. The sign-in lasts 8 hours.</p>",
            problem_box(problem)
        ),
    )
}

pub fn error(message: &str) -> String {
    layout(
        "Something went wrong",
        Nav::Merchant,
        &problem_box(Some(message)),
    )
}

fn status_class(status: &str) -> &'static str {
    match status {
        "paid" | "succeeded" | "done" | "fixed" => "ok",
        "failed" | "flagged" | "abnormal" => "bad",
        _ => "muted",
    }
}

pub fn orders(rows: &[CheckoutSession], params: &[(String, String)], more: bool) -> String {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map_or(String::new(), |(_, v)| escape(v))
    };
    let select = |name: &str, label: &str, options: &[(&str, &str)]| {
        let current = get(name);
        let options: String = options
            .iter()
            .map(|(value, text)| {
                let selected = if current == *value { " selected" } else { "" };
                format!("<option value=\"{value}\"{selected}>{text}</option>")
            })
            .collect();
        format!("<select name=\"{name}\" aria-label=\"{label}\">{options}</select>")
    };
    let mut flags = vec![("", "flagged or not"), ("any", "any anomaly")];
    flags.extend(Flag::ALL.map(|f| (f.as_str(), f.as_str())));
    let mut html = format!(
        "<form method=\"get\" action=\"/console/orders\" class=\"box\" role=\"search\">\
         <input type=\"search\" name=\"q\" placeholder=\"id, out_trade_no, transaction_id or description\" value=\"{}\" size=\"40\" aria-label=\"Search\"> \
         {} {} \
         <label>from <input type=\"date\" name=\"from\" value=\"{}\"></label> \
         <label>to <input type=\"date\" name=\"to\" value=\"{}\"></label> <button type=\"submit\">Filter</button></form>\
         <table><thead><tr><th>Created</th><th>Session</th><th>out_trade_no</th><th>Description</th>\
         <th class=\"num\">Amount</th><th>Status</th><th>Scene</th></tr></thead><tbody>",
        get("q"),
        select(
            "status",
            "Status",
            &[("", "any status"), ("open", "open"), ("paid", "paid"), ("closed", "closed")]
        ),
        select("flag", "Anomaly flag", &flags),
        get("from"),
        get("to"),
    );
    for r in rows {
        html += &format!(
            "<tr><td>{}</td><td><a href=\"/console/orders/{id}\">{id}</a></td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            time(r.created_at),
            escape(&r.out_trade_no),
            escape(&r.description),
            money(r.amount_fen),
            status_class(r.status.as_str()),
            r.status.as_str(),
            r.scene.map_or("—", |s| s.as_str()),
            id = escape(&r.id),
        );
    }
    if rows.is_empty() {
        html += "<tr><td colspan=\"7\" class=\"muted\">No orders match.</td></tr>";
    }
    html += "</tbody></table>";
    if let (true, Some(last)) = (more, rows.last()) {
        // The same filters, from the last order shown.
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params.iter().filter(|(k, _)| k != "after") {
            next.append_pair(k, v);
        }
        next.append_pair("after", &last.id);
        html += &format!(
            "<p><a href=\"/console/orders?{}\">Older orders →</a></p>",
            escape(&next.finish())
        );
    }
    layout("Orders", Nav::Merchant, &html)
}

pub fn order(
    row: &CheckoutSession,
    events: &[OrderEvent],
    refunds: &[Refund],
    refund_token: &str,
    problem: Option<&str>,
) -> String {
    let field =
        |name: &str, value: &str| format!("<tr><th>{name}</th><td>{}</td></tr>", escape(value));
    let mut html = problem_box(problem);
    html += "<table>";
    html += &field("Session", &row.id);
    html += &field("out_trade_no", &row.out_trade_no);
    html += &field("Description", &row.description);
    html += &field("Amount", &money(row.amount_fen));
    html += &format!(
        "<tr><th>Status</th><td class=\"{}\">{}</td></tr>",
        status_class(row.status.as_str()),
        row.status.as_str()
    );
    html += &field("Scene", row.scene.map_or("—", |s| s.as_str()));
    html += &field(
        "transaction_id",
        row.transaction_id.as_deref().unwrap_or("—"),
    );
    html += &field("Created", &time(row.created_at));
    html += &field("Expires", &time(row.expires_at));
    html += &field("Paid", &row.paid_at.map_or("—".into(), time));
    html += "</table><h2>Timeline</h2><ol class=\"box\">";
    for e in events {
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            let text = serde_json::Value::Object(e.detail.clone()).to_string();
            format!(" <code class=\"muted\">{}</code>", escape(&text))
        };
        html += &format!(
            "<li><time>{}</time> <strong>{}</strong>{detail}</li>",
            time(e.created_at),
            e.kind.as_str()
        );
    }
    html += "</ol><h2>Refunds</h2><table><thead><tr><th>Refund</th><th>out_refund_no</th>\
             <th class=\"num\">Amount</th><th>Status</th><th>Reason</th><th>Created</th></tr></thead><tbody>";
    let mut refunded = 0;
    for r in refunds {
        // Everything but a refund proven not made has left (or may have left) the balance.
        if r.status.counts_as_refunded() {
            refunded += r.amount_fen;
        }
        html += &format!(
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.id),
            escape(&r.out_refund_no),
            money(r.amount_fen),
            status_class(r.status.as_str()),
            r.status.as_str(),
            escape(r.reason.as_deref().unwrap_or("")),
            time(r.created_at)
        );
    }
    if refunds.is_empty() {
        html += "<tr><td colspan=\"6\" class=\"muted\">No refunds.</td></tr>";
    }
    html += "</tbody></table>";
    let refundable = row.amount_fen - refunded;
    if row.status == pay_core::checkout::SessionStatus::Paid && refundable > 0 {
        html += &format!(
            "<form method=\"post\" action=\"/console/orders/{}/refunds\" class=\"box\">\
             <label>Refund (yuan) <input name=\"amount\" inputmode=\"decimal\" required placeholder=\"{}\" size=\"10\"></label> \
             <label>Reason <input name=\"reason\" maxlength=\"80\" size=\"30\"></label> \
             <input type=\"hidden\" name=\"refund_token\" value=\"{}\"> \
             <button type=\"submit\">Refund</button> <span class=\"muted\">up to {}</span></form>",
            escape(&row.id),
            Fen::new(refundable).yuan(),
            escape(refund_token),
            money(refundable)
        );
    }
    layout(&format!("Order {}", row.out_trade_no), Nav::Merchant, &html)
}

pub fn webhooks(deliveries: &[WebhookDelivery], configured: bool) -> String {
    let mut html = if configured {
        String::new()
    } else {
        "<p class=\"muted\">WEBHOOK_URL is not set: events wait in the outbox.</p>".to_string()
    };
    html += "<table><thead><tr><th>Event</th><th>Type</th><th>Order</th><th>Created</th>\
             <th class=\"num\">Attempts</th><th>State</th><th>Last answer</th><th></th></tr></thead><tbody>";
    for d in deliveries {
        let (state, class) = match d.delivered_at {
            Some(at) => (format!("delivered {}", time(at)), "ok"),
            None if d.attempts == 0 => ("waiting".to_string(), "muted"),
            None => (format!("retry at {}", time(d.next_attempt_at)), "bad"),
        };
        let answer = match (d.last_status, &d.last_error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => escape(e),
            (None, None) => "—".into(),
        };
        let event_id = shard::event_id(d.shard, d.seq);
        let retry = if d.delivered_at.is_none() {
            format!(
                "<form method=\"post\" action=\"/console/webhooks/{event_id}/retry\" class=\"inline\"><button type=\"submit\">Retry now</button></form>"
            )
        } else {
            String::new()
        };
        html += &format!(
            "<tr><td>{event_id}</td><td>{}</td><td><a href=\"/console/orders/{sid}\">{sid}</a></td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"{class}\">{state}</td><td>{answer}</td><td>{retry}</td></tr>",
            d.kind.as_str(),
            time(d.created_at),
            d.attempts,
            sid = escape(&d.session_id),
        );
    }
    html += "</tbody></table>";
    layout("Webhook deliveries", Nav::Merchant, &html)
}

/// A bar chart as inline SVG, one horizontal bar per label (long labels stay readable),
/// labelled for assistive technology.
pub fn bar_chart(title: &str, bars: &[(String, i64)], value: fn(i64) -> String) -> String {
    const LABEL_W: i64 = 170;
    const BAR_W: i64 = 260;
    const ROW_H: i64 = 22;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW_H * (bars.len() as i64).max(1) + 4;
    let width = LABEL_W + BAR_W + 90;
    let mut svg = format!(
        "<figure><figcaption>{t}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{t}\">",
        t = escape(title),
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = i as i64 * ROW_H + 2;
        let w = (BAR_W * (*v).max(0) / max).max(1);
        svg += &format!(
            "<text x=\"{lx}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"end\" fill=\"#444\">{l}</text>\
             <rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{w}\" height=\"{bh}\" fill=\"#07c160\"><title>{l}: {val}</title></rect>\
             <text x=\"{vx}\" y=\"{ty}\" font-size=\"12\">{val}</text>",
            lx = LABEL_W - 6,
            ty = y + 14,
            bh = ROW_H - 6,
            vx = LABEL_W + w + 6,
            l = escape(label),
            val = escape(&value(*v)),
        );
    }
    if bars.is_empty() {
        svg += "<text x=\"10\" y=\"16\" fill=\"#666\">No data yet.</text>";
    }
    svg + "</svg></figure>"
}

pub fn reports(runs: &[ReconciliationRun], problem: Option<&str>) -> String {
    let mut html = problem_box(problem);
    html += "<form method=\"post\" action=\"/console/reports\" class=\"box\">\
             <label>Reconcile the day <input type=\"date\" name=\"date\" required></label> \
             <button type=\"submit\">Reconcile now</button> \
             <span class=\"muted\">Done by itself every day after 10:00 China time for the day before.</span></form>";
    // Oldest first in the charts, newest first in the table.
    let chronological: Vec<&ReconciliationRun> = runs.iter().rev().collect();
    let day = |r: &ReconciliationRun| r.bill_date.get(5..).unwrap_or(&r.bill_date).to_string();
    html += "<div class=\"charts\">";
    html += &bar_chart(
        "Volume paid per day",
        &chronological
            .iter()
            .map(|r| (day(r), r.paid_fen))
            .collect::<Vec<_>>(),
        money,
    );
    html += &bar_chart(
        "Fees per day",
        &chronological
            .iter()
            .map(|r| (day(r), r.fees_millifen / 1000))
            .collect::<Vec<_>>(),
        money,
    );
    html += &bar_chart(
        "Differences per day",
        &chronological
            .iter()
            .map(|r| (day(r), r.differences))
            .collect::<Vec<_>>(),
        |n| n.to_string(),
    );
    html += "</div><table><thead><tr><th>Day</th><th>Run</th><th class=\"num\">Payments</th><th class=\"num\">Paid</th>\
             <th class=\"num\">Refunded</th><th class=\"num\">Fees</th><th class=\"num\">Differences</th><th class=\"num\">Fixed</th></tr></thead><tbody>";
    for r in runs {
        html += &format!(
            "<tr><td><a href=\"/console/reports/{d}\">{d}</a></td><td class=\"{}\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            status_class(r.status.as_str()),
            r.status.as_str(),
            r.payments,
            money(r.paid_fen),
            money(r.refunded_fen),
            money(r.fees_millifen / 1000),
            r.differences,
            r.fixed,
            d = escape(&r.bill_date),
        );
    }
    if runs.is_empty() {
        html += "<tr><td colspan=\"8\" class=\"muted\">No reconciliation yet.</td></tr>";
    }
    html += "</tbody></table>";
    layout("Reconciliation and settlement", Nav::Merchant, &html)
}

pub fn report(run: &ReconciliationRun, differences: &[Difference]) -> String {
    let mut html = format!(
        "<p>Run <span class=\"{}\">{}</span> at {}. {} payments, {} paid, {} refunded, {} in fees; {} differences, {} fixed.</p>",
        status_class(run.status.as_str()),
        run.status.as_str(),
        time(run.ran_at),
        run.payments,
        money(run.paid_fen),
        money(run.refunded_fen),
        money(run.fees_millifen / 1000),
        run.differences,
        run.fixed
    );
    html += &problem_box(run.error.as_deref());
    let settlement: serde_json::Value = run
        .settlement
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    if settlement.is_object() {
        html += "<h2>Settlement</h2><table><thead><tr><th></th><th class=\"num\">WeChat Pay (fund flow)</th>\
                 <th class=\"num\">Our books</th></tr></thead><tbody>";
        for (key, label) in [
            ("payments_fen", "Payments"),
            ("fees_fen", "Fees"),
            ("refunds_fen", "Refunds"),
            ("fees_returned_fen", "Fees returned"),
            ("settled_fen", "Paid out to the bank"),
        ] {
            let at = |side: &str| settlement[side][key].as_i64().unwrap_or(0);
            let class = if at("platform") == at("expected") {
                ""
            } else {
                " class=\"bad\""
            };
            html += &format!(
                "<tr{class}><th>{label}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                money(at("platform")),
                money(at("expected"))
            );
        }
        html += "</tbody></table>";
    }
    let mut by_kind: Vec<(String, i64)> = Vec::new();
    for d in differences {
        match by_kind.iter_mut().find(|(k, _)| *k == d.kind) {
            Some((_, n)) => *n += 1,
            None => by_kind.push((d.kind.clone(), 1)),
        }
    }
    html += "<h2>Differences</h2>";
    html += &bar_chart("Differences by kind", &by_kind, |n| n.to_string());
    html += "<table><thead><tr><th>Kind</th><th>Order</th><th>Refund</th><th class=\"num\">Ours</th>\
             <th class=\"num\">WeChat Pay</th><th>Resolution</th><th>Outcome</th></tr></thead><tbody>";
    for d in differences {
        let amount = |v: Option<i64>| {
            v.map_or("—".into(), |v| {
                if d.kind == "fee_mismatch" {
                    format!("{} fee", money(v / 1000))
                } else {
                    money(v)
                }
            })
        };
        html += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&d.kind),
            escape(&d.out_trade_no),
            escape(&d.out_refund_no),
            amount(d.ours),
            amount(d.theirs),
            escape(&d.resolution),
            status_class(&d.outcome),
            escape(&d.outcome),
        );
    }
    if differences.is_empty() {
        html += "<tr><td colspan=\"7\" class=\"ok\">Books and bills agree.</td></tr>";
    }
    html += "</tbody></table>";
    layout(
        &format!("Reconciliation of {}", run.bill_date),
        Nav::Merchant,
        &html,
    )
}

/// One merchant as the operator's overview shows it.
#[derive(Default)]
pub struct MerchantOverview {
    pub id: String,
    pub name: String,
    pub mode: &'static str,
    pub status: String,
    pub listed: ListingSummary,
    pub failing_webhooks: i64,
    /// The latest reconciliation: its day, differences found, and fixed.
    pub reconciled: Option<(String, i64, i64)>,
}

pub fn operator(rows: &[MerchantOverview]) -> String {
    let mut html = String::from(
        "<table><thead><tr><th>Merchant</th><th>Mode</th><th>Status</th><th class=\"num\">Paid orders</th>\
         <th class=\"num\">Paid volume</th><th class=\"num\">Flagged</th><th class=\"num\">Webhooks failing</th>\
         <th>Reconciliation</th><th></th></tr></thead><tbody>",
    );
    for m in rows {
        let reconciled = m
            .reconciled
            .as_ref()
            .map_or("—".to_string(), |(day, found, fixed)| {
                format!("{}: {found} differences, {fixed} fixed", escape(day))
            });
        // The deployment's own merchant is its configuration: it cannot be suspended here.
        let action = match (m.id.as_str(), m.status.as_str()) {
            ("default", _) => String::new(),
            (id, "suspended") => format!(
                "<form class=\"inline\" method=\"post\" action=\"/console/platform/merchants/{}/resume\"><button type=\"submit\">Resume</button></form>",
                escape(id)
            ),
            (id, _) => format!(
                "<form class=\"inline\" method=\"post\" action=\"/console/platform/merchants/{}/suspend\"><button type=\"submit\">Suspend</button></form>",
                escape(id)
            ),
        };
        html.push_str(&format!(
            "<tr data-merchant=\"{id}\"><td>{name}<br><code class=\"muted\">{id}</code></td><td>{mode}</td>\
             <td class=\"{class}\">{status}</td><td class=\"num\">{paid}</td><td class=\"num\">{volume}</td>\
             <td class=\"num {flag_class}\">{flagged}</td><td class=\"num {hook_class}\">{failing}</td><td>{reconciled}</td><td>{action}</td></tr>",
            id = escape(&m.id),
            name = escape(&m.name),
            mode = m.mode,
            class = if m.status == "suspended" { "bad" } else { "ok" },
            status = escape(&m.status),
            paid = m.listed.paid,
            volume = money(m.listed.paid_fen),
            flag_class = if m.listed.flagged > 0 { "bad" } else { "" },
            flagged = m.listed.flagged,
            hook_class = if m.failing_webhooks > 0 { "bad" } else { "" },
            failing = m.failing_webhooks,
        ));
    }
    html.push_str("</tbody></table><p class=\"muted\">A suspended merchant's new sessions are refused; its open payments still complete and refund.</p>");
    layout("Merchants", Nav::Operator, &html)
}
