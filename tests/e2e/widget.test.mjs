// The checkout widget in headless Chromium, per scene with the matching browser: desktop
// (Native QR code, as a custom element on a merchant page of another origin), mobile Safari
// (H5: to WeChat and back, in Chinese), WeChat's in-app browser (JSAPI: OAuth round trip and
// the simulator's WeixinJSBridge); plus cancel, failure, expiry, errors, a hidden page and
// teardown. Screenshots of every state land in test-output/widget/.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { outputDir, startAll, merchantClient } from "./support.mjs";

const EDGE_PORT = 22787;
const SANDBOX_PORT = 22788;
/** A merchant's page on another origin, allowed by ALLOWED_ORIGINS; and one that is not. */
const SHOP_PORT = 22790;
const FOREIGN_PORT = 22791;
const SHOP = `http://127.0.0.1:${SHOP_PORT}`;
const FOREIGN = `http://127.0.0.1:${FOREIGN_PORT}`;

const UA = {
  iphoneSafari: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
  wechat: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.188 Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003237) NetType/WIFI Language/zh_CN",
};

const shots = join(outputDir, "widget");
mkdirSync(shots, { recursive: true });

let env;
let edge;
let sandbox;
const pages = new Map();
const servers = [];

// Runs in every page before its scripts: records the widget's events (capture, so a page
// reload starts a fresh list), its timers and listeners (to prove teardown), layout shifts.
function instrument() {
  const active = { timers: new Set(), listeners: [] };
  const setT = window.setTimeout.bind(window);
  const clearT = window.clearTimeout.bind(window);
  const setI = window.setInterval.bind(window);
  const clearI = window.clearInterval.bind(window);
  window.setTimeout = (f, ms, ...args) => {
    const id = setT((...a) => { active.timers.delete(id); if (typeof f === "function") f(...a); }, ms, ...args);
    active.timers.add(id);
    return id;
  };
  window.clearTimeout = (id) => { active.timers.delete(id); clearT(id); };
  window.setInterval = (f, ms, ...args) => { const id = setI(f, ms, ...args); active.timers.add(id); return id; };
  window.clearInterval = (id) => { active.timers.delete(id); clearI(id); };
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    active.listeners.push({ target: this, type, listener });
    return add.call(this, type, listener, options);
  };
  EventTarget.prototype.removeEventListener = function (type, listener, options) {
    const i = active.listeners.findIndex((l) => l.target === this && l.type === type && l.listener === listener);
    if (i >= 0) active.listeners.splice(i, 1);
    return remove.call(this, type, listener, options);
  };
  const events = [];
  for (const name of ["ready", "scene", "paid", "failed", "expired", "cancel", "error"]) {
    add.call(document, `wx-${name}`, (e) => events.push({ type: name, detail: e.detail }), true);
  }
  const widgetTypes = ["click", "visibilitychange", "WeixinJSBridgeReady"];
  window.__wx = {
    events,
    cls: 0,
    timers: () => active.timers.size,
    // On the document and on elements (Playwright's own listeners sit on window).
    listeners: () => active.listeners
      .filter((l) => (l.target === document || l.target instanceof Element) && (widgetTypes.includes(l.type) || l.type.startsWith("wx-")))
      .map((l) => `${l.type} on ${l.target === document ? "document" : l.target.id || l.target.nodeName}: ${String(l.listener).slice(0, 60)}`),
    setHidden(hidden) {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
      document.dispatchEvent(new Event("visibilitychange"));
    },
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__wx.cls += entry.value;
  }).observe({ type: "layout-shift", buffered: true });
}

async function newPage(contextOptions = {}) {
  const context = await env.browser.newContext({ locale: "en-US", ...contextOptions });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push({ url: r.url(), method: r.method(), navigation: r.isNavigationRequest(), at: Date.now() }));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  return { page, context, requests, errors };
}

const events = (page) => page.evaluate(() => window.__wx.events);
const eventTypes = async (page) => (await events(page)).map((e) => e.type);
const state = (page, sel) => page.getAttribute(sel, "data-state");
const waitState = (page, sel, s, timeout = 20_000) => page.waitForSelector(`${sel}[data-state="${s}"]`, { timeout });
const live = (page, sel) => page.textContent(`${sel} .wx-live`);
const box = (page, sel) => page.evaluate((s) => JSON.stringify(document.querySelector(s).getBoundingClientRect()), sel);
const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });
const widgetCalls = (requests, since = 0) => requests.filter((r) => r.url.includes("/v1/widget/") && r.at >= since);

