// Risk controls (issue #10): the merchant's own limits, block lists and scenes, each hit at its
// edge (one fen under passes, at the limit passes, one over is refused), two concurrent attempts
// that each fit alone but not together, and every anomaly produced through the simulator and
// flagged exactly once (with its webhook). Ports 4787/4788.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { approveAtCashier, books, listingCaughtUp, merchantRequest, oauthRoundTrip, startAll, testMerchants, until, webhookReceiver, merchantClient } from "./support.mjs";

const APPID = "wxd930ea5d5a258f4f";
const MCHID = "1230000109";
// The simulator's test payer n has the openid oSbx<last 10 of the appid><n, 4 digits>.
const openid = (n) => `oSbx${APPID.slice(-10)}${String(n).padStart(4, "0")}`;
const WEBHOOK_SECRET = "whsec_risk_0123456789abcdef";
const receiver = webhookReceiver(WEBHOOK_SECRET);
const RULES = {
  RISK_MAX_SESSION_FEN: "10000",
  RISK_IP_HOURLY: "5/0",
  RISK_IP_DAILY: "0/30000",
  RISK_PAYER_HOURLY: "4/0",
  RISK_PAYER_DAILY: "0/1500",
  RISK_BLOCKED_IPS: "10.66.0.9, 2001:DB8:BAD::/48",
  RISK_BLOCKED_OPENIDS: openid(9),
  RISK_ALLOWED_SCENES: "native,jsapi",
  RISK_FAILED_ATTEMPTS_FLAG: "3",
  RISK_QUICK_REFUND: "600/500000",
};
let env;
/** A session whose refused attempts were flooded (it is flagged many_failed_attempts too). */
let flooded;
const from = (ip) => ({ "CF-Connecting-IP": ip });
const merchant = (extra = {}) => ({ Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json", ...extra });
const call = async (path, init) => {
  const res = await fetch(`${env.stack.edgeUrl}${path}`, { redirect: "manual", ...init });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
};
const newSession = (amount_fen) => merchantClient(env).createSession({ amount_fen, description: "Risk test" });
const pay = (s, ip, scene = "native") => call(`/v1/widget/sessions/${s.id}/pay`, {
  method: "POST",
  headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json", ...from(ip) },
  body: JSON.stringify({ scene }),
});
const flags = async (sessionId) => (await books(env.stack, "events", { session_id: sessionId, kind: "flagged" })).map((e) => JSON.parse(e.detail).flag);

/** WeChat OAuth as test payer `n`: the Worker learns the payer's openid for the session. */
async function asPayer(s, n, ip) {
  const { back } = await oauthRoundTrip(env.stack, s, { payer: n, headers: from(ip) });
  assert.equal(back.status, 302);
}

/** Expects a refusal by `limit`, freeing up within the window. */
function refused(r, limit, windowSecs) {
  assert.equal(r.status, 429, JSON.stringify(r.body));
  assert.equal(r.body.error.code, "limit_exceeded");
  assert.equal(r.body.error.limit, limit);
  const now = Date.now() / 1000;
  assert.ok(r.body.error.resets_at > now && r.body.error.resets_at <= now + windowSecs + 1, `resets_at ${r.body.error.resets_at}`);
  assert.ok(Number(r.headers.get("retry-after")) >= 1);
}

describe("risk controls", { timeout: 900_000 }, () => {
  before(async () => {
    const port = await receiver.listen();
    receiver.up = true;
    env = await startAll({
      edgePort: 4787,
      sandboxPort: 4788,
      edgeVars: { ...RULES, WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`, WEBHOOK_SECRET, WEBHOOK_RETRY_BASE_SECS: "1" },
    });
  }, { timeout: 600_000 });

  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
    await receiver.close();
  });

  test("the ceiling per session: at it passes, one fen over is refused when the session is created", async () => {
    await newSession(9999);
    await newSession(10000);
    const over = await call("/v1/checkout/sessions", { method: "POST", headers: merchant(), body: JSON.stringify({ amount_fen: 10001, description: "Too much" }) });
    assert.equal(over.status, 400);
    assert.deepEqual([over.body.error.code, over.body.error.limit, over.body.error.resets_at], ["limit_exceeded", "max_session_amount", null]);
    assert.equal((await books(env.stack, "sessions", { description: "Too much" })).length, 0);
  });

  test("a client address: count per hour and amount per day, at their edges", async () => {
    // Count: the 5th attempt passes (at the limit), the 6th is refused; paying a session
    // again does not count twice.
    const ip = "10.1.0.1";
    const sessions = [];
    for (let i = 0; i < 5; i++) {
      sessions.push(await newSession(100));
      assert.equal((await pay(sessions[i], ip)).status, 200);
    }
    assert.equal((await pay(sessions[0], ip)).status, 200, "the same session again is not a new attempt");
    const sixth = await newSession(100);
    refused(await pay(sixth, ip), "ip_hourly", 3600);
    const prepays = await books(env.stack, "events", { session_id: sixth.id, kind: "prepay_created" });
    assert.equal(prepays.length, 0, "the refused attempt asked WeChat Pay nothing");
    // Amount: 29,999 (one fen under), then 30,000 (at), then one fen more (over).
    const other = "10.1.0.2";
    for (const amount of [10000, 10000, 9999, 1]) assert.equal((await pay(await newSession(amount), other)).status, 200, `${amount}`);
    refused(await pay(await newSession(1), other), "ip_daily", 86400);
  });

  test("two concurrent attempts that each fit alone but not together: exactly one passes", async () => {
    for (let round = 0; round < 3; round++) {
      const ip = `10.2.0.${round}`;
      for (let i = 0; i < 2; i++) assert.equal((await pay(await newSession(10000), ip)).status, 200); // 20,000 of 30,000
      const [a, b] = [await newSession(10000), await newSession(10000)];
      const answers = await Promise.all([pay(a, ip), pay(b, ip)]);
      assert.deepEqual(answers.map((r) => r.status).sort(), [200, 429], `round ${round}: 10,000 left, 10,000 asked twice at once`);
      const fen = (await books(env.stack, "payment_attempts", { subject: `ip:${ip}` })).reduce((sum, a) => sum + a.amount_fen, 0);
      assert.equal(fen, 30000, "never over the budget");
    }
  });

  test("a payer (JSAPI, known by OAuth): count per hour and amount per day, at their edges", async () => {
    // Each payer on an address of its own: the addresses' budgets are not what is tested here.
    const jsapi = async (amount, payer) => {
      const ip = `10.3.0.${payer}`;
      const s = await newSession(amount);
      await asPayer(s, payer, ip);
      return pay(s, ip, "jsapi");
    };
    // Amount: 1,000; 501 more would be 1,501 (over); 499 is 1,499 (one under); 1 is 1,500 (at).
    assert.equal((await jsapi(1000, 3)).status, 200);
    refused(await jsapi(501, 3), "payer_daily", 86400);
    assert.equal((await jsapi(499, 3)).status, 200);
    assert.equal((await jsapi(1, 3)).status, 200);
    refused(await jsapi(1, 3), "payer_daily", 86400);
    // Count: four attempts pass (the fourth at the limit), the fifth is refused.
    for (let i = 0; i < 4; i++) assert.equal((await jsapi(10, 4)).status, 200);
    refused(await jsapi(10, 4), "payer_hourly", 3600);
  });

  test("block lists and scenes refuse with their own codes, and the widget says so in the payer's language", async () => {
    const blockedIp = await pay(await newSession(100), "10.66.0.9");
    assert.deepEqual([blockedIp.status, blockedIp.body.error.code], [403, "blocked"]);
    // Entries and addresses are compared parsed: a network entry blocks every address in it,
    // however it is written, and an IPv4-mapped address is its IPv4 one.
    for (const ip of ["2001:db8:bad:42::7", "2001:0DB8:0BAD:0000:0000:0000:0000:0001", "::ffff:10.66.0.9"]) {
      const r = await pay(await newSession(100), ip);
      assert.deepEqual([r.status, r.body.error.code], [403, "blocked"], ip);
    }
    assert.equal((await pay(await newSession(100), "2001:db8:bae::7")).status, 200, "outside the blocked /48");
    const s = await newSession(100);
    await asPayer(s, 9, "10.4.0.1");
    const blockedPayer = await pay(s, "10.4.0.1", "jsapi");
    assert.deepEqual([blockedPayer.status, blockedPayer.body.error.code], [403, "blocked"]);
    const h5 = await pay(await newSession(100), "10.4.0.2", "h5");
    assert.deepEqual([h5.status, h5.body.error.code], [403, "scene_not_allowed"]);
    // Refused attempts are unauthenticated: however many, at most 20 become events (and webhooks).
    flooded = await newSession(100);
    for (let i = 0; i < 25; i++) assert.equal((await pay(flooded, "10.4.0.7", "h5")).status, 403);
    assert.equal((await books(env.stack, "events", { session_id: flooded.id, kind: "payment_failed" })).length, 20, "capped at 20 per session");
    // In the demo shop, H5 forced, in Chinese.
    const page = await env.browser.newPage();
    await page.goto(`${env.stack.edgeUrl}/?scene=h5&locale=zh-CN`);
    await page.click('[data-product="longjing-tea"] button');
    await page.waitForSelector('#checkout[data-state="failed"]', { timeout: 20_000 });
    assert.match(await page.textContent("#checkout"), /商户不支持此支付方式/);
    await page.close();
  });

  test("each anomaly, produced through the simulator, is flagged exactly once, with a webhook", async () => {
    const merchantKeys = testMerchants().merchants.find((m) => m.mchid === MCHID);
    const sandbox = env.stack.sandboxUrl;
    const notifyUrl = `${env.stack.edgeUrl}/v1/wechatpay/notify`;

    // Paid after close: closed here (never sent to WeChat Pay), then paid at WeChat Pay under
    // the same out_trade_no (another system of the merchant's); the notification comes.
    const closedHere = await newSession(650);
    assert.equal((await call(`/v1/checkout/sessions/${closedHere.id}/close`, { method: "POST", headers: merchant() })).status, 200);
    const late = await merchantRequest(sandbox, merchantKeys, "POST", "/v3/pay/transactions/native", {
      appid: APPID, mchid: MCHID, description: "Risk test", out_trade_no: closedHere.out_trade_no, notify_url: notifyUrl, amount: { total: 650, currency: "CNY" },
    });
    assert.equal(late.status, 200, JSON.stringify(late.body));
    assert.match(await approveAtCashier(sandbox, late.body.code_url), /SUCCESS/);

    // A signed notification whose amount disagrees: ¥10.00 here, ¥9.00 asked at WeChat Pay.
    const mismatched = await newSession(1000);
    const nine = await merchantRequest(sandbox, merchantKeys, "POST", "/v3/pay/transactions/native", {
      appid: APPID, mchid: MCHID, description: "Risk test", out_trade_no: mismatched.out_trade_no, notify_url: notifyUrl, amount: { total: 900, currency: "CNY" },
    });
    assert.match(await approveAtCashier(sandbox, nine.body.code_url), /SUCCESS/);

    // Failed attempts: the payer's card is refused at WeChat Pay (PAYERROR), checked each time.
    const failing = await newSession(500);
    const prepay = await pay(failing, "10.5.0.1");
    const check = () => call(`/v1/widget/sessions/${failing.id}/check`, { method: "POST", headers: { Authorization: `Bearer ${failing.client_secret}`, "Content-Type": "application/json", ...from("10.5.0.1") }, body: "{}" });
    for (let i = 0; i < 5; i++) {
      assert.match(await approveAtCashier(sandbox, prepay.body.code_url, "abc-debit-low"), /PAYERROR|余额不足|insufficient/i);
      assert.equal((await check()).status, 200);
    }

    // A quick large refund: paid and refunded at once, more than half the day's volume.
    const big = await newSession(9000);
    const bigPay = await pay(big, "10.5.0.2");
    assert.match(await approveAtCashier(sandbox, bigPay.body.code_url), /SUCCESS/);
    await until("big paid", async () => (await call(`/v1/checkout/sessions/${big.id}`, { headers: merchant() })).body.status === "paid");
    assert.equal((await call("/v1/refunds", { method: "POST", headers: merchant(), body: JSON.stringify({ session_id: big.id, amount_fen: 9000 }) })).status, 201);
    // …and one that is not: small against the day's volume.
    const small = await newSession(9000);
    const smallPay = await pay(small, "10.5.0.3");
    assert.match(await approveAtCashier(sandbox, smallPay.body.code_url), /SUCCESS/);
    await until("small paid", async () => (await call(`/v1/checkout/sessions/${small.id}`, { headers: merchant() })).body.status === "paid");
    assert.equal((await call("/v1/refunds", { method: "POST", headers: merchant(), body: JSON.stringify({ session_id: small.id, amount_fen: 100 }) })).status, 201);

    // WeChat Pay retries the refused notification; every flag is still there once.
    await until("the anomalies flagged", async () => (await flags(closedHere.id)).length && (await flags(mismatched.id)).length, 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await flags(closedHere.id), ["paid_after_close"]);
    assert.deepEqual(await flags(mismatched.id), ["notification_mismatch"]);
    assert.deepEqual(await flags(failing.id), ["many_failed_attempts"]);
    assert.deepEqual(await flags(big.id), ["quick_large_refund"]);
    assert.deepEqual(await flags(small.id), []);
    assert.deepEqual(await flags(flooded.id), ["many_failed_attempts"], "the flood of the test before, flagged once");

    // Each raised one webhook event, and the console filters on them.
    await until("the flagged webhooks", async () => {
      await call("/v1/admin/run-scheduled", { method: "POST", headers: merchant() });
      return [...receiver.seen.values()].filter((e) => e.type === "checkout.session.flagged").length === 5;
    }, 30_000);
    const flagged = [...receiver.seen.values()].filter((e) => e.type === "checkout.session.flagged").map((e) => [e.data.session.id, e.data.detail.flag]).sort();
    assert.deepEqual(flagged, [[closedHere.id, "paid_after_close"], [mismatched.id, "notification_mismatch"], [failing.id, "many_failed_attempts"], [big.id, "quick_large_refund"], [flooded.id, "many_failed_attempts"]].sort());
    await listingCaughtUp(env.stack);
    const page = await env.browser.newPage();
    await page.goto(`${env.stack.edgeUrl}/console/login`);
    await page.fill('input[name="key"]', env.edgeVars.MERCHANT_SECRET_KEY);
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    await page.goto(`${env.stack.edgeUrl}/console/orders?flag=any`);
    const listed = await page.$$eval("tbody a", (as) => as.map((a) => a.textContent).sort());
    assert.deepEqual(listed, [closedHere.id, mismatched.id, failing.id, big.id, flooded.id].sort());
    await page.goto(`${env.stack.edgeUrl}/console/orders?flag=quick_large_refund`);
    assert.deepEqual(await page.$$eval("tbody a", (as) => as.map((a) => a.textContent)), [big.id]);
    await page.close();
    console.log("[risk] limits refused at their edges (max_session_amount, ip_hourly, ip_daily, payer_hourly, payer_daily), 3 concurrent rounds never over budget, block lists and scenes refused; anomalies flagged once each: paid_after_close, notification_mismatch, many_failed_attempts, quick_large_refund");
  });
});
