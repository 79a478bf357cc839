//! Which merchant a thing belongs to, in platform mode (issue #19): the deployment's own
//! merchant, configured in wrangler vars and secrets (`default`), or a registry merchant
//! (`mch_{token}`, made by the platform API). A merchant's ids name it (pay_core::shard), so a
//! widget call finds its merchant, as it finds its shard, from the session id alone.

use std::fmt;

/// The longest token a registry merchant's id may have (the platform API makes 24 hex digits).
const MAX_TOKEN: usize = 32;

/// A merchant of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MerchantId {
    /// The merchant of the deployment's own settings; its ids and objects are today's.
    Default,
    /// A registry merchant, by the token of its id `mch_{token}`: 1 to 32 lower-case hex digits.
    Registry(String),
}

impl MerchantId {
    /// `default`, or `mch_` and a token; `None` for anything else.
    pub fn parse(id: &str) -> Option<Self> {
        match id {
            "default" => Some(MerchantId::Default),
            _ => MerchantId::of_token(id.strip_prefix("mch_")?),
        }
    }

    /// The registry merchant whose token this is, if it is one.
    pub fn of_token(token: &str) -> Option<Self> {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        let valid = (1..=MAX_TOKEN).contains(&token.len()) && token.bytes().all(hex);
        valid.then(|| MerchantId::Registry(token.to_string()))
    }

    /// The token its ids carry (`cs_m{token}_…`); none for the default merchant.
    pub fn token(&self) -> Option<&str> {
        match self {
            MerchantId::Default => None,
            MerchantId::Registry(token) => Some(token),
        }
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MerchantId::Default => f.write_str("default"),
            MerchantId::Registry(token) => write!(f, "mch_{token}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merchant_id_is_default_or_a_registry_token() {
        assert_eq!(MerchantId::parse("default"), Some(MerchantId::Default));
        let m = MerchantId::parse("mch_0a1b2c").unwrap();
        assert_eq!(m.token(), Some("0a1b2c"));
        assert_eq!(m.to_string(), "mch_0a1b2c");
        assert_eq!(MerchantId::Default.to_string(), "default");
        assert_eq!(MerchantId::Default.token(), None);
        for odd in [
            "",
            "mch_",
            "mch_0A1B",
            "mch_xyz",
            "mch_0a_1b",
            "sp_0a1b",
            "Default",
            &format!("mch_{}", "a".repeat(33)),
        ] {
            assert_eq!(MerchantId::parse(odd), None, "{odd:?}");
        }
    }
}
