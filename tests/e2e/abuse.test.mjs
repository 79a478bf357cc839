// Abuse and access (issue #9, part 5): CORS, credentials, one session's secret on another,
// secrets kept out of answers and logs, the body size limit, rate limits, security headers.
// Every check here fails if its protection is taken away. Ports 16787/16788 (webhooks 16790).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { books, forgeNotification, outputDir, startAll, merchantClient } from "./support.mjs";

const WINDOW_SECS = 3600;
const LIMITS = { sessions: 5, payPerIp: 8, payPerSession: 3, signIn: 3, readPerIp: 40 };
const ALLOWED_ORIGIN = "https://shop.example";
const WEBHOOK_SECRET = "whsec_abuse_0123456789abcdef";

let env;
let checks = 0;
// Every answer this file receives, headers and body, for the secrets scan.
const answers = [];
const call = async (path, init = {}) => {
  const res = await fetch(`${env.stack.edgeUrl}${path}`, { redirect: "manual", ...init });
  const body = await res.text();
  answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${body}`);
  let json = null;
  try {
    json = JSON.parse(body);
  } catch {
    // not JSON (a page)
  }
  return { status: res.status, headers: res.headers, body, json };
};
const merchant = (extra = {}) => ({ Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json", ...extra });
// Each test speaks from its own client addresses (wrangler dev, like Cloudflare's edge, passes
// CF-Connecting-IP on; a real client cannot set it there).
const from = (ip) => ({ "CF-Connecting-IP": ip });

const createSession = (ip, amount = 100) =>
  merchantClient(env, from(ip)).createSession({ amount_fen: amount, description: "Abuse test" });

/** Waits while the current rate-limit window has under 20 s left, so a burst fits in one. */
async function awayFromWindowEnd() {
  const left = WINDOW_SECS - (Math.floor(Date.now() / 1000) % WINDOW_SECS);
  if (left < 20) await new Promise((r) => setTimeout(r, (left + 1) * 1000));
}

describe("abuse and access", { timeout: 900_000 }, () => {
  before(async () => {
    env = await startAll({
      edgePort: 16787,
      sandboxPort: 16788,
      edgeVars: {
        ALLOWED_ORIGINS: ALLOWED_ORIGIN,
        RATE_LIMIT_WINDOW_SECS: String(WINDOW_SECS),
        RATE_LIMIT_SESSIONS_PER_IP: String(LIMITS.sessions),
        RATE_LIMIT_PAY_PER_IP: String(LIMITS.payPerIp),
        RATE_LIMIT_PAY_PER_SESSION: String(LIMITS.payPerSession),
        RATE_LIMIT_SIGN_IN_PER_IP: String(LIMITS.signIn),
        RATE_LIMIT_READ_PER_IP: String(LIMITS.readPerIp),
        // Nobody listens there: deliveries fail and are logged, which the secrets scan reads.
        WEBHOOK_URL: "http://127.0.0.1:16790/hooks",
        WEBHOOK_SECRET,
      },
    });
  }, { timeout: 600_000 });

  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
  });

  test("CORS: the widget API grants the configured origin only, the merchant API nobody", async () => {
    const s = await createSession("10.0.1.1");
    const widget = `/v1/widget/sessions/${s.id}`;
    const auth = { Authorization: `Bearer ${s.client_secret}` };
    for (const [origin, granted] of [[ALLOWED_ORIGIN, true], ["https://evil.example", false], ["null", false], [`${ALLOWED_ORIGIN}.evil.example`, false]]) {
      const preflight = await call(widget, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" } });
      const get = await call(widget, { headers: { ...auth, Origin: origin } });
      assert.equal(get.status, 200);
      for (const r of [preflight, get]) {
        assert.equal(r.headers.get("access-control-allow-origin"), granted ? origin : null, `${origin}`);
        checks++;
      }
    }
    const listing = await call("/v1/checkout/sessions", { headers: { ...merchant(), Origin: ALLOWED_ORIGIN } });
    assert.equal(listing.status, 200);
    assert.equal(listing.headers.get("access-control-allow-origin"), null, "the merchant API is for servers only");
    checks++;
  });

  test("the merchant API answers 401 and nothing else without the key or with a wrong one", async () => {
    const s = await createSession("10.0.2.1");
    const key = env.edgeVars.MERCHANT_SECRET_KEY;
    const wrongKeys = [null, "", key.slice(0, -1) + (key.endsWith("a") ? "b" : "a"), key + "x", key.slice(0, 8), `Basic ${key}`];
    const routes = [
      ["GET", "/v1/checkout/sessions"],
      ["POST", "/v1/checkout/sessions", { amount_fen: 1, description: "x" }],
      ["GET", `/v1/checkout/sessions/${s.id}`],
      ["POST", `/v1/checkout/sessions/${s.id}/close`],
      ["POST", "/v1/refunds", { session_id: s.id, amount_fen: 1 }],
      ["GET", "/v1/refunds/re_000000000000000000000000"],
      ["POST", "/v1/admin/run-scheduled"],
      ["GET", "/v1/admin/reconciliations"],
      ["POST", "/v1/admin/reconciliations", { date: "2026-11-23" }],
      ["GET", "/v1/admin/reconciliations/2026-11-23"],
    ];
    const sessionsBefore = (await books(env.stack, "sessions")).length;
    let client = 10; // a client address per attempt: the per-IP limit is not what is tested here
    for (const [method, path, body] of routes) {
      for (const wrong of wrongKeys) {
        const headers = { "Content-Type": "application/json", ...from(`10.0.2.${client++}`) };
        if (wrong !== null) headers.Authorization = wrong.startsWith("Basic ") ? wrong : `Bearer ${wrong}`;
        const r = await call(path, { method, headers, body: body && JSON.stringify(body) });
        assert.equal(r.status, 401, `${method} ${path} with ${JSON.stringify(wrong)}: ${r.body}`);
        assert.deepEqual(Object.keys(r.json), ["error"]);
        assert.equal(r.json.error.code, "unauthorized");
        assert.ok(!r.body.includes(s.id), "no session data in a refusal");
        checks++;
      }
    }
    assert.equal((await books(env.stack, "sessions")).length, sessionsBefore, "nothing was created");
    assert.equal((await books(env.stack, "sessions", { id: s.id }))[0].status, "open", "nothing was closed");
    // The console: pages lead to the sign-in, form posts are refused.
    const page = await call("/console/orders");
    assert.equal(page.status, 303);
    assert.equal(page.headers.get("location"), "/console/login");
    const post = await call(`/console/orders/${s.id}/refunds`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "amount=0.01" });
    assert.equal(post.status, 401);
    checks += 2;
  });

  test("one session's client secret cannot read, pay or check another session", async () => {
    const a = await createSession("10.0.3.1");
    const b = await createSession("10.0.3.1", 200);
    const withA = { Authorization: `Bearer ${a.client_secret}`, "Content-Type": "application/json", ...from("10.0.3.2") };
    for (const [method, suffix, body] of [["GET", ""], ["POST", "/pay", { scene: "native" }], ["POST", "/check", {}], ["POST", "/oauth", { return_to: "https://shop.example/" }]]) {
      const r = await call(`/v1/widget/sessions/${b.id}${suffix}`, { method, headers: withA, body: body && JSON.stringify(body) });
      assert.ok([401, 404].includes(r.status), `${method} ${suffix}: ${r.status} ${r.body}`);
      assert.ok(!r.body.includes("amount"), "nothing of b in the answer");
      checks++;
    }
    // An id-shaped guess built from a's secret fails too.
    const forged = a.client_secret.replace(a.id, b.id);
    const r = await call(`/v1/widget/sessions/${b.id}`, { headers: { Authorization: `Bearer ${forged}` } });
    assert.equal(r.status, 401);
    const [{ scene, code_url, status }] = await books(env.stack, "sessions", { id: b.id });
    assert.deepEqual({ scene, code_url, status }, { scene: null, code_url: null, status: "open" }, "b was not touched");
    checks += 2;
  });

  test("bodies over 64 KiB are refused with 413 before they are parsed, and change nothing", async () => {
    const big = "x".repeat(70_000); // not even JSON: a parser would have said invalid_json
    const s = await createSession("10.0.4.1");
    const cases = [
      ["merchant API", "/v1/checkout/sessions", merchant(from("10.0.4.2"))],
      ["refunds", "/v1/refunds", merchant(from("10.0.4.2"))],
      ["widget pay", `/v1/widget/sessions/${s.id}/pay`, { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json", ...from("10.0.4.3") }],
      ["notification", "/v1/wechatpay/notify", forgeNotification(env, {}, { signedBody: big }).headers],
      ["console sign-in", "/console/login", { "Content-Type": "application/x-www-form-urlencoded", ...from("10.0.4.4") }],
      ["demo shop", "/demo/checkout", { "Content-Type": "application/json", ...from("10.0.4.5") }],
    ];
    const sessionsBefore = (await books(env.stack, "sessions")).length;
    for (const [what, path, headers] of cases) {
      const r = await call(path, { method: "POST", headers, body: big });
      assert.equal(r.status, 413, `${what}: ${r.body.slice(0, 200)}`);
      if (r.json?.error) assert.equal(r.json.error.code, "body_too_large");
      else assert.match(r.json?.message ?? r.body, /body_too_large|limited/);
      checks++;
    }
    // Without Content-Length (a streamed body) the size is counted as it is read.
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
    const streamed = await call("/v1/checkout/sessions", { method: "POST", headers: merchant(from("10.0.4.6")), body: stream, duplex: "half" });
    assert.equal(streamed.status, 413, streamed.body);
    // And it is cut off there, never read whole: a 256 MiB body, made only as it is pulled, is
    // refused long before the sender has made it.
    let pulled = 0;
    const huge = new ReadableStream({
      pull(c) {
        if (pulled >= 256 << 20) return c.close();
        pulled += 64 << 10;
        c.enqueue(new Uint8Array(64 << 10));
      },
    });
    let hugeStatus;
    try {
      const r = await call("/v1/wechatpay/notify", { method: "POST", headers: forgeNotification(env, {}, { signedBody: "{}" }).headers, body: huge, duplex: "half" });
      // The Worker answers this route in JSON, always. A 500 that is not JSON is wrangler dev's
      // proxy reporting the connection the Worker cut ("Network connection lost" in its log).
      hugeStatus = r.status === 500 && r.json === null ? "the connection was cut (the dev proxy's 500)" : r.status;
    } catch (e) {
      hugeStatus = `the connection was closed (${e.cause?.code ?? e.message})`; // also a refusal, before the body was through
    }
    assert.ok(hugeStatus === 413 || typeof hugeStatus === "string", `answered ${hugeStatus}`);
    assert.ok(pulled < 32 << 20, `the Worker stopped reading early: ${pulled} of ${256 << 20} bytes were made`);
    assert.equal((await books(env.stack, "sessions")).length, sessionsBefore);
    assert.equal((await books(env.stack, "sessions", { id: s.id }))[0].scene, null);
    checks++;
  });

  test("creating sessions is rate-limited per client IP, with a clear 429", async () => {
    await awayFromWindowEnd();
    for (let i = 1; i <= LIMITS.sessions; i++) await createSession("10.0.5.1");
    const refused = await call("/v1/checkout/sessions", { method: "POST", headers: merchant(from("10.0.5.1")), body: JSON.stringify({ amount_fen: 1, description: "one too many" }) });
    assert.equal(refused.status, 429, refused.body);
    assert.equal(refused.json.error.code, "rate_limited");
    assert.match(refused.json.error.message, /sessions_per_ip allows 5 per 3600 s; try again in \d+ s/);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_SECS, `Retry-After ${retryAfter}`);
    assert.equal((await books(env.stack, "sessions", { description: "one too many" })).length, 0);
    // Another client is not affected; the demo shop's public route counts the same way.
    await createSession("10.0.5.2");
    for (let i = 1; i <= LIMITS.sessions; i++) {
      const r = await call("/demo/checkout", { method: "POST", headers: { "Content-Type": "application/json", ...from("10.0.5.3") }, body: JSON.stringify({ product: "longjing-tea" }) });
      assert.equal(r.status, 201, r.body);
    }
    const demo = await call("/demo/checkout", { method: "POST", headers: { "Content-Type": "application/json", ...from("10.0.5.3") }, body: JSON.stringify({ product: "longjing-tea" }) });
    assert.equal(demo.status, 429);
    checks += 3;
  });

  test("an IPv6 client is counted by its /64: a new address in it for each request escapes nothing", async () => {
    await awayFromWindowEnd();
    for (let i = 1; i <= LIMITS.sessions; i++) await createSession(`2001:db8:77:1::${i.toString(16)}`);
    const refused = await call("/v1/checkout/sessions", { method: "POST", headers: merchant(from("2001:DB8:77:1:ffff:ffff:ffff:ffff")), body: JSON.stringify({ amount_fen: 1, description: "v6 one too many" }) });
    assert.equal(refused.status, 429, refused.body);
    assert.match(refused.json.error.message, /sessions_per_ip/);
    await createSession("2001:db8:77:2::1"); // the next /64 is another client
    checks += 2;
  });

  test("pay and check are rate-limited per session and per client IP", async () => {
    await awayFromWindowEnd();
    const s = await createSession("10.0.6.1");
    const t = await createSession("10.0.6.1");
    const widgetCall = (session, ip, suffix = "/check") =>
      call(`/v1/widget/sessions/${session.id}${suffix}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${session.client_secret}`, "Content-Type": "application/json", ...from(ip) },
        body: JSON.stringify(suffix === "/pay" ? { scene: "native" } : {}),
      });
    // Per session: the limit holds across client addresses (a stolen link used from many).
    assert.equal((await widgetCall(s, "10.0.6.2", "/pay")).status, 200);
    assert.equal((await widgetCall(s, "10.0.6.3")).status, 200);
    assert.equal((await widgetCall(s, "10.0.6.4")).status, 200);
    const perSession = await widgetCall(s, "10.0.6.5", "/pay");
    assert.equal(perSession.status, 429, perSession.body);
    assert.match(perSession.json.error.message, /pay_per_session/);
    // The refused call asked WeChat Pay nothing: one prepay at the simulator, as before.
    const prepays = await books(env.stack, "events", { session_id: s.id, kind: "prepay_created" });
    assert.equal(prepays.length, 1);
    // Per IP: across sessions, and before the secret is even looked at.
    const ip = "10.0.6.9";
    const sessions = [];
    for (let i = 0; i < 3; i++) sessions.push(await createSession("10.0.6.8"));
    let passed = 0;
    for (let i = 0; i < LIMITS.payPerIp; i++) {
      const r = await widgetCall(sessions[Math.floor(i / LIMITS.payPerSession)], ip);
      assert.equal(r.status, 200, `call ${i + 1}: ${r.body}`);
      passed++;
    }
    const perIp = await widgetCall(t, ip);
    assert.equal(perIp.status, 429);
    assert.match(perIp.json.error.message, /pay_per_ip/);
    const guess = await call(`/v1/widget/sessions/${t.id}/check`, { method: "POST", headers: { Authorization: "Bearer guess", "Content-Type": "application/json", ...from(ip) }, body: "{}" });
    assert.equal(guess.status, 429, "guessing secrets from a limited address is refused before the guess is checked");
    assert.equal(passed, LIMITS.payPerIp);
    checks += 4;
  });

  test("the widget's session reads and the OAuth routes are rate-limited per client IP", async () => {
    await awayFromWindowEnd();
    const s = await createSession("10.0.9.1");
    const read = (ip) => call(`/v1/widget/sessions/${s.id}`, { headers: { Authorization: `Bearer ${s.client_secret}`, ...from(ip) } });
    for (let i = 0; i < LIMITS.readPerIp; i++) assert.equal((await read("10.0.9.2")).status, 200, `read ${i + 1}`);
    const polled = await read("10.0.9.2");
    assert.equal(polled.status, 429, "a poll flood from one address is cut off");
    assert.match(polled.json.error.message, /read_per_ip/);
    assert.equal((await read("10.0.9.3")).status, 200, "another address still reads");
    // The OAuth round trip (each ends in a code exchange with the AppSecret) counts like pay.
    const ticket = (ip) => call(`/v1/widget/sessions/${s.id}/oauth`, {
      method: "POST",
      headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json", ...from(ip) },
      body: JSON.stringify({ return_to: "https://elsewhere.example/" }),
    });
    for (let i = 0; i < LIMITS.payPerIp; i++) assert.equal((await ticket("10.0.9.4")).status, 403, "return_to not allowed");
    assert.equal((await ticket("10.0.9.4")).status, 429);
    const callback = () => call("/v1/widget/oauth/callback?code=x&state=y", { headers: from("10.0.9.5") });
    for (let i = 0; i < LIMITS.payPerIp; i++) assert.equal((await callback()).status, 401, "a state not issued to this browser");
    assert.equal((await callback()).status, 429);
    checks += 4;
  });

  test("console sign-in attempts are rate-limited per client IP", async () => {
    await awayFromWindowEnd();
    const attempt = (key, ip) => call("/console/login", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", ...from(ip) }, body: new URLSearchParams({ key }).toString() });
    for (let i = 0; i < LIMITS.signIn; i++) assert.equal((await attempt(`wrong-${i}`, "10.0.7.1")).status, 401);
    const limited = await attempt(env.edgeVars.MERCHANT_SECRET_KEY, "10.0.7.1");
    assert.equal(limited.status, 429, "even the right key waits once the attempts are spent");
    assert.ok(!/set-cookie/i.test(JSON.stringify([...limited.headers])));
    const other = await attempt(env.edgeVars.MERCHANT_SECRET_KEY, "10.0.7.2");
    assert.equal(other.status, 303);
    checks += 2;
  });

  test("pages carry a Content-Security-Policy and the usual security headers, and work under them", async () => {
    const shop = await call("/");
    assert.equal(shop.status, 200);
    const csp = shop.headers.get("content-security-policy") ?? "";
    for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]) assert.ok(csp.includes(directive), `shop CSP lacks ${directive}: ${csp}`);
    assert.ok(!/script-src[^;]*'unsafe-inline'/.test(csp), "no inline scripts");
    assert.equal(shop.headers.get("x-content-type-options"), "nosniff");
    assert.equal(shop.headers.get("x-frame-options"), "DENY");
    assert.ok(shop.headers.get("referrer-policy"));
    const login = await call("/console/login");
    assert.match(login.headers.get("content-security-policy") ?? "", /default-src 'none'.*frame-ancestors 'none'/);
    assert.equal(login.headers.get("x-content-type-options"), "nosniff");
    const api = await call("/v1/checkout/sessions", { headers: merchant() });
    assert.equal(api.headers.get("x-content-type-options"), "nosniff");
    // The demo shop under its policy: the widget mounts and draws its QR, nothing is refused.
    const page = await env.browser.newPage();
    const violations = [];
    page.on("console", (m) => /Content Security Policy|Refused to/i.test(m.text()) && violations.push(m.text()));
    await page.goto(`${env.stack.edgeUrl}/`);
    await page.click('[data-product="longjing-tea"] button');
    await page.waitForSelector('#checkout[data-state="scan"] svg[role="img"]', { timeout: 20_000 });
    await page.screenshot({ path: join(outputDir, "abuse-shop-under-csp.png") });
    await page.close();
    assert.deepEqual(violations, []);
    checks += 4;
  });

  test("no secret appears in any answer or log line", async () => {
    // Paths that log: a forged notification, a scheduled run (queries, closes, reconciliation).
    const forged = forgeNotification(env, { mchid: "x" }, { signature: "AAAA" });
    await call("/v1/wechatpay/notify", { method: "POST", headers: forged.headers, body: forged.body });
    await call("/v1/admin/run-scheduled", { method: "POST", headers: merchant() });
    const pem = (v) => v.replaceAll("\\n", "\n").split("\n").filter((l) => l && !l.startsWith("-----"));
    const secrets = {
      "API v3 key": [env.edgeVars.WECHATPAY_API_V3_KEY],
      "merchant secret key": [env.edgeVars.MERCHANT_SECRET_KEY],
      "merchant private key": pem(env.edgeVars.WECHATPAY_MERCHANT_PRIVATE_KEY).slice(1, -1),
      "platform private key": pem(env.sandboxVars.SANDBOX_PLATFORM_PRIVATE_KEY).slice(1, -1),
      "webhook secret": [WEBHOOK_SECRET],
    };
    if (env.edgeVars.WECHAT_APP_SECRET) secrets["app secret"] = [env.edgeVars.WECHAT_APP_SECRET];
    const logDir = join(outputDir, "logs-16787");
    const logs = ["edge.log", "sandbox.log"].map((f) => readFileSync(join(logDir, f), "utf8"));
    const logLines = logs.join("\n").split("\n").length;
    assert.match(logs[0], /POST \/v1\/wechatpay\/notify 401/, "the scan reads this run's real log");
    for (const [what, pieces] of Object.entries(secrets)) {
      assert.ok(pieces.length && pieces.every((p) => p.length >= 16), `${what} is known to the scan`);
      for (const piece of pieces) {
        for (const text of [...logs, ...answers]) assert.ok(!text.includes(piece), `${what} leaked`);
      }
      checks++;
    }
    console.log(`[abuse] ${checks} checks: CORS to the configured origin only; 401 on every merchant route without the key; no cross-session access; 413 before parsing; 429 per IP and per session; CSP and security headers; no secret in ${answers.length} answers or ${logLines} log lines`);
  });
});