const createSession = (body) => merchantClient(env).createSession(body);
const merchantView = (id) => merchantClient(env).session(id);

/** What the merchant's books say, through the merchant API. */
async function assertBooked(id, status, scene) {
  const booked = await merchantView(id);
  assert.equal(booked.status, status);
  assert.equal(booked.scene, scene);
}

/** A merchant page embedding the widget from the edge-worker's origin. */
function merchantPage(path, body, head = "") {
  pages.set(path, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Merchant</title>
<link rel="stylesheet" href="${edge}/checkout.css">${head}
<style>body{margin:2rem;font:16px sans-serif}</style></head><body><h1>Merchant page</h1>${body}<p>Below the widget.</p></body></html>`);
}

/** A page that mounts a session with `mount()` and records the callbacks. */
function mountPage(path, session, options = {}) {
  merchantPage(path, `<div id="w"></div>`, `<script type="module">
import { mount } from "${edge}/checkout.js";
window.__callbacks = [];
const record = (name) => (detail) => window.__callbacks.push({ name, detail });
window.__handle = await mount(document.getElementById("w"), {
  session: ${JSON.stringify(session.id)}, clientSecret: ${JSON.stringify(session.client_secret)},
  onReady: record("ready"), onScene: record("scene"), onPaid: record("paid"), onExpired: record("expired"),
  onFailed: record("failed"), onError: record("error"), onCancel: record("cancel"), ...${JSON.stringify(options)},
});
</script>`);
}

/** Approves (or cancels) at the simulator's cashier page a `code_url` or `h5_url` leads to. */
async function cashier(page, button = "#approve") {
  await page.waitForSelector(button);
  await Promise.all([page.waitForNavigation(), page.click(button)]);
}

describe("checkout widget", { timeout: 900_000 }, () => {
  before(async () => {
    env = await startAll({
      edgePort: EDGE_PORT,
      sandboxPort: SANDBOX_PORT,
      edgeVars: { ALLOWED_ORIGINS: SHOP, MIN_SESSION_TTL_SECS: "5" },
    });
    edge = env.stack.edgeUrl;
    sandbox = env.stack.sandboxUrl;
    for (const port of [SHOP_PORT, FOREIGN_PORT]) {
      const server = createServer((req, res) => {
        const html = pages.get(new URL(req.url, "http://x").pathname);
        res.writeHead(html ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
        res.end(html ?? "not found");
      });
      await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
      servers.push(server);
    }
  }, { timeout: 600_000 });

  after(async () => {
    for (const s of servers) s.close();
    await env?.browser.close();
    await env?.stack.stop();
  });

  test("desktop: the Native QR code in a custom element on another origin, keyboard, themes, I have paid, cancel, paid", async () => {
    const session = await createSession({ amount_fen: 123450, description: "Celadon tea set" });
    merchantPage("/native.html", `<div style="--wx-accent: rgb(200, 0, 100)">
<wx-checkout id="w" session="${session.id}" client-secret="${session.client_secret}"></wx-checkout></div>`,
    `<script type="module" src="${edge}/checkout.js"></script>`);
    const { page, requests, errors } = await newPage();
    await page.goto(`${SHOP}/native.html`);
    await waitState(page, "#w", "scan");
    const firstBox = await box(page, "#w");
    assert.equal((await page.textContent("#w .wx-amount")).trim(), "¥1,234.50");
    assert.equal(await page.getAttribute("#w svg[role=img]", "aria-label"), "WeChat Pay QR code for ¥1,234.50");
    assert.match(await page.textContent("#w .wx-timer"), /^\d\d:\d\d$/);
    assert.equal(await live(page, "#w"), "Scan with WeChat to pay ¥1,234.50");
    assert.equal(await page.getAttribute("#w .wx-live", "aria-live"), "polite");
    assert.deepEqual(await events(page), [
      { type: "ready", detail: { session: session.id, amountFen: 123450, locale: "en" } },
      { type: "scene", detail: { scene: "native" } },
    ]);
    // Themed through a custom property on an ancestor.
    assert.equal(await page.$eval("#w .wx-primary", (b) => getComputedStyle(b).backgroundColor), "rgb(200, 0, 100)");
    await shot(page, "native-1-scan");

    // Everything is reachable by keyboard.
    const reached = [];
    await page.focus("h1").catch(() => {});
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => document.activeElement?.dataset?.action ?? document.activeElement?.className ?? ""));
    }
    assert.ok(reached.includes("wx-cashier") && reached.includes("check") && reached.includes("cancel"), reached.join());

    // "I have paid" (Enter on the focused button) asks the server at once; nothing arrived yet.
    await page.focus('#w [data-action="check"]');
    const asked = Date.now();
    await page.keyboard.press("Enter");
    await waitState(page, "#w", "checking", 5_000);
    await shot(page, "native-2-checking");
    await page.waitForFunction(() => document.querySelector("#w .wx-msg")?.textContent === "No payment has arrived yet", null, { timeout: 15_000 });
    assert.equal(await state(page, "#w"), "scan");
    const check = widgetCalls(requests, asked).find((r) => r.method === "POST" && r.url.endsWith("/check"));
    assert.ok(check && check.at - asked < 1000, "the check went out at once");
    // The focused button was replaced: focus moved to the new state's message.
    assert.equal(await page.evaluate(() => document.activeElement.className), "wx-msg");
    assert.equal(await live(page, "#w"), "No payment has arrived yet ¥1,234.50");

    // Cancel, then pay after all.
    await page.click('#w [data-action="cancel"]');
    await waitState(page, "#w", "cancelled");
    assert.equal((await events(page)).at(-1).type, "cancel");
    await shot(page, "native-3-cancelled");
    await page.click('#w [data-action="resume"]');
    await waitState(page, "#w", "scan");

    const phone = await newPage();
    await phone.page.goto(await page.getAttribute("#w a.wx-cashier", "href"));
    await cashier(phone.page);
    await waitState(page, "#w", "paid");
    assert.equal(await live(page, "#w"), "Paid ¥1,234.50");
    assert.deepEqual((await events(page)).at(-1), { type: "paid", detail: { session: session.id, amountFen: 123450 } });
    await shot(page, "native-4-paid");
    await assertBooked(session.id, "paid", "native");

    // No layout shift: the same box in every state, and the browser measured none.
    assert.equal(await box(page, "#w"), firstBox);
    assert.equal(await page.evaluate(() => window.__wx.cls), 0);
    // Every request the page made, but for the page itself, went to the merchant's Worker.
    const foreign = requests.filter((r) => !r.url.startsWith(`${edge}/`) && r.url !== `${SHOP}/native.html`);
    assert.deepEqual(foreign, []);
    const paths = new Set(requests.map((r) => new URL(r.url).pathname));
    for (const p of ["/checkout.js", "/checkout.wasm", "/checkout.css"]) assert.ok(paths.has(p), p);
    assert.deepEqual(errors, []);
    await phone.context.close();
    await page.context().close();
  });

  test("mobile Safari: H5 to WeChat and back, in Chinese; back unpaid, then paid", async () => {
    const { page, context, errors } = await newPage({ userAgent: UA.iphoneSafari, locale: "zh-CN", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await page.goto(`${edge}/`);
    await page.click('[data-product="mooncake"] button');
    await waitState(page, "#checkout", "ready");
    const text = await page.textContent("#checkout");
    for (const s of ["¥8.88", "将打开微信完成支付", "微信支付", "剩余支付时间"]) assert.ok(text.includes(s), `${s} in ${text}`);
    const sessionId = await page.getAttribute("#checkout", "data-session");
    assert.deepEqual((await events(page)).map((e) => e.detail.scene ?? e.detail.locale), ["zh-CN", "h5"]);
    await shot(page, "h5-1-ready");

    // The tap navigates to the h5_url with redirect_url back to this page.
    await Promise.all([page.waitForNavigation(), page.click('#checkout [data-action="pay"]')]);
    const h5 = new URL(page.url());
    assert.equal(h5.origin + h5.pathname, `${sandbox}/cgi-bin/mmpayweb-bin/checkmweb`);
    assert.equal(h5.searchParams.get("redirect_url"), `${edge}/`);
    await shot(page, "h5-2-wechat");
    // The payer backs out in WeChat: back on the page the widget checks, and says so.
    await cashier(page, "#cancel");
    assert.equal(page.url(), `${edge}/`);
    await page.waitForFunction(() => document.querySelector("#checkout .wx-msg")?.textContent === "尚未收到付款", null, { timeout: 20_000 });
    assert.equal(await state(page, "#checkout"), "ready");
    assert.ok(!(await eventTypes(page)).includes("paid"));
    assert.deepEqual(await page.$$eval("#checkout button", (bs) => bs.map((b) => b.textContent)), ["微信支付", "我已支付", "取消"]);
    await shot(page, "h5-3-back-unpaid");

    await Promise.all([page.waitForNavigation(), page.click('#checkout [data-action="pay"]')]);
    await cashier(page);
    await waitState(page, "#checkout", "paid");
    assert.match(await page.textContent("#checkout .wx-msg"), /支付成功/);
    assert.deepEqual((await events(page)).at(-1), { type: "paid", detail: { session: sessionId, amountFen: 888 } });
    await shot(page, "h5-4-paid");
    await assertBooked(sessionId, "paid", "h5");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("WeChat in-app: JSAPI with the OAuth round trip, cancel, a lying bridge, a failed card, then paid", async () => {
    const { page, context, errors } = await newPage({ userAgent: UA.wechat, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await page.goto(`${edge}/`);
    await page.click('[data-product="longjing-tea"] button');
    await waitState(page, "#checkout", "ready");
    assert.match(await page.textContent("#checkout .wx-msg"), /Confirm the payment in WeChat/);
    assert.equal((await events(page))[1].detail.scene, "jsapi");
    const sessionId = await page.getAttribute("#checkout", "data-session");
    await shot(page, "jsapi-1-ready");

    // First tap: the OAuth round trip (Worker → WeChat authorize → callback → this page), then
    // the payment sheet opens by itself once WeixinJSBridgeReady has fired.
    await page.click('#checkout [data-action="pay"]');
    await page.waitForSelector("#wx-sandbox-sheet", { timeout: 20_000 });
    // (WeChat's `#wechat_redirect` fragment survives the redirects, as in WeChat.)
    assert.equal(page.url().split("#")[0], `${edge}/`);
    assert.equal(await state(page, "#checkout"), "opening");
    await shot(page, "jsapi-2-sheet");
    await page.click("#wx-sandbox-cancel");
    await page.waitForFunction(() => document.querySelector("#checkout .wx-msg")?.textContent === "Payment cancelled");
    assert.equal((await events(page)).at(-1).type, "cancel");
    await shot(page, "jsapi-3-cancelled");

    // A bridge that says "ok" without paying is not believed: the server decides.
    await page.evaluate(() => {
      window.__invoke = window.WeixinJSBridge.invoke;
      window.WeixinJSBridge.invoke = (name, params, callback) => callback({ err_msg: "get_brand_wcpay_request:ok" });
    });
    await page.click('#checkout [data-action="pay"]');
    await page.waitForFunction(() => document.querySelector("#checkout .wx-msg")?.textContent === "No payment has arrived yet", null, { timeout: 20_000 });
    assert.ok(!(await eventTypes(page)).includes("paid"));
    assert.equal((await merchantView(sessionId)).status, "open");
    await page.evaluate(() => { window.WeixinJSBridge.invoke = window.__invoke; });

    // A card that cannot pay: the sheet fails, the widget offers to try again.
    await page.click('#checkout [data-action="pay"]');
    await page.waitForSelector("#wx-sandbox-sheet");
    await page.check('#wx-sandbox-sheet input[value="abc-debit-low"]');
    await page.click("#wx-sandbox-pay");
    await waitState(page, "#checkout", "failed");
    const failed = (await events(page)).at(-1);
    assert.equal(failed.type, "failed");
    assert.equal(failed.detail.code, "payment_failed");
    await shot(page, "jsapi-4-failed");
    await page.click('#checkout [data-action="retry"]');
    await waitState(page, "#checkout", "ready");

    await page.click('#checkout [data-action="pay"]');
    await page.waitForSelector("#wx-sandbox-sheet");
    await page.click("#wx-sandbox-pay");
    await waitState(page, "#checkout", "paid");
    assert.equal((await events(page)).at(-1).type, "paid");
    await shot(page, "jsapi-5-paid");
    await assertBooked(sessionId, "paid", "jsapi");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("expiry with a forced scene, a wrong secret, a failed prepay and a disallowed origin, through mount() callbacks", async () => {
    // A phone, but the merchant forces the Native scene; the session lives 6 seconds.
    const short = await createSession({ amount_fen: 1, description: "One fen", expires_in: 6 });
    mountPage("/expiry.html", short, { scene: "native" });
    const mobile = await newPage({ userAgent: UA.iphoneSafari, isMobile: true });
    await mobile.page.goto(`${SHOP}/expiry.html`);
    await waitState(mobile.page, "#w", "scan");
    assert.match(await mobile.page.textContent("#w .wx-timer"), /^00:0[0-6]$/);
    assert.equal((await mobile.page.textContent("#w .wx-amount")).trim(), "¥0.01");
    const box0 = await box(mobile.page, "#w");
    await waitState(mobile.page, "#w", "expired", 30_000);
    assert.equal(await box(mobile.page, "#w"), box0);
    assert.deepEqual((await mobile.page.evaluate(() => window.__callbacks)).map((c) => c.name), ["ready", "scene", "expired"]);
    assert.equal((await mobile.page.evaluate(() => window.__callbacks))[1].detail.scene, "native");
    assert.equal((await merchantView(short.id)).status, "closed");
    await shot(mobile.page, "mount-1-expired");
    await mobile.context.close();

    const { page, context } = await newPage();
    mountPage("/wrong-secret.html", { id: short.id, client_secret: "cs_secret_wrong" });
    // The first answer is held back a moment, to see the loading state.
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    await page.route(`${edge}/v1/widget/sessions/*`, async (route) => { await held; await route.continue(); });
    await page.goto(`${SHOP}/wrong-secret.html`);
    await waitState(page, "#w", "loading");
    assert.equal(await live(page, "#w"), "Loading…");
    await shot(page, "mount-0-loading");
    release();
    await waitState(page, "#w", "error");
    await page.unroute(`${edge}/v1/widget/sessions/*`);
    assert.deepEqual((await page.evaluate(() => window.__callbacks)).map((c) => [c.name, c.detail.code]), [["error", "unauthorized"]]);
    await shot(page, "mount-2-error");

    // WeChat Pay answers the prepay with a 5xx once: a failure the payer can retry.
    const faulted = await fetch(`${sandbox}/sandbox/faults`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ kind: "prepay_5xx", mchid: "1230000109", uses: 1 }),
    });
    assert.ok(faulted.ok);
    const unlucky = await createSession({ amount_fen: 500, description: "Retry me" });
    mountPage("/failed.html", unlucky);
    await page.goto(`${SHOP}/failed.html`);
    await waitState(page, "#w", "failed");
    const failed = (await page.evaluate(() => window.__callbacks)).find((c) => c.name === "failed");
    assert.equal(failed.detail.code, "wechatpay_error");
    await shot(page, "mount-3-failed");
    await page.click('#w [data-action="retry"]');
    await waitState(page, "#w", "scan");

    // An origin the merchant did not allow gets no CORS grant: the widget cannot read the session.
    mountPage("/foreign.html", unlucky);
    await page.goto(`${FOREIGN}/foreign.html`);
    await waitState(page, "#w", "error");
    assert.equal((await page.evaluate(() => window.__callbacks))[0].detail.code, "network");
    await context.close();
  });

  test("a hidden page pauses polling and checks at once on return; teardown leaves no timers, listeners or requests", async () => {
    const session = await createSession({ amount_fen: 2000, description: "Hidden" });
    mountPage("/hidden.html", session);
    const { page, context, requests } = await newPage();
    await page.goto(`${SHOP}/hidden.html`);
    await waitState(page, "#w", "scan");
    await page.waitForTimeout(1500);

    await page.evaluate(() => window.__wx.setHidden(true));
    // Requests are timestamped when Playwright reports them: let one already in flight land
    // before the hidden window starts, and start the shown window before the page is shown.
    await page.waitForTimeout(500);
    const hiddenAt = Date.now();
    await page.waitForTimeout(5000);
    assert.deepEqual(widgetCalls(requests, hiddenAt), [], "no polling while hidden");
    const shownAt = Date.now();
    await page.evaluate(() => window.__wx.setHidden(false));
    await page.waitForTimeout(700);
    assert.equal(widgetCalls(requests, shownAt).length, 1, "one check at once on return");

    assert.ok(await page.evaluate(() => window.__wx.timers()) >= 2, "a poll and the countdown are running");
    assert.ok((await page.evaluate(() => window.__wx.listeners())).length >= 2);
    await page.evaluate(() => window.__handle.destroy());
    const destroyedAt = Date.now();
    assert.equal(await page.evaluate(() => window.__wx.timers()), 0);
    assert.deepEqual(await page.evaluate(() => window.__wx.listeners()), []);
    assert.equal(await page.innerHTML("#w"), "");
    await page.waitForTimeout(3000);
    assert.deepEqual(widgetCalls(requests, destroyedAt), []);

    // The custom element tears down the same way when it leaves the document.
    await page.evaluate(([id, secret]) => {
      const el = document.createElement("wx-checkout");
      el.id = "el";
      el.setAttribute("session", id);
      el.setAttribute("client-secret", secret);
      document.body.append(el);
    }, [session.id, session.client_secret]);
    await waitState(page, "#el", "scan");
    await page.evaluate(() => document.getElementById("el").remove());
    await page.waitForTimeout(200);
    assert.equal(await page.evaluate(() => window.__wx.timers()), 0);
    assert.deepEqual(await page.evaluate(() => window.__wx.listeners()), []);
    await context.close();
  });
});
