// Platform mode, routing (issue #19, item 3 and the first part of item 8): a direct merchant made
// through the platform API takes payments with no redeploy, with its own API key, books (its
// shards' objects, ids that name it), notification URL, webhooks and listing; a request of one
// merchant never reaches another's orders (API keys, client secrets, notifications encrypted for
// one naming the other's orders); a suspended merchant's new sessions are refused while its open
// ones pay and refund; an API key revoked is refused at once, and the sessions it made go on.
// The default merchant (the deployment's vars and secrets) works beside it unchanged.
// Ports 19500/19501.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import {
  accountSettings, consoleRequest, cstNow, edgeCall, forgeNotification, merchantClient, payerPays, platformCall, platformRecords, signInToConsole, startAll, testMerchants, until,
  webhookReceiver,
} from "./support.mjs";

let env;
const webhookSecret = `whsec_${randomBytes(16).toString("hex")}`;
const receiver = webhookReceiver(webhookSecret);
/** The registry merchant under test, as the platform API made it, and its first API key. */
const shop = { orders: new Set() };

/** The simulator's third test merchant (public-key mode): the registry merchant's account. */
const shopAccount = () => testMerchants().merchants[2];

const call = (key, method, path, body, headers) => edgeCall(env, key, method, path, body, headers);
const platform = (method, path, body) => platformCall(env, method, path, body);
const asShop = (method, path, body) => call(shop.key, method, path, body);

async function shopSession(description, amount_fen = 1234) {
  const r = await asShop("POST", "/v1/checkout/sessions", { amount_fen, description });
  assert.equal(r.status, 201, r.text);
  shop.orders.add(r.body.out_trade_no);
  return r.body;
}
const shopStatus = async (id) => (await asShop("GET", `/v1/checkout/sessions/${id}`)).body.status;

before(async () => {
  env = await startAll({ edgePort: 19500, sandboxPort: 19501, shards: 2 });
  receiver.up = true;
  const port = await receiver.listen();
  const made = await platform("POST", "/v1/platform/merchants", {
    name: "Shop Three",
    settings: {
      ...accountSettings(shopAccount()),
      webhook_url: `http://127.0.0.1:${port}/hooks`,
      webhook_secret: webhookSecret,
      allowed_origins: ["https://shop-three.example"],
    },
  });
  assert.equal(made.status, 201, made.text);
  Object.assign(shop, { id: made.body.id, key: made.body.api_key, keyId: made.body.api_key_id });
}, { timeout: 600_000 });
after(async () => {
  await receiver.close();
  await env?.browser.close();
  await env?.stack.stop();
});

test("a registry merchant takes its first payment with no redeploy: its key, its books, its notification URL, its webhooks, its listing, its refund", { timeout: 120_000 }, async () => {
  const token = shop.id.slice("mch_".length);
  const session = await shopSession("shop three's first order");
  assert.match(session.id, new RegExp(`^cs_m${token}_(1_)?[0-9a-f]{24}$`), "its id names its merchant (and its shard)");

  await payerPays(env.stack, session);
  await until("the registry merchant's notification to be applied", async () => (await shopStatus(session.id)) === "paid", 20_000);
  // Paid to its own account at WeChat Pay, through its own app.
  const [tx] = await platformRecords(env.stack, "transactions", { mchid: shopAccount().mchid, out_trade_no: session.out_trade_no });
  assert.equal(tx.trade_state, "SUCCESS");
  assert.equal(tx.appid, shopAccount().appid);
  const notified = await fetch(`${env.stack.sandboxUrl}/sandbox/notifications?mchid=${shopAccount().mchid}&out_trade_no=${session.out_trade_no}`).then((r) => r.json());
  assert.ok(notified.notifications.length >= 1);
  for (const n of notified.notifications) {
    assert.equal(new URL(n.notify_url).pathname, `/v1/wechatpay/notify/${shop.id}`, "its own notification URL, the merchant in the path");
  }
  const paidEvent = await until("its webhook", () => [...receiver.seen.values()].find((e) => e.type === "checkout.session.paid" && e.data.session.id === session.id), 20_000);
  assert.equal(paidEvent.count, 1);

  // Its listing holds its order, the default merchant's does not, and the other way round.
  const theirs = await merchantClient(env).createSession({ amount_fen: 100, description: "the default merchant's" });
  await until("both listings to hold their own", async () => {
    const mine = (await asShop("GET", "/v1/checkout/sessions?limit=100")).body.data.map((s) => s.id);
    const default_ = (await merchantClient(env).request("GET", "/v1/checkout/sessions?limit=100")).body.data.map((s) => s.id);
    return mine.includes(session.id) && default_.includes(theirs.id);
  }, 15_000);
  const mine = (await asShop("GET", "/v1/checkout/sessions?limit=100")).body.data;
  assert.ok(mine.every((s) => s.id.startsWith(`cs_m${token}_`)), "only its own orders");
  const default_ = (await merchantClient(env).request("GET", "/v1/checkout/sessions?limit=100")).body.data;
  assert.ok(!default_.some((s) => s.id === session.id), "not in the default merchant's listing");

  const refund = await asShop("POST", "/v1/refunds", { session_id: session.id, amount_fen: 234 }, {});
  assert.equal(refund.status, 201, refund.text);
  assert.match(refund.body.id, new RegExp(`^re_m${token}_`));
  await until("its refund to succeed", async () => (await asShop("GET", `/v1/refunds/${refund.body.id}`)).body.status === "succeeded", 20_000);
  const [atWechatPay] = await platformRecords(env.stack, "refunds", { mchid: shopAccount().mchid, out_refund_no: refund.body.out_refund_no });
  assert.equal(atWechatPay.status, "SUCCESS");
});

