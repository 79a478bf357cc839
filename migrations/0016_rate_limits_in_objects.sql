-- Rate-limit counters moved to the books' Durable Objects, one per subject (issue #18,
-- checkout-service/src/objects/counters.rs): a hit no longer writes to D1. The windows here were
-- transient (one window long), so none is carried over: each limit counts afresh once, at the
-- deploy.
DROP TABLE rate_limit_hits;
