// The simulator as an established SDK sees it: runs tests/oracle/sandbox_sdk.py (PyPI
// wechatpayv3 as the merchant client) against the simulator under `wrangler dev`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { root } from "../../scripts/stack.mjs";
import { jsapiPayParams, merchantRequest, outputDir, startAll, testMerchants } from "./support.mjs";

let env;
before(async () => {
  env = await startAll({ edgePort: 28787, sandboxPort: 28788 });
}, { timeout: 600_000 });
after(async () => {
  await env?.browser.close();
  await env?.stack.stop();
});

test("wechatpayv3 drives the simulator: prepay, query, close, pay, refund, notifications, faults, bills", { timeout: 300_000 }, () => {
  const python = join(process.env.WXC_TOOLS ?? join(process.env.HOME, ".cache", "wechat-checkout"), "oracle-venv", "bin", "python");
  const r = spawnSync(python, [join(root, "tests", "oracle", "sandbox_sdk.py")], {
    env: { ...process.env, SANDBOX_URL: env.stack.sandboxUrl },
    encoding: "utf8",
    timeout: 280_000,
  });
  process.stdout.write(r.stdout ?? "");
  process.stderr.write(r.stderr ?? "");
  assert.equal(r.status, 0, "sandbox_sdk.py reported failures");
  assert.match(r.stdout, /: \d+ checks passed, 0 failed/);
});

test("the in-WeChat payer: OAuth gives stable openids; WeixinJSBridge checks paySign and pays", { timeout: 120_000 }, async () => {
  const sandbox = env.stack.sandboxUrl;
  const [merchant] = testMerchants().merchants;
  const authorize = async (payer) => {
    const url = `${sandbox}/connect/oauth2/authorize?appid=${merchant.appid}&redirect_uri=${encodeURIComponent("https://shop.example/back?x=1")}&response_type=code&scope=snsapi_base&state=s1${payer ? `&payer=${payer}` : ""}#wechat_redirect`;
    const res = await fetch(url, { redirect: "manual" });
    assert.equal(res.status, 302);
    const back = new URL(res.headers.get("location"));
    assert.equal(back.origin + back.pathname, "https://shop.example/back");
    assert.equal(back.searchParams.get("state"), "s1");
    return back.searchParams.get("code");
  };
  const token = (code, secret = merchant.app_secret) =>
    fetch(`${sandbox}/sns/oauth2/access_token?appid=${merchant.appid}&secret=${secret}&code=${code}&grant_type=authorization_code`).then((r) => r.json());
  const first = await token(await authorize());
  const again = await token(await authorize());
  const other = await token(await authorize(2));
  assert.equal(first.scope, "snsapi_base");
  assert.ok(first.openid && first.openid === again.openid, "one stable openid per payer and app");
  assert.notEqual(other.openid, first.openid);
  const code = await authorize();
  assert.equal((await token(code, "wrong")).errcode, 40125);
  assert.ok((await token(code)).openid);
  assert.equal((await token(code)).errcode, 40163, "a code works once");

  const order = async () => {
    const out_trade_no = `JS${Date.now()}${Math.floor(Math.random() * 1e6)}`;
    const prepay = await merchantRequest(sandbox, merchant, "POST", "/v3/pay/transactions/jsapi", {
      appid: merchant.appid, mchid: merchant.mchid, description: "JSAPI 测试", out_trade_no,
      notify_url: "http://127.0.0.1:9/none", amount: { total: 520, currency: "CNY" }, payer: { openid: first.openid },
    });
    assert.equal(prepay.status, 200, JSON.stringify(prepay.body));
    return { out_trade_no, params: jsapiPayParams(merchant, prepay.body.prepay_id) };
  };
  const page = await env.browser.newPage();
  await page.setContent(`<!doctype html><body><script src="${sandbox}/jsapi/bridge.js"></script></body>`);
  await page.waitForFunction(() => typeof window.WeixinJSBridge?.invoke === "function");
  const invoke = (params) => page.evaluate((p) => new Promise((resolve) => WeixinJSBridge.invoke("getBrandWCPayRequest", p, resolve)), params);

  const { out_trade_no, params } = await order();
  const forged = await invoke({ ...params, paySign: params.paySign.replace(/^./, (c) => (c === "A" ? "B" : "A")) });
  assert.equal(forged.err_msg, "get_brand_wcpay_request:fail");
  assert.match(forged.err_desc, /支付验证签名失败/);
  const badCasing = await invoke({ ...params, timeStamp: undefined, timestamp: params.timeStamp });
  assert.equal(badCasing.err_msg, "get_brand_wcpay_request:fail", "timestamp instead of timeStamp is refused");

  const cancelled = invoke(params);
  await page.click("#wx-sandbox-cancel");
  assert.equal((await cancelled).err_msg, "get_brand_wcpay_request:cancel");
  const paid = invoke(params);
  await page.waitForSelector("#wx-sandbox-sheet");
  await page.screenshot({ path: join(outputDir, "sandbox-jsapi-sheet.png") });
  await page.click("#wx-sandbox-pay");
  assert.equal((await paid).err_msg, "get_brand_wcpay_request:ok");
  const query = await merchantRequest(sandbox, merchant, "GET", `/v3/pay/transactions/out-trade-no/${out_trade_no}?mchid=${merchant.mchid}`);
  assert.equal(query.body.trade_state, "SUCCESS");
  assert.equal(query.body.payer.openid, first.openid);
  assert.equal((await invoke(params)).err_msg, "get_brand_wcpay_request:fail", "a paid prepay cannot be paid again");
});