test("a request of one merchant never reaches another's orders: keys, client secrets and notifications across merchants", { timeout: 120_000 }, async () => {
  const ours = await shopSession("shop three's open order");
  const theirs = await merchantClient(env).createSession({ amount_fen: 4321, description: "the default merchant's open order" });
  const defaultKey = env.edgeVars.MERCHANT_SECRET_KEY;
  const defaultAppid = testMerchants().merchants[0].appid;
  for (const [key, other] of [[shop.key, theirs], [defaultKey, ours]]) {
    assert.equal((await call(key, "GET", `/v1/checkout/sessions/${other.id}`)).status, 404);
    assert.equal((await call(key, "POST", `/v1/checkout/sessions/${other.id}/close`)).status, 404);
    const refund = await call(key, "POST", "/v1/refunds", { session_id: other.id, amount_fen: 1 });
    assert.equal(refund.status, 404, refund.text);
    const cursor = await call(key, "GET", `/v1/checkout/sessions?starting_after=${other.id}`);
    assert.equal(cursor.status, 404, "another merchant's id is no cursor");
  }
  // A client secret opens its own session only; a merchant the deployment does not have is
  // the same 401 as a wrong secret.
  assert.equal((await call(theirs.client_secret, "GET", `/v1/widget/sessions/${ours.id}`)).status, 401);
  assert.equal((await call(ours.client_secret, "GET", `/v1/widget/sessions/${theirs.id}`)).status, 401);
  assert.equal((await call(ours.client_secret, "GET", `/v1/widget/sessions/${ours.id}`)).status, 200);
  const unknown = ours.id.replace(/^cs_m[0-9a-f]+/, "cs_m" + "0".repeat(24));
  assert.equal((await call(ours.client_secret, "GET", `/v1/widget/sessions/${unknown}`)).status, 401);

  // Notifications: each merchant's URL decrypts with its own key and applies to its own books.
  const paidTx = (session, mchid, appid) => ({
    appid, mchid, out_trade_no: session.out_trade_no, transaction_id: `42000000000000000000${randomBytes(4).toString("hex")}`,
    trade_type: "NATIVE", trade_state: "SUCCESS", trade_state_desc: "支付成功", success_time: cstNow(),
    amount: { total: session.amount_fen, payer_total: session.amount_fen, currency: "CNY", payer_currency: "CNY" },
  });
  const post = (path, n) => fetch(`${env.stack.edgeUrl}${path}`, { method: "POST", headers: n.headers, body: n.body });
  const shopUrl = `/v1/wechatpay/notify/${shop.id}`;
  const shopKey = { apiV3Key: shopAccount().api_v3_key };
  // The default merchant's notification naming the shop's order, at the default URL: not its order.
  const a = await post("/v1/wechatpay/notify", forgeNotification(env, paidTx(ours, shopAccount().mchid, shopAccount().appid)));
  assert.equal(a.status, 404, await a.text());
  // The shop's notification naming the default merchant's order, at the shop's URL: not its order.
  const b = await post(shopUrl, forgeNotification(env, paidTx(theirs, "1230000109", defaultAppid), shopKey));
  assert.equal(b.status, 404, await b.text());
  // Encrypted for one merchant, sent to the other's URL: it does not even decrypt.
  const c = await post(shopUrl, forgeNotification(env, paidTx(ours, shopAccount().mchid, shopAccount().appid)));
  assert.equal(c.status, 400, await c.text());
  const d = await post("/v1/wechatpay/notify", forgeNotification(env, paidTx(theirs, "1230000109", defaultAppid), shopKey));
  assert.equal(d.status, 400, await d.text());
  // Its own, with the other merchant's mchid in it: refused as a mismatch.
  const e = await post(shopUrl, forgeNotification(env, paidTx(ours, "1230000109", shopAccount().appid), shopKey));
  assert.equal(e.status, 422, await e.text());
  // A merchant the deployment does not have.
  const f = await post(`/v1/wechatpay/notify/mch_${"0".repeat(24)}`, forgeNotification(env, paidTx(ours, shopAccount().mchid, shopAccount().appid), shopKey));
  assert.equal(f.status, 404);
  assert.equal(await shopStatus(ours.id), "open", "nothing paid the shop's order");
  assert.equal((await merchantClient(env).session(theirs.id)).status, "open", "nor the default merchant's");
  // And the genuine one, at the right URL, pays it.
  const g = await post(shopUrl, forgeNotification(env, paidTx(ours, shopAccount().mchid, shopAccount().appid), shopKey));
  assert.equal(g.status, 204, await g.text());
  assert.equal(await shopStatus(ours.id), "paid");
});

