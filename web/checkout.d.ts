// Types for https://<your worker>/checkout.js, the WeChat Pay checkout widget.

/** How the payer pays: a QR code (desktop), WeChat from a mobile browser, or inside WeChat. */
export type Scene = "native" | "h5" | "jsapi";

export interface MountOptions {
  /** The checkout session's id (`cs_…`), from your server. */
  session: string;
  /** The session's client secret, from your server; it can pay this session and nothing else. */
  clientSecret: string;
  /** Force a scene; default `"auto"`: JSAPI inside WeChat, H5 on other phones, Native on desktop. */
  scene?: Scene | "auto";
  /** `"zh-CN"` or `"en"`; default from `navigator.language`. */
  locale?: "zh-CN" | "en" | string;
  /** Where WeChat sends the payer back (H5, OAuth); default the current page, which should mount the widget again. */
  returnUrl?: string;
  /** The Worker's origin; default the origin checkout.js was loaded from. */
  apiBase?: string;
  /** Learn the session's changes over a WebSocket the moment they happen (default `true`); `false` polls only. */
  live?: boolean;
  onReady?: (detail: ReadyDetail) => void;
  onScene?: (detail: SceneDetail) => void;
  onPaid?: (detail: OutcomeDetail) => void;
  onExpired?: (detail: OutcomeDetail) => void;
  onCancel?: (detail: CancelDetail) => void;
  onFailed?: (detail: FailureDetail) => void;
  onError?: (detail: FailureDetail) => void;
}

export interface ReadyDetail { session: string; amountFen: number; locale: "zh-CN" | "en" }
export interface SceneDetail { scene: Scene }
/** `paid`: the Worker says the session is paid. `expired`: closed or past its expiry. */
export interface OutcomeDetail { session: string; amountFen: number }
export interface CancelDetail { scene?: Scene }
/** `failed`: a payment attempt failed (retry offered). `error`: the session could not be loaded. */
export interface FailureDetail { code: string; message: string }

export interface CheckoutHandle {
  /** Ask the server now whether the session was paid (what "I have paid" does). */
  check(): void;
  /** Stop every timer, listener and request, and empty the element. */
  destroy(): void;
}

/** Renders the checkout session into `element`. Rejects on missing or invalid options. */
export function mount(element: HTMLElement, options: MountOptions): Promise<CheckoutHandle>;

/** The states the widget shows, as its `data-state` attribute. */
export type CheckoutState =
  | "loading" | "scan" | "ready" | "opening" | "checking"
  | "paid" | "expired" | "cancelled" | "failed" | "error";

export interface WxCheckoutEventMap {
  "wx-ready": CustomEvent<ReadyDetail>;
  "wx-scene": CustomEvent<SceneDetail>;
  "wx-paid": CustomEvent<OutcomeDetail>;
  "wx-expired": CustomEvent<OutcomeDetail>;
  "wx-cancel": CustomEvent<CancelDetail>;
  "wx-failed": CustomEvent<FailureDetail>;
  "wx-error": CustomEvent<FailureDetail>;
}

/** `<wx-checkout session client-secret [scene] [locale] [return-url] [api-base]>` */
export interface WxCheckoutElement extends HTMLElement {
  check(): void;
  addEventListener<K extends keyof WxCheckoutEventMap>(
    type: K, listener: (this: WxCheckoutElement, ev: WxCheckoutEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    "wx-checkout": WxCheckoutElement;
  }
  interface HTMLElementEventMap extends WxCheckoutEventMap {}
}
