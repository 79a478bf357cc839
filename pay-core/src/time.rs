//! Time as whole seconds since the Unix epoch, and the RFC 3339 forms WeChat Pay uses.
//!
//! The clock is never read here: callers pass `now` in.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

/// China Standard Time, the offset WeChat Pay writes in every timestamp.
const CST_OFFSET_SECS: i64 = 8 * 3600;

impl UnixTime {
    pub const fn secs(self) -> i64 {
        self.0
    }

    pub const fn plus(self, secs: i64) -> Self {
        UnixTime(self.0 + secs)
    }

    /// `2026-11-24T13:17:57+08:00`, the form of `time_expire` and `success_time`.
    pub fn to_rfc3339_cst(self) -> String {
        let local = self.0 + CST_OFFSET_SECS;
        let (days, secs_of_day) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        )
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`; fractions of a second are dropped.
    pub fn parse_rfc3339(text: &str) -> Result<Self, Error> {
        let bad = || Error::Malformed {
            what: "RFC 3339 time",
            reason: format!("{text:?} is not YYYY-MM-DDThh:mm:ss+08:00"),
        };
        let b = text.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad());
        }
        let num = |r: core::ops::Range<usize>| -> Result<i64, Error> {
            let s = text.get(r).ok_or_else(bad)?;
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (y, mo, d, h, mi, s) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        );
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return Err(bad());
        }
        let mut rest = &text[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            rest = &frac[digits..];
        }
        let offset = match rest.as_bytes() {
            [b'Z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let oh: i64 = rest[1..3].parse().map_err(|_| bad())?;
                let om: i64 = rest[4..6].parse().map_err(|_| bad())?;
                let magnitude = oh * 3600 + om * 60;
                if *sign == b'+' {
                    magnitude
                } else {
                    -magnitude
                }
            }
            _ => return Err(bad()),
        };
        Ok(UnixTime(
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset,
        ))
    }
}

/// A calendar day in China time, as WeChat Pay dates its bills: `2026-11-23`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CstDate {
    /// Days since 1970-01-01.
    days: i64,
}

impl CstDate {
    /// The China-time day `t` falls on.
    pub fn of(t: UnixTime) -> CstDate {
        CstDate {
            days: (t.0 + CST_OFFSET_SECS).div_euclid(86_400),
        }
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<CstDate, Error> {
        let bad = || Error::Malformed {
            what: "date",
            reason: format!("{text:?} is not YYYY-MM-DD"),
        };
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: core::ops::Range<usize>| -> Result<i64, Error> {
            let part = &text[r];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let date = CstDate {
            days: days_from_civil(y, m, d),
        };
        // 2026-02-30 would silently be March 2nd: refuse what does not round-trip.
        if !(1..=12).contains(&m) || date.to_string() != text {
            return Err(bad());
        }
        Ok(date)
    }

    /// Its first second, as a Unix time.
    pub fn start(self) -> UnixTime {
        UnixTime(self.days * 86_400 - CST_OFFSET_SECS)
    }

    /// The first second of the next day.
    pub fn end(self) -> UnixTime {
        self.next().start()
    }

    pub fn next(self) -> CstDate {
        CstDate {
            days: self.days + 1,
        }
    }

    pub fn previous(self) -> CstDate {
        CstDate {
            days: self.days - 1,
        }
    }

    pub fn contains(self, t: UnixTime) -> bool {
        self.start() <= t && t < self.end()
    }
}

impl fmt::Display for CstDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.days);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

// Howard Hinnant's civil-date algorithms (public domain), proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_days_for_bills() {
        let day = CstDate::parse("2026-11-23").unwrap();
        assert_eq!(day.to_string(), "2026-11-23");
        assert_eq!(day.start().to_rfc3339_cst(), "2026-11-23T00:00:00+08:00");
        assert_eq!(day.end().to_rfc3339_cst(), "2026-11-24T00:00:00+08:00");
        // 23:59:59 China time is still the 23rd; midnight is the 24th.
        let late = UnixTime::parse_rfc3339("2026-11-23T15:59:59Z").unwrap();
        assert_eq!(CstDate::of(late), day);
        assert!(day.contains(late) && !day.contains(late.plus(1)));
        assert_eq!(CstDate::of(late.plus(1)), day.next());
        assert_eq!(day.previous().to_string(), "2026-11-22");
        assert_eq!(
            CstDate::parse("2024-03-01").unwrap().previous().to_string(),
            "2024-02-29"
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "20261123",
            "2026-11-2x",
        ] {
            assert!(CstDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_in_china_time() {
        assert_eq!(UnixTime(0).to_rfc3339_cst(), "1970-01-01T08:00:00+08:00");
        // 2018-06-08T10:34:56+08:00 is the example in WeChat Pay's docs.
        assert_eq!(
            UnixTime(1_528_425_296).to_rfc3339_cst(),
            "2018-06-08T10:34:56+08:00"
        );
        assert_eq!(
            UnixTime(951_782_400).to_rfc3339_cst(),
            "2000-02-29T08:00:00+08:00"
        );
    }

    #[test]
    fn parses_what_it_formats_and_other_offsets() {
        for t in [0, 1_528_425_296, 1_764_000_000, 4_102_444_800] {
            let text = UnixTime(t).to_rfc3339_cst();
            assert_eq!(UnixTime::parse_rfc3339(&text), Ok(UnixTime(t)), "{text}");
        }
        assert_eq!(
            UnixTime::parse_rfc3339("1970-01-01T00:00:00Z"),
            Ok(UnixTime(0))
        );
        assert_eq!(
            UnixTime::parse_rfc3339("1970-01-01T00:00:01.999-01:30"),
            Ok(UnixTime(5401))
        );
        for bad in [
            "",
            "2018-06-08 10:34:56+08:00",
            "2018-13-08T10:34:56+08:00",
            "2018-06-08T10:34:56",
            "2018-06-08T10:34:56+0800",
            "2018-06-08T10:34:5x+08:00",
        ] {
            assert!(UnixTime::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
