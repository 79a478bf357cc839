// Compiled (not run) by the test command: the declarations in web/checkout.d.ts describe the
// embed as the README shows it, and refuse what the widget refuses.
import { mount, type CheckoutHandle, type MountOptions } from "../../web/checkout.js";

const options: MountOptions = {
  session: "cs_123",
  clientSecret: "secret",
  scene: "auto",
  locale: "zh-CN",
  onReady: ({ session, amountFen, locale }) => console.log(session, amountFen.toFixed(0), locale),
  onScene: ({ scene }) => console.log(scene === "jsapi"),
  onPaid: ({ amountFen }) => console.log(amountFen + 1),
  onFailed: ({ code, message }) => console.log(code, message),
};

export async function embed(element: HTMLElement): Promise<CheckoutHandle> {
  const handle = await mount(element, options);
  handle.check();
  return handle;
}

const el = document.querySelector("wx-checkout");
el?.addEventListener("wx-paid", (e) => console.log(e.detail.session, e.detail.amountFen));
el?.addEventListener("wx-error", (e) => console.log(e.detail.code));
el?.check();

// @ts-expect-error: the scene must be one WeChat Pay knows.
export const wrongScene: MountOptions = { session: "cs", clientSecret: "s", scene: "app" };
// @ts-expect-error: the client secret is required.
export const noSecret: MountOptions = { session: "cs" };
