// WeixinJSBridge as the WeChat Pay sandbox provides it, for pages tested or demoed "inside
// WeChat". Real WeChat injects the bridge itself; here a page (or a test) loads this script
// from the sandbox. getBrandWCPayRequest is checked like the real client checks it (appId,
// package, signType and paySign under the merchant's key), then a payment sheet opens in the
// page where the test payer picks a card and pays or cancels. The result arrives as the real
// err_msg values: get_brand_wcpay_request:ok | :cancel | :fail.
(() => {
  const sandbox = new URL(document.currentScript.src).origin;
  const post = (path, body) =>
    fetch(sandbox + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then((r) => r.json());

  function sheet(info) {
    return new Promise((resolve) => {
      const root = document.createElement("div");
      root.id = "wx-sandbox-sheet";
      root.setAttribute("role", "dialog");
      root.setAttribute("aria-label", "WeChat Pay (sandbox)");
      root.style.cssText = "position:fixed;inset:auto 0 0 0;background:#fff;border-top:1px solid #ddd;padding:1rem;" +
        "font:16px system-ui,sans-serif;box-shadow:0 -4px 16px rgba(0,0,0,.15);z-index:2147483647";
      const title = document.createElement("p");
      title.textContent = `${info.description} · ${info.amount_display}`;
      root.append(title);
      info.cards.forEach((card, i) => {
        const label = document.createElement("label");
        label.style.display = "block";
        const radio = document.createElement("input");
        Object.assign(radio, { type: "radio", name: "wx-sandbox-card", value: card.id, checked: i === 0 });
        label.append(radio, ` ${card.label}`);
        root.append(label);
      });
      const button = (id, text, action) => {
        const b = document.createElement("button");
        Object.assign(b, { id, type: "button", textContent: text });
        b.addEventListener("click", () => {
          const card = root.querySelector("input[name=wx-sandbox-card]:checked")?.value;
          root.remove();
          resolve({ action, card });
        });
        root.append(b);
      };
      button("wx-sandbox-pay", "确认支付 / Pay", "pay");
      button("wx-sandbox-cancel", "取消 / Cancel", "cancel");
      document.body.append(root);
    });
  }

  window.WeixinJSBridge = {
    invoke(name, params, callback = () => {}) {
      if (name !== "getBrandWCPayRequest") {
        callback({ err_msg: `${name}:fail`, err_desc: "not available in the sandbox" });
        return;
      }
      const fail = (err_desc) => callback({ err_msg: "get_brand_wcpay_request:fail", err_desc });
      (async () => {
        const check = await post("/jsapi/pay-request", params);
        if (!check.ok) return fail(check.err_desc);
        const choice = await sheet(check);
        if (choice.action === "cancel") return callback({ err_msg: "get_brand_wcpay_request:cancel" });
        const done = await post("/jsapi/confirm", { token: check.token, card: choice.card });
        return done.ok ? callback({ err_msg: "get_brand_wcpay_request:ok" }) : fail(done.err_desc);
      })().catch((e) => fail(String(e)));
    },
  };
  const ready = () => document.dispatchEvent(new Event("WeixinJSBridgeReady"));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else setTimeout(ready, 0);
})();
