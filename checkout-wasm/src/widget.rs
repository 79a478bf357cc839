//! The widget's life in the page: which view shows, when the server is asked, what WeChat is
//! asked to do, and a teardown that leaves nothing behind. Decisions come from `model`; this
//! module owns the browser's timers, listeners and navigations.
//!
//! Flows, by scene:
//! - Native: prepay → QR code → poll until the server says paid.
//! - H5: prepay (ahead of the tap, so the navigation happens inside the payer's gesture) →
//!   tap → `h5_url` + `redirect_url` → WeChat → back on the page: check at once, then poll.
//! - JSAPI: tap → (first time) WeChat OAuth round trip for the openid, back on the page →
//!   wait for `WeixinJSBridgeReady` → prepay → the payment sheet → `:ok` is only a hint to
//!   check the server now; `:cancel` and `:fail` are reported as such.

use std::cell::RefCell;
use std::future::Future;
use std::rc::{Rc, Weak};

use js_sys::{Date, Function, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::spawn_local;
use web_sys::{CustomEvent, CustomEventInit, Document, Element, Event, HtmlElement, Window};

use crate::api::{field, text_field, Api, Failure};
use crate::i18n::Text;
use crate::model::{
    h5_url_fresh, h5_url_with_return, may_send_payer_to, Backoff, Locale, Scene, Session, Verdict,
};
use crate::qr;
use crate::view::{Action, Frame, View};

/// What the merchant passes to `mount` (read in `lib.rs`).
pub struct Options {
    pub api: Api,
    pub locale: Locale,
    pub forced_scene: Option<Scene>,
    pub return_url: Option<String>,
}

/// How many quick checks follow a payer's "I have paid" (or WeChat's "done") before the widget
/// says no payment has arrived yet; polling goes on after that.
const QUICK_CHECKS: u8 = 3;

pub struct Widget {
    root: HtmlElement,
    /// Replaced on every state change.
    body: Element,
    /// The aria-live region: it stays, its text changes, so screen readers announce it.
    live: Element,
    window: Window,
    document: Document,
    user_agent: String,
    options: Options,
    state: RefCell<State>,
    on_click: Closure<dyn FnMut(Event)>,
    on_visibility: Closure<dyn FnMut()>,
    on_bridge_ready: Closure<dyn FnMut()>,
    on_poll: Closure<dyn FnMut()>,
    on_tick: Closure<dyn FnMut()>,
}

#[derive(Default)]
struct State {
    view: Option<View>,
    session: Option<Session>,
    scene: Option<Scene>,
    /// The server's clock minus ours, so the countdown ends when the server's session does.
    skew_ms: f64,
    poll_timer: Option<i32>,
    tick_timer: Option<i32>,
    backoff: Backoff,
    /// Native: the drawn code and the sandbox cashier link, kept to show the code again.
    scan: Option<(String, Option<String>)>,
    /// H5: the last `h5_url` and when it was handed out (our clock, ms).
    h5_url: Option<(String, f64)>,
    bridge_listening: bool,
    bridge_ready: bool,
    pay_on_bridge_ready: bool,
    quick_checks_left: u8,
    /// Whether the Worker was already asked to close the session past its expiry.
    expiry_checked: bool,
    announced: bool,
    /// Paid, expired or unloadable: nothing more to ask the server.
    finished: bool,
    destroyed: bool,
}

/// Closures that call `f` on the widget while it is alive (they hold no strong reference, so
/// dropping the widget drops them).
fn on_event(weak: &Weak<Widget>, f: fn(&Rc<Widget>, Event)) -> Closure<dyn FnMut(Event)> {
    let weak = weak.clone();
    Closure::new(move |event: Event| {
        if let Some(widget) = weak.upgrade() {
            f(&widget, event)
        }
    })
}

fn on0(weak: &Weak<Widget>, f: fn(&Rc<Widget>)) -> Closure<dyn FnMut()> {
    let weak = weak.clone();
    Closure::new(move || {
        if let Some(widget) = weak.upgrade() {
            f(&widget)
        }
    })
}

impl Widget {
    pub fn mount(root: HtmlElement, options: Options) -> Result<Rc<Widget>, JsValue> {
        let window = web_sys::window().ok_or("no window")?;
        let document = window.document().ok_or("no document")?;
        let user_agent = window.navigator().user_agent().unwrap_or_default();
        root.set_inner_html(
            "<div class=\"wx-body\"></div><p class=\"wx-live\" role=\"status\" aria-live=\"polite\"></p>",
        );
        root.class_list().add_1("wx-checkout")?;
        let body = root.first_element_child().ok_or("no body")?;
        let live = root.last_element_child().ok_or("no live region")?;
        let widget = Rc::new_cyclic(|weak| Widget {
            root,
            body,
            live,
            window,
            document,
            user_agent,
            options,
            state: RefCell::default(),
            on_click: on_event(weak, Widget::clicked),
            on_visibility: on0(weak, Widget::visibility_changed),
            on_bridge_ready: on0(weak, Widget::bridge_ready),
            on_poll: on0(weak, Widget::poll),
            on_tick: on0(weak, Widget::tick),
        });
        widget
            .root
            .add_event_listener_with_callback("click", widget.on_click.as_ref().unchecked_ref())?;
        widget.document.add_event_listener_with_callback(
            "visibilitychange",
            widget.on_visibility.as_ref().unchecked_ref(),
        )?;
        widget.start();
        Ok(widget)
    }

    /// Stops every timer, listener and request, and empties the element.
    pub fn destroy(&self) {
        let mut st = self.state.borrow_mut();
        if st.destroyed {
            return;
        }
        st.destroyed = true;
        st.finished = true;
        self.clear_timers(&mut st);
        drop(st);
        self.options.api.abort();
        let _ = self
            .root
            .remove_event_listener_with_callback("click", self.on_click.as_ref().unchecked_ref());
        let _ = self.document.remove_event_listener_with_callback(
            "visibilitychange",
            self.on_visibility.as_ref().unchecked_ref(),
        );
        let _ = self.document.remove_event_listener_with_callback(
            "WeixinJSBridgeReady",
            self.on_bridge_ready.as_ref().unchecked_ref(),
        );
        self.root.set_inner_html("");
        let _ = self.root.remove_attribute("data-state");
    }

    /// Asks the server now whether the session was paid (as "I have paid" does).
    pub fn check_now(self: &Rc<Self>) {
        self.begin_checking();
    }

    /// Reads the session now, as the next poll would: the Worker announced a change.
    pub fn refresh(self: &Rc<Self>) {
        if self.is_finished() {
            return;
        }
        clear_timer(&self.window, &mut self.state.borrow_mut().poll_timer);
        self.poll();
    }

    // ---- flows -----------------------------------------------------------------------------

    /// Loads the session and enters its scene; also what "try again" does.
    fn start(self: &Rc<Self>) {
        {
            let mut st = self.state.borrow_mut();
            st.finished = false;
            st.backoff = Backoff::new();
            self.clear_timers(&mut st);
        }
        self.show(View::Loading);
        self.run(|w| async move {
            match w.options.api.session().await {
                Ok(session) => w.enter(session).await,
                Err(failure) => w.fail_to_load(failure),
            }
        });
    }

    async fn enter(self: &Rc<Self>, session: Session) {
        let scene = session.scene(self.options.forced_scene, &self.user_agent);
        let first = !std::mem::replace(&mut self.state.borrow_mut().announced, true);
        self.state.borrow_mut().scene = Some(scene);
        if first {
            self.emit(
                "ready",
                &[
                    ("session", JsValue::from_str(&session.id)),
                    ("amountFen", JsValue::from_f64(session.amount_fen as f64)),
                    ("locale", JsValue::from_str(self.options.locale.tag())),
                ],
            );
            self.emit("scene", &[("scene", JsValue::from_str(scene.as_str()))]);
        }
        let payer_known = session.payer_known;
        let id = session.id.clone();
        // Due: the Worker is being asked to close it; the answer decides what shows.
        let due = session.verdict() == Verdict::Due;
        if !self.settle(session) || due {
            return;
        }
        self.start_tick();
        // Set just before we navigated away (H5 to WeChat, JSAPI to OAuth): we are back.
        let returning = self.take_return_mark(&id);
        match scene {
            Scene::Native => self.show_code().await,
            Scene::H5 if returning => self.begin_checking(),
            Scene::H5 => {
                self.show(View::Ready {
                    scene,
                    notice: None,
                });
                self.prefetch_h5().await;
            }
            Scene::Jsapi => {
                self.listen_for_bridge();
                if returning && payer_known {
                    self.pay_jsapi();
                } else {
                    self.show(View::Ready {
                        scene,
                        notice: None,
                    });
                }
            }
        }
        self.schedule_poll();
    }

    /// Native: the QR code of a fresh (or reused) `code_url`.
    async fn show_code(self: &Rc<Self>) {
        let answer = match self.options.api.pay(Scene::Native).await {
            Ok(answer) => answer,
            Err(failure) => return self.fail_payment(failure),
        };
        let Some(code_url) = text_field(&answer, "code_url") else {
            return self.fail_payment(Failure::new("bad_answer", "no code_url"));
        };
        let mut label = self.options.locale.text(Text::QrLabel).to_string();
        label.push_str(&self.amount_display());
        let Some(svg) = qr::qr_svg(&code_url, &label) else {
            return self.fail_payment(Failure::new("bad_answer", "code_url too long"));
        };
        self.state.borrow_mut().scan = Some((svg, text_field(&answer, "sandbox_cashier_url")));
        if !self.is_finished() {
            self.rest(None);
        }
    }

    /// H5: asks for the `h5_url` before the tap, so the tap navigates at once.
    async fn prefetch_h5(self: &Rc<Self>) {
        match self.options.api.pay(Scene::H5).await {
            Ok(answer) => match text_field(&answer, "h5_url") {
                Some(url) if may_send_payer_to(&url) => {
                    self.state.borrow_mut().h5_url = Some((url, Date::now()))
                }
                // The payer is only ever sent to WeChat Pay over https (loopback aside).
                Some(_) => self.fail_payment(Failure::new("bad_answer", "h5_url is not https")),
                None => self.fail_payment(Failure::new("bad_answer", "no h5_url")),
            },
            Err(failure) => self.fail_payment(failure),
        }
    }

    fn pay_h5(self: &Rc<Self>) {
        let fresh = self
            .state
            .borrow()
            .h5_url
            .clone()
            .filter(|(_, at)| h5_url_fresh(*at, Date::now()));
        match fresh {
            Some((url, _)) => self.leave_for(&h5_url_with_return(&url, &self.return_url())),
            None => {
                self.show(View::Opening);
                self.run(|w| async move {
                    w.prefetch_h5().await;
                    let url = w.state.borrow().h5_url.clone();
                    if let Some((url, _)) = url {
                        w.leave_for(&h5_url_with_return(&url, &w.return_url()));
                    }
                });
            }
        }
    }

    fn pay_jsapi(self: &Rc<Self>) {
        let payer_known = self
            .state
            .borrow()
            .session
            .as_ref()
            .is_some_and(|s| s.payer_known);
        if !payer_known {
            // The Worker learns the openid through WeChat OAuth and sends the payer back here.
            self.show(View::Opening);
            return self.run(|w| async move {
                match w.options.api.oauth(&w.return_url()).await {
                    Ok(answer) => match text_field(&answer, "url") {
                        Some(url) if may_send_payer_to(&url) => w.leave_for(&url),
                        _ => w.fail_payment(Failure::new("bad_answer", "no OAuth url")),
                    },
                    Err(failure) => w.fail_payment(failure),
                }
            });
        }
        if !self.state.borrow().bridge_ready {
            if !self.user_agent.contains("MicroMessenger") {
                return self.fail_payment(Failure::new(
                    "not_in_wechat",
                    self.options.locale.text(Text::OpenInWeChat),
                ));
            }
            self.state.borrow_mut().pay_on_bridge_ready = true;
            return self.show(View::Opening);
        }
        self.show(View::Opening);
        self.run(|w| async move {
            let params = match w.options.api.pay(Scene::Jsapi).await {
                Ok(answer) => field(&answer, "jsapi"),
                Err(failure) => return w.fail_payment(failure),
            };
            let weak = Rc::downgrade(&w);
            let callback = Closure::once_into_js(move |result: JsValue| {
                if let Some(w) = weak.upgrade() {
                    w.bridge_answered(text_field(&result, "err_msg").unwrap_or_default(), &result);
                }
            });
            let invoke = Reflect::get(&w.bridge(), &JsValue::from_str("invoke"))
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok());
            let called = invoke.map(|invoke| {
                invoke.call3(
                    &w.bridge(),
                    &JsValue::from_str("getBrandWCPayRequest"),
                    &params,
                    &callback,
                )
            });
            if !matches!(called, Some(Ok(_))) {
                w.fail_payment(Failure::new(
                    "bridge_unavailable",
                    "WeixinJSBridge.invoke failed",
                ));
            }
        });
    }

    /// WeChat's sheet closed. `:ok` proves nothing (the page could forge it): ask the server.
    fn bridge_answered(self: &Rc<Self>, err_msg: String, result: &JsValue) {
        if self.is_finished() {
            return;
        }
        if err_msg.ends_with(":ok") {
            self.begin_checking();
        } else if err_msg.ends_with(":cancel") {
            self.emit("cancel", &[("scene", JsValue::from_str("jsapi"))]);
            self.show(View::Ready {
                scene: Scene::Jsapi,
                notice: Some(Text::Cancelled),
            });
        } else {
            let message = text_field(result, "err_desc")
                .filter(|d| !d.is_empty())
                .unwrap_or(err_msg);
            self.fail_payment(Failure {
                code: "payment_failed".into(),
                message,
            });
        }
    }

    fn clicked(self: &Rc<Self>, event: Event) {
        let action = event
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|el| el.closest("[data-action]").ok().flatten())
            .and_then(|el| el.get_attribute("data-action"))
            .and_then(|name| Action::parse(&name));
        let scene = self.state.borrow().scene;
        match (action, scene) {
            (Some(Action::Pay), Some(Scene::H5)) => self.pay_h5(),
            (Some(Action::Pay), Some(Scene::Jsapi)) => self.pay_jsapi(),
            (Some(Action::Check), _) => self.begin_checking(),
            (Some(Action::Cancel), _) => {
                self.emit("cancel", &[]);
                self.show(View::Cancelled);
            }
            (Some(Action::Resume | Action::Retry), _) => self.start(),
            _ => {}
        }
    }

    // ---- the server's word -----------------------------------------------------------------

    /// A few quick checks, the first one asking WeChat Pay through the Worker.
    fn begin_checking(self: &Rc<Self>) {
        if self.is_finished() {
            return;
        }
        {
            let mut st = self.state.borrow_mut();
            st.quick_checks_left = QUICK_CHECKS;
            st.backoff = Backoff::new();
            clear_timer(&self.window, &mut st.poll_timer);
        }
        self.show(View::Checking);
        self.run(|w| async move {
            let answer = w.options.api.check().await;
            w.answered(answer);
        });
    }

    fn poll(self: &Rc<Self>) {
        self.state.borrow_mut().poll_timer = None;
        self.run(|w| async move {
            let answer = w.options.api.session().await;
            w.answered(answer);
        });
    }

    fn answered(self: &Rc<Self>, answer: Result<Session, Failure>) {
        if self.is_finished() {
            return;
        }
        // A failed poll is retried: a phone's network comes and goes.
        if let Ok(session) = answer {
            if !self.settle(session) {
                return;
            }
            let mut st = self.state.borrow_mut();
            if matches!(st.view, Some(View::Checking)) {
                st.quick_checks_left = st.quick_checks_left.saturating_sub(1);
                if st.quick_checks_left == 0 {
                    drop(st);
                    self.rest(Some(Text::NotYetPaid));
                }
            }
        }
        self.schedule_poll();
    }

    /// Keeps the session and acts on a final status; false when the session is finished.
    fn settle(self: &Rc<Self>, session: Session) -> bool {
        let verdict = session.verdict();
        {
            let mut st = self.state.borrow_mut();
            st.skew_ms = session.server_time as f64 * 1000.0 - Date::now();
            st.session = Some(session);
        }
        let (view, event) = match verdict {
            Verdict::Open => return true,
            // Past its expiry but not closed yet: the Worker closes it when asked to check.
            // If it cannot (WeChat Pay unreachable), the session is still past its expiry.
            Verdict::Due
                if !std::mem::replace(&mut self.state.borrow_mut().expiry_checked, true) =>
            {
                self.begin_checking();
                return true;
            }
            Verdict::Paid => (View::Paid, "paid"),
            Verdict::Expired | Verdict::Due => (View::Expired, "expired"),
        };
        self.finish();
        self.show(view);
        let (id, fen) = self
            .state
            .borrow()
            .session
            .as_ref()
            .map(|s| (s.id.clone(), s.amount_fen))
            .unwrap_or_default();
        self.emit(
            event,
            &[
                ("session", JsValue::from_str(&id)),
                ("amountFen", JsValue::from_f64(fen as f64)),
            ],
        );
        false
    }

    fn fail_payment(self: &Rc<Self>, failure: Failure) {
        if self.is_finished() {
            return;
        }
        self.emit_failure("failed", &failure);
        let message = match Text::for_refusal(&failure.code) {
            Some(text) => self.options.locale.text(text).to_string(),
            None => failure.message,
        };
        self.show(View::Failed { message });
    }

    fn fail_to_load(self: &Rc<Self>, failure: Failure) {
        if self.is_finished() {
            return;
        }
        self.finish();
        self.emit_failure("error", &failure);
        self.show(View::Error {
            message: failure.message,
        });
    }

    // ---- timers, listeners, navigation -----------------------------------------------------

    fn schedule_poll(self: &Rc<Self>) {
        let mut st = self.state.borrow_mut();
        // Paused while the page is hidden; `visibility_changed` checks at once on return.
        if st.finished || st.poll_timer.is_some() || self.document.hidden() {
            return;
        }
        let delay = st.backoff.next_delay();
        st.poll_timer = self
            .window
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                self.on_poll.as_ref().unchecked_ref(),
                delay,
            )
            .ok();
    }

    fn visibility_changed(self: &Rc<Self>) {
        if self.document.hidden() {
            let mut st = self.state.borrow_mut();
            clear_timer(&self.window, &mut st.poll_timer);
        } else if !self.is_finished() {
            self.state.borrow_mut().backoff = Backoff::new();
            let poll_pending = self.state.borrow().poll_timer.is_some();
            if !poll_pending {
                self.poll();
            }
        }
    }

    fn start_tick(self: &Rc<Self>) {
        let mut st = self.state.borrow_mut();
        if st.tick_timer.is_none() {
            st.tick_timer = self
                .window
                .set_interval_with_callback_and_timeout_and_arguments_0(
                    self.on_tick.as_ref().unchecked_ref(),
                    1000,
                )
                .ok();
        }
    }

    /// Every second: the countdown; at zero, the server decides (it may have been paid).
    fn tick(self: &Rc<Self>) {
        let remaining = self.remaining_secs();
        if let Ok(Some(timer)) = self.body.query_selector(".wx-timer") {
            timer.set_text_content(Some(&crate::model::countdown(remaining.unwrap_or(0))));
        }
        if remaining.is_some_and(|s| s <= 0) {
            let mut st = self.state.borrow_mut();
            clear_interval(&self.window, &mut st.tick_timer);
            drop(st);
            self.begin_checking();
        }
    }

    fn listen_for_bridge(&self) {
        let mut st = self.state.borrow_mut();
        if st.bridge_listening {
            return;
        }
        st.bridge_listening = true;
        st.bridge_ready = !self.bridge().is_undefined();
        if !st.bridge_ready {
            let _ = self.document.add_event_listener_with_callback(
                "WeixinJSBridgeReady",
                self.on_bridge_ready.as_ref().unchecked_ref(),
            );
        }
    }

    fn bridge_ready(self: &Rc<Self>) {
        let pay = {
            let mut st = self.state.borrow_mut();
            st.bridge_ready = true;
            std::mem::take(&mut st.pay_on_bridge_ready)
        };
        let _ = self.document.remove_event_listener_with_callback(
            "WeixinJSBridgeReady",
            self.on_bridge_ready.as_ref().unchecked_ref(),
        );
        if pay {
            self.pay_jsapi();
        }
    }

    fn bridge(&self) -> JsValue {
        Reflect::get(&self.window, &JsValue::from_str("WeixinJSBridge"))
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// Leaves the page for WeChat (H5) or WeChat OAuth (JSAPI), marking that we will be back.
    fn leave_for(&self, url: &str) {
        if let Some(id) = self.session_id() {
            if let Ok(Some(storage)) = self.window.session_storage() {
                let _ = storage.set_item(&return_mark_key(&id), "1");
            }
        }
        self.show(View::Opening);
        let _ = self.window.location().assign(url);
    }

    fn take_return_mark(&self, id: &str) -> bool {
        let Ok(Some(storage)) = self.window.session_storage() else {
            return false;
        };
        let key = return_mark_key(id);
        let marked = storage.get_item(&key).ok().flatten().is_some();
        let _ = storage.remove_item(&key);
        marked
    }

    fn return_url(&self) -> String {
        let session_url = self
            .state
            .borrow()
            .session
            .as_ref()
            .and_then(|s| s.return_url.clone());
        self.options
            .return_url
            .clone()
            .or(session_url)
            .or_else(|| self.window.location().href().ok())
            .unwrap_or_default()
    }

    // ---- rendering and events --------------------------------------------------------------

    fn show(&self, view: View) {
        let focus_inside = self
            .document
            .active_element()
            .is_some_and(|el| self.root.contains(Some(&el)));
        let html;
        let announcement;
        {
            let st = self.state.borrow();
            let frame = Frame {
                locale: self.options.locale,
                amount_fen: st.session.as_ref().map(|s| s.amount_fen),
                description: st.session.as_ref().map_or("", |s| s.description.as_str()),
                remaining_secs: self.remaining_secs_of(&st),
            };
            html = view.html(&frame);
            announcement = view.announcement(&frame);
        }
        self.body.set_inner_html(&html);
        let _ = self.root.set_attribute("data-state", view.state());
        self.live.set_text_content(Some(&announcement));
        self.state.borrow_mut().view = Some(view);
        // The element that had focus is gone: give it to the new state's message.
        if focus_inside {
            if let Ok(Some(target)) = self.body.query_selector("[data-focus]") {
                if let Ok(target) = target.dyn_into::<HtmlElement>() {
                    let _ = target.focus();
                }
            }
        }
    }

    /// `wx-<name>` on the root, bubbling, with `detail` built from `fields`.
    fn emit(&self, name: &str, fields: &[(&str, JsValue)]) {
        let detail = Object::new();
        for (key, value) in fields {
            let _ = Reflect::set(&detail, &JsValue::from_str(key), value);
        }
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_detail(&detail);
        let mut type_ = String::from("wx-");
        type_.push_str(name);
        if let Ok(event) = CustomEvent::new_with_event_init_dict(&type_, &init) {
            let _ = self.root.dispatch_event(&event);
        }
    }

    fn emit_failure(&self, name: &str, failure: &Failure) {
        self.emit(
            name,
            &[
                ("code", JsValue::from_str(&failure.code)),
                ("message", JsValue::from_str(&failure.message)),
            ],
        );
    }

    // ---- small reads -----------------------------------------------------------------------

    /// The view the scene rests in while the payer pays, with an optional notice.
    /// `None` when there is nothing to rest on (no code drawn yet): start over then.
    fn resting_view(&self, notice: Option<Text>) -> Option<View> {
        let st = self.state.borrow();
        match (st.scene?, &st.scan) {
            (Scene::Native, Some((qr_svg, sandbox_link))) => Some(View::Scan {
                qr_svg: qr_svg.clone(),
                sandbox_link: sandbox_link.clone(),
                notice,
            }),
            (Scene::Native, None) => None,
            (scene, _) => Some(View::Ready { scene, notice }),
        }
    }

    fn rest(self: &Rc<Self>, notice: Option<Text>) {
        match self.resting_view(notice) {
            Some(view) => self.show(view),
            None => self.start(),
        }
    }

    fn remaining_secs(&self) -> Option<i64> {
        self.remaining_secs_of(&self.state.borrow())
    }

    fn remaining_secs_of(&self, st: &State) -> Option<i64> {
        let session = st.session.as_ref()?;
        let server_now_secs = ((Date::now() + st.skew_ms) / 1000.0).floor() as i64;
        Some(session.expires_at - server_now_secs)
    }

    fn amount_display(&self) -> String {
        let fen = self
            .state
            .borrow()
            .session
            .as_ref()
            .map_or(0, |s| s.amount_fen);
        pay_core::Fen::new(fen).display_cny()
    }

    fn session_id(&self) -> Option<String> {
        self.state.borrow().session.as_ref().map(|s| s.id.clone())
    }

    fn is_finished(&self) -> bool {
        self.state.borrow().finished
    }

    fn finish(&self) {
        let mut st = self.state.borrow_mut();
        st.finished = true;
        self.clear_timers(&mut st);
    }

    fn clear_timers(&self, st: &mut State) {
        clear_timer(&self.window, &mut st.poll_timer);
        clear_interval(&self.window, &mut st.tick_timer);
    }

    /// Runs `flow` unless the widget is torn down; a flow that resumes after teardown sees
    /// `finished` and stops.
    fn run<F: Future<Output = ()> + 'static>(self: &Rc<Self>, flow: impl FnOnce(Rc<Self>) -> F) {
        if !self.state.borrow().destroyed {
            spawn_local(flow(self.clone()));
        }
    }
}

fn return_mark_key(session_id: &str) -> String {
    let mut key = String::from("wx-checkout:");
    key.push_str(session_id);
    key
}

fn clear_timer(window: &Window, timer: &mut Option<i32>) {
    if let Some(id) = timer.take() {
        window.clear_timeout_with_handle(id);
    }
}

fn clear_interval(window: &Window, timer: &mut Option<i32>) {
    if let Some(id) = timer.take() {
        window.clear_interval_with_handle(id);
    }
}
