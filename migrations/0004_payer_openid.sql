-- Migration number: 0004
-- The payer's openid under the merchant's app, learnt through WeChat OAuth (JSAPI scene).
ALTER TABLE checkout_sessions ADD COLUMN payer_openid TEXT;
-- Where the payer's page wants to be sent back after the OAuth round trip.
ALTER TABLE checkout_sessions ADD COLUMN oauth_return_to TEXT;
