//! WeChat OAuth's `state` for the JSAPI scene: which session the payer's openid is for, until
//! when, and which browser may finish the round trip. `state = <session id>.<expiry>.<MAC>`
//! with the MAC (HMAC-SHA256 under the merchant secret) over the session id, the expiry and a
//! nonce that only the browser that started holds, in a cookie. A state seen in a log or in
//! history is of no use elsewhere and expires; the callback cannot be forged for another session.

use subtle::ConstantTimeEq;

use crate::UnixTime;

/// How long a payer has for the round trip through WeChat's authorize page.
pub const STATE_LIFETIME_SECS: i64 = 600;

/// How long the one-time ticket that opens the round trip lives: the widget asks for it and
/// navigates to it at once. It stands in for the client secret, which never travels in a URL.
pub const TICKET_LIFETIME_SECS: i64 = 120;

fn mac(secret: &str, session_id: &str, expires: i64, nonce: &str) -> String {
    let expires = expires.to_string();
    let parts: [&[u8]; 6] = [
        b"oauth-state:",
        session_id.as_bytes(),
        b".",
        expires.as_bytes(),
        b".",
        nonce.as_bytes(),
    ];
    crate::hmac_sha256_hex(secret.as_bytes(), &parts)[..32].to_string()
}

/// The state for a round trip of `session_id` started now by the browser holding `nonce`.
pub fn issue(secret: &str, session_id: &str, nonce: &str, now: UnixTime) -> String {
    let expires = now.secs() + STATE_LIFETIME_SECS;
    format!(
        "{session_id}.{expires}.{}",
        mac(secret, session_id, expires, nonce)
    )
}

/// The session a callback's `state` is for, if this Worker issued it to the browser holding
/// `nonce` (its cookie) and it has not expired at `now`.
pub fn verify<'a>(
    secret: &str,
    state: &'a str,
    nonce: Option<&str>,
    now: UnixTime,
) -> Option<&'a str> {
    let nonce = nonce.filter(|n| !n.is_empty())?;
    let mut parts = state.rsplitn(3, '.');
    let (given, expires, session_id) = (parts.next()?, parts.next()?, parts.next()?);
    let expires: i64 = expires.parse().ok()?;
    let expected = mac(secret, session_id, expires, nonce);
    let genuine: bool = expected.as_bytes().ct_eq(given.as_bytes()).into();
    (genuine && now.secs() < expires).then_some(session_id)
}

/// The session a `state` claims to be for, unverified: only to choose the merchant whose key
/// then [`verify`]s it.
pub fn claimed_session(state: &str) -> Option<&str> {
    state.rsplitn(3, '.').nth(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_0123456789abcdefghij";

    #[test]
    fn a_state_is_for_one_session_one_browser_and_ten_minutes() {
        let now = UnixTime(1_795_000_000);
        let state = issue(KEY, "cs_abc", "nonce-1", now);
        assert_eq!(verify(KEY, &state, Some("nonce-1"), now), Some("cs_abc"));
        assert_eq!(claimed_session(&state), Some("cs_abc"));
        assert_eq!(claimed_session("no-dots"), None);
        assert_eq!(
            verify(
                KEY,
                &state,
                Some("nonce-1"),
                now.plus(STATE_LIFETIME_SECS - 1)
            ),
            Some("cs_abc")
        );
        assert_eq!(
            verify(KEY, &state, Some("nonce-1"), now.plus(STATE_LIFETIME_SECS)),
            None,
            "expired"
        );
        assert_eq!(
            verify(KEY, &state, Some("nonce-2"), now),
            None,
            "another browser"
        );
        assert_eq!(verify(KEY, &state, None, now), None, "no cookie");
        assert_eq!(verify(KEY, &state, Some(""), now), None, "an empty cookie");
        assert_eq!(verify("sk_other", &state, Some("nonce-1"), now), None);
    }

    #[test]
    fn a_state_cannot_be_moved_to_another_session_or_extended() {
        let now = UnixTime(1_795_000_000);
        let state = issue(KEY, "cs_abc", "n", now);
        let moved = state.replacen("cs_abc", "cs_xyz", 1);
        assert_eq!(verify(KEY, &moved, Some("n"), now), None);
        let (rest, mac) = state.rsplit_once('.').unwrap();
        let (id, expires) = rest.rsplit_once('.').unwrap();
        let longer = format!("{id}.{}.{mac}", expires.parse::<i64>().unwrap() + 3600);
        assert_eq!(verify(KEY, &longer, Some("n"), now), None);
        for junk in [
            "",
            ".",
            "cs_abc",
            "cs_abc.1",
            "cs_abc.x.y",
            &state[..state.len() - 1],
        ] {
            assert_eq!(verify(KEY, junk, Some("n"), now), None, "{junk:?}");
        }
    }
}
