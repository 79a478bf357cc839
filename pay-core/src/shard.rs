//! Which shard of the books holds what, decided from the thing itself so that no lookup is
//! needed: an order lives in the shard its `out_trade_no` hashes to (FNV-1a, 64 bits), and the
//! ids made for it (its checkout session, its refunds, its events' webhook ids) name that shard.
//! A notification, which carries the out_trade_no, and a widget call, which carries the
//! session id, each find their shard with nothing but what they hold.
//!
//! An id names its shard after its prefix, `cs_3_…`; an id of shard 0 is written without it
//! (`cs_…`), so the ids of a deployment with one shard, and those made before there were
//! shards, are what they always were. A shard's own due work (webhook retries, refunds waiting
//! for WeChat Pay's word) wakes it when [`next_due`] says.

use crate::checkout::REQUERY_SECS;
use crate::merchant::MerchantId;
use crate::UnixTime;

/// The most shards a deployment may have (each is a Durable Object; a listing or a sweep asks
/// every one, so the count is kept to what one request can fan out to).
pub const MAX_SHARDS: u32 = 64;

/// How many shards the books have: 1 to [`MAX_SHARDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardCount(u32);

impl ShardCount {
    pub const ONE: ShardCount = ShardCount(1);

    /// `None` outside 1 to [`MAX_SHARDS`].
    pub fn new(count: i64) -> Option<Self> {
        match u32::try_from(count) {
            Ok(n @ 1..=MAX_SHARDS) => Some(ShardCount(n)),
            _ => None,
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Every shard, in order.
    pub fn all(self) -> impl Iterator<Item = u32> {
        0..self.0
    }

    /// The shard of `key` (an out_trade_no, an idempotency key, a budget's subject).
    pub fn of(self, key: &str) -> u32 {
        (fnv1a_64(key.as_bytes()) % u64::from(self.0)) as u32
    }

    /// The shard an id names, if this deployment has it.
    pub fn named_by(self, id: &str) -> Option<u32> {
        ShardedId::parse(id)
            .map(|s| s.shard)
            .filter(|&s| s < self.0)
    }
}

/// FNV-1a, 64 bits: small, fast, well spread over short keys, and the same everywhere (the
/// standard library's hasher is seeded per process, so it cannot address storage).
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// An id that names its merchant and its shard: `{prefix}_{token}` for the default merchant's
/// shard 0, `{prefix}_{shard}_{token}` in any other shard, and a registry merchant's with its
/// merchant's token after the prefix, `{prefix}_m{merchant}[_{shard}]_{token}` (so no id made
/// before platform mode changes meaning). The token never holds an underscore (random hex, or an
/// event's sequence number) and never starts with `m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedId<'a> {
    pub prefix: &'a str,
    /// The registry merchant's token; `None`: the default merchant.
    pub merchant: Option<&'a str>,
    pub shard: u32,
    pub token: &'a str,
}

impl<'a> ShardedId<'a> {
    /// Reads an id; `None` if it is not of this form (no prefix, an empty token, a merchant that
    /// is not a registry token, a shard that is not a plain decimal number: `cs_01_…` names no
    /// shard).
    pub fn parse(id: &'a str) -> Option<Self> {
        let parts: Vec<&str> = id.split('_').collect();
        let (&prefix, rest) = parts.split_first()?;
        let (&token, mut middle) = rest.split_last()?;
        let merchant = match middle.first().and_then(|m| m.strip_prefix('m')) {
            Some(merchant) => {
                MerchantId::of_token(merchant)?;
                middle = &middle[1..];
                Some(merchant)
            }
            None => None,
        };
        let shard = match middle {
            [] => 0,
            // A plain decimal number above 0, written without a leading zero.
            [shard] if !shard.starts_with('0') && shard.bytes().all(|b| b.is_ascii_digit()) => {
                shard.parse().ok()?
            }
            _ => return None,
        };
        let whole = !prefix.is_empty() && !token.is_empty() && !token.starts_with('m');
        whole.then_some(ShardedId {
            prefix,
            merchant,
            shard,
            token,
        })
    }

    /// The merchant it names.
    pub fn merchant_id(&self) -> MerchantId {
        self.merchant
            .and_then(MerchantId::of_token)
            .unwrap_or(MerchantId::Default)
    }
}

impl std::fmt::Display for ShardedId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_", self.prefix)?;
        if let Some(merchant) = self.merchant {
            write!(f, "m{merchant}_")?;
        }
        match self.shard {
            0 => write!(f, "{}", self.token),
            shard => write!(f, "{shard}_{}", self.token),
        }
    }
}

