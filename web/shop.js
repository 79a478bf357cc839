// The demo shop's page script (a file, not inline: the page's Content-Security-Policy allows
// scripts from this origin only, see web/_headers).
import { mount } from "/checkout.js";

const list = document.getElementById("products");
const checkout = document.getElementById("checkout");
// ?scene=native|h5|jsapi and ?locale=zh-CN|en are passed to the widget (to try them out).
const params = new URLSearchParams(location.search);
const { products, sandbox_jsapi_bridge } = await (await fetch("/demo/products")).json();
// Real WeChat injects WeixinJSBridge itself; in the sandbox the page loads the simulator's.
if (sandbox_jsapi_bridge && navigator.userAgent.includes("MicroMessenger")) {
  const script = document.createElement("script");
  script.src = sandbox_jsapi_bridge;
  document.head.append(script);
}
for (const p of products) {
  const li = document.createElement("li");
  li.dataset.product = p.id;
  li.innerHTML = `<span class="name"></span><span class="price"></span><button type="button">Pay with WeChat</button>`;
  li.querySelector(".name").textContent = p.name;
  li.querySelector(".price").textContent = p.price_display;
  li.querySelector("button").addEventListener("click", () => buy(p.id));
  list.append(li);
}

let widget;
// The checkout in progress survives the trips to WeChat (H5) and WeChat OAuth (JSAPI):
// back on this page, the widget is mounted again and checks the result.
async function show({ session, clientSecret }) {
  sessionStorage.setItem("demo-checkout", JSON.stringify({ session, clientSecret }));
  widget?.destroy();
  checkout.hidden = false;
  checkout.dataset.session = session;
  const done = () => sessionStorage.removeItem("demo-checkout");
  widget = await mount(checkout, {
    session, clientSecret, onPaid: done, onExpired: done,
    scene: params.get("scene") ?? undefined, locale: params.get("locale") ?? undefined,
  });
}

async function buy(product) {
  const res = await fetch("/demo/checkout", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ product }),
  });
  const body = await res.json();
  if (!res.ok) {
    checkout.hidden = false;
    checkout.textContent = body.error?.message ?? "checkout failed";
    return;
  }
  await show({ session: body.session_id, clientSecret: body.client_secret });
}

const saved = sessionStorage.getItem("demo-checkout");
if (saved) await show(JSON.parse(saved));
