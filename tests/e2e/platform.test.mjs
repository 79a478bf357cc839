// Platform mode, the registry (issue #19, items 1 and 2): the platform API, with the platform
// key, creates service providers and merchants (direct, and a provider's sub-merchant), reads,
// lists, updates, suspends and resumes them, mints and revokes their API keys; settings are
// checked as the default merchant's are read; secrets are sealed at rest under the key-encryption
// key, bound to their owner, never answered; a rotation of that key is finished by sealing again.
// Ports 21500/21501.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { accountSettings, books, outputDir, startAll, testMerchants } from "./support.mjs";

let env;
/** Every answer's text, to show that no secret is ever in one. */
const answered = [];

before(async () => {
  env = await startAll({ edgePort: 21500, sandboxPort: 21501, shards: 1 });
}, { timeout: 600_000 });
after(async () => {
  await env?.browser.close();
  await env?.stack.stop();
});

/** A platform API call: the platform key as Bearer unless `key` says otherwise. */
async function platform(method, path, body, { key = env.edgeVars.PLATFORM_SECRET_KEY, headers = {} } = {}) {
  const res = await fetch(`${env.stack.edgeUrl}${path}`, {
    method,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  answered.push(text);
  return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
}

/** The simulator's certificate-mode test merchant: an account a provider can hold. */
function account() {
  const m = testMerchants().merchants.find((x) => x.trust_mode === "certificate");
  const { wechatpay_public_key_id: _id, wechatpay_public_key: _key, ...held } = accountSettings(m);
  return { ...held, wechatpay_trust_mode: "certificate" };
}

const webhookSecret = `whsec_${randomBytes(16).toString("hex")}`;
const made = {};

test("the platform API answers only the platform key", async () => {
  assert.equal((await platform("GET", "/v1/platform/merchants", null, { key: null })).status, 401);
  const wrong = await platform("GET", "/v1/platform/merchants", null, { key: env.edgeVars.MERCHANT_SECRET_KEY });
  assert.equal(wrong.status, 401, "a merchant's key is not the platform's");
  assert.equal(wrong.body.error.code, "unauthorized");
});

test("a provider is created with its WeChat Pay account, checked as the default merchant's is read, its secrets sealed", async () => {
  const bad = await platform("POST", "/v1/platform/providers", { name: "Short key", settings: { ...account(), wechatpay_api_v3_key: "short" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "invalid_merchant");
  assert.match(bad.body.error.message, /^wechatpay_api_v3_key/, "the setting is named as the API spells it");
  const misplaced = await platform("POST", "/v1/platform/providers", { name: "Hooks", settings: { ...account(), webhook_url: "https://x.example" } });
  assert.equal(misplaced.body.error.code, "invalid_merchant", "a provider holds the account only");
  const unknown = await platform("POST", "/v1/platform/providers", { name: "Typo", settings: { ...account(), wechatpay_mch_id: "1" } });
  assert.equal(unknown.body.error.code, "unknown_parameter");

  const created = await platform("POST", "/v1/platform/providers", { name: "Acme Payments 服务商", settings: account() });
  assert.equal(created.status, 201, created.text);
  made.provider = created.body;
  assert.match(created.body.id, /^sp_[0-9a-f]{24}$/);
  assert.equal(created.body.settings.wechatpay_mchid, account().wechatpay_mchid);
  assert.deepEqual(created.body.secrets_set, ["wechatpay_api_v3_key", "wechatpay_merchant_private_key"]);
  assert.equal(created.body.settings.wechatpay_api_v3_key, undefined, "never answered");
  const again = await platform("POST", "/v1/platform/providers", { name: "Same account", settings: account() });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, "already_exists");
  const listed = await platform("GET", "/v1/platform/providers");
  assert.deepEqual(listed.body.data.map((p) => p.id), [made.provider.id]);
});

test("a direct merchant is created with its first API key, shown once; a replay answers it without the key", async () => {
  const direct = testMerchants().merchants.find((x) => x.trust_mode === "public_key");
  const settings = {
    ...accountSettings(direct),
    wechatpay_mchid: "1900000042",
    webhook_url: "https://shop-one.example/hooks",
    webhook_secret: webhookSecret,
    risk_ip_hourly: "20/500000",
    allowed_origins: ["https://shop-one.example", "https://www.shop-one.example"],
  };
  const body = { name: "Shop One", settings };
  const headers = { "Idempotency-Key": "create-shop-one" };
  const created = await platform("POST", "/v1/platform/merchants", body, { headers });
  assert.equal(created.status, 201, created.text);
  made.direct = created.body;
  made.directKey = created.body.api_key;
  assert.match(created.body.id, /^mch_[0-9a-f]{24}$/);
  assert.equal(created.body.mode, "direct");
  assert.equal(created.body.status, "active");
  assert.equal(created.body.provider_id, null);
  assert.match(created.body.api_key, /^sk_[0-9a-f]{48}$/);
  assert.equal(created.body.settings.allowed_origins, "https://shop-one.example,https://www.shop-one.example");
  assert.deepEqual(created.body.secrets_set, ["webhook_secret", "wechatpay_api_v3_key", "wechatpay_merchant_private_key"]);

  const replay = await platform("POST", "/v1/platform/merchants", body, { headers });
  assert.equal(replay.status, 201);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal(replay.body.id, created.body.id, "the same merchant");
  assert.equal(replay.body.api_key, null, "the key is kept as its hash only: never shown twice");
  const reused = await platform("POST", "/v1/platform/merchants", { ...body, name: "Shop Two" }, { headers });
  assert.equal(reused.status, 422);
  const twin = await platform("POST", "/v1/platform/merchants", { name: "Same mchid", settings });
  assert.equal(twin.body.error.code, "already_exists");
  const noWebhookSecret = await platform("POST", "/v1/platform/merchants", { name: "Half a webhook", settings: { ...settings, wechatpay_mchid: "1900000043", webhook_secret: null } });
  assert.equal(noWebhookSecret.body.error.code, "invalid_merchant");
  assert.match(noWebhookSecret.body.error.message, /webhook_url needs webhook_secret/);
});

test("a provider's sub-merchant holds its sub_mchid and its own rules, and is checked with its provider's account", async () => {
  const unknownProvider = await platform("POST", "/v1/platform/merchants", { name: "Orphan", provider_id: "sp_none", settings: { wechatpay_sub_mchid: "1900000109" } });
  assert.equal(unknownProvider.status, 404);
  const ownAccount = await platform("POST", "/v1/platform/merchants", { name: "Two accounts", provider_id: made.provider.id, settings: { wechatpay_sub_mchid: "1900000109", wechatpay_mchid: "1" } });
  assert.equal(ownAccount.body.error.code, "invalid_merchant", "a sub-merchant's account is its provider's");
  const created = await platform("POST", "/v1/platform/merchants", {
    name: "Corner Café",
    provider_id: made.provider.id,
    settings: { wechatpay_sub_mchid: "1900000109", risk_max_session_fen: 100000, wechatpay_fee_rate_ppm: 3800 },
  });
  assert.equal(created.status, 201, created.text);
  made.sub = created.body;
  assert.equal(created.body.mode, "sub_merchant");
  assert.equal(created.body.provider_id, made.provider.id);
  assert.deepEqual(created.body.secrets_set, [], "the account's secrets are the provider's");
  const again = await platform("POST", "/v1/platform/merchants", { name: "Café again", provider_id: made.provider.id, settings: { wechatpay_sub_mchid: "1900000109" } });
  assert.equal(again.body.error.code, "already_exists", "one sub_mchid once per provider");
});

test("merchants are read, listed newest first, updated, suspended and resumed", async () => {
  const read = await platform("GET", `/v1/platform/merchants/${made.direct.id}`);
  assert.equal(read.status, 200);
  assert.equal(read.body.name, "Shop One");
  assert.equal((await platform("GET", "/v1/platform/merchants/mch_none")).status, 404);
  const page1 = await platform("GET", "/v1/platform/merchants?limit=1");
  assert.deepEqual([page1.body.data.map((m) => m.id), page1.body.has_more], [[made.sub.id], true]);
  const page2 = await platform("GET", `/v1/platform/merchants?limit=1&starting_after=${made.sub.id}`);
  assert.deepEqual([page2.body.data.map((m) => m.id), page2.body.has_more], [[made.direct.id], false]);
  assert.equal((await platform("GET", "/v1/platform/merchants?limit=0")).body.error.code, "invalid_limit");

  // Changed: a setting replaced, one removed; refused as a whole when the result would not work.
  const changed = await platform("POST", `/v1/platform/merchants/${made.direct.id}`, { name: "Shop One Ltd", settings: { risk_ip_hourly: null, webhook_url: "https://shop-one.example/v2/hooks" } });
  assert.equal(changed.status, 200, changed.text);
  assert.equal(changed.body.version, 2);
  assert.equal(changed.body.settings.webhook_url, "https://shop-one.example/v2/hooks");
  assert.equal(changed.body.settings.risk_ip_hourly, undefined);
  const broken = await platform("POST", `/v1/platform/merchants/${made.direct.id}`, { settings: { webhook_secret: null } });
  assert.equal(broken.body.error.code, "invalid_merchant");
  assert.equal((await platform("GET", `/v1/platform/merchants/${made.direct.id}`)).body.version, 2, "a refused change changes nothing");
  const moved = await platform("POST", `/v1/platform/merchants/${made.direct.id}`, { provider_id: made.provider.id });
  assert.equal(moved.body.error.code, "invalid_merchant", "a merchant's mode is fixed when it is made");

  const suspended = await platform("POST", `/v1/platform/merchants/${made.sub.id}/suspend`, null, { headers: { "Content-Type": "application/json" } });
  assert.equal(suspended.status, 200, suspended.text);
  assert.equal(suspended.body.status, "suspended");
  assert.equal((await platform("POST", `/v1/platform/merchants/${made.sub.id}/resume`, {})).body.status, "active");
  // One Idempotency-Key, two merchants: each its own change, not a replay of the other's.
  const headers = { "Idempotency-Key": "suspend-1" };
  assert.equal((await platform("POST", `/v1/platform/merchants/${made.sub.id}/suspend`, {}, { headers })).body.id, made.sub.id);
  const other = await platform("POST", `/v1/platform/merchants/${made.direct.id}/suspend`, {}, { headers });
  assert.deepEqual([other.body.id, other.body.status, other.headers.get("idempotent-replayed")], [made.direct.id, "suspended", null]);
  const replayed = await platform("POST", `/v1/platform/merchants/${made.direct.id}/suspend`, {}, { headers });
  assert.equal(replayed.headers.get("idempotent-replayed"), "true");
  for (const m of [made.sub, made.direct]) assert.equal((await platform("POST", `/v1/platform/merchants/${m.id}/resume`, {})).body.status, "active");
});

test("a merchant holds several API keys at once; a revoked one is marked; keys are kept as hashes", async () => {
  const second = await platform("POST", `/v1/platform/merchants/${made.direct.id}/api-keys`, {});
  assert.equal(second.status, 201, second.text);
  assert.match(second.body.api_key, /^sk_[0-9a-f]{48}$/);
  assert.equal(second.body.last4, second.body.api_key.slice(-4));
  const listed = await platform("GET", `/v1/platform/merchants/${made.direct.id}/api-keys`);
  assert.deepEqual(listed.body.data.map((k) => k.last4), [made.directKey.slice(-4), second.body.api_key.slice(-4)]);
  assert.ok(listed.body.data.every((k) => k.api_key === undefined), "a listing shows no key");
  const first = listed.body.data[0];
  const revoked = await platform("POST", `/v1/platform/api-keys/${first.id}/revoke`, {});
  assert.equal(revoked.status, 200);
  assert.equal(typeof revoked.body.revoked_at, "number");
  assert.equal((await platform("POST", "/v1/platform/api-keys/key_none/revoke", {})).status, 404);
  const stored = await books(env.stack, "merchant_api_keys", { merchant_id: made.direct.id });
  const sha = (k) => createHash("sha256").update(k).digest("hex");
  assert.deepEqual(stored.map((r) => r.key_hash).sort(), [sha(made.directKey), sha(second.body.api_key)].sort());
  assert.ok(!JSON.stringify(stored).includes(made.directKey) && !JSON.stringify(stored).includes(second.body.api_key), "never the key itself");
  made.secondKey = second.body.api_key;
});

test("secrets are sealed at rest, bound to their owner; no answer ever carried one", async () => {
  const [provider] = await books(env.stack, "providers", { id: made.provider.id });
  const [merchant] = await books(env.stack, "merchants", { id: made.direct.id });
  const kekId = env.edgeVars.SECRETS_KEK.split(":")[0];
  for (const row of [provider, merchant]) {
    const sealed = JSON.parse(row.secrets);
    assert.ok(Object.values(sealed).every((v) => v.startsWith(`v1:${kekId}:`)), `${row.id}: every secret sealed under ${kekId}`);
  }
  const clear = [account().wechatpay_api_v3_key, account().wechatpay_merchant_private_key.split("\n")[1], webhookSecret];
  for (const value of clear) {
    assert.ok(!provider.secrets.includes(value) && !merchant.secrets.includes(value), "nothing in clear at rest");
    assert.ok(!answered.some((text) => text.includes(value)), "no answer carried a secret");
  }
  // Nor any log line of the Workers (the edge's log holds the back office's too), the
  // platform's own keys and the merchants' API keys included.
  const log = readFileSync(join(outputDir, "logs-21500", "edge.log"), "utf8");
  assert.match(log, /POST \/v1\/platform\/merchants 201/, "the scan reads this run's real log");
  const keys = [env.edgeVars.PLATFORM_SECRET_KEY, env.edgeVars.SECRETS_KEK.split(":")[1], made.directKey, made.secondKey];
  for (const value of [...clear, ...keys]) {
    assert.ok(value.length >= 16 && !log.includes(value), "no log line carries a secret");
  }
  // The registry made the merchant a derivation key of its own; it is sealed, never listed.
  assert.ok("MERCHANT_SECRET_KEY" in JSON.parse(merchant.secrets));
  assert.ok(!made.direct.secrets_set.includes("merchant_secret_key"));
});

test("a rotation of the key-encryption key: the old key still opens, sealing again moves every secret to the new one", async () => {
  const old = env.edgeVars.SECRETS_KEK;
  const next = `dev-2:${randomBytes(32).toString("base64")}`;
  await env.stack.redeployEdge({ SECRETS_KEK: next, SECRETS_KEK_PREVIOUS: old });
  // Sealed under the old key: still opened (an update opens, checks and seals again).
  const changed = await platform("POST", `/v1/platform/merchants/${made.sub.id}`, { settings: { wechatpay_fee_rate_ppm: 6000 } });
  assert.equal(changed.status, 200, changed.text);
  const resealed = await platform("POST", "/v1/platform/secrets/reseal", {});
  assert.equal(resealed.status, 200, resealed.text);
  assert.equal(resealed.body.kek_id, "dev-2");
  assert.ok(resealed.body.providers === 1 && resealed.body.merchants >= 1, JSON.stringify(resealed.body));
  const rows = [...(await books(env.stack, "providers")), ...(await books(env.stack, "merchants"))];
  assert.ok(rows.every((r) => Object.values(JSON.parse(r.secrets)).every((v) => v.startsWith("v1:dev-2:"))), "every secret under the new key");
  // The old key gone: everything still opens.
  await env.stack.redeployEdge({ SECRETS_KEK: next, SECRETS_KEK_PREVIOUS: "" });
  assert.deepEqual((await platform("POST", "/v1/platform/secrets/reseal", {})).body, { kek_id: "dev-2", providers: 0, merchants: 0 });
  const after = await platform("POST", `/v1/platform/merchants/${made.direct.id}`, { settings: { webhook_url: "https://shop-one.example/v3/hooks" } });
  assert.equal(after.status, 200, after.text);
  // A deployment without the platform's keys says so.
  await env.stack.redeployEdge({ PLATFORM_SECRET_KEY: "" });
  const off = await platform("GET", "/v1/platform/merchants");
  assert.deepEqual([off.status, off.body.error.code], [503, "platform_not_configured"]);
});
