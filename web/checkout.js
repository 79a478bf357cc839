// The embed loader: import { mount } from "https://<your worker>/checkout.js".
// It loads the widget's WebAssembly once and talks only to the Worker it was loaded from
// (or to options.apiBase).
import init, { mount as mountWasm } from "./pkg/checkout_wasm.js";

const workerOrigin = new URL(import.meta.url).origin;
let ready;

/**
 * Renders the checkout session into `element`.
 * @param {HTMLElement} element
 * @param {{session: string, clientSecret: string, apiBase?: string}} options
 */
export async function mount(element, options) {
  ready ??= init({ module_or_path: new URL("./pkg/checkout_wasm_bg.wasm", import.meta.url) });
  await ready;
  mountWasm(element, { apiBase: workerOrigin, ...options });
}
