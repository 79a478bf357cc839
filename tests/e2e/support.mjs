// Shared set-up for the end-to-end tests: the stack on its own ports with fresh state, headless
// Debian Chromium through playwright-core, and the test keys (to forge notifications the way an
// independent implementation, Node's own crypto, would build them).
import { createCipheriv, createHmac, createSign, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { buildAll, readDevVars, root, startStack } from "../../scripts/stack.mjs";

export const outputDir = join(root, "test-output");
mkdirSync(outputDir, { recursive: true });

export { NO_RATE_LIMITS } from "../../scripts/stack.mjs";

/**
 * Builds, starts both Workers on their own ports with fresh state, and a headless Chromium.
 * Each test file has its own ports, all below 32768 (Linux's ephemeral range starts there, so
 * the OS never hands them to an outgoing connection): 18787 checkout, 24787 lifecycle,
 * 22787 widget (merchant pages on 22790-22791), 26787 certificates, 28787 sandbox_sdk, 30787 reconcile,
 * 4787 risk, 6787 objects, 10787 api_fuzz, 12787 chaos, 14787 crash, 16787 abuse, 2787 books_move,
 * 20787 shards, 21500 platform, 19500 platform_payments;
 * inspectors +1000.
 */
export async function startAll({ edgePort = 18787, sandboxPort = 18788, shards = 4, edgeVars = {}, testRoutes = true } = {}) {
  buildAll({ tests: true });
  const persistTo = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "e2e-state-"));
  const stack = await startStack({
    edgePort,
    sandboxPort,
    persistTo,
    logDir: join(outputDir, `logs-${edgePort}`),
    // The books in four shards unless a test asks for another count (the default deployment's
    // one shard: checkout.test.mjs; books still in D1 are one: books_move.test.mjs).
    edgeVars: { SHARDS: String(shards), ...edgeVars },
    // The books are observed through the tests' build's `/_test/…` routes (`books` below).
    edgeBuild: testRoutes ? "build-test" : "build",
    timeLimitSecs: 900,
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // Stopping also removes this run's D1 state: nothing piles up between runs.
  const stopWorkers = stack.stop;
  stack.stop = async () => {
    await stopWorkers();
    rmSync(persistTo, { recursive: true, force: true });
  };
  return { stack, browser, edgeVars: readDevVars(), sandboxVars: readDevVars(join(root, "platform-sandbox", ".dev.vars")) };
}

/**
 * The merchant's side of the API, one client for every test: its secret key as Bearer, JSON in
 * and out. `request` answers `{ status, headers, body, text }`; the helpers assert the success
 * they expect. `headers` go on every call (a test's own client address, for example).
 */
export function merchantClient(env, headers = {}) {
  const request = async (method, path, body, extra = {}) => {
    const res = await fetch(env.stack.edgeUrl + path, {
      method,
      redirect: "manual",
      headers: { Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json", ...headers, ...extra },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON: `text` has it */ }
    return { status: res.status, headers: res.headers, body: json, text };
  };
  const expect = async (status, answer) => {
    const r = await answer;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.body;
  };
  return {
    request,
    /** `POST /v1/checkout/sessions`, expecting 201: the session with its client secret. */
    createSession: (fields, extra) => expect(201, request("POST", "/v1/checkout/sessions", fields, extra)),
    session: (id) => expect(200, request("GET", `/v1/checkout/sessions/${id}`)),
    runScheduled: () => expect(200, request("POST", "/v1/admin/run-scheduled", {})),
  };
}

/**
 * Rows of the edge-worker's books, read through the tests' build's `/_test/…` routes
 * (edge-worker/src/http/test_routes.rs), never from the database file the running Worker holds:
 * `name` is sessions, events, refunds, outbox, notifications_received, payment_attempts,
 * platform_certificates or idempotency_keys; `filter` narrows by equality on a column, for example `{ session_id }`.
 * A row of the books carries the number of the shard it was read from as `shard`.
 */
export async function books(stack, name, filter = {}) {
  const res = await fetch(`${stack.edgeUrl}/_test/books/${name}?${new URLSearchParams(filter)}`);
  if (res.status !== 200) throw new Error(`books ${name}: ${res.status} ${await res.text()}`);
  return (await res.json()).rows;
}

/** The webhook id of an event row of the books (`books(stack, "events")`): `evt_{seq}` in shard 0,
 * `evt_{shard}_{seq}` in any other (pay_core::shard). */
export const eventId = ({ shard, seq }) => (shard ? `evt_${shard}_${seq}` : `evt_${seq}`);

/** What each shard of the books holds, and how far the listing has projected it (`/_test/shards`). */
export async function shardHolds(stack) {
  const res = await fetch(`${stack.edgeUrl}/_test/shards`);
  if (res.status !== 200) throw new Error(`shards: ${res.status} ${await res.text()}`);
  return (await res.json()).shards;
}

/**
 * Waits until the order listing holds every event the shards hold: with the books in the objects
 * it is D1's projection of them, a second or so behind (ledger/listing.rs). Nothing forces it:
 * each shard's object projects on its own. Answers how long it waited, in ms.
 */
export async function listingCaughtUp(stack, timeoutMs = 15_000) {
  const start = Date.now();
  await until("the listing to catch up with the books", async () => (await shardHolds(stack)).every((s) => s.listed_up_to >= s.newest_event), timeoutMs);
  return Date.now() - start;
}

/** The kinds of events of one session, in order. */
export const eventKinds = async (stack, sessionId) => (await books(stack, "events", { session_id: sessionId })).map((e) => e.kind);

/** Leaves in the edge-worker's books what a crash or a rotation would (`/_test/faults/{kind}`). */
export async function edgeFault(stack, kind, body = {}) {
  const res = await fetch(`${stack.edgeUrl}/_test/faults/${kind}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`fault ${kind}: ${res.status} ${await res.text()}`);
}

/**
 * What WeChat Pay keeps, from the simulator's control routes (platform-sandbox/src/sandbox.rs):
 * `what` is transactions, refunds or notifications (each with its delivery attempts); `query`
 * names the merchant and narrows, for example `{ mchid, trade_state: "SUCCESS" }`.
 */
export async function platformRecords(stack, what, query) {
  const res = await fetch(`${stack.sandboxUrl}/sandbox/${what}?${new URLSearchParams(query)}`);
  if (res.status !== 200) throw new Error(`sandbox ${what}: ${res.status} ${await res.text()}`);
  return (await res.json())[what];
}

const unescapePem = (v) => v.replaceAll("\\n", "\n");

/** The test merchants' credentials (platform-sandbox/.test-merchants.json, from devkeys.mjs). */
export const testMerchants = () => JSON.parse(readFileSync(join(root, "platform-sandbox", ".test-merchants.json"), "utf8"));

/** A public-key-mode test merchant's WeChat Pay account, as the platform API's settings. */
export function accountSettings(m) {
  const { platform } = testMerchants();
  return {
    wechatpay_mchid: m.mchid,
    wechatpay_appid: m.appid,
    wechatpay_merchant_serial: m.serial,
    wechatpay_merchant_private_key: m.private_key,
    wechatpay_api_v3_key: m.api_v3_key,
    wechatpay_public_key_id: platform.public_key_id,
    wechatpay_public_key: platform.public_key,
  };
}

const rsaSign = (privateKey, message) => createSign("RSA-SHA256").update(message).sign(privateKey, "base64");

/** An API v3 call signed by Node's crypto as `merchant` (an independent implementation). */
export async function merchantRequest(baseUrl, merchant, method, path, body) {
  const text = body === undefined ? "" : JSON.stringify(body);
  const timestamp = Math.floor(Date.now() / 1000);
  const nonce = randomBytes(16).toString("hex");
  const signature = rsaSign(merchant.private_key, `${method}\n${path}\n${timestamp}\n${nonce}\n${text}\n`);
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      Authorization: `WECHATPAY2-SHA256-RSA2048 mchid="${merchant.mchid}",nonce_str="${nonce}",timestamp="${timestamp}",serial_no="${merchant.serial}",signature="${signature}"`,
      "Content-Type": "application/json",
      Accept: "application/json",
    },
    body: body === undefined ? undefined : text,
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** The JSAPI bridge parameters, paySign computed by Node's crypto. */
export function jsapiPayParams(merchant, prepayId) {
  const timeStamp = String(Math.floor(Date.now() / 1000));
  const nonceStr = randomBytes(16).toString("hex");
  const pkg = `prepay_id=${prepayId}`;
  const paySign = rsaSign(merchant.private_key, `${merchant.appid}\n${timeStamp}\n${nonceStr}\n${pkg}\n`);
  return { appId: merchant.appid, timeStamp, nonceStr, package: pkg, signType: "RSA", paySign };
}

/**
 * A TRANSACTION.SUCCESS notification built with Node's crypto, not ours: AES-256-GCM under
 * the API v3 key, RSA-SHA256 under the simulator's platform key. `tamper` alters pieces
 * (`signedBody` replaces the body before it is signed; `eventType` makes it, for example, a
 * REFUND.SUCCESS whose resource is a refund notice; `apiV3Key` encrypts it for another merchant
 * than the default one).
 */
export function forgeNotification({ edgeVars, sandboxVars }, transaction, tamper = {}) {
  const key = Buffer.from(tamper.apiV3Key ?? edgeVars.WECHATPAY_API_V3_KEY, "utf8");
  const eventType = tamper.eventType ?? "TRANSACTION.SUCCESS";
  const originalType = eventType.startsWith("REFUND.") ? "refund" : "transaction";
  const nonce = randomBytes(6).toString("hex");
  const cipher = createCipheriv("aes-256-gcm", key, Buffer.from(nonce));
  cipher.setAAD(Buffer.from(originalType));
  const sealed = Buffer.concat([cipher.update(JSON.stringify(transaction), "utf8"), cipher.final(), cipher.getAuthTag()]);
  const body = tamper.signedBody ?? JSON.stringify({
    id: `EV-${randomBytes(8).toString("hex")}`,
    create_time: "2026-11-24T12:00:00+08:00",
    resource_type: "encrypt-resource",
    event_type: eventType,
    summary: originalType === "refund" ? "退款成功" : "支付成功",
    resource: { original_type: originalType, algorithm: "AEAD_AES_256_GCM", ciphertext: sealed.toString("base64"), associated_data: originalType, nonce },
  });
  const timestamp = String(Math.floor(Date.now() / 1000) + (tamper.skewSecs ?? 0));
  const headerNonce = randomBytes(16).toString("hex");
  const signer = createSign("RSA-SHA256");
  signer.update(`${timestamp}\n${headerNonce}\n${body}\n`);
  let signature = signer.sign(unescapePem(sandboxVars.SANDBOX_PLATFORM_PRIVATE_KEY), "base64");
  if (tamper.signature) signature = tamper.signature;
  return {
    body: tamper.body ? tamper.body(body) : body,
    headers: {
      "Content-Type": "application/json",
      "Wechatpay-Timestamp": timestamp,
      "Wechatpay-Nonce": headerNonce,
      "Wechatpay-Signature": signature,
      "Wechatpay-Serial": tamper.serial ?? edgeVars.WECHATPAY_PUBLIC_KEY_ID,
      "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    },
  };
}

/** Polls `predicate` every 100 ms until it answers something truthy; fails after `timeoutMs`. */
export async function until(what, predicate, timeoutMs = 10_000) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const value = await predicate();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * WeChat OAuth the way the widget and a browser go through it, without a browser: the ticket
 * (client secret in the header), the navigation to it (the Worker sets the browser's nonce
 * cookie and sends it to WeChat), WeChat's authorize page (the simulator's; `payer` picks the
 * test payer), and the callback with the cookie. `headers` go on every request to the Worker.
 * Answers each step's response and what the next step used.
 */
export async function oauthRoundTrip(stack, session, { returnTo = `${stack.edgeUrl}/`, payer, headers = {} } = {}) {
  const ticket = await fetch(`${stack.edgeUrl}/v1/widget/sessions/${session.id}/oauth`, {
    method: "POST",
    headers: { Authorization: `Bearer ${session.client_secret}`, "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ return_to: returnTo }),
  });
  if (ticket.status !== 200) return { ticket };
  const { url } = await ticket.json();
  const start = await fetch(url, { redirect: "manual", headers });
  const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0];
  const authorize = new URL(start.headers.get("location"));
  if (payer !== undefined) authorize.searchParams.set("payer", String(payer));
  const wechat = await fetch(authorize, { redirect: "manual" });
  const callback = new URL(wechat.headers.get("location"));
  const back = await fetch(callback, { redirect: "manual", headers: { ...headers, Cookie: cookie } });
  return { ticket, url, start, cookie, authorize, callback, back };
}

/** The payer's side without a browser: the widget's Native pay call, then the cashier. */
export async function payerPays(stack, session) {
  const res = await fetch(`${stack.edgeUrl}/v1/widget/sessions/${session.id}/pay`, {
    method: "POST",
    headers: { Authorization: `Bearer ${session.client_secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scene: "native" }),
  });
  if (res.status !== 200) throw new Error(`pay answered ${res.status}: ${await res.text()}`);
  const page = await approveAtCashier(stack.sandboxUrl, (await res.json()).code_url);
  if (!page.includes("SUCCESS")) throw new Error(`the cashier did not take the payment: ${page.slice(0, 200)}`);
}

/** The payer approves a `code_url` at the simulator's cashier with `card`; its answer page. */
export async function approveAtCashier(sandboxUrl, codeUrl, card = "icbc-debit") {
  const pr = new URL(codeUrl).searchParams.get("pr");
  const res = await fetch(`${sandboxUrl}/cashier/pay`, { method: "POST", body: new URLSearchParams({ pr, card, action: "approve" }) });
  return res.text();
}

/**
 * A merchant's webhook receiver on 127.0.0.1 (a port the OS picks), as a merchant should write
 * one: the signature checked with Node's own HMAC, then each event applied once by its id, however
 * often it arrives. `up = false` drops every connection (a receiver that is down).
 * `seen`: id → { type, count, data }; `deliveries`: every verified delivery; `forged`: refused.
 */
export function webhookReceiver(secret) {
  const receiver = { up: false, seen: new Map(), deliveries: 0, forged: 0 };
  const server = createServer((req, res) => {
    if (!receiver.up) {
      req.socket.destroy();
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const header = Object.fromEntries((req.headers["wxc-signature"] ?? "").split(",").map((p) => p.split("=")));
      const expected = createHmac("sha256", secret).update(`${header.t}.${body}`).digest("hex");
      const fresh = Math.abs(Date.now() / 1000 - Number(header.t)) <= 300;
      if (!header.v1 || !fresh || header.v1.length !== expected.length || !timingSafeEqual(Buffer.from(header.v1), Buffer.from(expected))) {
        receiver.forged++;
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(body);
      receiver.deliveries++;
      const known = receiver.seen.get(event.id);
      if (known) known.count++;
      else receiver.seen.set(event.id, { type: event.type, count: 1, data: event.data });
      res.writeHead(200).end();
    });
  });
  receiver.listen = () => new Promise((r) => server.listen(0, "127.0.0.1", () => r(server.address().port)));
  receiver.close = () => new Promise((r) => server.close(r));
  return receiver;
}

/** The console, as a browser speaks to it: a form post from its own origin, the cookie back. */
export async function signInToConsole(env, key) {
  const r = await fetch(`${env.stack.edgeUrl}/console/login`, {
    method: "POST", redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: env.stack.edgeUrl },
    body: new URLSearchParams({ key }),
  });
  return { status: r.status, location: r.headers.get("location"), cookie: (r.headers.get("set-cookie") ?? "").split(";")[0] };
}

/** A console page (or form post) with a sign-in's cookie. */
export async function consoleRequest(env, cookie, path, method = "GET") {
  const r = await fetch(`${env.stack.edgeUrl}${path}`, { method, redirect: "manual", headers: { Cookie: cookie, Origin: env.stack.edgeUrl } });
  return { status: r.status, location: r.headers.get("location"), html: await r.text() };
}

/** A call to the edge with `key` as Bearer, JSON in and out (`body` null when it is not JSON). */
export async function edgeCall(env, key, method, path, body, headers = {}) {
  const res = await fetch(`${env.stack.edgeUrl}${path}`, {
    method,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text };
}

/** A platform API call with the platform key (and a fresh Idempotency-Key on a POST). */
export const platformCall = (env, method, path, body) =>
  edgeCall(env, env.edgeVars.PLATFORM_SECRET_KEY, method, path, body, method === "POST" ? { "Idempotency-Key": `k-${randomBytes(8).toString("hex")}` } : {});

/** Now as WeChat Pay writes a time (China Standard Time, RFC 3339): a forged payment's
 * success_time, so that the day's reconciliation counts it. */
export const cstNow = () => `${new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
