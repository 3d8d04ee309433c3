//! The incoming body as a stream with backpressure: the connection task
//! pushes chunks, the reader pulls them; the connection stops reading the
//! socket while too much is buffered.

use bytes::{Bytes, BytesMut};
use pier_proto::{RawHeaders, Trailers};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Why a body stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The peer closed or reset the connection mid-body (Node's `aborted`).
    Aborted,
    /// The peer sent a malformed body (the parse error went to `clientError`).
    Malformed(pier_proto::ErrorCode),
    /// The body was longer than the caller allowed.
    TooLarge,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Aborted => f.write_str("aborted"),
            BodyError::Malformed(code) => write!(f, "malformed body ({code})"),
            BodyError::TooLarge => f.write_str("body too large"),
        }
    }
}

impl std::error::Error for BodyError {}

#[derive(Default)]
struct State {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    trailers: Option<Trailers>,
    error: Option<BodyError>,
    reader: Option<Waker>,
    driver: Option<Waker>,
    reader_gone: bool,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding this lock leaves plain data behind: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates the two ends of a body.
pub(crate) fn channel() -> (BodySender, Body) {
    let shared = Arc::new(Mutex::new(State::default()));
    (
        BodySender {
            shared: shared.clone(),
        },
        Body {
            source: Source::Streaming(shared),
        },
    )
}

/// The connection's end.
pub(crate) struct BodySender {
    shared: Arc<Mutex<State>>,
}

impl BodySender {
    /// Queues a chunk; dropped at once if nobody will read it.
    pub(crate) fn push(&self, data: Bytes) {
        let mut s = lock(&self.shared);
        if s.reader_gone {
            return;
        }
        s.buffered += data.len();
        s.chunks.push_back(data);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    pub(crate) fn end(&self, trailers: Trailers) {
        let mut s = lock(&self.shared);
        s.trailers = Some(trailers);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    pub(crate) fn fail(&self, error: BodyError) {
        let mut s = lock(&self.shared);
        if s.trailers.is_none() && s.error.is_none() {
            s.error = Some(error);
        }
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    /// Bytes waiting for the reader. Registers `cx` to be woken when the
    /// reader takes some (or goes away).
    pub(crate) fn buffered(&self, cx: &Context<'_>) -> usize {
        let mut s = lock(&self.shared);
        if s.buffered > 0 && !s.reader_gone {
            s.driver = Some(cx.waker().clone());
        }
        if s.reader_gone {
            0
        } else {
            s.buffered
        }
    }

    pub(crate) fn reader_gone(&self) -> bool {
        lock(&self.shared).reader_gone
    }
}

/// A message body: chunks in order, then the trailers. Reading it is what
/// lets the connection read more from the peer.
pub struct Body {
    source: Source,
}

enum Source {
    /// No body at all (most requests): nothing to hold, nothing to drop.
    Empty,
    /// Everything arrived before the body was handed out (a small message
    /// in one read, or none at all): no channel, no locks.
    Complete {
        chunks: VecDeque<Bytes>,
        trailers: Trailers,
    },
    /// Still arriving: the connection task pushes, the reader pulls.
    Streaming(Arc<Mutex<State>>),
}

impl Body {
    /// A body with nothing in it, already complete.
    pub fn empty() -> Body {
        Body {
            source: Source::Empty,
        }
    }

    /// A body that arrived whole.
    pub(crate) fn complete(chunks: VecDeque<Bytes>, trailers: Trailers) -> Body {
        Body {
            source: Source::Complete { chunks, trailers },
        }
    }

    fn shared(&self) -> Option<&Arc<Mutex<State>>> {
        match &self.source {
            Source::Streaming(shared) => Some(shared),
            Source::Empty | Source::Complete { .. } => None,
        }
    }

    /// Polls for the next chunk; `None` at the end.
    pub fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        let shared = match &mut self.source {
            Source::Empty => return Poll::Ready(None),
            Source::Complete { chunks, .. } => return Poll::Ready(chunks.pop_front().map(Ok)),
            Source::Streaming(shared) => shared,
        };
        let mut s = lock(shared);
        if let Some(chunk) = s.chunks.pop_front() {
            s.buffered -= chunk.len();
            if let Some(w) = s.driver.take() {
                w.wake();
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
        if let Some(e) = s.error {
            return Poll::Ready(Some(Err(e)));
        }
        if s.trailers.is_some() {
            return Poll::Ready(None);
        }
        s.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The next chunk, `None` at the end.
    pub async fn data(&mut self) -> Option<Result<Bytes, BodyError>> {
        poll_fn(|cx| self.poll_data(cx)).await
    }

    /// Reads the whole body.
    pub async fn bytes(&mut self) -> Result<Bytes, BodyError> {
        self.bytes_limited(usize::MAX).await
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub async fn bytes_limited(&mut self, limit: usize) -> Result<Bytes, BodyError> {
        let mut first: Option<Bytes> = None;
        let mut rest = BytesMut::new();
        while let Some(chunk) = self.data().await {
            let chunk = chunk?;
            let total = first.as_ref().map_or(0, Bytes::len) + rest.len() + chunk.len();
            if total > limit {
                return Err(BodyError::TooLarge);
            }
            match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if rest.is_empty() {
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&chunk);
                }
            }
        }
        // One chunk is handed over without a copy.
        Ok(if rest.is_empty() {
            first.unwrap_or_default()
        } else {
            rest.freeze()
        })
    }

    /// The trailers, once the body has ended (empty when there were none).
    pub fn trailers(&self) -> Option<RawHeaders> {
        match &self.source {
            Source::Streaming(s) => lock(s).trailers.as_ref().map(|t| (**t).clone()),
            Source::Empty => Some(RawHeaders::default()),
            Source::Complete { trailers, .. } => Some((**trailers).clone()),
        }
    }

    /// Whether the whole body arrived (Node's `message.complete`).
    pub fn is_complete(&self) -> bool {
        self.shared().is_none_or(|s| lock(s).trailers.is_some())
    }

    /// Whether the body was cut short.
    pub fn error(&self) -> Option<BodyError> {
        self.shared().and_then(|s| lock(s).error)
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Source::Streaming(shared) = &self.source {
            let mut s = lock(shared);
            s.reader_gone = true;
            s.chunks.clear();
            s.buffered = 0;
            if let Some(w) = s.driver.take() {
                w.wake();
            }
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").finish_non_exhaustive()
    }
}
