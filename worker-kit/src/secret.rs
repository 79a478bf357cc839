//! A secret setting (a merchant key, an AppSecret, a webhook secret): it has no `Serialize`
//! and its `Debug` and `Display` say `[secret]`, so no answer, log line or page can show it by
//! accident; it is compared in constant time.

use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that uses it (a signature, a request to WeChat).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `candidate` is this secret, in time that does not depend on where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(&self.0, candidate)
    }
}

/// Equality in time that does not depend on where `a` and `b` differ (a stored hash against a
/// presented one).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[secret]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[secret]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_shows_its_value() {
        let s = Secret::new("sk_live_do_not_print");
        assert_eq!(format!("{s:?} {s}"), "[secret] [secret]");
        assert!(s.matches("sk_live_do_not_print"));
        assert!(!s.matches("sk_live_do_not_prinT"));
        assert!(!s.matches(""));
    }
}