test("the widget's and the notifications' lookups are cached in KV with secrets sealed, and a change purges the entry", { timeout: 60_000 }, async () => {
  const cached = async () => (await fetch(`${env.stack.edgeUrl}/_test/merchant-cache?id=${shop.id}`).then((r) => r.json())).entry;
  const session = await shopSession("read through the cache");
  assert.equal((await call(session.client_secret, "GET", `/v1/widget/sessions/${session.id}`)).status, 200);
  const entry = await cached();
  assert.ok(entry, "the widget's call cached the merchant");
  const row = JSON.parse(entry);
  assert.equal(row.id, shop.id);
  for (const sealed of Object.values(JSON.parse(row.secrets))) assert.match(sealed, /^v1:dev-1:/, "sealed, never in clear");
  for (const secret of [shopAccount().api_v3_key, webhookSecret, "PRIVATE KEY"]) assert.ok(!entry.includes(secret), "no secret in clear");
  // The platform API changes the merchant: its entry is purged, and the next call reads the change.
  const changed = await platform("POST", `/v1/platform/merchants/${shop.id}`, { settings: { allowed_origins: ["https://shop-three.example", "https://m.shop-three.example"] } });
  assert.equal(changed.status, 200, changed.text);
  // Purged: gone, or already read again at its new version (the shard's listing alarm, a moment
  // after this test's session was made, may look the merchant up meanwhile); never the old row.
  const after = await cached();
  assert.ok(after === null || JSON.parse(after).version === changed.body.version, `purged on change: ${after?.slice(0, 80)}`);
  assert.ok(changed.body.version > row.version);
  const preflight = await fetch(`${env.stack.edgeUrl}/v1/widget/sessions/${session.id}`, {
    method: "OPTIONS", headers: { Origin: "https://m.shop-three.example", "Access-Control-Request-Method": "GET" },
  });
  assert.equal(preflight.headers.get("access-control-allow-origin"), "https://m.shop-three.example", "the new origin is granted at once");
  assert.equal(JSON.parse(await cached()).version, changed.body.version, "cached again at its new version");
  const other = await fetch(`${env.stack.edgeUrl}/v1/widget/sessions/${session.id}`, {
    method: "OPTIONS", headers: { Origin: "https://elsewhere.example", "Access-Control-Request-Method": "GET" },
  });
  assert.equal(other.headers.get("access-control-allow-origin"), null, "an origin the merchant does not allow is not granted");
});

const consoleSignIn = (key) => signInToConsole(env, key);
const consolePage = (cookie, path, method) => consoleRequest(env, cookie, path, method);

