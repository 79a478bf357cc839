//! The merchant console's sign-in: after the merchant proves it holds its secret key, the
//! Worker hands out a token `<expiry>.<HMAC-SHA256(secret, "wxc-console.<expiry>")>` for an
//! HttpOnly cookie. Nothing is stored; rotating the secret key signs everyone out.

use subtle::ConstantTimeEq;

use crate::UnixTime;

/// How long a console sign-in lasts.
pub const LIFETIME_SECS: i64 = 8 * 3600;

fn mac(secret: &str, expires: i64) -> String {
    let expires = expires.to_string();
    crate::hmac_sha256_hex(secret.as_bytes(), &[b"wxc-console.", expires.as_bytes()])
}

/// A token valid until `now` + `LIFETIME_SECS`.
pub fn issue(secret: &str, now: UnixTime) -> String {
    let expires = now.secs() + LIFETIME_SECS;
    format!("{expires}.{}", mac(secret, expires))
}

/// Whether `token` was issued under `secret` and has not expired at `now`.
pub fn verify(secret: &str, token: &str, now: UnixTime) -> bool {
    let Some((expires, given)) = token.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    let expected = mac(secret, expires);
    now.secs() < expires && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_are_bound_to_the_secret() {
        let now = UnixTime(1_795_000_000);
        let token = issue("sk_live_1", now);
        assert!(verify("sk_live_1", &token, now));
        assert!(verify("sk_live_1", &token, now.plus(LIFETIME_SECS - 1)));
        assert!(!verify("sk_live_1", &token, now.plus(LIFETIME_SECS)));
        assert!(!verify("sk_live_2", &token, now));
        let (expires, mac) = token.split_once('.').unwrap();
        let longer = format!("{}.{mac}", expires.parse::<i64>().unwrap() + 3600);
        assert!(!verify("sk_live_1", &longer, now), "the expiry is signed");
        for junk in ["", ".", "x.y", "1.", &token[..token.len() - 1]] {
            assert!(!verify("sk_live_1", junk, now), "{junk:?}");
        }
    }
}
