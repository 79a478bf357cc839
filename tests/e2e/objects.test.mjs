// The books' Durable Objects (issue #18, first steps): each subject's rate-limit windows (a client
// address's, a checkout session's) live in a SQLite object of its own, `subject:{key}`, counted
// exactly under concurrency; the object's alarm forgets the windows that have ended, then the
// object's whole storage (observed through the tests' build's `/_test/counters` route, never a
// database file). And the payer's live connection: a session's change pushed over a WebSocket
// served by its object, `session:{id}`, with polling as the fallback; and the session's due work
// in the same object, woken by its alarm with no cron: a lost notification healed, an expired
// session closed at WeChat Pay.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, test } from "node:test";
import { approveAtCashier, eventKinds, merchantClient, platformRecords, startAll, until } from "./support.mjs";

const WINDOW_SECS = 3;
const SESSIONS_PER_IP = 4;
let env;
before(async () => {
  env = await startAll({
    edgePort: 6787,
    sandboxPort: 6788,
    edgeVars: {
      RATE_LIMIT_WINDOW_SECS: String(WINDOW_SECS),
      RATE_LIMIT_SESSIONS_PER_IP: String(SESSIONS_PER_IP),
      // A session's object asks about its order a second after the prepay; sessions may be short.
      QUERY_PENDING_AFTER_SECS: "1",
      MIN_SESSION_TTL_SECS: "2",
    },
  });
}, { timeout: 600_000 });
after(async () => {
  await env?.browser.close();
  await env?.stack.stop();
});

const windows = async (subject) => {
  const r = await fetch(`${env.stack.edgeUrl}/_test/counters?subject=${encodeURIComponent(subject)}`);
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).windows;
};

test("a subject's hits are counted in its own object, exactly, and its alarm forgets them", { timeout: 120_000 }, async () => {
  // Start right after a window begins, so that every hit below falls into one window.
  const now = Date.now() / 1000;
  await new Promise((r) => setTimeout(r, ((WINDOW_SECS - (now % WINDOW_SECS)) + 0.05) * 1000));
  const ip = "198.51.100.7";
  const create = (n) => merchantClient(env, { "CF-Connecting-IP": ip }).request("POST", "/v1/checkout/sessions", { amount_fen: 100 + n, description: `objects ${n}` });
  const answers = await Promise.all(Array.from({ length: SESSIONS_PER_IP + 3 }, (_, n) => create(n)));
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [...Array(SESSIONS_PER_IP).fill(201), 429, 429, 429], "concurrent hits never share a count");
  const held = await windows(ip);
  assert.equal(held.length, 1, JSON.stringify(held));
  assert.equal(held[0].bucket, `sessions_per_ip:${ip}`);
  assert.equal(held[0].hits, SESSIONS_PER_IP + 3);
  assert.equal(held[0].ends_at - held[0].start, WINDOW_SECS);
  assert.deepEqual(await windows("198.51.100.8"), [], "another subject's object holds nothing");

  // The alarm at the window's end forgets it (and the object's storage with it).
  await until("the alarm to forget the ended window", async () => (await windows(ip)).length === 0, (WINDOW_SECS + 10) * 1000);
  // The next window counts afresh, in the same object brought up again from empty.
  const again = await create(99);
  assert.equal(again.status, 201, again.text);
  assert.equal((await windows(ip))[0].hits, 1);
});

/** A new session, its prepay made (Native): the session and its code_url. Each from its own
 * client address, clear of the rate limit the first test sets low. */