test("the console: each merchant signs in with its own key and sees its own books only; the operator sees every merchant and suspends one", { timeout: 120_000 }, async () => {
  const ours = await shopSession("seen in the shop's console");
  const theirs = await merchantClient(env).createSession({ amount_fen: 777, description: "seen in the default console" });
  const shopIn = await consoleSignIn(shop.key);
  assert.equal(shopIn.status, 303);
  assert.equal(shopIn.location, "/console/orders");
  assert.match(shopIn.cookie, new RegExp(`^wxc_console=${shop.id}:`), "the sign-in names its merchant");
  const defaultIn = await consoleSignIn(env.edgeVars.MERCHANT_SECRET_KEY);
  assert.match(defaultIn.cookie, /^wxc_console=default:/);
  assert.equal((await consoleSignIn("sk_" + "0".repeat(48))).status, 401, "an unknown key signs nobody in");

  const listed = async (cookie, id) => (await consolePage(cookie, "/console/orders")).html.includes(id);
  await until("each console to list its own order", async () => (await listed(shopIn.cookie, ours.id)) && (await listed(defaultIn.cookie, theirs.id)), 15_000);
  assert.ok(!(await listed(shopIn.cookie, theirs.id)), "not the default merchant's order in the shop's console");
  assert.ok(!(await listed(defaultIn.cookie, ours.id)), "nor the shop's in the default's");
  assert.equal((await consolePage(shopIn.cookie, `/console/orders/${theirs.id}`)).status, 404);
  assert.equal((await consolePage(defaultIn.cookie, `/console/orders/${ours.id}`)).status, 404);
  assert.equal((await consolePage(shopIn.cookie, `/console/orders/${ours.id}`)).status, 200);
  const hooks = (await consolePage(shopIn.cookie, "/console/webhooks")).html;
  assert.ok(hooks.includes(`cs_m${shop.id.slice(4)}`), "its own webhook deliveries");
  assert.ok(!/href="\/console\/orders\/cs_(?!m)/.test(hooks), "none of the default merchant's");
  assert.match((await consolePage(shopIn.cookie, "/console/reports")).html, /No reconciliation yet/, "its own runs (none yet)");
  // A sign-in re-addressed to another merchant does not verify (its token is signed with the shop's secret).
  const forged = shopIn.cookie.replace(`=${shop.id}:`, "=default:");
  assert.equal((await consolePage(forged, "/console/orders")).location, "/console/login");

  // The operator: every merchant with its volume, and a suspension.
  const operatorIn = await consoleSignIn(env.edgeVars.PLATFORM_SECRET_KEY);
  assert.equal(operatorIn.location, "/console/platform");
  assert.match(operatorIn.cookie, /^wxc_console=platform:/);
  const overview = (await consolePage(operatorIn.cookie, "/console/platform")).html;
  const row = overview.match(new RegExp(`<tr data-merchant="${shop.id}">(.*?)</tr>`))?.[1];
  assert.ok(row, "the shop is listed");
  assert.match(row, /Shop Three/);
  assert.ok(overview.includes('data-merchant="default"'), "and the deployment's own merchant");
  assert.equal((await consolePage(operatorIn.cookie, "/console/orders")).status, 404, "the operator reads no merchant's orders");
  const suspend = await consolePage(operatorIn.cookie, `/console/platform/merchants/${shop.id}/suspend`, "POST");
  assert.equal(suspend.status, 303);
  assert.equal((await asShop("POST", "/v1/checkout/sessions", { amount_fen: 100, description: "refused" })).body.error.code, "merchant_suspended");
  assert.match((await consolePage(operatorIn.cookie, "/console/platform")).html, new RegExp(`data-merchant="${shop.id}">.*?suspended.*?Resume`));
  assert.equal((await consolePage(operatorIn.cookie, `/console/platform/merchants/${shop.id}/resume`, "POST")).status, 303);
  assert.equal((await asShop("POST", "/v1/checkout/sessions", { amount_fen: 100, description: "resumed" })).status, 201);

  // Signing out revokes the shop's sign-ins, not the default merchant's.
  assert.equal((await consolePage(shopIn.cookie, "/console/logout", "POST")).status, 303);
  assert.equal((await consolePage(shopIn.cookie, "/console/orders")).location, "/console/login");
  assert.equal((await consolePage(defaultIn.cookie, "/console/orders")).status, 200);
});

test("a suspended merchant's new sessions are refused; its open one still pays and refunds", { timeout: 120_000 }, async () => {
  const open = await shopSession("paid while suspended");
  const suspended = await platform("POST", `/v1/platform/merchants/${shop.id}/suspend`);
  assert.equal(suspended.status, 200, suspended.text);
  const refused = await asShop("POST", "/v1/checkout/sessions", { amount_fen: 100, description: "refused" });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "merchant_suspended");
  await payerPays(env.stack, open);
  await until("the open session to be paid", async () => (await shopStatus(open.id)) === "paid", 20_000);
  const refund = await asShop("POST", "/v1/refunds", { session_id: open.id, amount_fen: open.amount_fen });
  assert.equal(refund.status, 201, refund.text);
  await until("its refund to succeed", async () => (await asShop("GET", `/v1/refunds/${refund.body.id}`)).body.status === "succeeded", 20_000);
  assert.equal((await platform("POST", `/v1/platform/merchants/${shop.id}/resume`)).status, 200);
  assert.equal((await asShop("POST", "/v1/checkout/sessions", { amount_fen: 100, description: "resumed" })).status, 201);
});

