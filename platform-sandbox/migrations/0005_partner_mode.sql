-- Migration number: 0005
-- Partner mode (服务商): a sub-merchant's transactions and refunds are in its own books
-- (`mchid` is the sub_mchid: out_trade_no unique per sub-merchant, its balance, fees and bill
-- lines), with its provider's number beside them. For a direct merchant's records the new
-- columns are NULL and every existing column keeps its meaning.

-- The provider (sp_mchid) that placed the order; `appid` holds its sp_appid.
ALTER TABLE transactions ADD COLUMN sp_mchid TEXT;
-- The sub-merchant's own app, when the prepay named one.
ALTER TABLE transactions ADD COLUMN sub_appid TEXT;
-- The app whose openid `payer_openid` is (NULL: `appid`): the sub_appid for a payer named by
-- sub_openid, the sp_appid for one named by sp_openid.
ALTER TABLE transactions ADD COLUMN payer_appid TEXT;
CREATE INDEX transactions_by_provider ON transactions (sp_mchid, success_time);

ALTER TABLE refunds ADD COLUMN sp_mchid TEXT;
-- Notifications are listed under the books' mchid; the provider signs and encrypts them.
ALTER TABLE notifications ADD COLUMN sp_mchid TEXT;
