// One real payment end to end: demo shop → widget → edge-worker → simulator → notification →
// D1 → widget, in headless Chromium against both Workers under `wrangler dev`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "../../scripts/stack.mjs";
import { eventKinds, forgeNotification, outputDir, startAll, merchantClient } from "./support.mjs";

let env;
const merchant = () => ({ Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}` });
const api = (path, init = {}) => fetch(`${env.stack.edgeUrl}${path}`, init);

const createSession = (amountFen) => merchantClient(env).createSession({ amount_fen: amountFen, description: "E2E test order" });
const session = (id) => merchantClient(env).session(id);

describe("walking skeleton", { timeout: 900_000 }, () => {
  before(async () => {
    // The default deployment's one shard (the other files run four).
    env = await startAll({ shards: 1 });
  }, { timeout: 600_000 });

  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
  });

  let paid; // the session paid through the browser, reused by the replay test

  test("a payer pays in the demo shop and the Worker books it", async () => {
    const page = await env.browser.newPage();
    const events = [];
    page.on("console", (m) => m.type() === "error" && events.push(m.text()));
    await page.goto(`${env.stack.edgeUrl}/`);
    await page.click('[data-product="longjing-tea"] button');
    await page.waitForSelector('#checkout[data-state="scan"] svg[role="img"]', { timeout: 20_000 });
    assert.equal((await page.textContent("#checkout .wx-amount")).trim(), "¥19.99");
    const label = await page.getAttribute("#checkout svg", "aria-label");
    assert.equal(label, "WeChat Pay QR code for ¥19.99");
    const sessionId = await page.getAttribute("#checkout", "data-session");
    const cashierHref = await page.getAttribute("#checkout a.wx-cashier", "href");
    assert.ok(cashierHref.startsWith(`${env.stack.sandboxUrl}/cashier?code_url=weixin`), cashierHref);
    await page.screenshot({ path: join(outputDir, "skeleton-1-scan.png") });

    const before = await session(sessionId);
    assert.equal(before.status, "open");
    assert.equal(before.amount_fen, 1999);
    assert.equal(before.scene, "native");

    const cashier = await env.browser.newPage();
    await cashier.goto(cashierHref);
    assert.equal((await cashier.textContent("#amount")).trim(), "¥19.99");
    await cashier.screenshot({ path: join(outputDir, "skeleton-2-cashier.png") });
    await Promise.all([cashier.waitForNavigation(), cashier.click("#approve")]);
    assert.equal((await cashier.textContent("#state")).trim(), "SUCCESS");

    await page.waitForSelector('#checkout[data-state="paid"]', { timeout: 15_000 });
    assert.match(await page.textContent("#checkout"), /Paid/);
    await page.screenshot({ path: join(outputDir, "skeleton-3-paid.png") });

    paid = await session(sessionId);
    assert.equal(paid.status, "paid");
    assert.equal(paid.amount_fen, 1999);
    assert.match(paid.transaction_id, /^4200[0-9a-f]{24}$/);
    assert.ok(paid.paid_at >= paid.created_at);
    const kinds = await eventKinds(env.stack, sessionId);
    assert.deepEqual(kinds, ["created", "prepay_created", "paid"]);
    assert.deepEqual(events, []);
  });

  test("a replayed notification is acknowledged and changes nothing", async () => {
    assert.ok(paid, "needs the paid session of the previous test");
    const log = await (await fetch(`${env.stack.sandboxUrl}/sandbox/notifications?out_trade_no=${paid.out_trade_no}`)).json();
    assert.equal(log.notifications.length, 1);
    const [n] = log.notifications;
    assert.deepEqual(n.attempts.map((a) => a.http_status), [204]);
    for (let i = 0; i < 3; i++) {
      const r = await (await fetch(`${env.stack.sandboxUrl}/sandbox/notifications/${n.id}/redeliver`, { method: "POST" })).json();
      assert.equal(r.http_status, 204);
    }
    const again = await session(paid.id);
    assert.deepEqual(again, paid);
    const kinds = await eventKinds(env.stack, paid.id);
    assert.deepEqual(kinds, ["created", "prepay_created", "paid"]);
  });

  test("a notification built by Node's crypto verifies and pays; tampered ones change nothing", async () => {
    const s = await createSession(4321);
    const tx = {
      appid: "wxd930ea5d5a258f4f",
      mchid: "1230000109",
      out_trade_no: s.out_trade_no,
      transaction_id: "4200000000000000000000000001",
      trade_type: "NATIVE",
      trade_state: "SUCCESS",
      trade_state_desc: "支付成功",
      success_time: "2026-11-24T12:00:00+08:00",
      amount: { total: 4321, payer_total: 4321, currency: "CNY", payer_currency: "CNY" },
    };
    const post = (n) => api("/v1/wechatpay/notify", { method: "POST", headers: n.headers, body: n.body });
    const refused = [
      ["bad signature", forgeNotification(env, tx, { signature: Buffer.alloc(256, 7).toString("base64") }), 401, "bad_signature"],
      ["stale timestamp", forgeNotification(env, tx, { skewSecs: -301 }), 401, "clock_skew"],
      ["unknown serial", forgeNotification(env, tx, { serial: "PUB_KEY_ID_0199999999999999999999" }), 401, "unknown_serial"],
      ["signature probe", forgeNotification(env, tx, { signature: "WECHATPAY/SIGNTEST/abc" }), 401, "signature_probe"],
      ["altered body", forgeNotification(env, tx, { body: (b) => b.replace("支付成功", "支付成功 ") }), 401, "bad_signature"],
      ["wrong amount", forgeNotification(env, { ...tx, amount: { ...tx.amount, total: 1 } }), 422, "order_mismatch"],
      ["wrong mchid", forgeNotification(env, { ...tx, mchid: "1230000110" }), 422, "order_mismatch"],
      ["unknown order", forgeNotification(env, { ...tx, out_trade_no: "NOSUCHORDER1" }), 404, "not_found"],
      ["malformed JSON, validly signed", forgeNotification(env, tx, { signedBody: '{"id": "EV-1", "resource": ' }), 400, "malformed"],
      ["oversized body", forgeNotification(env, tx, { signedBody: JSON.stringify({ pad: "x".repeat(70_000) }) }), 413, "body_too_large"],
    ];
    for (const [name, n, status, code] of refused) {
      const res = await post(n);
      const body = await res.json();
      assert.equal(res.status, status, `${name}: ${JSON.stringify(body)}`);
      assert.equal(body.code, "FAIL", name);
      assert.ok(body.message.startsWith(`${code}:`), `${name}: ${body.message}`);
      assert.equal((await session(s.id)).status, "open", `${name} must change nothing`);
    }
    const wrongType = await api("/v1/wechatpay/notify", { method: "POST", headers: { ...forgeNotification(env, tx).headers, "Content-Type": "text/plain" }, body: "x" });
    assert.equal(wrongType.status, 400);

    const good = await post(forgeNotification(env, tx));
    assert.equal(good.status, 204);
    const after = await session(s.id);
    assert.equal(after.status, "paid");
    assert.equal(after.transaction_id, tx.transaction_id);
    assert.equal(after.paid_at, Date.parse("2026-11-24T12:00:00+08:00") / 1000);
  });

  test("the browser cannot choose the amount or reach another session", async () => {
    const forged = await api("/demo/checkout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ product: "longjing-tea", amount_fen: 1 }),
    });
    assert.equal(forged.status, 400);
    assert.equal((await forged.json()).error.code, "invalid_json");

    const a = await createSession(100);
    const b = await createSession(200);
    const asB = await api(`/v1/widget/sessions/${a.id}`, { headers: { Authorization: `Bearer ${b.client_secret}` } });
    assert.equal(asB.status, 401);
    assert.equal((await api(`/v1/checkout/sessions/${a.id}`)).status, 401);
    assert.equal((await api(`/v1/checkout/sessions/${a.id}`, { headers: { Authorization: "Bearer sk_test_wrong" } })).status, 401);
    const zero = await api("/v1/checkout/sessions", {
      method: "POST",
      headers: { ...merchant(), "Content-Type": "application/json" },
      body: JSON.stringify({ amount_fen: 0, description: "free?" }),
    });
    assert.equal(zero.status, 400);
    assert.equal((await zero.json()).error.code, "invalid_amount");
  });

  test("the OpenAPI document is served, and every operation in it is routed", async () => {
    const file = JSON.parse(readFileSync(join(root, "web", "v1", "openapi.json"), "utf8"));
    const served = await (await api("/v1/openapi.json")).json();
    assert.deepEqual(served, file);
    // The route table is held to the document both ways natively (edge-worker http/routes.rs);
    // here each documented operation is probed on the running Worker.
    const inDoc = new Set(Object.entries(file.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    // Every documented operation is routed: without credentials it may be refused, never "no such route".
    for (const op of inDoc) {
      const [method, path] = op.split(" ");
      const res = await api(path.replace("{id}", "cs_none"), { method, headers: { "Content-Type": "application/json" }, body: method === "GET" ? undefined : "{}" });
      const text = await res.text();
      assert.ok(!/no such (route|page)/.test(text), `${op} answered ${res.status} ${text}`);
      // WeChat Pay's endpoints answer in its own shape (`{"code": "FAIL", "message"}`).
      if (res.status >= 400 && !path.startsWith("/v1/wechatpay/notify")) {
        const body = JSON.parse(text);
        assert.equal(typeof body.error.code, "string", `${op}: ${text}`);
        assert.equal(typeof body.error.message, "string", `${op}: ${text}`);
      }
    }
  });
});
