//! The payer's live connection: a widget holds a WebSocket to its session's object
//! (`session:{id}`, hibernatable: an idle socket costs the object nothing), and every change of
//! the session's status is sent down it the moment the books hold it, so the widget shows
//! "Paid" without waiting for its next poll. Polling stays the fallback (a socket that cannot
//! open, or drops). The Worker's side ([`Books::connect`], [`Books::changed`]) and the object's
//! ([`accept`], [`tell`]).

use serde::{Deserialize, Serialize};
use worker::{Method, Request, RequestInit, Response, State, WebSocketPair};

use super::{session_object, Books, ORIGIN};
use crate::error::ApiResult;

/// A socket's upgrade request, forwarded by a Worker (GET).
pub const CONNECT: &str = "/live/connect";
/// A change of a session, told by a Worker (POST).
pub const CHANGED: &str = "/live/changed";
/// The WebSocket subprotocol the widget asks for and the object agrees to; the widget sends
/// its client secret as a second one (a browser cannot set `Authorization` on a WebSocket).
pub const PROTOCOL: &str = "wx-checkout.v1";

/// A change, as a Worker tells it to the object and the object sends it to the sockets.
#[derive(Serialize, Deserialize)]
pub struct Changed {
    pub session_id: String,
    pub status: String,
}

/// What the object sends on a socket: `connected` once, as it opens (the widget then reads the
/// session, so that a change made while it was away is not missed), and `changed` with the
/// session's new status.
#[derive(Serialize)]
struct Message<'a> {
    session_id: &'a str,
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
}

impl Message<'_> {
    fn text(&self) -> worker::Result<String> {
        serde_json::to_string(self).map_err(|e| worker::Error::RustError(e.to_string()))
    }
}

/// How many sockets were told.
#[derive(Serialize, Deserialize)]
pub struct Told {
    pub sockets: usize,
}

impl Books {
    /// Hands an authenticated upgrade request to the session's object; its answer (101 and
    /// the socket) is the Worker's.
    pub async fn connect(&self, session_id: &str, req: &Request) -> ApiResult<Response> {
        let mut init = RequestInit::new();
        init.with_method(Method::Get)
            .with_headers(req.headers().clone());
        let url = format!("{ORIGIN}{CONNECT}?session={session_id}");
        let request = Request::new_with_init(&url, &init)?;
        worker_kit::usage::object_call();
        Ok(self
            .stub(&session_object(session_id))?
            .fetch_with_request(request)
            .await?)
    }

    /// Tells the session's object that its status is now `status`. Never fails the change it
    /// follows (that is already in the books): a socket that misses it, polls.
    pub async fn changed(&self, session_id: &str, status: &str) {
        let changed = Changed {
            session_id: session_id.to_string(),
            status: status.to_string(),
        };
        self.tell(&session_object(session_id), CHANGED, &changed)
            .await;
    }
}

/// In the object: a new socket for `session_id`, accepted for hibernation and tagged with the
/// session, and the 101 answer that hands its other end to the widget.
pub fn accept(state: &State, session_id: &str) -> worker::Result<Response> {
    let pair = WebSocketPair::new()?;
    state.accept_websocket_with_tags(&pair.server, &[session_id]);
    let connected = Message {
        session_id,
        event: "connected",
        status: None,
    };
    pair.server.send_with_str(connected.text()?)?;
    let mut response = Response::from_websocket(pair.client)?;
    response
        .headers_mut()
        .set("Sec-WebSocket-Protocol", PROTOCOL)?;
    Ok(response)
}

/// In the object: sends `changed` to every socket of its session; how many there were.
pub fn tell(state: &State, changed: &Changed) -> worker::Result<Told> {
    let message = Message {
        session_id: &changed.session_id,
        event: "changed",
        status: Some(&changed.status),
    }
    .text()?;
    let sockets = state.get_websockets_with_tag(&changed.session_id);
    for socket in &sockets {
        // A socket closing at this moment fails to send: its widget polls.
        let _ = socket.send_with_str(&message);
    }
    Ok(Told {
        sockets: sockets.len(),
    })
}