let addresses = 0;
async function preparedSession(description, fields = {}) {
  const from = { "CF-Connecting-IP": `203.0.113.${++addresses}` };
  const session = await merchantClient(env, from).createSession({ amount_fen: 321, description, ...fields });
  const pay = await fetch(`${env.stack.edgeUrl}/v1/widget/sessions/${session.id}/pay`, {
    method: "POST",
    headers: { Authorization: `Bearer ${session.client_secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scene: "native" }),
  });
  assert.equal(pay.status, 200, await pay.clone().text());
  return { session, codeUrl: (await pay.json()).code_url };
}

const socketUrl = (id) => `${env.stack.edgeUrl.replace("http:", "ws:")}/v1/widget/sessions/${id}/events`;

/** Opens a socket; resolves with it and the messages it receives once open, or with the event
 * that ended it first. */
const openSocket = (id, protocols) => new Promise((resolve) => {
  const socket = new WebSocket(socketUrl(id), protocols);
  const messages = [];
  socket.onmessage = (m) => messages.push(JSON.parse(m.data));
  socket.onopen = () => resolve({ socket, messages });
  socket.onerror = (event) => resolve({ closed: event });
  socket.onclose = (event) => resolve({ closed: event });
});

/** The status of a raw upgrade request (node:http, so that Origin can be set). */
const upgradeStatus = (id, headers) => new Promise((resolve, reject) => {
  const req = httpRequest(`${env.stack.edgeUrl}/v1/widget/sessions/${id}/events`, {
    headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
  });
  req.on("upgrade", (res, socket) => {
    socket.destroy();
    resolve(res.statusCode);
  });
  req.on("response", (res) => {
    res.resume();
    resolve(res.statusCode);
  });
  req.on("error", reject);
  req.end();
});

test("a session's change is pushed on its socket the moment the books hold it; the socket is the session's own", { timeout: 120_000 }, async () => {
  const { session, codeUrl } = await preparedSession("push");
  const other = await preparedSession("another session");

  // Not a socket, a wrong secret, another session's secret, another origin: refused.
  const plain = await fetch(socketUrl(session.id).replace("ws:", "http:"), { headers: { Authorization: `Bearer ${session.client_secret}` } });
  assert.equal(plain.status, 426);
  assert.equal((await plain.json()).error.code, "upgrade_required");
  for (const secret of ["cs_nope_secret_0000", other.session.client_secret]) {
    const refused = await openSocket(session.id, ["wx-checkout.v1", secret]);
    assert.ok(refused.closed, "a socket without the session's secret never opens");
  }
  const protocols = `wx-checkout.v1, ${session.client_secret}`;
  assert.equal(await upgradeStatus(session.id, { "Sec-WebSocket-Protocol": protocols, Origin: "https://evil.example" }), 400);
  assert.equal(await upgradeStatus(session.id, { "Sec-WebSocket-Protocol": protocols, Origin: env.stack.edgeUrl }), 101);

  const { socket, messages } = await openSocket(session.id, ["wx-checkout.v1", session.client_secret]);
  assert.ok(socket, "the session's secret opens it");
  assert.equal(socket.protocol, "wx-checkout.v1");
  const { socket: bystander, messages: heard } = await openSocket(other.session.id, ["wx-checkout.v1", other.session.client_secret]);

  const paid = await approveAtCashier(env.stack.sandboxUrl, codeUrl);
  assert.match(paid, /SUCCESS/);
  const connected = (id) => ({ session_id: id, event: "connected" });
  await until("the push of the payment", () => messages.length > 1, 10_000);
  assert.deepEqual(messages, [connected(session.id), { session_id: session.id, event: "changed", status: "paid" }]);
  assert.deepEqual(heard, [connected(other.session.id)], "another session's socket hears nothing of it");

  // A close by the merchant is pushed too.
  await merchantClient(env).request("POST", `/v1/checkout/sessions/${other.session.id}/close`, {});
  await until("the push of the close", () => heard.length > 1, 10_000);
  assert.deepEqual(heard[1], { session_id: other.session.id, event: "changed", status: "closed" });
  socket.close();
  bystander.close();
});

test("the widget in Chromium: paid by the push, and by polling when the socket cannot open", { timeout: 120_000 }, async () => {
  const page = await env.browser.newPage();
  try {
    await page.goto(`${env.stack.edgeUrl}/`);
    const payInWidget = async (description) => {
      const { session, codeUrl } = await preparedSession(description);
      await page.evaluate(async ({ id, secret }) => {
        const { mount } = await import("/checkout.js");
        document.querySelector("#live-test")?.remove();
        const el = document.createElement("div");
        el.id = "live-test";
        document.body.append(el);
        window.liveTest = await mount(el, { session: id, clientSecret: secret, scene: "native" });
      }, { id: session.id, secret: session.client_secret });
      await page.waitForSelector("#live-test[data-state=scan]");
      await approveAtCashier(env.stack.sandboxUrl, codeUrl);
      await page.waitForSelector("#live-test[data-state=paid]", { timeout: 30_000 });
      await page.evaluate(() => window.liveTest.destroy());
    };
    const frames = [];
    page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(f.payload)));
    await payInWidget("widget push");
    assert.deepEqual(frames.map((f) => JSON.parse(f).event), ["connected", "changed"], "the widget heard the payment on its socket");
    assert.equal(JSON.parse(frames[1]).status, "paid");

    // The socket refused (as by a proxy that drops WebSockets): polling still gets there.
    frames.length = 0;
    let attempts = 0;
    await page.routeWebSocket(/\/events$/, (ws) => {
      attempts++;
      ws.close();
    });
    await payInWidget("widget fallback");
    assert.ok(attempts >= 1, "the widget tried its socket");
    assert.equal(frames.length, 0, "nothing came on a socket: polling found the payment");
  } finally {
    await page.close();
  }
});

test("a session's object settles it when it falls due, with no cron: a lost notification healed, an expired session closed", { timeout: 180_000 }, async () => {
  const { sandboxUrl } = env.stack;
  const status = async (id) => (await merchantClient(env).request("GET", `/v1/checkout/sessions/${id}`)).body.status;
  // WeChat Pay's notification of this payment never arrives: the object's query heals it.
  const fault = await fetch(`${sandboxUrl}/sandbox/faults`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ kind: "drop_notification", mchid: "1230000109" }) });
  assert.equal(fault.status, 200, await fault.clone().text());
  const lost = await preparedSession("timer: lost notification");
  assert.match(await approveAtCashier(sandboxUrl, lost.codeUrl), /SUCCESS/);
  // Its first query comes a second after the prepay; on a slow machine that may be before the
  // approval above, and the next one comes a minute later (REQUERY_SECS): either heals it.
  await until("the object's query to heal the payment", async () => (await status(lost.session.id)) === "paid", 80_000);
  assert.deepEqual(await eventKinds(env.stack, lost.session.id), ["created", "prepay_created", "paid"]);

  // Nobody pays: at its expiry the object closes it, at WeChat Pay and here.
  const idle = await preparedSession("timer: expiry", { expires_in: 2 });
  await until("the object's close at the expiry", async () => (await status(idle.session.id)) === "closed", 20_000);
  const [platform] = await platformRecords(env.stack, "transactions", { mchid: "1230000109", out_trade_no: idle.session.out_trade_no });
  assert.equal(platform.trade_state, "CLOSED", "closed at WeChat Pay, not only here");
  assert.deepEqual(await eventKinds(env.stack, idle.session.id), ["created", "prepay_created", "closed"]);
  // No cron ran meanwhile: wrangler dev fires none, and nothing here asks for run-scheduled.
});

test("an object's schema is brought up to date by the object itself: from empty, and from the previous version", { timeout: 60_000 }, async () => {
  const schema = async (name) => (await fetch(`${env.stack.edgeUrl}/_test/objects/schema?name=${encodeURIComponent(name)}`)).json();
  const older = async (name, version) => {
    const r = await fetch(`${env.stack.edgeUrl}/_test/objects/schema`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name, version }) });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  };
  const books = ["checkout_sessions", "idempotency_keys", "notifications_received", "order_events", "payment_attempts", "refunds"];
  const current = {
    versions: [1, 2, 3, 4, 5, 6],
    tables: [...books, "due_work", "rate_windows", "schema_version", "sqlite_sequence", "webhook_outbox"].sort(),
  };
  const hitFrom = async (ip) => {
    const r = await merchantClient(env, { "CF-Connecting-IP": ip }).request("POST", "/v1/checkout/sessions", { amount_fen: 100, description: "schema" });
    assert.equal(r.status, 201, r.text);
  };

  // From empty: an object never used holds nothing; its first request applies every version.
  const fresh = "198.51.100.20";
  assert.deepEqual(await schema(`subject:${fresh}`), { versions: [], tables: [] });
  await hitFrom(fresh);
  assert.deepEqual(await schema(`subject:${fresh}`), current);

  // From an earlier version: an object left at version 3 (as the build before the shards left its
  // objects: payment attempts tied to a session of their own database, sessions without their
  // millisecond, without the listing's view) is brought to version 6 by its next request, its rows kept.
  const old = "198.51.100.21";
  assert.deepEqual(await older(`subject:${old}`, 3), { versions: [1, 2, 3], tables: current.tables });
  await hitFrom(old);
  assert.deepEqual(await schema(`subject:${old}`), current);
  await hitFrom(old);
  const [held] = await windows(old);
  assert.equal(held.hits, 2, "the counts go on across the upgrade");
});
