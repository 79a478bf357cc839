// Platform mode with a service provider (服务商, issue #19 items 4, 7 and 8): two direct merchants
// (the deployment's own, and a registry merchant) and two sub-merchants of one provider (one with
// its own app, whose payers are known by their sub_openid; one paid in the provider's app, by
// sp_openid) take payments side by side on one deployment through the widget in headless
// Chromium, in every scene (Native on a desktop, H5 in mobile Safari, JSAPI in WeChat's in-app
// browser with the OAuth round trip); each refunds and reconciles with its own bill (a
// sub-merchant's is its provider's bill asked for its sub_mchid); and a request of one never
// reaches another's orders, notifications included. Ports 19600/19601 (19602: the shop's pages).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import {
  accountSettings, consoleRequest, cstNow, edgeCall, forgeNotification, platformCall, platformRecords, signInToConsole, startAll, testMerchants, until,
} from "./support.mjs";

const SHOP_PORT = 19602;
const SHOP = `http://127.0.0.1:${SHOP_PORT}`;
const UA = {
  desktop: undefined,
  iphoneSafari: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
  wechat: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.188 Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003237) NetType/WIFI Language/zh_CN",
};

let env;
let shopServer;
const pages = new Map();
/** The four merchants under test: name → { key, id, mchid (the books' at WeChat Pay), appid (the payer's app) }. */
const merchants = {};
const provider = () => testMerchants().merchants[3];
let providerId;

const call = (key, method, path, body, headers) => edgeCall(env, key, method, path, body, headers);
const platform = (method, path, body) => platformCall(env, method, path, body);

async function made(what, path, body) {
  const r = await platform("POST", path, body);
  assert.equal(r.status, 201, `${what}: ${r.text}`);
  return r.body;
}

