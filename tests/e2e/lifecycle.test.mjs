// The edge-worker's order lifecycle under `wrangler dev` against the simulator: idempotent
// merchant requests, listing, healing a dropped notification by the scheduled query, closing
// expired sessions at WeChat Pay and locally, refunds that can never exceed the payment, and
// a storm of duplicate notifications that changes the books exactly once.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { approveAtCashier, books, eventId, eventKinds, forgeNotification, listingCaughtUp, oauthRoundTrip, payerPays as pays, platformRecords, startAll, until, webhookReceiver, merchantClient } from "./support.mjs";

const MCHID = "1230000109";

let env;
const WEBHOOK_SECRET = "whsec_e2e_0123456789abcdef";
// The merchant's webhook receiver: "down" (drops every connection) until the webhook test
// brings it up.
const receiver = webhookReceiver(WEBHOOK_SECRET);
const merchantHeaders = (extra = {}) => ({ Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json", ...extra });
const api = (path, init = {}) => fetch(`${env.stack.edgeUrl}${path}`, init);
const sandbox = (path, init = {}) => fetch(`${env.stack.sandboxUrl}${path}`, init);
const post = (path, body, headers = {}) => api(path, { method: "POST", headers: merchantHeaders(headers), body: JSON.stringify(body) });
const session = async (id) => (await api(`/v1/checkout/sessions/${id}`, { headers: merchantHeaders() })).json();
const runScheduled = async () => (await post("/v1/admin/run-scheduled", {})).json();
/** Injects a fault at the simulator for this merchant (platform-sandbox/src/sandbox.rs). */
async function fault(kind, extra = {}) {
  const r = await sandbox("/sandbox/faults", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ kind, mchid: MCHID, ...extra }) });
  assert.equal(r.status, 200, `fault ${kind}: ${await r.text()}`);
}

const newSession = (amount_fen, extra = {}) =>
  merchantClient(env).createSession({ amount_fen, description: "Lifecycle test", ...extra });

