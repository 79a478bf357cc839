-- Migration number: 0014
-- WeChat OAuth without the client secret in a URL: the widget asks (with the secret, in a
-- header) for a one-time ticket, kept here as its SHA-256 with its expiry, and navigates to it;
-- the first use clears it (pay_core::oauth_state).
ALTER TABLE checkout_sessions ADD COLUMN oauth_ticket_hash TEXT;
ALTER TABLE checkout_sessions ADD COLUMN oauth_ticket_expires_at INTEGER;