/// The id of a new thing of kind `prefix` of `merchant`, in its `shard`.
pub fn id(prefix: &str, merchant: &MerchantId, shard: u32, token: &str) -> String {
    ShardedId {
        prefix,
        merchant: merchant.token(),
        shard,
        token,
    }
    .to_string()
}

/// The merchant an id names (the default merchant for an id that names none, or that is not
/// an id of this form: it is then not found in the default merchant's books either).
pub fn merchant_named_by(id: &str) -> MerchantId {
    ShardedId::parse(id).map_or(MerchantId::Default, |s| s.merchant_id())
}

/// A webhook event's id: the shard's own sequence number of the event, in that shard.
pub fn event_id(shard: u32, seq: i64) -> String {
    id("evt", &MerchantId::Default, shard, &seq.to_string())
}

/// The shard and sequence number a webhook event's id names.
pub fn parse_event_id(id: &str) -> Option<(u32, i64)> {
    let parsed = ShardedId::parse(id).filter(|p| p.prefix == "evt" && p.merchant.is_none())?;
    let seq = parsed.token.parse().ok().filter(|&s: &i64| s > 0)?;
    Some((parsed.shard, seq))
}

/// When a shard of the books next needs its alarm, just after it did its work at `now`: the
/// earliest undelivered webhook's next attempt (`outbox`, when the merchant has webhooks; one
/// still due now is a batch left for the next pass, a second on), and the refunds waiting for
/// WeChat Pay's word (`refunds`: the earliest time one was last changed), asked about
/// [`refund_wait_secs`] after their last change and then every [`REQUERY_SECS`] (a refund
/// asked about just now is not asked again at once). `None`: nothing left to do.
pub fn next_due(
    outbox: Option<UnixTime>,
    refunds: Option<UnixTime>,
    query_after_secs: i64,
    now: UnixTime,
) -> Option<UnixTime> {
    let outbox = outbox.map(|at| at.max(now.plus(1)));
    let refunds = refunds.map(|changed| {
        let due = changed.plus(refund_wait_secs(query_after_secs));
        if due <= now {
            now.plus(REQUERY_SECS)
        } else {
            due
        }
    });
    [outbox, refunds].into_iter().flatten().min()
}

/// How long after its last change a shard's alarm first asks WeChat Pay about a refund still
/// waiting: the merchant's query delay, but never under [`REQUERY_SECS`] (WeChat Pay's answer
/// or notification settles a refund within seconds, and its refund query is rate-limited per
/// merchant, so the alarm does not race them; the scheduled run asks as soon as the delay says).
pub fn refund_wait_secs(query_after_secs: i64) -> i64 {
    query_after_secs.max(REQUERY_SECS)
}

/// How long after a shard's first change the shard's object projects its changes into the
/// listing: changes made meanwhile go in the same write, so D1 sees at most one write a second
/// per shard however busy the shard is, and a listing is about that far behind the books.
pub const LISTING_LAG_SECS: i64 = 1;

