//! `IncomingMessage`: a received head and its body stream.

use crate::body::{Body, BodyError};
use crate::runtime::PeerAddr;
use bytes::Bytes;
use pier_proto::{RawHeaders, RequestHead, ResponseHead};
use std::borrow::Cow;
use std::ops::Deref;

/// A received message: a request on a server (`IncomingMessage<RequestHead>`,
/// the default) or a response on a client. The head's accessors
/// (`method()`, `target()`, `status()`, …) are available directly.
#[derive(Debug)]
pub struct IncomingMessage<H = RequestHead> {
    /// Boxed as the protocol core hands it over: moving a message (into a
    /// handler's future, say) moves a pointer, not the head. `None` only
    /// once taken apart.
    head: Option<Box<H>>,
    body: Body,
    peer: Option<PeerAddr>,
    /// Where the head's box goes when the message is dropped: a server
    /// parses the next request into it instead of allocating one.
    recycle: Option<fn(Box<H>)>,
}

impl<H> IncomingMessage<H> {
    pub(crate) fn new(head: Box<H>, body: Body, peer: Option<PeerAddr>) -> Self {
        IncomingMessage {
            head: Some(head),
            body,
            peer,
            recycle: None,
        }
    }

    /// A message whose head's box is handed to `recycle` when it is
    /// dropped (not when it is taken apart).
    pub(crate) fn recycled(
        head: Box<H>,
        body: Body,
        peer: Option<PeerAddr>,
        recycle: fn(Box<H>),
    ) -> Self {
        let mut message = Self::new(head, body, peer);
        message.recycle = Some(recycle);
        message
    }

    /// The head.
    pub fn head(&self) -> &H {
        self.head.as_deref().expect("present until taken apart")
    }

    /// The body stream.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    /// Splits into head and body.
    pub fn into_parts(mut self) -> (H, Body) {
        let head = self.head.take().expect("present until taken apart");
        (*head, std::mem::replace(&mut self.body, Body::empty()))
    }

    /// The next body chunk, `None` at the end.
    pub async fn data(&mut self) -> Option<Result<Bytes, BodyError>> {
        self.body.data().await
    }

    /// The whole body.
    pub async fn bytes(&mut self) -> Result<Bytes, BodyError> {
        self.body.bytes().await
    }

    /// The trailers (Node's `rawTrailers`), once the body has ended.
    pub fn raw_trailers(&self) -> Option<RawHeaders> {
        self.body.trailers()
    }

    /// Whether the whole message arrived (Node's `complete`).
    pub fn complete(&self) -> bool {
        self.body.is_complete()
    }

    /// Whether the message was cut short (Node's `aborted`).
    pub fn aborted(&self) -> bool {
        self.body.error() == Some(BodyError::Aborted)
    }

    /// The peer's address (Node's `socket.remoteAddress`).
    pub fn peer_addr(&self) -> Option<&PeerAddr> {
        self.peer.as_ref()
    }
}

/// Field access shared by requests and responses.
pub trait HasHeaders {
    /// Raw fields.
    fn raw(&self) -> &RawHeaders;
}

impl HasHeaders for RequestHead {
    fn raw(&self) -> &RawHeaders {
        self.headers()
    }
}

impl HasHeaders for ResponseHead {
    fn raw(&self) -> &RawHeaders {
        self.headers()
    }
}

impl<H: HasHeaders> IncomingMessage<H> {
    /// Fields in arrival order with their original case (Node's `rawHeaders`).
    pub fn raw_headers(&self) -> &RawHeaders {
        self.head().raw()
    }

    /// One field by Node's joining rules (Node's `headers[name]`).
    pub fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.head().raw().get(name)
    }
}

impl IncomingMessage<RequestHead> {
    /// The request target (Node's `req.url`), byte for byte.
    pub fn url(&self) -> &[u8] {
        self.head().target()
    }

    /// `"1.1"`, `"1.0"`, … (Node's `httpVersion`).
    pub fn http_version(&self) -> String {
        self.head().version().to_string()
    }
}

impl<H> Deref for IncomingMessage<H> {
    type Target = H;
    fn deref(&self) -> &H {
        self.head()
    }
}

impl<H> Drop for IncomingMessage<H> {
    fn drop(&mut self) {
        if let (Some(recycle), Some(head)) = (self.recycle, self.head.take()) {
            recycle(head);
        }
    }
}
