//! The merchant console's sign-in: after the merchant proves it holds its secret key, the
//! Worker hands out a token `<expiry>.<generation>.<HMAC-SHA256(secret, "wxc-console.<generation>.<expiry>")>`
//! for an HttpOnly cookie. The generation is the books' sign-in generation when it was issued:
//! signing out moves it on, which revokes every token issued before; rotating the secret key
//! does too.

use subtle::ConstantTimeEq;

use crate::UnixTime;

/// How long a console sign-in lasts.
pub const LIFETIME_SECS: i64 = 8 * 3600;

fn mac(secret: &str, generation: i64, expires: i64) -> String {
    let signed = format!("{generation}.{expires}");
    crate::hmac_sha256_hex(secret.as_bytes(), &[b"wxc-console.", signed.as_bytes()])
}

/// A token of sign-in `generation`, valid until `now` + `LIFETIME_SECS`.
pub fn issue(secret: &str, generation: i64, now: UnixTime) -> String {
    let expires = now.secs() + LIFETIME_SECS;
    format!(
        "{expires}.{generation}.{}",
        mac(secret, generation, expires)
    )
}

/// Whether `token` was issued under `secret` in sign-in `generation` (the current one) and
/// has not expired at `now`.
pub fn verify(secret: &str, token: &str, generation: i64, now: UnixTime) -> bool {
    let mut parts = token.splitn(3, '.');
    let (Some(expires), Some(issued_in), Some(given)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(expires), Ok(issued_in)) = (expires.parse::<i64>(), issued_in.parse::<i64>()) else {
        return false;
    };
    let expected = mac(secret, issued_in, expires);
    issued_in == generation
        && now.secs() < expires
        && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_are_bound_to_the_secret() {
        let now = UnixTime(1_795_000_000);
        let token = issue("sk_live_1", 7, now);
        assert!(verify("sk_live_1", &token, 7, now));
        assert!(verify("sk_live_1", &token, 7, now.plus(LIFETIME_SECS - 1)));
        assert!(!verify("sk_live_1", &token, 7, now.plus(LIFETIME_SECS)));
        assert!(!verify("sk_live_2", &token, 7, now));
        let (expires, rest) = token.split_once('.').unwrap();
        let longer = format!("{}.{rest}", expires.parse::<i64>().unwrap() + 3600);
        assert!(
            !verify("sk_live_1", &longer, 7, now),
            "the expiry is signed"
        );
        for junk in ["", ".", "x.y", "1.", "1.7.", &token[..token.len() - 1]] {
            assert!(!verify("sk_live_1", junk, 7, now), "{junk:?}");
        }
    }

    #[test]
    fn signing_out_moves_the_generation_on_and_revokes_every_earlier_token() {
        let now = UnixTime(1_795_000_000);
        let before = issue("sk_live_1", 7, now);
        assert!(
            !verify("sk_live_1", &before, 8, now),
            "revoked by the sign-out"
        );
        let (expires, rest) = before.split_once('.').unwrap();
        let mac = rest.split_once('.').unwrap().1;
        let relabelled = format!("{expires}.8.{mac}");
        assert!(
            !verify("sk_live_1", &relabelled, 8, now),
            "the generation is signed"
        );
        assert!(verify("sk_live_1", &issue("sk_live_1", 8, now), 8, now));
    }
}