test("an API key rotated: the next works, the old is refused once revoked, the sessions it made go on", { timeout: 120_000 }, async () => {
  const made = await shopSession("made with the first key");
  const next = await platform("POST", `/v1/platform/merchants/${shop.id}/api-keys`);
  assert.equal(next.status, 201, next.text);
  assert.equal((await call(next.body.api_key, "GET", `/v1/checkout/sessions/${made.id}`)).status, 200, "both keys live at once");
  const revoked = await platform("POST", `/v1/platform/api-keys/${shop.keyId}/revoke`);
  assert.equal(revoked.status, 200, revoked.text);
  const old = await call(shop.key, "GET", `/v1/checkout/sessions/${made.id}`);
  assert.equal(old.status, 401, "refused at once");
  assert.equal(old.body.error.code, "unauthorized");
  shop.key = next.body.api_key;
  await payerPays(env.stack, made);
  await until("the session made with the old key to be paid", async () => (await shopStatus(made.id)) === "paid", 20_000);
});

test("each direct merchant reconciles with its own bills and keys, and each report is its own", { timeout: 120_000 }, async () => {
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
  const billed = async (mchid) => (await platformRecords(env.stack, "transactions", { mchid }))
    .filter((t) => ["SUCCESS", "REFUND"].includes(t.trade_state));
  const shopBilled = await billed(shopAccount().mchid);
  assert.ok(shopBilled.length >= 3, "the shop's payments of the tests above");
  const mine = await asShop("POST", "/v1/admin/reconciliations", { date: today });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.body.run.status, "done");
  assert.equal(mine.body.run.payments, shopBilled.length, "its own bill: every payment WeChat Pay holds for its mchid");
  assert.equal(mine.body.run.paid_fen, shopBilled.reduce((t, x) => t + x.amount_fen, 0));
  // Its differences name its own orders only (the one the attack test paid with a notification
  // made here, which its bill does not hold, among them).
  // Its orders: those made here with its key, and any its listing holds (the listing lags a moment).
  const inListing = (await asShop("GET", "/v1/checkout/sessions?limit=100")).body.data.map((s) => s.out_trade_no);
  const shopOrders = new Set([...shop.orders, ...inListing]);
  const named = mine.body.differences.filter((d) => d.out_trade_no).map((d) => d.out_trade_no);
  assert.ok(named.length >= 1, JSON.stringify(mine.body.differences));
  assert.ok(named.every((no) => shopOrders.has(no)), `only its own orders: ${named}`);

  // The default merchant's report of the same day: its own bill, none of the shop's orders.
  const theirs = await call(env.edgeVars.MERCHANT_SECRET_KEY, "POST", "/v1/admin/reconciliations", { date: today });
  assert.equal(theirs.status, 200, theirs.text);
  assert.equal(theirs.body.run.payments, (await billed("1230000109")).length);
  assert.ok(theirs.body.differences.every((d) => !shopOrders.has(d.out_trade_no)));
  // Each reads its own runs back.
  const listed = await asShop("GET", "/v1/admin/reconciliations");
  assert.deepEqual(listed.body.data.map((r) => [r.bill_date, r.payments]), [[today, shopBilled.length]]);
  const report = await asShop("GET", `/v1/admin/reconciliations/${today}`);
  assert.deepEqual(report.body.differences, mine.body.differences);
  // And the console shows it: the shop's reports page, the operator's overview.
  const shopIn = await consoleSignIn(shop.key);
  assert.match((await consolePage(shopIn.cookie, "/console/reports")).html, new RegExp(`/console/reports/${today}`));
  const operatorIn = await consoleSignIn(env.edgeVars.PLATFORM_SECRET_KEY);
  const row = (await consolePage(operatorIn.cookie, "/console/platform")).html.match(new RegExp(`<tr data-merchant="${shop.id}">(.*?)</tr>`))[1];
  assert.match(row, new RegExp(`${today}: ${mine.body.run.differences} differences`));
});