describe("order lifecycle", { timeout: 900_000 }, () => {
  before(async () => {
    const webhookPort = await receiver.listen();
    env = await startAll({ edgePort: 24787, sandboxPort: 24788, edgeVars: {
      MIN_SESSION_TTL_SECS: "2",
      QUERY_PENDING_AFTER_SECS: "0",
      WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/hooks`,
      WEBHOOK_SECRET,
      WEBHOOK_RETRY_BASE_SECS: "0",
    } });
  }, { timeout: 600_000 });
  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
    await receiver.close();
  });

  test("Idempotency-Key: same key and body answer the same; other parameters are refused", async () => {
    const key = { "Idempotency-Key": `k-${Date.now()}` };
    const first = await post("/v1/checkout/sessions", { amount_fen: 700, description: "Idempotent" }, key);
    const again = await post("/v1/checkout/sessions", { description: "Idempotent", amount_fen: 700 }, key);
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    const [created, replayed] = [await first.json(), await again.json()];
    assert.equal(replayed.id, created.id);
    assert.equal(replayed.client_secret, created.client_secret, "the replay recomputes the client secret");
    const [stored] = await books(env.stack, "idempotency_keys", { key: `create_session:${key["Idempotency-Key"]}` });
    assert.ok(stored.response.includes(created.id), "the answer is stored");
    assert.ok(!stored.response.includes("_secret_") && !stored.response.includes(created.client_secret), "without the client secret");
    const other = await post("/v1/checkout/sessions", { amount_fen: 701, description: "Idempotent" }, key);
    assert.equal(other.status, 422);
    assert.equal((await other.json()).error.code, "idempotency_key_reused");
  });

  test("concurrent requests with one Idempotency-Key create one session; CORS only for allowed origins", async () => {
    const key = { "Idempotency-Key": `race-${Date.now()}` };
    const body = { amount_fen: 808, description: "Raced" };
    const answers = await Promise.all(Array.from({ length: 10 }, () => post("/v1/checkout/sessions", body, key)));
    const statuses = answers.map((a) => a.status);
    assert.ok(statuses.every((st) => st === 201 || st === 409), `statuses ${statuses}`);
    const ids = new Set();
    for (const a of answers) {
      const json = await a.json();
      if (a.status === 201) ids.add(json.id);
      else assert.equal(json.error.code, "idempotency_in_progress");
    }
    assert.equal(ids.size, 1, "every success answers the same session");
    const [id] = ids;
    const raced = await books(env.stack, "sessions", { description: "Raced" });
    assert.deepEqual(raced.map((r) => r.id), [id], "exactly one session was created");

    const preflight = (origin) =>
      api(`/v1/widget/sessions/${id}`, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": "GET" } });
    const foreign = await preflight("https://evil.example");
    assert.equal(foreign.headers.get("access-control-allow-origin"), null, "no CORS grant for an origin not configured");
    const own = await preflight(env.stack.edgeUrl);
    assert.equal(own.headers.get("access-control-allow-origin"), env.stack.edgeUrl);
  });

  test("sessions keep a return URL and the merchant's metadata; bad ones are refused", async () => {
    const s = await newSession(250, { return_url: "https://shop.example/thanks?order=A-1", metadata: { order: "A-1", note: "茶" } });
    const got = await session(s.id);
    assert.equal(got.return_url, "https://shop.example/thanks?order=A-1");
    assert.deepEqual(got.metadata, { order: "A-1", note: "茶" });
    for (const bad of [{ return_url: "javascript:alert(1)" }, { metadata: { n: 1 } }, { metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"])) }]) {
      const res = await post("/v1/checkout/sessions", { amount_fen: 250, description: "bad", ...bad });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal((await res.json()).error.code, "invalid_field");
    }
  });

  test("the JSAPI scene: the Worker learns the openid by OAuth; the client's checks accept its paySign", async () => {
    const s = await newSession(520);
    const widget = { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json" };
    const payJsapi = () => api(`/v1/widget/sessions/${s.id}/pay`, { method: "POST", headers: widget, body: JSON.stringify({ scene: "jsapi" }) });
    const early = await payJsapi();
    assert.equal(early.status, 409);
    assert.equal((await early.json()).error.code, "payer_unknown");

    const returnTo = `${env.stack.edgeUrl}/shop?after=oauth`;
    const foreign = await oauthRoundTrip(env.stack, s, { returnTo: "https://evil.example/" });
    assert.equal(foreign.ticket.status, 403, "no open redirect");
    const otherSecret = await api(`/v1/widget/sessions/${s.id}/oauth`, { method: "POST", headers: { Authorization: "Bearer cs_x_secret_wrong", "Content-Type": "application/json" }, body: JSON.stringify({ return_to: returnTo }) });
    assert.equal(otherSecret.status, 401, "the ticket needs the session's client secret");
    const trip = await oauthRoundTrip(env.stack, s, { returnTo });
    assert.equal(trip.ticket.status, 200);
    assert.ok(!trip.url.includes(s.client_secret), "the client secret is in no URL");
    assert.equal(trip.start.status, 302);
    assert.match(trip.cookie, /^wxc_oauth=[0-9a-f]{32}$/, "the browser holds the round trip's nonce");
    assert.match(trip.start.headers.get("set-cookie"), /Path=\/v1\/widget\/oauth\/callback; HttpOnly; SameSite=Lax/);
    assert.ok(trip.authorize.href.startsWith(`${env.stack.sandboxUrl}/connect/oauth2/authorize?appid=wxd930ea5d5a258f4f`), trip.authorize.href);
    assert.equal(trip.callback.origin + trip.callback.pathname, `${env.stack.edgeUrl}/v1/widget/oauth/callback`);
    assert.equal((await api(new URL(trip.url).pathname + new URL(trip.url).search, { redirect: "manual" })).status, 401, "the ticket works once");
    assert.equal(trip.back.status, 302);
    assert.equal(trip.back.headers.get("location"), returnTo);
    // The state is bound to that browser and cannot be forged: another browser (no cookie, or
    // another's), or a made-up state, gets nothing.
    const again = await oauthRoundTrip(env.stack, s, { returnTo });
    const replay = (cookie, state = again.callback.searchParams.get("state")) => {
      const u = new URL(again.callback);
      u.searchParams.set("state", state);
      return api(u.pathname + u.search, { redirect: "manual", headers: cookie ? { Cookie: cookie } : {} });
    };
    assert.equal((await replay(null)).status, 401, "no cookie: not the browser that started");
    assert.equal((await replay("wxc_oauth=00000000000000000000000000000000")).status, 401, "another browser's cookie");
    assert.equal((await replay(trip.cookie, `${s.id}.9999999999.000000000000000000000000`)).status, 401, "a forged state");

    const paid = await payJsapi();
    assert.equal(paid.status, 200);
    const { jsapi } = await paid.json();
    assert.deepEqual(Object.keys(jsapi).sort(), ["appId", "nonceStr", "package", "paySign", "signType", "timeStamp"]);
    assert.equal(jsapi.signType, "RSA");
    // The simulator checks what the WeChat client checks before it opens the payment sheet.
    const check = await (await sandbox("/jsapi/pay-request", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(jsapi) })).json();
    assert.equal(check.ok, true, JSON.stringify(check));
    const confirm = await (await sandbox("/jsapi/confirm", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: check.token, card: "icbc-debit" }) })).json();
    assert.equal(confirm.ok, true, JSON.stringify(confirm));
    await until("paid", async () => (await session(s.id)).status === "paid");
  });

  test("the H5 scene: an h5_url for the payer's IP; the scene is then fixed", async () => {
    const s = await newSession(888);
    const widget = { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json" };
    const pay = (scene) => api(`/v1/widget/sessions/${s.id}/pay`, { method: "POST", headers: widget, body: JSON.stringify({ scene }) });
    const h5 = await pay("h5");
    assert.equal(h5.status, 200);
    const { h5_url } = await h5.json();
    assert.ok(h5_url.startsWith(`${env.stack.sandboxUrl}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx`), h5_url);
    const locked = await pay("native");
    assert.equal(locked.status, 409);
    assert.equal((await locked.json()).error.code, "scene_locked");
    const token = new URL(h5_url).searchParams.get("prepay_id").slice(2);
    const cashier = await sandbox("/cashier/pay", { method: "POST", body: new URLSearchParams({ pr: token, card: "icbc-debit", action: "approve" }) });
    assert.match(await cashier.text(), /SUCCESS/);
    await until("paid", async () => (await session(s.id)).status === "paid");
  });

  test("listing pages newest first with a cursor and filters by status", async () => {
    const made = [await newSession(101), await newSession(102), await newSession(103)];
    await listingCaughtUp(env.stack);
    const page1 = await (await api("/v1/checkout/sessions?status=open&limit=2", { headers: merchantHeaders() })).json();
    assert.deepEqual(page1.data.map((s) => s.id), [made[2].id, made[1].id]);
    assert.equal(page1.has_more, true);
    const page2 = await (await api(`/v1/checkout/sessions?status=open&limit=2&starting_after=${made[1].id}`, { headers: merchantHeaders() })).json();
    assert.equal(page2.data[0].id, made[0].id);
    const bad = await api("/v1/checkout/sessions?limit=0", { headers: merchantHeaders() });
    assert.equal(bad.status, 400);
    const since = made[0].created_at;
    const window = await (await api(`/v1/checkout/sessions?created_gte=${since}&created_lt=${since + 3600}&limit=100`, { headers: merchantHeaders() })).json();
    for (const m of made) assert.ok(window.data.some((s) => s.id === m.id), "inside the window");
    assert.ok(window.data.every((s) => s.created_at >= since));
    const none = await (await api(`/v1/checkout/sessions?created_lt=${since}&status=open&limit=100`, { headers: merchantHeaders() })).json();
    assert.ok(none.data.every((s) => s.created_at < since));
    assert.ok(!none.data.some((s) => made.some((m) => m.id === s.id)));
  });

  test("a dropped notification is healed by the scheduled query", async () => {
    await fault("drop_notification");
    const s = await newSession(1999);
    const pay = await api(`/v1/widget/sessions/${s.id}/pay`, {
      method: "POST",
      headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ scene: "native" }),
    });
    assert.equal(pay.status, 200);
    const prepaidAt = Math.floor(Date.now() / 1000);
    // The session's object asks about the order as soon as it is prepaid (QUERY_PENDING_AFTER_SECS
    // is 0 here), then a minute after that look: once it has looked, the heal is the sweep's.
    const due = async () => (await (await fetch(`${env.stack.edgeUrl}/_test/objects/due?session=${s.id}`)).json()).due;
    await until("the object's first look", async () => (await due()).every((d) => d.at >= prepaidAt + 30));
    assert.match(await approveAtCashier(env.stack.sandboxUrl, (await pay.json()).code_url), /SUCCESS/);
    const notices = () => platformRecords(env.stack, "notifications", { mchid: MCHID, out_trade_no: s.out_trade_no });
    await until("WeChat Pay dropped its notification", async () => (await notices()).some((n) => n.state === "dropped"));
    assert.equal((await session(s.id)).status, "open", "the notification was dropped");
    const run = await runScheduled();
    assert.ok(run.checked >= 1, JSON.stringify(run));
    const healed = await session(s.id);
    assert.equal(healed.status, "paid");
    assert.match(healed.transaction_id, /^4200/);
  });

  test("an expired session is closed at the simulator and locally", async () => {
    const s = await newSession(300, { expires_in: 2 });
    const pay = await api(`/v1/widget/sessions/${s.id}/pay`, {
      method: "POST",
      headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ scene: "native" }),
    });
    assert.equal(pay.status, 200);
    await new Promise((r) => setTimeout(r, 2500));
    await runScheduled();
    assert.equal((await session(s.id)).status, "closed");
    const log = await eventKinds(env.stack, s.id);
    assert.deepEqual(log, ["created", "prepay_created", "closed"]);
    const [platform] = await platformRecords(env.stack, "transactions", { mchid: MCHID, out_trade_no: s.out_trade_no });
    assert.equal(platform.trade_state, "CLOSED", "closed at WeChat Pay, not only locally");
    assert.ok(platform.closed_at > 0);
    const paying = await api(`/v1/widget/sessions/${s.id}/pay`, {
      method: "POST",
      headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ scene: "native" }),
    });
    assert.equal(paying.status, 409);
  });

  test("a merchant's close racing the payer's first pay leaves no order open at WeChat Pay", async () => {
    const s = await newSession(555);
    await fault("prepay_no_answer", { param: 3000 }); // WeChat Pay makes the order; its answer takes 3 s
    const paying = api(`/v1/widget/sessions/${s.id}/pay`, {
      method: "POST",
      headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ scene: "native" }),
    });
    const theirs = () => platformRecords(env.stack, "transactions", { mchid: MCHID, out_trade_no: s.out_trade_no });
    await until("WeChat Pay has the order", async () => (await theirs()).length === 1);
    // Meanwhile the merchant closes the session, which has no prepay recorded yet.
    const closed = await post(`/v1/checkout/sessions/${s.id}/close`, {});
    assert.equal(closed.status, 200);
    assert.equal((await closed.json()).status, "closed");
    const paid = await paying;
    assert.equal(paid.status, 409, "the payer is not given a code_url for a closed session");
    assert.equal((await paid.json()).error.code, "session_not_payable");
    const [tx] = await theirs();
    assert.equal(tx.trade_state, "CLOSED", "the order WeChat Pay made meanwhile is closed there too");
    assert.equal((await session(s.id)).status, "closed");
  });

  test("partial refunds adding up to more than was paid are refused", async () => {
    const s = await newSession(1999);
    await pays(env.stack, s);
    await until("paid", async () => (await session(s.id)).status === "paid");
    const r1 = await post("/v1/refunds", { session_id: s.id, amount_fen: 1000, reason: "partial" });
    assert.equal(r1.status, 201);
    const over = await post("/v1/refunds", { session_id: s.id, amount_fen: 1000 });
    assert.equal(over.status, 409);
    assert.equal((await over.json()).error.code, "refund_exceeds_payment");
    const r2 = await post("/v1/refunds", { session_id: s.id, amount_fen: 999 });
    assert.equal(r2.status, 201);
    const id2 = (await r2.json()).id;
    await until("refund notified", async () => {
      const r = await (await api(`/v1/refunds/${id2}`, { headers: merchantHeaders() })).json();
      return r.status === "succeeded";
    });
    const open = await newSession(500);
    assert.equal((await post("/v1/refunds", { session_id: open.id, amount_fen: 1 })).status, 409, "an unpaid session cannot be refunded");
  });

  test("a refund whose answer was lost stays pending and is sent again with the same out_refund_no", async () => {
    const s = await newSession(1200);
    await pays(env.stack, s);
    await until("paid", async () => (await session(s.id)).status === "paid");
    await fault("system_error_once");
    const created = await post("/v1/refunds", { session_id: s.id, amount_fen: 1200 });
    assert.equal(created.status, 201);
    const refund = await created.json();
    assert.equal(refund.status, "pending", "WeChat Pay answered 500: the outcome is unknown");
    assert.equal((await post("/v1/refunds", { session_id: s.id, amount_fen: 1 })).status, 409, "a pending refund still counts against the payment");
    await runScheduled();
    const settled = await until("sent again", async () => {
      const r = await (await api(`/v1/refunds/${refund.id}`, { headers: merchantHeaders() })).json();
      return ["processing", "succeeded"].includes(r.status) && r;
    });
    assert.equal(settled.out_refund_no, refund.out_refund_no);
    const platform = await platformRecords(env.stack, "refunds", { mchid: MCHID, out_refund_no: refund.out_refund_no });
    assert.equal(platform.length, 1, "WeChat Pay holds exactly one refund for it");
  });

  test("a refund whose answer was lost is never booked failed on an ambiguous answer, so it cannot be paid twice", async () => {
    // The attack of the security review (M1): WeChat Pay accepts the refund but its answer is
    // lost, the resend meets 429 FREQUENCY_LIMITED, then the signed REFUND.SUCCESS arrives.
    const s = await newSession(1000);
    await pays(env.stack, s);
    await until("paid", async () => (await session(s.id)).status === "paid");
    await fault("refund_no_answer", { param: 12_000 }); // past the Worker's 10 s timeout
    await fault("drop_notification");
    const created = await post("/v1/refunds", { session_id: s.id, amount_fen: 300 });
    assert.equal(created.status, 201);
    const refund = await created.json();
    assert.equal(refund.status, "pending", "no answer: the outcome is unknown");
    const theirs = () => platformRecords(env.stack, "refunds", { mchid: MCHID, out_refund_no: refund.out_refund_no });
    await until("WeChat Pay refunded it all the same", async () => (await theirs())[0]?.status === "SUCCESS", 20_000);

    await fault("frequency_limited", { uses: 50 });
    await runScheduled();
    await sandbox("/sandbox/faults", { method: "DELETE" });
    const ours = async () => (await api(`/v1/refunds/${refund.id}`, { headers: merchantHeaders() })).json();
    assert.equal((await ours()).status, "pending", "a 429 proves nothing: still pending, not failed");
    const second = await post("/v1/refunds", { session_id: s.id, amount_fen: 701 });
    assert.equal(second.status, 409, "the 300 stays taken: 701 more would pay the payer twice");
    assert.equal((await second.json()).error.code, "refund_exceeds_payment");

    // The signed notification (dropped before) arrives now and books the truth.
    const [notice] = (await platformRecords(env.stack, "notifications", { mchid: MCHID, out_trade_no: s.out_trade_no }))
      .filter((n) => n.event_type === "REFUND.SUCCESS");
    assert.equal(notice.state, "dropped");
    const redelivered = await (await sandbox(`/sandbox/notifications/${notice.id}/redeliver`, { method: "POST" })).json();
    assert.equal(redelivered.http_status, 204);
    assert.equal((await ours()).status, "succeeded");
    assert.equal((await theirs()).length, 1, "WeChat Pay holds one refund for it");
    const [tx] = await platformRecords(env.stack, "transactions", { mchid: MCHID, out_trade_no: s.out_trade_no });
    assert.equal(tx.refunded_fen, 300, "the payer got 300 back, once");
    assert.deepEqual(await books(env.stack, "events", { session_id: s.id, kind: "flagged" }), [], "nothing to correct: it was never booked failed");
  });

  test("an ABNORMAL refund counts as refunded: its amount is never refundable again", async () => {
    const s = await newSession(800);
    await pays(env.stack, s);
    await until("paid", async () => (await session(s.id)).status === "paid");
    await fault("refund_abnormal");
    const created = await post("/v1/refunds", { session_id: s.id, amount_fen: 800 });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    await until("abnormal", async () => (await (await api(`/v1/refunds/${id}`, { headers: merchantHeaders() })).json()).status === "abnormal");
    const again = await post("/v1/refunds", { session_id: s.id, amount_fen: 1 });
    assert.equal(again.status, 409, "the money left the merchant's balance: nothing is left to refund");
    assert.ok((await eventKinds(env.stack, s.id)).includes("refund_abnormal"), "the refund.abnormal event (and webhook)");
  });

  test("a refund notified that this Worker never made is checked like any other: another mchid or too much is flagged and refused", async () => {
    const s = await newSession(900);
    await pays(env.stack, s);
    const paid = await until("paid", async () => { const r = await session(s.id); return r.status === "paid" && r; });
    const notice = (n, over = {}) => ({
      mchid: MCHID, out_trade_no: s.out_trade_no, transaction_id: paid.transaction_id, out_refund_no: `OUTSIDE-${s.id}-${n}`,
      refund_id: `503000000000000000000000${n}`, refund_status: "SUCCESS", success_time: "2026-11-24T12:00:00+08:00",
      user_received_account: "招商银行信用卡0403", amount: { total: 900, refund: 100, payer_total: 900, payer_refund: 100 }, ...over,
    });
    const notify = async (resource) => {
      const n = forgeNotification(env, resource, { eventType: "REFUND.SUCCESS" });
      return api("/v1/wechatpay/notify", { method: "POST", headers: n.headers, body: n.body });
    };
    const otherMerchant = await notify(notice(1, { mchid: "1900009999" }));
    assert.equal(otherMerchant.status, 422, "another merchant's refund notice is refused");
    const tooMuch = await notify(notice(2, { amount: { total: 900, refund: 901, payer_total: 900, payer_refund: 901 } }));
    assert.equal(tooMuch.status, 422, "a refund above what the order was paid is refused");
    const flags = (await books(env.stack, "events", { session_id: s.id, kind: "flagged" })).map((e) => JSON.parse(e.detail).flag);
    assert.deepEqual(flags, ["notification_mismatch"], "flagged (once per order)");
    assert.deepEqual(await books(env.stack, "events", { session_id: s.id, kind: "refund_outside" }), [], "neither was kept as a refund");
    assert.equal((await notify(notice(3))).status, 204, "a genuine one is kept");
    assert.equal((await books(env.stack, "events", { session_id: s.id, kind: "refund_outside" })).length, 1);
  });

  test("a payment notified for a session closed here is kept as an anomaly to refund, never dropped", async () => {
    const s = await newSession(650);
    const closed = await post(`/v1/checkout/sessions/${s.id}/close`, {});
    assert.equal(closed.status, 200);
    assert.equal((await closed.json()).status, "closed");
    const tx = {
      appid: "wxd930ea5d5a258f4f", mchid: "1230000109", out_trade_no: s.out_trade_no, transaction_id: "4200000000000000000000000650",
      trade_type: "NATIVE", trade_state: "SUCCESS", trade_state_desc: "支付成功", success_time: "2026-11-24T12:00:00+08:00",
      amount: { total: 650, payer_total: 650, currency: "CNY", payer_currency: "CNY" },
    };
    for (let i = 0; i < 3; i++) {
      const n = forgeNotification(env, tx);
      assert.equal((await api("/v1/wechatpay/notify", { method: "POST", headers: n.headers, body: n.body })).status, 204);
    }
    assert.equal((await session(s.id)).status, "closed", "a closed session is not reopened");
    const anomalies = await books(env.stack, "events", { session_id: s.id, kind: "payment_after_close" });
    assert.equal(anomalies.length, 1, "kept once, however often it is notified");
    assert.deepEqual(JSON.parse(anomalies[0].detail), { transaction_id: tx.transaction_id, action: "refund" });
  });

  test("200 copies of one notification, 20 at a time: one state change, one event, no 5xx", async () => {
    const s = await newSession(4321);
    const tx = {
      appid: "wxd930ea5d5a258f4f", mchid: "1230000109", out_trade_no: s.out_trade_no, transaction_id: "4200000000000000000000000200",
      trade_type: "NATIVE", trade_state: "SUCCESS", trade_state_desc: "支付成功", success_time: "2026-11-24T12:00:00+08:00",
      amount: { total: 4321, payer_total: 4321, currency: "CNY", payer_currency: "CNY" },
    };
    const n = forgeNotification(env, tx);
    const statuses = [];
    for (let wave = 0; wave < 10; wave++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => api("/v1/wechatpay/notify", { method: "POST", headers: n.headers, body: n.body })));
      statuses.push(...answers.map((a) => a.status));
    }
    assert.equal(statuses.length, 200);
    assert.deepEqual([...new Set(statuses)], [204], `statuses: ${[...new Set(statuses)]}`);
    assert.equal((await session(s.id)).status, "paid");
    const paidEvents = await books(env.stack, "events", { session_id: s.id, kind: "paid" });
    assert.equal(paidEvents.length, 1, "one paid event");
    // Event numbers are each shard's own: the outbox row of the event's shard.
    const outbox = (await books(env.stack, "outbox", { event_seq: paidEvents[0].seq })).filter((o) => o.shard === paidEvents[0].shard);
    assert.equal(outbox.length, 1, "with its one outbox row");
  });

  test("webhooks reach a receiver that was down, signed, every event at least once", async () => {
    const waiting = async () => (await books(env.stack, "outbox")).filter((o) => o.delivered_at === null);
    const undelivered = async () => (await waiting()).length;
    assert.ok(await undelivered() > 0, "events piled up while the receiver was down");
    const failedBefore = (await waiting()).filter((o) => o.attempts > 0).length;
    assert.ok(failedBefore > 0, "deliveries were attempted and failed");

    receiver.up = true;
    try {
      for (let i = 0; i < 20 && await undelivered() > 0; i++) await runScheduled();
      assert.equal(await undelivered(), 0, "the outbox drained");
      assert.equal(receiver.forged, 0, "every delivery carried a valid signature");
      const events = await books(env.stack, "events");
      for (const event of events) assert.ok(receiver.seen.has(eventId(event)), `event ${eventId(event)} was delivered`);
      const types = new Set([...receiver.seen.values()].map((e) => e.type));
      for (const t of ["checkout.session.created", "checkout.session.paid", "checkout.session.closed", "refund.succeeded"]) {
        assert.ok(types.has(t), `a ${t} event was delivered (${[...types]})`);
      }
    } finally {
      receiver.up = false;
    }
  });
});
