// Daily reconciliation and settlement against the simulator's bills, with its faults: a day
// holding a payment whose notification was dropped, an amount mismatch, a refund made outside
// our Worker and a fee at another rate is reconciled; each difference is found and classified,
// the dropped payment ends up paid through the state machine, and a bill whose hash does not
// match is refused.
import assert from "node:assert/strict";
import { request } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { approveAtCashier, books, eventKinds, listingCaughtUp, merchantRequest, outputDir, payerPays, startAll, testMerchants, until, merchantClient } from "./support.mjs";

const shots = join(outputDir, "console");
mkdirSync(shots, { recursive: true });

let env;
let merchant;
const MCHID = "1230000109";
const key = () => ({ Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json" });
const api = (path, init = {}) => fetch(`${env.stack.edgeUrl}${path}`, { headers: key(), ...init });
const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });
const sandbox = (path, body, method = "POST") =>
  fetch(`${env.stack.sandboxUrl}${path}`, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
const session = async (id) => (await api(`/v1/checkout/sessions/${id}`)).json();
/** Today in China time: the simulator serves today's bills (the real platform: yesterday's). */
const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);

const newSession = (amount_fen, description) => merchantClient(env).createSession({ amount_fen, description });

describe("reconciliation and settlement", { timeout: 900_000 }, () => {
  before(async () => {
    // Webhooks go to a port where nothing listens: the console shows failed deliveries.
    env = await startAll({
      edgePort: 30787,
      sandboxPort: 30788,
      edgeVars: { WEBHOOK_URL: "http://127.0.0.1:9/hooks", WEBHOOK_SECRET: "whsec_console_0123456789", WEBHOOK_RETRY_BASE_SECS: "3600" },
    });
    merchant = testMerchants().merchants.find((m) => m.mchid === MCHID);
  }, { timeout: 600_000 });

  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
  });

  test("a day with a dropped notification, an amount mismatch, an outside refund and a fee difference", async () => {
    // A: paid normally.
    const a = await newSession(10_000, "Reconciled normally");
    await payerPays(env.stack, a);
    await until("A paid", async () => (await session(a.id)).status === "paid");

    // B: WeChat Pay drops the notification; our books keep it open.
    assert.ok((await sandbox("/sandbox/faults", { kind: "drop_notification", mchid: MCHID })).ok);
    const b = await newSession(2_345, "Notification dropped");
    await payerPays(env.stack, b);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await session(b.id)).status, "open");

    // C: our books say ¥10.00, but WeChat Pay was asked (outside this Worker) for ¥9.00 and
    // the payer paid that; the notification is refused (amount cross-check), the books stay open.
    const c = await newSession(1_000, "Amount differs");
    const cView = await session(c.id);
    const prepay = await merchantRequest(env.stack.sandboxUrl, merchant, "POST", "/v3/pay/transactions/native", {
      appid: merchant.appid, mchid: MCHID, description: "Amount differs", out_trade_no: cView.out_trade_no,
      notify_url: `${env.stack.edgeUrl}/v1/wechatpay/notify`, amount: { total: 900, currency: "CNY" },
    });
    assert.equal(prepay.status, 200);
    assert.match(await approveAtCashier(env.stack.sandboxUrl, prepay.body.code_url), /SUCCESS/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await session(c.id)).status, "open");

    // A refund of A made outside our Worker (straight at WeChat Pay).
    const outside = await merchantRequest(env.stack.sandboxUrl, merchant, "POST", "/v3/refund/domestic/refunds", {
      out_trade_no: (await session(a.id)).out_trade_no, out_refund_no: "OUTSIDE-REFUND-1",
      notify_url: `${env.stack.edgeUrl}/v1/wechatpay/notify`, amount: { refund: 500, total: 10_000, currency: "CNY" },
    });
    assert.equal(outside.status, 200, JSON.stringify(outside.body));
    // Its notification is acknowledged and kept on the order, once, for a person to look at.
    const outsideEvents = await until("the outside refund on A's timeline", async () => {
      const rows = (await books(env.stack, "events", { session_id: a.id, kind: "refund_outside" }))
        .map((e) => ({ kind: e.kind, no: JSON.parse(e.detail).out_refund_no }));
      return rows.length ? rows : null;
    });
    assert.deepEqual(outsideEvents, [{ kind: "refund_outside", no: "OUTSIDE-REFUND-1" }]);

    // D: WeChat Pay charges 1.00% instead of the agreed 0.60%.
    assert.ok((await sandbox("/sandbox/settings", { fee_rate_ppm: 10_000 }, "PUT")).ok);
    const d = await newSession(50_000, "Fee differs");
    await payerPays(env.stack, d);
    await until("D paid", async () => (await session(d.id)).status === "paid");
    assert.ok((await sandbox("/sandbox/settings", { fee_rate_ppm: 6000 }, "PUT")).ok);

    // The day is settled to the merchant's bank account.
    assert.ok((await sandbox("/sandbox/settlements", { mchid: MCHID })).ok);

    // A bill whose SHA1 does not match is refused, and the failed run is recorded.
    assert.ok((await sandbox("/sandbox/faults", { kind: "bill_hash_mismatch", mchid: MCHID })).ok);
    const refused = await post("/v1/admin/reconciliations", { date: today() });
    const refusal = await refused.json();
    assert.equal(refused.status, 502, JSON.stringify(refusal));
    assert.equal(refusal.error.code, "bill_hash_mismatch");
    assert.match(refusal.error.message, /SHA1/);
    const failed = await (await api(`/v1/admin/reconciliations/${today()}`)).json();
    assert.equal(failed.run.status, "failed");
    assert.match(failed.run.error, /^bill_hash_mismatch: /);
    assert.equal((await session(b.id)).status, "open", "nothing changed");

    // The real run.
    const res = await post("/v1/admin/reconciliations", { date: today() });
    const report = await res.json();
    assert.equal(res.status, 200, JSON.stringify(report));
    const found = report.differences
      .filter((x) => !x.kind.startsWith("settlement_"))
      .map((x) => [x.kind, x.out_trade_no, x.out_refund_no, x.ours, x.theirs, x.resolution, x.outcome]);
    const no = async (s) => (await session(s.id)).out_trade_no;
    assert.deepEqual(found, [
      ["paid_not_booked", await no(b), "", null, 2_345, "fix_by_query", "fixed"],
      ["amount_mismatch", await no(c), "", 1_000, 900, "flag", "flagged"],
      ["refund_not_booked", await no(a), "OUTSIDE-REFUND-1", null, 500, "flag", "flagged"],
      // Fees in thousandths of a fen: 500.00 × 0.60% = 3.00 expected, 5.00 charged.
      ["fee_mismatch", await no(d), "", 300_000, 500_000, "flag", "flagged"],
    ]);
    assert.equal(report.run.status, "done");
    assert.equal(report.run.fixed, 1);
    assert.equal(report.run.payments, 4);
    assert.equal(report.run.paid_fen, 10_000 + 2_345 + 900 + 50_000);

    // The dropped payment is paid in our books, through the notification's state machine.
    const paidB = await session(b.id);
    assert.equal(paidB.status, "paid");
    assert.match(paidB.transaction_id, /^4200/);
    const events = await eventKinds(env.stack, b.id);
    assert.deepEqual(events, ["created", "prepay_created", "paid"]);

    // Settlement: the fund-flow bill against what our books expect (payments as booked, fees
    // at 0.60%, the day's net paid out). C's ¥9.00, D's extra fee and the outside refund show.
    const settlement = Object.fromEntries(report.differences
      .filter((x) => x.kind.startsWith("settlement_")).map((x) => [x.kind, [x.ours, x.theirs]]));
    assert.deepEqual(settlement.settlement_payments, [10_000 + 2_345 + 50_000, 10_000 + 2_345 + 900 + 50_000]);
    assert.deepEqual(settlement.settlement_refunds, [0, 500]);
    const ourFees = 60 + 14 + 300; // 0.60% of A, B, D, rounded half up
    const theirFees = 60 + 14 + 5 + 500; // C at 0.60% and D at 1.00%
    assert.deepEqual(settlement.settlement_fees, [ourFees, theirFees]);
    assert.ok(settlement.settlement_amount, "what reached the bank differs from our net");
    assert.equal(report.settlement.platform.payments_fen, 10_000 + 2_345 + 900 + 50_000);
    assert.equal(report.settlement.platform.settled_fen, report.settlement.platform.payments_fen
      - theirFees - 500 + report.settlement.platform.fees_returned_fen);

    // Running the day again is safe: the fixed payment now matches, the rest stays flagged.
    const again = await (await post("/v1/admin/reconciliations", { date: today() })).json();
    const kinds = again.differences.filter((x) => !x.kind.startsWith("settlement_")).map((x) => x.kind);
    assert.deepEqual(kinds, ["amount_mismatch", "refund_not_booked", "fee_mismatch"]);
    const list = await (await api("/v1/admin/reconciliations")).json();
    assert.equal(list.data[0].bill_date, today());
    assert.equal(list.data[0].status, "done");
  });

  test("the merchant console: sign-in, orders, an order's timeline and a refund, webhooks, reports with charts", async () => {
    const edge = env.stack.edgeUrl;
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    await listingCaughtUp(env.stack);

    await page.goto(`${edge}/console/orders`);
    assert.equal(new URL(page.url()).pathname, "/console/login");
    await shot("1-login");
    await page.fill("input[name=key]", "not-the-key");
    await page.click("button[type=submit]");
    assert.match(await page.textContent("[role=alert]"), /not a key of this deployment/);
    await page.fill("input[name=key]", env.edgeVars.MERCHANT_SECRET_KEY);
    await Promise.all([page.waitForURL(`${edge}/console/orders`), page.click("button[type=submit]")]);
    const [cookie] = await context.cookies(`${edge}/console/orders`);
    assert.equal(cookie.name, "wxc_console");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(cookie.secure, false, "no TLS on localhost");
    const rows = await page.$$eval("tbody tr", (trs) => trs.length);
    assert.ok(rows >= 4, `${rows} orders`);
    await shot("2-orders");

    // Search and filters.
    const sessions = await (await api("/v1/checkout/sessions?limit=100")).json();
    const fee = sessions.data.find((x) => x.description === "Fee differs");
    await page.fill("input[name=q]", fee.out_trade_no);
    await page.click("form[role=search] button");
    assert.deepEqual(await page.$$eval("tbody tr td:nth-child(3)", (tds) => tds.map((t) => t.textContent)), [fee.out_trade_no]);
    await page.goto(`${edge}/console/orders?status=open`);
    const statuses = await page.$$eval("tbody tr td:nth-child(6)", (tds) => tds.map((t) => t.textContent));
    assert.ok(statuses.length >= 1 && statuses.every((x) => x === "open"), statuses.join());
    await page.goto(`${edge}/console/orders?q=${encodeURIComponent("differs")}`);
    assert.equal(await page.$$eval("tbody tr", (trs) => trs.length), 2, "Amount differs, Fee differs");

    // An order's timeline, and a refund from its page (typed in yuan).
    await page.goto(`${edge}/console/orders/${fee.id}`);
    const timeline = await page.$$eval("ol li strong", (s) => s.map((x) => x.textContent));
    assert.deepEqual(timeline, ["created", "prepay_created", "paid"]);
    await page.fill("input[name=amount]", "1.2.3");
    await page.click("form.box button");
    assert.match(await page.textContent("[role=alert]"), /not an amount in yuan/);
    await page.fill("input[name=amount]", "12.30");
    await page.fill("input[name=reason]", "Chipped cup");
    await Promise.all([page.waitForURL(`${edge}/console/orders/${fee.id}`), page.click("form.box button")]);
    const refundRow = await page.textContent("h2 + table tbody tr");
    assert.match(refundRow, /¥12\.30/);
    assert.match(refundRow, /Chipped cup/);
    const booked = (await books(env.stack, "refunds", { session_id: fee.id })).map((r) => r.amount_fen);
    assert.deepEqual(booked, [1230]);
    await shot("3-order");
    // A double click posts the same form (the same token) twice, here at once and then again:
    // one refund.
    const token = await page.$eval("input[name=refund_token]", (i) => i.value);
    const submit = () => fetch(`${edge}/console/orders/${fee.id}/refunds`, {
      method: "POST", redirect: "manual",
      headers: { Cookie: `${cookie.name}=${cookie.value}`, Origin: edge, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ amount: "1.00", reason: "Double click", refund_token: token }),
    });
    const clicks = [...await Promise.all([submit(), submit()]), await submit()];
    assert.deepEqual(clicks.map((r) => r.status), [303, 303, 303], "each click lands on the order page");
    const afterClicks = (await books(env.stack, "refunds", { session_id: fee.id })).map((r) => r.amount_fen);
    assert.deepEqual(afterClicks, [1230, 100], "one refund of ¥1.00, however often the form was posted");
    const stale = await fetch(`${edge}/console/orders/${fee.id}/refunds`, {
      method: "POST", redirect: "manual",
      headers: { Cookie: `${cookie.name}=${cookie.value}`, Origin: edge, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ amount: "1.00" }),
    });
    assert.equal(stale.status, 400, "a form without its token refunds nothing");
    assert.equal((await books(env.stack, "refunds", { session_id: fee.id })).length, 2);

    // Webhook deliveries (the receiver is down) and a retry now.
    await post("/v1/admin/run-scheduled", {});
    await page.goto(`${edge}/console/webhooks`);
    const first = await page.$eval("tbody tr", (tr) => tr.textContent);
    assert.match(first, /retry at|waiting/);
    const attempts = async () => Number(await page.$eval("tbody tr td:nth-child(5)", (td) => td.textContent));
    const before = await attempts();
    await Promise.all([page.waitForURL(`${edge}/console/webhooks`), page.click("tbody tr button")]);
    assert.equal(await attempts(), before + 1);
    assert.match(await page.$eval("tbody tr", (tr) => tr.textContent), /retry at/);
    await shot("4-webhooks");

    // Reports: charts per day, and the day's reconciliation with its differences by kind.
    await page.goto(`${edge}/console/reports`);
    assert.equal(await page.$$eval("svg[role=img]", (s) => s.map((x) => x.getAttribute("aria-label")).join()),
      "Volume paid per day,Fees per day,Differences per day");
    assert.ok(await page.$$eval("svg rect", (r) => r.length) >= 3);
    await shot("5-reports");
    await page.fill("input[name=date]", today());
    await Promise.all([page.waitForURL(`${edge}/console/reports/${today()}`), page.click("form.box button")]);
    const kinds = await page.$$eval("h2 ~ table tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
    for (const k of ["amount_mismatch", "refund_not_booked", "fee_mismatch", "settlement_payments"]) assert.ok(kinds.includes(k), kinds.join());
    assert.ok(await page.$("svg[aria-label='Differences by kind'] rect"));
    await shot("6-report-day");

    // Console pages carry a strict CSP; a form posted from another origin is refused.
    const res = await fetch(`${edge}/console/orders`, { headers: { Cookie: `${cookie.name}=${cookie.value}` } });
    assert.match(res.headers.get("content-security-policy"), /default-src 'none'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const forged = await fetch(`${edge}/console/orders/${fee.id}/refunds`, {
      method: "POST", redirect: "manual",
      headers: { Cookie: `${cookie.name}=${cookie.value}`, Origin: "http://evil.example", "Content-Type": "application/x-www-form-urlencoded" },
      body: "amount=1.00",
    });
    assert.equal(forged.status, 400);
    assert.equal((await books(env.stack, "refunds", { session_id: fee.id })).length, 2);
    // Outside localhost the cookie is Secure too.
    const secure = await new Promise((resolve, reject) => {
      const r = request(`${edge}/console/login`, { method: "POST", headers: { Host: "pay.example.com", "Content-Type": "application/x-www-form-urlencoded" } },
        (answer) => { answer.resume(); resolve(answer.headers["set-cookie"]?.[0] ?? ""); });
      r.on("error", reject);
      r.end(`key=${encodeURIComponent(env.edgeVars.MERCHANT_SECRET_KEY)}`);
    });
    assert.match(secure, /HttpOnly; SameSite=Strict; Secure/);

    // Sign-out: refused from another origin (the sign-in still works), and it revokes the token
    // itself, not only this browser's cookie: a copy of the cookie opens nothing afterwards.
    const withCookie = (extra = {}) => ({ Cookie: `${cookie.name}=${cookie.value}`, ...extra });
    const foreignLogout = await fetch(`${edge}/console/logout`, { method: "POST", redirect: "manual", headers: withCookie({ Origin: "http://evil.example" }) });
    assert.equal(foreignLogout.status, 400, "another site cannot sign the merchant out");
    assert.equal((await fetch(`${edge}/console/orders`, { redirect: "manual", headers: withCookie() })).status, 200, "still signed in");
    await Promise.all([page.waitForURL(`${edge}/console/login`), page.click("header button")]);
    await page.goto(`${edge}/console/orders`);
    assert.equal(new URL(page.url()).pathname, "/console/login");
    const copied = await fetch(`${edge}/console/orders`, { redirect: "manual", headers: withCookie() });
    assert.deepEqual([copied.status, copied.headers.get("location")], [303, "/console/login"], "the copied cookie was revoked");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("reconciliation needs the merchant key and a real date", async () => {
    assert.equal((await fetch(`${env.stack.edgeUrl}/v1/admin/reconciliations`, { method: "POST", body: "{}" })).status, 401);
    const bad = await post("/v1/admin/reconciliations", { date: "2026-02-30" });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "invalid_date");
    assert.equal((await api("/v1/admin/reconciliations/2001-01-01")).status, 404);
  });
});
