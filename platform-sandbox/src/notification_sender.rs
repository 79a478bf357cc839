//! Building notifications, encrypted and signed as the real ones are, and queuing them for
//! the dispatcher. Faults that shape a notification's delivery are applied here, once.

use pay_core::crypto::webcrypto::random_hex;
use pay_core::v3::notification::Sealing;
use serde::Serialize;

use crate::books::Books;
use crate::config::Merchant;
use crate::dispatch;
use crate::error::{PlatformError, PlatformResult};
use crate::store::NewNotification;
use crate::App;

/// What a notification is about.
pub struct Subject<'a> {
    pub event_type: &'a str,
    pub summary: &'a str,
    /// `transaction` or `refund`: the resource's original type and associated data.
    pub original_type: &'a str,
    pub out_trade_no: &'a str,
    pub notify_url: &'a str,
}

/// Encrypts `resource` under the account's API v3 key (a provider's, for its sub-merchant's
/// `books`), stores the notification with its delivery plan and asks the dispatcher to run.
/// Faults keyed by the books' mchid or by their provider shape it.
pub async fn enqueue<T: Serialize>(
    app: &App,
    account: &Merchant,
    books: &Books<'_>,
    subject: Subject<'_>,
    resource: &T,
) -> PlatformResult<String> {
    let plaintext =
        serde_json::to_vec(resource).map_err(|e| PlatformError::System(e.to_string()))?;
    let id = format!(
        "{}-{}-{}-{}",
        random_hex(4)?,
        random_hex(2)?,
        random_hex(2)?,
        random_hex(6)?
    );
    let nonce = random_hex(6)?; // 12 ASCII characters, as AES-GCM nonces in notifications are
    let body = Sealing {
        id: &id,
        create_time: app.now,
        event_type: subject.event_type,
        summary: subject.summary,
        original_type: subject.original_type,
        associated_data: subject.original_type,
        nonce: &nonce,
    }
    .seal(&plaintext, &account.api_v3_key)?;
    let mchid = books.mchid();
    let faults = books.fault_keys();
    let mut n = NewNotification {
        id: id.clone(),
        mchid: mchid.to_string(),
        sp_mchid: books.provider().map(Into::into),
        out_trade_no: subject.out_trade_no.to_string(),
        event_type: subject.event_type.to_string(),
        notify_url: subject.notify_url.to_string(),
        body: String::from_utf8(body).map_err(|e| PlatformError::System(e.to_string()))?,
        state: "pending",
        next_attempt_ms: Some(app.now_ms),
        copies: 1,
        probe_first: false,
    };
    if app
        .store
        .take_fault("drop_notification", &faults)
        .await?
        .is_some()
    {
        n.state = "dropped";
        n.next_attempt_ms = None;
    }
    if let Some(copies) = app
        .store
        .take_fault("duplicate_notification", &faults)
        .await?
    {
        n.copies = copies.unwrap_or(2).clamp(2, 1000);
    }
    if let Some(delay_ms) = app.store.take_fault("delay_notification", &faults).await? {
        n.next_attempt_ms = n
            .next_attempt_ms
            .map(|t| t + delay_ms.unwrap_or(3000).max(0));
    }
    n.probe_first = app
        .store
        .take_fault("signtest_first", &faults)
        .await?
        .is_some();
    // Reordering: a held notification goes out just after the next one for the merchant.
    let released = app.store.release_held(mchid, app.now_ms + 200).await?;
    if !released
        && n.state == "pending"
        && app
            .store
            .take_fault("reorder_notifications", &faults)
            .await?
            .is_some()
    {
        n.state = "held";
        n.next_attempt_ms = None;
    }
    app.store.insert_notification(&n, app.now).await?;
    dispatch::kick(&app.env).await?;
    Ok(id)
}
