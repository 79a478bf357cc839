// The embed, served by the merchant's Worker as /checkout.js (bundled with wasm-bindgen's glue
// and minified by scripts/build-widget.sh):
//
//   <link rel="stylesheet" href="https://<worker>/checkout.css">   (optional: reserves the box)
//   <script type="module" src="https://<worker>/checkout.js"></script>
//   <wx-checkout session="cs_…" client-secret="…"></wx-checkout>
//
// or `import { mount } from "https://<worker>/checkout.js"; mount(element, options)`.
// The widget's wasm and stylesheet come from the Worker this file came from, and the widget
// talks to that Worker only (or to options.apiBase).
import init, { mount as mountWasm } from "../pkg/checkout_wasm.js";

const base = import.meta.url;
const EVENTS = ["ready", "scene", "paid", "failed", "expired", "cancel", "error"];
let loading;

function load() {
  if (!document.querySelector('link[href$="checkout.css"]')) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("checkout.css", base).href;
    document.head.append(link);
  }
  return (loading ??= init({ module_or_path: new URL("checkout.wasm", base) }));
}

/**
 * The session's changes as they happen: a WebSocket to the Worker (its client secret as the second
 * subprotocol) while the page is visible, reopened after a drop with a growing wait. A change makes
 * the widget read the session at once, and so does the `connected` of a socket reopened after a
 * drop (a change may have come meanwhile); on mount and on return to the page the widget reads
 * it anyway. Polling goes on beside it, the fallback when the socket cannot open. Returns what
 * closes it for good.
 */
function live(apiBase, session, clientSecret, changed) {
  const url = new URL(`/v1/widget/sessions/${encodeURIComponent(session)}/events`, apiBase);
  url.protocol = url.protocol == "https:" ? "wss:" : "ws:";
  let socket, timer, dropped, wait = 1000, stopped;
  const open = () => {
    clearTimeout(timer);
    if (stopped || socket || document.hidden) return;
    socket = new WebSocket(url, ["wx-checkout.v1", clientSecret]);
    socket.onopen = () => (wait = 1000);
    socket.onmessage = (m) => {
      if (JSON.parse(m.data).event == "connected" && !dropped) return;
      dropped = false;
      changed();
    };
    socket.onclose = () => {
      socket = undefined;
      dropped = !stopped && !document.hidden;
      if (dropped) timer = setTimeout(open, (wait = Math.min(wait * 2, 30000)));
    };
  };
  const visibility = () => (document.hidden ? socket?.close() : open());
  document.addEventListener("visibilitychange", visibility);
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", visibility);
    socket?.close();
  };
}

/** Renders a checkout session into `element`; see checkout.d.ts. */
export async function mount(element, options) {
  // The box takes its final size before the wasm arrives: nothing moves when it renders.
  element.classList.add("wx-checkout");
  await load();
  const listeners = [];
  for (const name of EVENTS) {
    const callback = options["on" + name[0].toUpperCase() + name.slice(1)];
    if (typeof callback == "function") {
      const listener = (event) => callback(event.detail);
      element.addEventListener("wx-" + name, listener);
      listeners.push(["wx-" + name, listener]);
    }
  }
  const unlisten = () => listeners.splice(0).forEach(([type, f]) => element.removeEventListener(type, f));
  let widget;
  const apiBase = options.apiBase ?? new URL(base).origin;
  try {
    widget = mountWasm(element, { ...options, apiBase });
  } catch (e) {
    unlisten();
    throw e;
  }
  // `live: false` leaves the widget to polling alone.
  const stopLive = options.live === false ? () => {} : live(apiBase, options.session, options.clientSecret, () => widget?.refresh());
  // A paid or expired session changes no more.
  for (const end of ["wx-paid", "wx-expired"]) {
    element.addEventListener(end, stopLive);
    listeners.push([end, stopLive]);
  }
  return {
    check: () => widget?.check(),
    destroy() {
      stopLive();
      unlisten();
      widget?.destroy();
      widget?.free();
      widget = undefined;
    },
  };
}

/** `<wx-checkout session client-secret [scene] [locale] [return-url] [api-base]>` */
class WxCheckout extends HTMLElement {
  static observedAttributes = ["session", "client-secret", "scene", "locale", "return-url", "api-base"];
  #widget;

  connectedCallback() {
    this.#start();
  }

  disconnectedCallback() {
    this.#stop();
  }

  attributeChangedCallback() {
    if (this.#widget) this.#start();
  }

  /** Asks the server now whether the session was paid. */
  check() {
    this.#widget?.then((w) => w?.check());
  }

  #start() {
    this.#stop();
    const attr = (name) => this.getAttribute(name) ?? undefined;
    const options = { session: attr("session"), clientSecret: attr("client-secret"), scene: attr("scene"),
      locale: attr("locale"), returnUrl: attr("return-url"), apiBase: attr("api-base") };
    this.#widget = mount(this, options).catch((e) => {
      this.dispatchEvent(new CustomEvent("wx-error", { bubbles: true, detail: { code: "invalid_options", message: e.message } }));
    });
  }

  #stop() {
    this.#widget?.then((w) => w?.destroy());
    this.#widget = undefined;
  }
}

if (!customElements.get("wx-checkout")) customElements.define("wx-checkout", WxCheckout);