test("partner mode in WeChat: OAuth per sub_appid; the bridge pays a provider's prepay signed over the payer's app", { timeout: 120_000 }, async () => {
  const sandbox = env.stack.sandboxUrl;
  const provider = testMerchants().merchants.find((m) => m.sub_merchants);
  const [own] = provider.sub_merchants;
  const openid = async (appid, secret) => {
    const res = await fetch(`${sandbox}/connect/oauth2/authorize?appid=${appid}&redirect_uri=${encodeURIComponent("https://shop.example/back")}&response_type=code&scope=snsapi_base&state=p#wechat_redirect`, { redirect: "manual" });
    const code = new URL(res.headers.get("location")).searchParams.get("code");
    return (await fetch(`${sandbox}/sns/oauth2/access_token?appid=${appid}&secret=${secret}&code=${code}&grant_type=authorization_code`).then((r) => r.json())).openid;
  };
  const subOpenid = await openid(own.sub_appid, own.app_secret);
  const spOpenid = await openid(provider.appid, provider.app_secret);
  assert.ok(subOpenid && spOpenid && subOpenid !== spOpenid, "each app its own openid for one payer");

  const out_trade_no = `PJS${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const prepay = await merchantRequest(sandbox, provider, "POST", "/v3/pay/partner/transactions/jsapi", {
    sp_appid: provider.appid, sp_mchid: provider.mchid, sub_appid: own.sub_appid, sub_mchid: own.sub_mchid,
    description: "服务商 JSAPI", out_trade_no, notify_url: "http://127.0.0.1:9/none", amount: { total: 520, currency: "CNY" },
    payer: { sub_openid: subOpenid },
  });
  assert.equal(prepay.status, 200, JSON.stringify(prepay.body));
  // The pay parameters: appId the sub_appid (the payer's app), signed with the provider's key.
  const params = jsapiPayParams({ ...provider, appid: own.sub_appid }, prepay.body.prepay_id);
  const underSpApp = jsapiPayParams(provider, prepay.body.prepay_id);

  const page = await env.browser.newPage();
  await page.setContent(`<!doctype html><body><script src="${sandbox}/jsapi/bridge.js"></script></body>`);
  await page.waitForFunction(() => typeof window.WeixinJSBridge?.invoke === "function");
  const invoke = (p) => page.evaluate((q) => new Promise((resolve) => WeixinJSBridge.invoke("getBrandWCPayRequest", q, resolve)), p);
  assert.equal((await invoke(underSpApp)).err_msg, "get_brand_wcpay_request:fail", "a sub_openid payer pays in the sub_appid, not the sp_appid");
  const paid = invoke(params);
  await page.waitForSelector("#wx-sandbox-sheet");
  await page.click("#wx-sandbox-pay");
  assert.equal((await paid).err_msg, "get_brand_wcpay_request:ok");
  const query = await merchantRequest(sandbox, provider, "GET", `/v3/pay/partner/transactions/out-trade-no/${out_trade_no}?sp_mchid=${provider.mchid}&sub_mchid=${own.sub_mchid}`);
  assert.equal(query.body.trade_state, "SUCCESS");
  assert.deepEqual(query.body.payer, { sp_openid: spOpenid, sub_openid: subOpenid });
  await page.close();
});