before(async () => {
  env = await startAll({ edgePort: 19600, sandboxPort: 19601, shards: 2, edgeVars: { ALLOWED_ORIGINS: SHOP } });
  shopServer = createServer((req, res) => {
    const html = pages.get(new URL(req.url, "http://x").pathname);
    res.writeHead(html ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
    res.end(html ?? "not found");
  });
  await new Promise((resolve) => shopServer.listen(SHOP_PORT, "127.0.0.1", resolve));

  const [defaultAccount, , shopAccount] = testMerchants().merchants;
  const sp = provider();
  const [withApp, withoutApp] = sp.sub_merchants;
  merchants.default = { key: env.edgeVars.MERCHANT_SECRET_KEY, id: "default", mchid: defaultAccount.mchid, appid: defaultAccount.appid, apiV3Key: env.edgeVars.WECHATPAY_API_V3_KEY };
  const shop = await made("the direct shop", "/v1/platform/merchants", {
    name: "Shop Three", settings: { ...accountSettings(shopAccount), wechat_app_secret: shopAccount.app_secret, allowed_origins: [SHOP] },
  });
  merchants.shop = { key: shop.api_key, id: shop.id, mchid: shopAccount.mchid, appid: shopAccount.appid, apiV3Key: shopAccount.api_v3_key };
  // The provider holds the account, and the AppSecret of its own app (sp_appid), in which its
  // sub-merchants without an app of their own are paid.
  const acme = await made("the provider", "/v1/platform/providers", {
    name: "Acme 服务商", settings: { ...accountSettings(sp), wechat_app_secret: sp.app_secret },
  });
  const tea = await made("the sub-merchant with its own app", "/v1/platform/merchants", {
    name: "Tea House", provider_id: acme.id,
    settings: { wechatpay_sub_mchid: withApp.sub_mchid, wechatpay_sub_appid: withApp.sub_appid, wechat_app_secret: withApp.app_secret, allowed_origins: [SHOP] },
  });
  merchants.tea = { key: tea.api_key, id: tea.id, mchid: withApp.sub_mchid, appid: withApp.sub_appid, sub: true, apiV3Key: sp.api_v3_key };
  const noodles = await made("the sub-merchant paid in the provider's app", "/v1/platform/merchants", {
    name: "Noodle Bar", provider_id: acme.id, settings: { wechatpay_sub_mchid: withoutApp.sub_mchid, allowed_origins: [SHOP] },
  });
  merchants.noodles = { key: noodles.api_key, id: noodles.id, mchid: withoutApp.sub_mchid, appid: sp.appid, sub: true, apiV3Key: sp.api_v3_key };
  providerId = acme.id;
}, { timeout: 600_000 });
after(async () => {
  shopServer?.close();
  await env?.browser.close();
  await env?.stack.stop();
});

/** A paid partner transaction of `sub`'s order `s`, as WeChat Pay's notification says it. */
function partnerTx(s, sub) {
  const sp = provider();
  return {
    sp_appid: sp.appid, sp_mchid: sp.mchid, sub_mchid: sub.mchid, ...(sub.appid !== sp.appid ? { sub_appid: sub.appid } : {}),
    out_trade_no: s.out_trade_no, transaction_id: `42000000000000000000${randomBytes(4).toString("hex")}`,
    trade_type: "NATIVE", trade_state: "SUCCESS", trade_state_desc: "支付成功", success_time: cstNow(),
    amount: { total: s.amount_fen, payer_total: s.amount_fen, currency: "CNY", payer_currency: "CNY" },
  };
}

async function session(m, description, amount_fen = 1000 + Math.floor(Math.random() * 900)) {
  const r = await call(m.key, "POST", "/v1/checkout/sessions", { amount_fen, description });
  assert.equal(r.status, 201, r.text);
  // Every order a merchant has: the ones this file made with its key (its listing lags a moment).
  (m.orders ??= new Set()).add(r.body.out_trade_no);
  return r.body;
}
const statusOf = async (m, id) => (await call(m.key, "GET", `/v1/checkout/sessions/${id}`)).body;

/** The shop's page mounting `s` with the widget from the edge's origin; in WeChat's browser,
 * with the WeixinJSBridge WeChat injects (the simulator's). */
function mountPage(path, s, inWeChat) {
  const edge = env.stack.edgeUrl;
  const bridge = inWeChat ? `<script src="${env.stack.sandboxUrl}/jsapi/bridge.js"></script>` : "";
  pages.set(path, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<link rel="stylesheet" href="${edge}/checkout.css">${bridge}</head><body><h1>Shop</h1><div id="w"></div>
<script type="module">
import { mount } from "${edge}/checkout.js";
await mount(document.getElementById("w"), { session: ${JSON.stringify(s.id)}, clientSecret: ${JSON.stringify(s.client_secret)} });
</script></body></html>`);
  return `${SHOP}${path}`;
}

async function newPage(userAgent) {
  const mobile = userAgent ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : {};
  const context = await env.browser.newContext({ locale: "en-US", ...(userAgent ? { userAgent } : {}), ...mobile });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  return { page, context, errors };
}
const waitState = (page, s, timeout = 30_000) => page.waitForSelector(`#w[data-state="${s}"]`, { timeout });

/** Approves at the simulator's cashier page (a code_url's, or an h5_url's). */
async function approve(page) {
  await page.waitForSelector("#approve");
  await Promise.all([page.waitForNavigation(), page.click("#approve")]);
}

/** The payer pays `m`'s new session through the widget in `scene`; answers the session. */
async function payThroughWidget(m, scene) {
  const s = await session(m, `${scene} for ${m.id}`);
  const url = mountPage(`/${m.id}-${scene}.html`, s, scene === "jsapi");
  const { page, context, errors } = await newPage({ native: UA.desktop, h5: UA.iphoneSafari, jsapi: UA.wechat }[scene]);
  await page.goto(url);
  if (scene === "native") {
    await waitState(page, "scan");
    const phone = await newPage();
    await phone.page.goto(await page.getAttribute("#w a.wx-cashier", "href"));
    await approve(phone.page);
    await phone.context.close();
  } else if (scene === "h5") {
    await waitState(page, "ready");
    await Promise.all([page.waitForNavigation(), page.click('#w [data-action="pay"]')]);
    await approve(page);
  } else {
    await waitState(page, "ready");
    // The OAuth round trip (in the payer's app), back to the shop's page; the sheet opens by itself.
    await page.click('#w [data-action="pay"]');
    await page.waitForSelector("#wx-sandbox-sheet", { timeout: 30_000 });
    await page.click("#wx-sandbox-pay");
  }
  await waitState(page, "paid");
  assert.deepEqual(errors, [], `${m.id} ${scene}`);
  await context.close();
  const booked = await statusOf(m, s.id);
  assert.equal(booked.status, "paid", `${m.id} ${scene}`);
  assert.equal(booked.scene, scene);
  return s;
}

const paid = {};

test("two direct merchants and two sub-merchants pay through the widget in every scene, each to its own account", { timeout: 600_000 }, async () => {
  for (const [name, m] of Object.entries(merchants)) {
    paid[name] = [];
    for (const scene of ["native", "h5", "jsapi"]) paid[name].push(await payThroughWidget(m, scene));
  }
  const sp = provider();
  for (const [name, m] of Object.entries(merchants)) {
    for (const s of paid[name]) {
      // WeChat Pay holds it in the merchant's books (a sub-merchant's own number), through the
      // provider's account for a sub-merchant.
      const [tx] = await platformRecords(env.stack, "transactions", { mchid: m.mchid, out_trade_no: s.out_trade_no });
      assert.ok(tx, `${name}: ${s.out_trade_no} at WeChat Pay`);
      assert.equal(tx.trade_state, "SUCCESS");
      if (m.sub) {
        // (The simulator's row: `appid` is the sp_appid, `mchid` the sub_mchid.)
        assert.equal(tx.sp_mchid, sp.mchid, `${name} is paid through its provider`);
        assert.equal(tx.appid, sp.appid);
        assert.equal(tx.sub_appid ?? null, name === "tea" ? m.appid : null);
      } else {
        assert.equal(tx.appid, m.appid);
        assert.equal(tx.sp_mchid ?? null, null, `${name} is paid directly`);
      }
      const notified = await fetch(`${env.stack.sandboxUrl}/sandbox/notifications?mchid=${m.mchid}&out_trade_no=${s.out_trade_no}`).then((r) => r.json());
      assert.ok(notified.notifications.length >= 1, `${name}: notified`);
      const path = m.id === "default" ? "/v1/wechatpay/notify" : `/v1/wechatpay/notify/${m.id}`;
      for (const n of notified.notifications) assert.equal(new URL(n.notify_url).pathname, path);
    }
  }
  // The JSAPI payers: the tea house's by their openid under its own app, the noodle bar's
  // under the provider's app: the same test payer, two openids.
  const jsapi = async (name) => (await platformRecords(env.stack, "transactions", { mchid: merchants[name].mchid, out_trade_no: paid[name][2].out_trade_no }))[0];
  const teaTx = await jsapi("tea");
  const noodleTx = await jsapi("noodles");
  assert.equal(teaTx.payer_appid, merchants.tea.appid, `by its sub_openid: ${JSON.stringify(teaTx)}`);
  assert.equal(teaTx.payer_appid ?? teaTx.appid, merchants.tea.appid);
  assert.equal(noodleTx.payer_appid ?? noodleTx.appid, sp.appid, `by its sp_openid: ${JSON.stringify(noodleTx)}`);
  assert.ok(teaTx.payer_openid && noodleTx.payer_openid);
  assert.notEqual(teaTx.payer_openid, noodleTx.payer_openid, "one payer, an openid per app");
});

test("each merchant refunds its own payments, a sub-merchant's through its provider", { timeout: 180_000 }, async () => {
  for (const [name, m] of Object.entries(merchants)) {
    const [s] = paid[name];
    const refund = await call(m.key, "POST", "/v1/refunds", { session_id: s.id, amount_fen: 100 });
    assert.equal(refund.status, 201, `${name}: ${refund.text}`);
    await until(`${name}'s refund to succeed`, async () => (await call(m.key, "GET", `/v1/refunds/${refund.body.id}`)).body.status === "succeeded", 30_000);
    const [atWechatPay] = await platformRecords(env.stack, "refunds", { mchid: m.mchid, out_refund_no: refund.body.out_refund_no });
    assert.equal(atWechatPay?.status, "SUCCESS", `${name}: the refund is in its own books at WeChat Pay`);
  }
});

test("a request of one merchant never reaches another's orders, across direct merchants and sub-merchants", { timeout: 180_000 }, async () => {
  const open = {};
  for (const [name, m] of Object.entries(merchants)) open[name] = await session(m, `${name}'s open order`);
  for (const [name, m] of Object.entries(merchants)) {
    for (const [otherName, other] of Object.entries(open)) {
      if (otherName === name) continue;
      assert.equal((await call(m.key, "GET", `/v1/checkout/sessions/${other.id}`)).status, 404, `${name} reads ${otherName}'s`);
      assert.equal((await call(m.key, "POST", `/v1/checkout/sessions/${other.id}/close`)).status, 404);
      assert.equal((await call(m.key, "POST", "/v1/refunds", { session_id: paid[otherName][1].id, amount_fen: 1 })).status, 404);
      assert.equal((await call(open[name].client_secret, "GET", `/v1/widget/sessions/${other.id}`)).status, 401);
    }
  }
  // Partner notifications, encrypted with the provider's key as WeChat Pay does.
  const sp = provider();
  const post = (m, n) => fetch(`${env.stack.edgeUrl}/v1/wechatpay/notify/${m.id}`, { method: "POST", headers: n.headers, body: n.body });
  const { tea, noodles, shop } = merchants;
  const spKey = { apiV3Key: sp.api_v3_key };
  // The noodle bar's order named in a notification at the tea house's URL: not its order.
  let r = await post(tea, forgeNotification(env, partnerTx(open.noodles, noodles), spKey));
  assert.equal(r.status, 404, await r.text());
  // The tea house's order, but another sub-merchant's number in it: refused as a mismatch.
  r = await post(tea, forgeNotification(env, partnerTx(open.tea, noodles), spKey));
  assert.equal(r.status, 422, await r.text());
  // Encrypted by the provider, sent to a direct merchant's URL: it does not decrypt.
  r = await post(shop, forgeNotification(env, partnerTx(open.shop, tea), spKey));
  assert.equal(r.status, 400, await r.text());
  // The direct shop's own numbers at a sub-merchant's URL, encrypted with the shop's key: no.
  r = await post(tea, forgeNotification(env, { ...partnerTx(open.tea, tea), sp_mchid: shop.mchid }, { apiV3Key: shop.apiV3Key }));
  assert.equal(r.status, 400, await r.text());
  for (const [name, m] of Object.entries(merchants)) assert.equal((await statusOf(m, open[name].id)).status, "open", `nothing paid ${name}'s order`);
  // The genuine one pays it.
  r = await post(tea, forgeNotification(env, partnerTx(open.tea, tea), spKey));
  assert.equal(r.status, 204, await r.text());
  assert.equal((await statusOf(tea, open.tea.id)).status, "paid");
});

test("a change to the provider's account reaches its sub-merchants at once", { timeout: 60_000 }, async () => {
  const sp = provider();
  const { noodles } = merchants;
  const open = await session(noodles, "paid after the provider's key came back");
  const paidTx = partnerTx(open, noodles);
  const notify = () => {
    const n = forgeNotification(env, paidTx, { apiV3Key: sp.api_v3_key });
    return fetch(`${env.stack.edgeUrl}/v1/wechatpay/notify/${noodles.id}`, { method: "POST", headers: n.headers, body: n.body });
  };
  // The widget's read caches the sub-merchant and its provider.
  assert.equal((await call(open.client_secret, "GET", `/v1/widget/sessions/${open.id}`)).status, 200);
  const changed = await platform("POST", `/v1/platform/providers/${providerId}`, { settings: { wechatpay_api_v3_key: "k".repeat(32) } });
  assert.equal(changed.status, 200, changed.text);
  assert.equal((await notify()).status, 400, "the provider's new key is the sub-merchant's at once: the old one no longer decrypts");
  const restored = await platform("POST", `/v1/platform/providers/${providerId}`, { settings: { wechatpay_api_v3_key: sp.api_v3_key } });
  assert.equal(restored.status, 200, restored.text);
  assert.equal((await notify()).status, 204);
  assert.equal((await statusOf(noodles, open.id)).status, "paid");
});

test("each merchant reconciles with its own bill; a sub-merchant's is its provider's bill for its sub_mchid", { timeout: 180_000 }, async () => {
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
  for (const [name, m] of Object.entries(merchants)) {
    const billed = (await platformRecords(env.stack, "transactions", { mchid: m.mchid }))
      .filter((t) => ["SUCCESS", "REFUND"].includes(t.trade_state));
    const run = await call(m.key, "POST", "/v1/admin/reconciliations", { date: today });
    assert.equal(run.status, 200, `${name}: ${run.text}`);
    assert.equal(run.body.run.status, "done");
    assert.equal(run.body.run.payments, billed.length, `${name}: every payment WeChat Pay holds for it, none of another's`);
    assert.equal(run.body.run.paid_fen, billed.reduce((t, x) => t + x.amount_fen, 0));
    assert.equal(run.body.run.refunds, 1, `${name}: its one refund`);
    const mine = m.orders;
    const named = run.body.differences.filter((d) => d.out_trade_no).map((d) => d.out_trade_no);
    assert.ok(named.every((no) => mine.has(no)), `${name}: only its own orders: ${named}`);
    // Its settlement against its own account's fund flow (a sub-merchant's sealed for its provider).
    const { settlement } = run.body;
    assert.equal(settlement.platform.payments_fen, run.body.run.paid_fen, `${name}: its fund flow holds its own payments`);
  }
  // The tea house's order paid by the notification forged above is not in its bill: a difference of its own.
  const teaRun = (await call(merchants.tea.key, "GET", `/v1/admin/reconciliations/${today}`)).body;
  assert.ok(teaRun.differences.some((d) => d.out_trade_no), JSON.stringify(teaRun.differences));
});

test("each sub-merchant signs in to its own console and sees its own orders; the operator sees both under their provider", { timeout: 60_000 }, async () => {
  const { tea, noodles } = merchants;
  const teaIn = await signInToConsole(env, tea.key);
  assert.equal(teaIn.status, 303);
  const orders = (await consoleRequest(env, teaIn.cookie, "/console/orders")).html;
  assert.ok(paid.tea.every((s) => orders.includes(s.id)), "its own orders");
  assert.ok(!paid.noodles.some((s) => orders.includes(s.id)), "none of the other sub-merchant's");
  assert.equal((await consoleRequest(env, teaIn.cookie, `/console/orders/${paid.noodles[0].id}`)).status, 404);
  const operatorIn = await signInToConsole(env, env.edgeVars.PLATFORM_SECRET_KEY);
  const overview = (await consoleRequest(env, operatorIn.cookie, "/console/platform")).html;
  for (const m of [tea, noodles]) assert.match(overview, new RegExp(`<tr data-merchant="${m.id}">.*?sub-merchant`));
});
