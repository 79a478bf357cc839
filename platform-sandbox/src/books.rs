//! Whose books a transaction or refund is in: a direct merchant's own, or a sub-merchant's
//! (特约商户) kept by its service provider. A sub-merchant's money, fees and bill lines are its
//! own; its provider's number is kept beside them, since only that provider may reach them.

use pay_core::v3::model::Mchids;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Books<'a> {
    Direct {
        mchid: &'a str,
    },
    Partner {
        sp_mchid: &'a str,
        sub_mchid: &'a str,
    },
}

impl<'a> Books<'a> {
    /// The number the books are under (a sub-merchant's own in partner mode).
    pub fn mchid(&self) -> &'a str {
        match self {
            Books::Direct { mchid } => mchid,
            Books::Partner { sub_mchid, .. } => sub_mchid,
        }
    }

    /// The provider keeping them, if any.
    pub fn provider(&self) -> Option<&'a str> {
        match self {
            Books::Direct { .. } => None,
            Books::Partner { sp_mchid, .. } => Some(sp_mchid),
        }
    }

    /// The account whose keys sign for these books and whose API v3 key encrypts their
    /// notifications.
    pub fn account(&self) -> &'a str {
        self.provider().unwrap_or(self.mchid())
    }

    /// The numbers a refund notice names.
    pub fn mchids(&self) -> Mchids {
        match self {
            Books::Direct { mchid } => Mchids::Direct {
                mchid: mchid.to_string(),
            },
            Books::Partner {
                sp_mchid,
                sub_mchid,
            } => Mchids::Partner {
                sp_mchid: sp_mchid.to_string(),
                sub_mchid: sub_mchid.to_string(),
            },
        }
    }

    /// The fault keys that reach what happens in these books: their own number, and for a
    /// sub-merchant its provider's too (a fault keyed by a provider reaches all its traffic).
    pub fn fault_keys(&self) -> Vec<&'a str> {
        std::iter::once(self.mchid())
            .chain(self.provider())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_merchants_books_are_its_own_under_its_provider() {
        let direct = Books::Direct {
            mchid: "1230000109",
        };
        assert_eq!(
            (direct.mchid(), direct.provider(), direct.account()),
            ("1230000109", None, "1230000109")
        );
        assert_eq!(direct.fault_keys(), ["1230000109"]);
        let partner = Books::Partner {
            sp_mchid: "1230000112",
            sub_mchid: "1900000201",
        };
        assert_eq!(
            (partner.mchid(), partner.provider(), partner.account()),
            ("1900000201", Some("1230000112"), "1230000112")
        );
        assert_eq!(partner.fault_keys(), ["1900000201", "1230000112"]);
        assert_eq!(
            serde_json::to_value(partner.mchids()).unwrap(),
            serde_json::json!({"sp_mchid": "1230000112", "sub_mchid": "1900000201"})
        );
    }
}