/// The sessions a shard's sweep settles (the cron's, when it wakes the shard): those due this
/// long ago or more. A session's own object settles it when it falls due; the sweep is for one
/// whose alarm was lost, and does not race one that is on time.
pub fn sweep_settles_due_by(now: UnixTime) -> UnixTime {
    now.plus(-REQUERY_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_64_matches_the_published_vectors() {
        // From the FNV authors' test suite (isthe.com/chongo/src/fnv/test_fnv.c).
        assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn an_order_always_lands_in_the_same_shard_and_orders_spread_evenly() {
        let four = ShardCount::new(4).unwrap();
        assert_eq!(four.of("CS17000000001234"), four.of("CS17000000001234"));
        assert_eq!(ShardCount::ONE.of("anything"), 0);
        let mut counts = [0u32; 4];
        for i in 0..4000 {
            counts[four.of(&format!("ORDER{i:06}")) as usize] += 1;
        }
        // 1,000 each if perfectly even; sequential numbers must not pile into one shard.
        assert!(
            counts.iter().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn ids_name_their_shard_and_shard_0_ids_are_written_as_before() {
        let default = MerchantId::Default;
        assert_eq!(id("cs", &default, 0, "ab12"), "cs_ab12");
        assert_eq!(id("cs", &default, 3, "ab12"), "cs_3_ab12");
        let four = ShardCount::new(4).unwrap();
        assert_eq!(four.named_by("cs_ab12"), Some(0));
        assert_eq!(four.named_by("cs_3_ab12"), Some(3));
        assert_eq!(four.named_by("re_3_ab12"), Some(3));
        // A shard this deployment does not have, or an id of another form, names none.
        assert_eq!(four.named_by("cs_4_ab12"), None);
        for odd in [
            "",
            "cs",
            "cs_",
            "_ab",
            "cs_3_",
            "cs_03_ab",
            "cs_0_ab",
            "cs_x_ab",
            "cs_3_a_b",
            "cs_-1_ab",
            "cs_99999999999_ab",
            "cs_m_ab",
            "cs_mXY_ab",
            "cs_m0a_m0b_ab",
            "cs_m0a_3_4_ab",
            "cs_3_m0a_ab",
            "cs_mab",
        ] {
            assert_eq!(four.named_by(odd), None, "{odd:?}");
        }
        assert_eq!(ShardCount::new(0), None);
        assert_eq!(ShardCount::new(65), None);
        assert_eq!(ShardCount::new(64).map(ShardCount::get), Some(64));
    }

    #[test]
    fn a_registry_merchants_ids_name_it_and_no_id_of_before_changes_meaning() {
        let shop = MerchantId::parse("mch_0a1b").unwrap();
        assert_eq!(id("cs", &shop, 0, "ab12"), "cs_m0a1b_ab12");
        assert_eq!(id("re", &shop, 3, "ab12"), "re_m0a1b_3_ab12");
        let four = ShardCount::new(4).unwrap();
        assert_eq!(four.named_by("cs_m0a1b_ab12"), Some(0));
        assert_eq!(four.named_by("re_m0a1b_3_ab12"), Some(3));
        assert_eq!(merchant_named_by("re_m0a1b_3_ab12"), shop);
        assert_eq!(merchant_named_by("cs_m0a1b_ab12"), shop);
        // Today's ids, and anything else, name the default merchant.
        for today in ["cs_ab12", "cs_3_ab12", "evt_2_17", "nonsense"] {
            assert_eq!(merchant_named_by(today), MerchantId::Default, "{today}");
        }
        // A round trip, whatever the parts.
        for text in ["cs_ab", "cs_7_ab", "cs_mff_ab", "cs_mff_63_ab"] {
            assert_eq!(ShardedId::parse(text).unwrap().to_string(), text);
        }
        // A webhook event's id never names a merchant (it is read in its merchant's books).
        assert_eq!(parse_event_id("evt_m0a1b_2_17"), None);
    }

    #[test]
    fn a_shard_wakes_for_its_next_webhook_or_refund_and_never_spins() {
        // The requery period is a minute.
        assert_eq!(REQUERY_SECS, 60);
        let now = UnixTime(1_000);
        let at = UnixTime;
        assert_eq!(next_due(None, None, 60, now), None);
        // A retry in ten seconds; one still due now is the next pass's, a second on.
        assert_eq!(next_due(Some(at(1_010)), None, 60, now), Some(at(1_010)));
        assert_eq!(next_due(Some(at(900)), None, 60, now), Some(at(1_001)));
        // A refund changed 30 s ago is asked about 30 s from now; one asked about just now
        // (its last change long ago) a minute from now; never under a minute after a change.
        assert_eq!(next_due(None, Some(at(970)), 60, now), Some(at(1_030)));
        assert_eq!(next_due(None, Some(at(100)), 60, now), Some(at(1_060)));
        assert_eq!(next_due(None, Some(at(990)), 0, now), Some(at(1_050)));
        assert_eq!(next_due(None, Some(at(990)), 120, now), Some(at(1_110)));
        // The earlier of the two.
        assert_eq!(
            next_due(Some(at(1_500)), Some(at(970)), 60, now),
            Some(at(1_030))
        );
        assert_eq!(
            next_due(Some(at(1_002)), Some(at(970)), 60, now),
            Some(at(1_002))
        );
    }

    #[test]
    fn event_ids_name_the_shard_and_its_sequence() {
        assert_eq!(event_id(0, 17), "evt_17");
        assert_eq!(event_id(2, 17), "evt_2_17");
        assert_eq!(parse_event_id("evt_17"), Some((0, 17)));
        assert_eq!(parse_event_id("evt_2_17"), Some((2, 17)));
        for odd in ["evt_0", "evt_x", "cs_2_17", "evt_2_-1", "evt_"] {
            assert_eq!(parse_event_id(odd), None, "{odd:?}");
        }
    }
}
