//! Money is an integer number of fen (1/100 yuan) from end to end.

use serde::{Deserialize, Serialize};

use crate::Error;

/// An amount in fen. WeChat Pay's `amount.total` is a 32-bit integer, so that is our ceiling.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    /// The largest amount WeChat Pay accepts in one order (`amount.total` is an int32).
    pub const MAX_ORDER: Fen = Fen(i32::MAX as i64);

    pub const fn new(fen: i64) -> Self {
        Fen(fen)
    }

    /// An amount a payer can be charged: at least one fen, at most [`Fen::MAX_ORDER`].
    pub fn chargeable(fen: i64) -> Result<Self, Error> {
        if (1..=Self::MAX_ORDER.0).contains(&fen) {
            Ok(Fen(fen))
        } else {
            Err(Error::InvalidAmount { fen })
        }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// The fee on this amount at `rate_ppm` parts per million (0.6% = 6000), rounded half up
    /// to the fen, as WeChat Pay computes 手续费.
    pub fn fee_at(self, rate_ppm: i64) -> Fen {
        Fen((self.0 * rate_ppm + 500_000).div_euclid(1_000_000))
    }

    /// This amount's share `part / whole` (a partial refund's share of a fee), rounded half up.
    pub fn share(self, part: Fen, whole: Fen) -> Fen {
        if whole.0 == 0 {
            return Fen(0);
        }
        Fen((2 * self.0 * part.0 + whole.0).div_euclid(2 * whole.0))
    }

    /// `12345` → `"123.45"`, exact (no floating point anywhere).
    pub fn yuan(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// `123450` → `"¥1,234.50"`: how an amount is shown to a payer.
    pub fn display_cny(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        format!("{sign}¥{grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chargeable_bounds() {
        assert_eq!(Fen::chargeable(0), Err(Error::InvalidAmount { fen: 0 }));
        assert_eq!(Fen::chargeable(-1), Err(Error::InvalidAmount { fen: -1 }));
        assert_eq!(Fen::chargeable(1), Ok(Fen(1)));
        assert_eq!(Fen::chargeable(i32::MAX as i64), Ok(Fen::MAX_ORDER));
        assert!(Fen::chargeable(i32::MAX as i64 + 1).is_err());
    }

    #[test]
    fn fees_round_half_up_to_the_fen() {
        assert_eq!(Fen(1999).fee_at(6000), Fen(12)); // 11.994
        assert_eq!(Fen(250).fee_at(6000), Fen(2)); // 1.5 → 2
        assert_eq!(Fen(83).fee_at(6000), Fen(0)); // 0.498
        assert_eq!(Fen(84).fee_at(6000), Fen(1)); // 0.504
        assert_eq!(Fen(12).share(Fen(1000), Fen(1999)), Fen(6)); // 6.003
        assert_eq!(Fen(12).share(Fen(1999), Fen(1999)), Fen(12));
        assert_eq!(Fen(5).share(Fen(1), Fen(2)), Fen(3)); // 2.5 → 3
        assert_eq!(Fen(5).share(Fen(1), Fen(0)), Fen(0));
    }

    #[test]
    fn renders_exactly() {
        assert_eq!(Fen(1).yuan(), "0.01");
        assert_eq!(Fen(123450).yuan(), "1234.50");
        assert_eq!(Fen(-5).yuan(), "-0.05");
        assert_eq!(Fen(1).display_cny(), "¥0.01");
        assert_eq!(Fen(123450).display_cny(), "¥1,234.50");
        assert_eq!(Fen(100_000_000).display_cny(), "¥1,000,000.00");
        assert_eq!(Fen(99_999).display_cny(), "¥999.99");
    }
}
