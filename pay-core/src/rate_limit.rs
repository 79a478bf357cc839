//! Rate limits on what a browser can make the Worker do: create sessions (the demo shop and
//! the merchant API) and ask WeChat Pay for a prepay or a query (pay, check). Each limit counts
//! hits in fixed windows; the count lives in the books (D1, one atomic upsert per hit) and the
//! decision is made here.

use crate::{Error, UnixTime};

/// What is limited, per whom: the name is also the stable `limit` a refusal reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub name: &'static str,
    /// Hits allowed per window; 0 switches the limit off.
    pub max_hits: i64,
    pub window_secs: i64,
}

/// The window `now` falls in, and the counter's key in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub bucket: String,
    pub start: i64,
    pub resets_at: i64,
}

impl RateLimit {
    pub fn is_off(&self) -> bool {
        self.max_hits <= 0
    }

    /// The window of `now` for `subject` (a client IP or a session id).
    pub fn window(&self, subject: &str, now: UnixTime) -> Window {
        let width = self.window_secs.max(1);
        let start = now.secs().div_euclid(width) * width;
        Window {
            bucket: format!("{}:{subject}", self.name),
            start,
            resets_at: start + width,
        }
    }

    /// Refuses the hit that made the window's count `hits` if that is over the limit.
    pub fn check(&self, window: &Window, hits: i64, now: UnixTime) -> Result<(), Error> {
        if self.is_off() || hits <= self.max_hits {
            Ok(())
        } else {
            Err(Error::RateLimited {
                limit: self.name,
                max_hits: self.max_hits,
                window_secs: self.window_secs,
                retry_after_secs: (window.resets_at - now.secs()).max(1),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAY: RateLimit = RateLimit {
        name: "pay_per_session",
        max_hits: 3,
        window_secs: 60,
    };

    #[test]
    fn the_hit_at_the_limit_passes_and_the_next_is_refused_until_the_window_resets() {
        let now = UnixTime(1_764_000_030);
        let w = PAY.window("cs_1", now);
        assert_eq!(
            (w.bucket.as_str(), w.start, w.resets_at),
            ("pay_per_session:cs_1", 1_764_000_000, 1_764_000_060)
        );
        assert!(PAY.check(&w, 3, now).is_ok());
        let refused = PAY.check(&w, 4, now).unwrap_err();
        assert_eq!(refused.code(), "rate_limited");
        assert!(matches!(
            refused,
            Error::RateLimited {
                retry_after_secs: 30,
                limit: "pay_per_session",
                ..
            }
        ));
        assert_eq!(
            PAY.window("cs_1", UnixTime(1_764_000_060)).start,
            1_764_000_060
        );
    }

    #[test]
    fn a_limit_of_zero_is_off() {
        let off = RateLimit { max_hits: 0, ..PAY };
        assert!(off
            .check(&off.window("x", UnixTime(0)), 1_000_000, UnixTime(0))
            .is_ok());
    }
}
