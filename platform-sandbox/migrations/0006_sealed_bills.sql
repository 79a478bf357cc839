-- Migration number: 0006
-- A sub-merchant's fund-flow bill (`/v3/bill/sub-merchant-fundflowbill`) is downloaded sealed
-- for its provider: AES-256-GCM under a key of its own and the nonce its answer named. The row
-- keeps both so the download serves exactly the bytes that answer describes (AES-GCM under one
-- key and nonce seals the same file to the same bytes). NULL for every other bill.

-- The file's AES-256 key (base64); its RSA-OAEP encryption is what the provider was given.
ALTER TABLE bills ADD COLUMN aes_key TEXT;
-- The AES-GCM nonce as answered (16 ASCII characters, used as their bytes).
ALTER TABLE bills ADD COLUMN nonce TEXT;
