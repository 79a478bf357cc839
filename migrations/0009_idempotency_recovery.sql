-- An Idempotency-Key names the resource its request creates, chosen before the work starts:
-- a request that crashed between its claim and its answer is taken over after a lease by a
-- retry with the same key, which finishes the same resource instead of making a second one.
ALTER TABLE idempotency_keys ADD COLUMN resource_id TEXT NOT NULL DEFAULT '';
