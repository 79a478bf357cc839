// Platform-certificate mode: the edge-worker holds no WeChat Pay key in its configuration; it
// fetches the platform certificates from /v3/certificates, keeps them in D1, and fetches again
// when a response or notification names a serial it does not hold (a well-formed one, at most
// once per five minutes: anybody can send a notification naming a made-up serial).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { books, edgeFault, forgeNotification, outputDir, startAll, testMerchants, until } from "./support.mjs";

let env;
before(async () => {
  env = await startAll({ edgePort: 26787, sandboxPort: 26788, edgeVars: { WECHATPAY_TRUST_MODE: "certificate" } });
  const res = await fetch(`${env.stack.sandboxUrl}/sandbox/settings`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ trust_mode: { "1230000109": "certificate" } }),
  });
  assert.equal(res.status, 200);
}, { timeout: 600_000 });
after(async () => {
  await env?.browser.close();
  await env?.stack.stop();
});

test("certificates are fetched on first need, and again when a serial is unknown", { timeout: 120_000 }, async () => {
  const api = (path, init = {}) => fetch(`${env.stack.edgeUrl}${path}`, init);
  const merchant = { Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json" };
  const certSerial = testMerchants().platform.certificate_serial;
  const certificates = async () => (await books(env.stack, "platform_certificates")).map((r) => r.serial);
  assert.deepEqual(await certificates(), []);

  const s = await (await api("/v1/checkout/sessions", { method: "POST", headers: merchant, body: JSON.stringify({ amount_fen: 1234, description: "cert mode" }) })).json();
  const pay = await api(`/v1/widget/sessions/${s.id}/pay`, {
    method: "POST",
    headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scene: "native" }),
  });
  assert.equal(pay.status, 200, await pay.clone().text());
  assert.deepEqual(await certificates(), [certSerial], "the prepay answer, signed under the certificate serial, made the Worker fetch it");

  // A rotation, or an emptied cache: the next notification names a serial the Worker lacks.
  await edgeFault(env.stack, "forget-platform-certificates");
  const tx = {
    appid: "wxd930ea5d5a258f4f", mchid: "1230000109", out_trade_no: s.out_trade_no, transaction_id: "4200000000000000000000000777",
    trade_type: "NATIVE", trade_state: "SUCCESS", trade_state_desc: "支付成功", success_time: "2026-11-24T12:00:00+08:00",
    amount: { total: 1234, payer_total: 1234, currency: "CNY", payer_currency: "CNY" },
  };
  const unknown = forgeNotification(env, tx, { serial: "0123456789ABCDEF0123456789ABCDEF01234567" });
  const refused = await api("/v1/wechatpay/notify", { method: "POST", headers: unknown.headers, body: unknown.body });
  assert.equal(refused.status, 401, "a serial still unknown after a refresh is refused");
  assert.match((await refused.json()).message, /^unknown_serial:/);
  await edgeFault(env.stack, "forget-platform-certificates");
  const n = forgeNotification(env, tx, { serial: certSerial });
  const accepted = await api("/v1/wechatpay/notify", { method: "POST", headers: n.headers, body: n.body });
  assert.equal(accepted.status, 204);
  assert.deepEqual(await certificates(), [certSerial], "fetched again for the notification");
  const paid = await (await api(`/v1/checkout/sessions/${s.id}`, { headers: merchant })).json();
  assert.equal(paid.status, "paid");
});

test("notifications naming made-up serials cause no certificate download within the window", { timeout: 120_000 }, async () => {
  // What the simulator served, from its own log: each GET /v3/certificates is one download.
  const log = () => readFileSync(join(outputDir, "logs-26787", "sandbox.log"), "utf8");
  const count = (line) => log().split("\n").filter((l) => l.includes(line)).length;
  // The log is written as the simulator answers; a request of our own marks how far it is.
  const caughtUp = async () => {
    const marks = count("GET /sandbox/settings");
    await fetch(`${env.stack.sandboxUrl}/sandbox/settings`);
    await until("the simulator's log caught up", () => count("GET /sandbox/settings") > marks);
  };
  await caughtUp();
  const downloads = count("GET /v3/certificates");
  assert.ok(downloads >= 2, `the test before downloaded them (${downloads})`);
  const tx = {
    appid: "wxd930ea5d5a258f4f", mchid: "1230000109", out_trade_no: "NO-SUCH-ORDER", transaction_id: "4200000000000000000000000778",
    trade_type: "NATIVE", trade_state: "SUCCESS", trade_state_desc: "支付成功", success_time: "2026-11-24T12:00:00+08:00",
    amount: { total: 1, payer_total: 1, currency: "CNY", payer_currency: "CNY" },
  };
  const serials = ["0123456789ABCDEF0123456789ABCDEF01234567", "FEDCBA9876543210FEDCBA9876543210FEDCBA98", "not-a-serial",
    "PUB_KEY_ID_0114232134912410000000000000", "A".repeat(41), "DEADBEEF"];
  for (const serial of serials) {
    const n = forgeNotification(env, tx, { serial });
    const r = await fetch(`${env.stack.edgeUrl}/v1/wechatpay/notify`, { method: "POST", headers: n.headers, body: n.body });
    assert.equal(r.status, 401, serial);
  }
  await caughtUp();
  assert.equal(count("GET /v3/certificates"), downloads, `${serials.length} made-up serials, no download (the last was less than five minutes ago)`);
  assert.deepEqual(await (async () => (await books(env.stack, "platform_certificates")).map((r) => r.serial))(), [testMerchants().platform.certificate_serial]);
});
