-- Migration number: 0003
-- Where the payer goes back to after paying, and the merchant's own key-value data.
ALTER TABLE checkout_sessions ADD COLUMN return_url TEXT;
ALTER TABLE checkout_sessions ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata));
