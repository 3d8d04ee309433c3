//! The task that drives one server connection: reads into the protocol
//! connection, dispatches requests to handlers with Node's defaults, polls
//! the handlers in place (no task per request), writes responses in order,
//! and keeps the one timer the protocol asks for.

use super::handler::{keep_spare, HandlerTask, RequestFn};
use super::shared::{lock, Driving, Opened, Shared, SharedRef};
use super::spare_head::{give_spare_head, recycle_head};
use super::{ClientError, Inner, ServerResponse, Upgraded};
use crate::body::{self, BodyError, BodySender};
use crate::incoming::IncomingMessage;
use crate::lazy_timer::{Fired, LazyTimer};
use crate::queue::InlineQueue;
use crate::runtime::{PeerAddr, Runtime, Transport};
use crate::write::{with_read_scratch, READ_CHUNK};
use bytes::Bytes;
use pier_proto::{
    BodyKind, ErrorCode, Event, Expectation, ParseError, RequestHead, ServerConn, Version,
};
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

/// How long, and how many bytes, a closing connection goes on reading
/// (and dropping) what the peer still sends. Closing a socket with unread
/// input makes the kernel send a reset, which can destroy the last
/// response before the peer has read it (an early 413 to an uploader).
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: u64 = 16 * 1024 * 1024;

/// What one turn of the driver's loop knows about the shared state.
struct Snapshot {
    destroy: bool,
    /// The connection ends once the output queued now is written, whatever
    /// else happens: it closes after its last response, or idles while
    /// the server closes.
    closing: bool,
    /// No handler runs, no response is owed and no input waits to be
    /// parsed: after the peer's EOF, nothing more can be queued.
    drained: bool,
    owed: usize,
    /// Idle between requests, with no handler running.
    idle: bool,
    wants_read: bool,
    deadline: Option<Instant>,
}

enum HandOffKind {
    Connect,
    Upgrade,
}

pub(crate) struct Driver<R: Runtime, T: Transport> {
    io: Option<T>,
    rt: R,
    shared: SharedRef,
    server: Arc<Inner>,
    peer: Option<PeerAddr>,
    /// Handlers still running (inline for one: most finish in their first
    /// poll, and a connection serving one request allocates nothing here).
    tasks: InlineQueue<HandlerTask>,
    body: Option<BodySender>,
    /// Body bytes nobody reads, counted to bound the draining.
    unread: u64,
    /// Too much body went unread: close once the owed responses are out.
    unread_overflow: bool,
    /// Closing while the peer may still send: the FIN went out, and input
    /// is read and dropped until EOF, this instant, or this many bytes.
    linger: Option<(Instant, u64)>,
    out: VecDeque<Bytes>,
    /// The last bytes were written as such: the transport may hold some
    /// back for the FIN, so the close must shut down, not merely drop.
    held_for_fin: bool,
    timer: LazyTimer<R>,
    last_activity: Instant,
    eof: bool,
    /// A request waiting to be handed off with the connection.
    hand_off: Option<(IncomingMessage, HandOffKind)>,
    hand_off_bytes: Option<Bytes>,
    /// A parse error was taken; no more events.
    errored: bool,
    /// A parse error taken while handlers ran, handled after their turn.
    deferred_error: Option<ParseError>,
    requests: u64,
    /// Where the shared state lives, to tell it its driver is running.
    shared_address: usize,
    /// The protocol connection may have events nobody has taken yet. Only
    /// input, its end, a timeout or a finished response can make new ones,
    /// and each of those sets this.
    maybe_events: bool,
    /// The shared state changed in ways only a snapshot sees (a timeout
    /// was handled).
    snapshot_due: bool,
    /// Writers wait for the output to drain: every pass publishes it.
    writers_waiting: bool,
    /// The last look at the shared state, kept while this task sleeps.
    last_snapshot: Option<Snapshot>,
    /// The waker the shared state holds for this task.
    registered: Option<std::task::Waker>,
    /// Raised by others when they change the shared state (see `Shared`).
    touched: Arc<AtomicBool>,
    span: tracing::Span,
}

/// Protocol events taken under one lock.
type Batch = SmallVec<[Taken; 2]>;

/// An event as taken: a request comes with the response slot opened for
/// it under the same lock (`None` when it leaves HTTP).
enum Taken {
    Request(Box<RequestHead>, Option<Opened>),
    Other(Event),
    Error(ParseError),
}

/// Takes events up to the end of a request whose body is empty (the common
/// GET: its head and its end), or one event of any other kind: what a
/// request's handling changes in the connection (a close, a refusal) must
/// be in place before anything after it is taken.
///
/// Returns whether more events may follow without new input, a timeout or
/// a response finishing: `false` once the connection said it has none, or
/// after a message's end with no bytes left to parse.
fn take_events(s: &mut Shared, batch: &mut Batch, eof: bool) -> bool {
    loop {
        let event = s.conn.poll_event();
        let more = matches!(
            &event,
            Ok(Some(Event::Request(head)))
                if matches!(head.body_kind(), BodyKind::Empty | BodyKind::Length(0))
        );
        let ended = matches!(event, Ok(Some(Event::End(_))));
        match event {
            Ok(None) => return false,
            Ok(Some(Event::Request(head))) => {
                s.request_is_last = !head.keep_alive();
                let slot = s.slot_for(&head);
                batch.push(Taken::Request(head, slot));
            }
            Ok(Some(ev)) => batch.push(Taken::Other(ev)),
            Err(e) => batch.push(Taken::Error(e)),
        }
        if ended && s.request_is_last && !s.conn.buffered_input().is_empty() {
            // Bytes after the connection's last request are an error (Node
            // finds it as it parses them) or ignored, never a request: take
            // that now, before the request's handler can answer (from
            // another thread, say), which would make them ignored instead.
            continue;
        }
        if !more {
            return !(ended && !eof && s.conn.buffered_input().is_empty());
        }
    }
}

impl<R: Runtime, T: Transport> Driver<R, T> {
    /// `nodelay_set`: the transport came with Nagle's algorithm off
    /// (inherited from the listener).
    pub(crate) fn new(io: T, rt: R, server: Arc<Inner>, nodelay_set: bool) -> (Self, SharedRef) {
        let opts = &server.options;
        let config = opts.proto_config(server.handlers.upgrade.is_some());
        let keep_alive_secs = config.keep_alive_timeout.map(|d| d.as_secs());
        let shared = Arc::new(Mutex::new(Shared::new(
            ServerConn::new(config),
            keep_alive_secs,
            opts.high_water_mark,
            opts.max_requests_per_socket,
            server.handlers.upgrade.is_some(),
        )));
        if opts.no_delay && !nodelay_set {
            let _ = io.set_nodelay(true);
        }
        if opts.keep_alive {
            let _ = io.set_keepalive(Some(opts.keep_alive_initial_delay));
        }
        let peer = io.peer_addr();
        let peer_for_span = peer.clone();
        let (shared_address, touched) = {
            let s = lock(&shared);
            (s.address(), s.touched())
        };
        let now = rt.now();
        let driver = Driver {
            io: Some(io),
            rt,
            shared: shared.clone(),
            server,
            peer,
            tasks: InlineQueue::new(),
            body: None,
            unread: 0,
            unread_overflow: false,
            linger: None,
            out: VecDeque::new(),
            held_for_fin: false,
            timer: LazyTimer::new(),
            last_activity: now,
            eof: false,
            hand_off: None,
            hand_off_bytes: None,
            errored: false,
            deferred_error: None,
            requests: 0,
            shared_address,
            maybe_events: true,
            snapshot_due: false,
            writers_waiting: false,
            last_snapshot: None,
            registered: None,
            touched,
            span: tracing::debug_span!("connection", peer = ?peer_for_span),
        };
        (driver, shared)
    }

    /// Runs the handlers; returns whether any finished.
    fn poll_tasks(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        // Each task once, in order: the pending ones go back behind.
        for _ in 0..self.tasks.len() {
            let Some(mut task) = self.tasks.pop_front() else {
                break;
            };
            match catch_unwind(AssertUnwindSafe(|| task.as_mut().poll_slot(cx))) {
                Ok(Poll::Pending) => self.tasks.push_back(task),
                Ok(Poll::Ready(())) => {
                    // The future is gone; its storage serves the next one.
                    keep_spare(task);
                    progress = true;
                }
                Err(_) => {
                    // The handler panicked: its response (dropped with it)
                    // turns into a 500 or a closed connection; the other
                    // connections never notice.
                    tracing::error!("request handler panicked");
                    drop(task);
                    progress = true;
                }
            }
        }
        progress
    }

    /// Calls a request handler and keeps the future it returns. A panic
    /// in the call itself is caught like one in the future: otherwise it
    /// would unwind through this task and leave the connection registered
    /// with the server for ever (and `close()` waiting on it).
    /// (A function of the task list alone, so the handler table can stay
    /// borrowed from the server meanwhile.)
    fn start_handler(
        tasks: &mut InlineQueue<HandlerTask>,
        f: &Arc<RequestFn>,
        req: IncomingMessage,
        res: ServerResponse,
    ) {
        match catch_unwind(AssertUnwindSafe(|| f(req, res))) {
            // Counted in the shared state at the next snapshot.
            Ok(fut) => tasks.push_back(fut),
            // The response, dropped in the unwind, has become a 500.
            Err(_) => tracing::error!("request handler panicked"),
        }
    }

    /// Handles `batch` (events the read took) and drains the rest;
    /// returns whether there were any.
    fn poll_events(&mut self, batch: &mut Batch) -> bool {
        let mut progress = false;
        loop {
            if self.errored {
                return progress;
            }
            if batch.is_empty() {
                if !self.maybe_events {
                    return progress;
                }
                self.maybe_events = take_events(&mut lock(&self.shared), batch, self.eof);
                if batch.is_empty() {
                    return progress;
                }
            }
            progress = true;
            for event in batch.drain(..) {
                match event {
                    Taken::Request(head, slot) => self.on_request(head, slot),
                    Taken::Other(ev) => self.on_event(ev),
                    Taken::Error(e) => {
                        self.errored = true;
                        if self.tasks.is_empty() {
                            self.on_parse_error(e);
                        } else {
                            // Handlers of the requests before it run first,
                            // as Node runs them before parsing on: what they
                            // answer at once goes out ahead of the refusal.
                            self.deferred_error = Some(e);
                        }
                        return true;
                    }
                }
            }
        }
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Data(data) => match &self.body {
                Some(tx) if !tx.reader_gone() => tx.push(data),
                _ => {
                    self.unread += data.len() as u64;
                    if self.unread > self.server.options.max_unread_body {
                        // Too much ignored body: answer, then close instead
                        // of reading the rest.
                        lock(&self.shared).conn.close_after_response();
                        self.unread_overflow = true;
                    }
                }
            },
            Event::End(trailers) => {
                if let Some(tx) = self.body.take() {
                    tx.end(trailers);
                }
                self.unread = 0;
            }
            Event::Upgrade(rest) => {
                self.hand_off_bytes = Some(match self.hand_off_bytes.take() {
                    Some(prev) => [prev, rest].concat().into(),
                    None => rest,
                });
            }
            Event::Closed => {
                if let Some(tx) = self.body.take() {
                    tx.fail(BodyError::Aborted);
                }
            }
            Event::KeepAliveTimeout => {
                tracing::debug!("keep-alive timeout");
            }
            _ => {}
        }
    }

    /// A request, with the slot its response got (`None`: it leaves HTTP).
    fn on_request(&mut self, head: Box<RequestHead>, slot: Option<Opened>) {
        self.requests += 1;
        let opts = &self.server.options;
        let handlers = &self.server.handlers;
        tracing::debug!(method = %head.method(), target = %String::from_utf8_lossy(head.target()), "request");

        // CONNECT, and upgrades when someone handles them, leave HTTP.
        let Some(Opened { id, over_limit }) = slot else {
            let kind = if head.method().is_connect() {
                HandOffKind::Connect
            } else {
                HandOffKind::Upgrade
            };
            let req = IncomingMessage::new(head, body::Body::empty(), self.peer.clone());
            self.hand_off = Some((req, kind));
            return;
        };

        let version = head.version();
        // Most requests have no body: no channel for them.
        let (tx, rx) = match head.body_kind() {
            BodyKind::Empty | BodyKind::Length(0) => (None, body::Body::empty()),
            _ => {
                let (tx, rx) = body::channel();
                (Some(tx), rx)
            }
        };
        self.body = tx;
        self.unread = 0;
        let needs_host =
            version == Version::HTTP_11 && !head.has_host() && opts.require_host_header;
        let expect = head.expect();
        if over_limit {
            if let Some(f) = &handlers.drop_request {
                f(&head);
            }
        }
        let req = IncomingMessage::recycled(head, rx, self.peer.clone(), recycle_head);
        let mut res = ServerResponse::new(self.shared.clone(), id);

        if over_limit {
            // node: S12
            res.status_code = 503;
            let _ = res.set_header("Connection", "close");
            let _ = res.end_now(Bytes::new());
            return;
        }
        if needs_host {
            // node: S11
            res.status_code = 400;
            let _ = res.set_header("Connection", "close");
            let _ = res.end_now(Bytes::new());
            return;
        }
        let handler = match expect {
            Expectation::Continue => match &handlers.check_continue {
                Some(f) => f,
                None => {
                    // node: S5
                    let _ = res.write_continue();
                    &handlers.request
                }
            },
            Expectation::Other => match &handlers.check_expectation {
                Some(f) => f,
                None => {
                    // node: S6
                    res.status_code = 417;
                    let _ = res.end_now(Bytes::new());
                    return;
                }
            },
            Expectation::None => &handlers.request,
        };
        Self::start_handler(&mut self.tasks, handler, req, res);
    }

    fn on_parse_error(&mut self, e: ParseError) {
        if let Some(tx) = self.body.take() {
            // A deadline or the peer's EOF cut the body short (Node's
            // `aborted`); anything else is a malformed body.
            let cut_short = e.is_timeout() || e.code() == ErrorCode::InvalidEofState;
            tx.fail(if cut_short {
                BodyError::Aborted
            } else {
                BodyError::Malformed(e.code())
            });
        }
        let mut s = lock(&self.shared);
        let raw = Bytes::copy_from_slice(s.conn.buffered_input());
        let response_started = s.front_head_sent();
        // Responses still owed are lost, as in Node. What was written
        // already goes out first, in order (whole earlier responses, or the
        // part sent of the one in flight): the refusal, if any, follows
        // them, and a buffer half written is never cut.
        s.abandon();
        s.conn.drain_transmit(&mut self.out);
        drop(s);
        let err = ClientError {
            error: e,
            raw_packet: raw,
        };
        tracing::debug!(code = %e.code(), offset = e.offset(), "client error");
        let reply = match &self.server.handlers.client_error {
            Some(f) => f(&err),
            // node: S8. No refusal behind a response still going out
            // (Node's `_headerSent` check on the message in flight): an
            // earlier response not yet written counts as in flight.
            None if response_started || !self.out.is_empty() => None,
            None => Some(canned_response(e.status_hint())),
        };
        if let Some(bytes) = reply {
            self.out.push_back(bytes);
        }
    }

    /// The look at the shared state a wake-up starts with. When nobody
    /// changed it since this task last went to sleep (the transport woke
    /// it, or its timer), the look it slept on is still true: no lock.
    fn first_look(&mut self, cx: &Context<'_>, now: Instant) -> Snapshot {
        // A plain load first: the flag is rarely up, and clearing it (a
        // locked read-modify-write) costs several times a load.
        let untouched =
            !(self.touched.load(Ordering::Acquire) && self.touched.swap(false, Ordering::Acquire));
        let same_waker = self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()));
        match self.last_snapshot.take() {
            Some(snap) if untouched && same_waker => snap,
            _ => {
                if !same_waker {
                    self.registered = Some(cx.waker().clone());
                }
                self.snapshot(now, Some(cx.waker()))
            }
        }
    }

    /// One look at the shared state per turn of the loop: moves the
    /// transmit buffers out and reads every flag the rest of the turn
    /// needs, under a single lock.
    /// It also registers `waker` (the first look of a wake-up), publishes
    /// the handler count, and wakes writers once the output has drained.
    fn snapshot(&mut self, now: Instant, waker: Option<&std::task::Waker>) -> Snapshot {
        let mut s = lock(&self.shared);
        if let Some(waker) = waker {
            if !s.driver.as_ref().is_some_and(|w| w.will_wake(waker)) {
                s.driver = Some(waker.clone());
            }
        }
        s.conn.drain_transmit(&mut self.out);
        s.unsent = self.out.iter().map(Bytes::len).sum::<usize>();
        if s.unsent <= s.high_water_mark && !s.writers.is_empty() {
            for w in s.writers.drain(..) {
                w.wake();
            }
        }
        self.writers_waiting = !s.writers.is_empty();
        s.handlers = self.tasks.len();
        // A finished response lets parsing go on with what is buffered.
        let input_buffered = !s.conn.buffered_input().is_empty();
        self.maybe_events |= input_buffered || self.eof;
        let is_idle = s.conn.is_idle();
        let no_handlers = s.handlers == 0;
        let owed = s.owed();
        Snapshot {
            destroy: s.destroy,
            closing: s.conn.should_close() && (no_handlers || s.gone)
                || s.close_when_idle && is_idle && no_handlers,
            drained: no_handlers && owed == 0 && !input_buffered,
            owed,
            idle: is_idle && no_handlers,
            wants_read: s.conn.wants_read() && !(s.close_when_idle && is_idle),
            deadline: s.conn.poll_timeout(now),
        }
    }

    /// Writes what is queued; returns whether bytes went out. `Err` on a
    /// broken transport.
    fn poll_write(&mut self, cx: &mut Context<'_>, snap: &Snapshot) -> Result<bool, ()> {
        if self.out.is_empty() {
            return Ok(false);
        }
        // The connection's last bytes go out with its FIN when the
        // transport can do that: one packet fewer per closed connection.
        let last = !snap.destroy && self.hand_off.is_none() && self.done_once_written(snap);
        let Some(io) = self.io.as_mut() else {
            return Err(());
        };
        self.held_for_fin |= last;
        // What went out is published (and blocked writers woken) by a
        // later snapshot: every pass takes one while writers wait, and a
        // writer that starts waiting wakes this task for one.
        crate::write::poll_write_queue(io, cx, &mut self.out, last)
    }

    fn may_read(&self, cx: &Context<'_>, snap: &Snapshot) -> bool {
        if self.eof || self.hand_off.is_some() || !snap.wants_read {
            return false;
        }
        match &self.body {
            Some(tx) => tx.buffered(cx) < self.server.options.high_water_mark.max(READ_CHUNK),
            None => true,
        }
    }

    /// Reads once; returns whether anything happened. `Err` on a broken
    /// transport. The events the bytes complete are taken into `batch`
    /// under the same lock that feeds them.
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        snap: &Snapshot,
        now: Instant,
        batch: &mut Batch,
    ) -> Result<bool, ()> {
        if !self.may_read(cx, snap) {
            return Ok(false);
        }
        let Some(io) = self.io.as_mut() else {
            return Err(());
        };
        // One scratch buffer per thread: an idle connection holds no read
        // buffer of its own.
        let read = with_read_scratch(|scratch| match io.poll_read(cx, scratch) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    let mut s = lock(&self.shared);
                    give_spare_head(&mut s.conn);
                    s.conn.feed(&scratch[..n]);
                    self.maybe_events = true;
                    if !self.errored {
                        self.maybe_events = take_events(&mut s, batch, false);
                    }
                }
                Poll::Ready(Ok(n))
            }
            other => other,
        });
        match read {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                self.maybe_events = true;
                lock(&self.shared).conn.feed_eof();
                Ok(true)
            }
            Poll::Ready(Ok(_)) => {
                if !self.server.options.timeout.is_zero() {
                    self.last_activity = now;
                }
                Ok(true)
            }
            Poll::Ready(Err(_)) => Err(()),
            Poll::Pending => Ok(false),
        }
    }

    /// Keeps the timer at the protocol's deadline (and `server.timeout`).
    fn poll_timer(&mut self, cx: &mut Context<'_>, snap: &Snapshot, now: Instant) -> bool {
        let inactivity = self.server.options.timeout;
        let (proto, idle) = (snap.deadline, snap.idle);
        // Between requests the keep-alive timeout replaces `server.timeout`
        // (as in Node), unless keep-alive idling is unlimited.
        let keep_alive_owns_idle = idle && !self.server.options.keep_alive_timeout.is_zero();
        let idle_at = (!inactivity.is_zero() && !keep_alive_owns_idle)
            .then(|| self.last_activity + inactivity);
        let deadline = match (proto, idle_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let now = match self.timer.poll(&self.rt, cx, deadline, now) {
            Poll::Pending => return false,
            Poll::Ready(Fired::Early) => return true,
            Poll::Ready(Fired::Due(now)) => now,
        };
        lock(&self.shared).conn.handle_timeout(now);
        self.maybe_events = true;
        self.snapshot_due = true;
        if idle_at.is_some_and(|t| t <= now) {
            // node: S4
            self.last_activity = now;
            let destroy = match &self.server.handlers.timeout {
                Some(f) => f(self.peer.as_ref()),
                None => true,
            };
            if destroy {
                lock(&self.shared).destroy = true;
            }
        }
        true
    }

    fn finished(&self, snap: &Snapshot) -> bool {
        if snap.destroy {
            return true;
        }
        // The snapshot drained the transmit queue; what is left is ours.
        self.out.is_empty() && self.done_once_written(snap)
    }

    /// Whether the connection ends once the output queued now is written:
    /// nothing more can be queued.
    fn done_once_written(&self, snap: &Snapshot) -> bool {
        snap.closing || (self.eof && snap.drained) || (self.unread_overflow && snap.owed == 0)
    }

    /// Whether the peer may still be sending as we close: mid-body, or
    /// after a parse error. Closes the user forced (`destroy`) are abrupt.
    fn peer_may_send(&self, snap: &Snapshot) -> bool {
        !snap.destroy && !self.eof && (self.body.is_some() || self.errored)
    }

    /// Reads and drops input until EOF, an error, or the linger bounds.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (Some(io), Some((until, left))) = (self.io.as_mut(), self.linger.as_mut()) else {
            return Poll::Ready(());
        };
        loop {
            let read = with_read_scratch(|scratch| io.poll_read(cx, scratch));
            match read {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(n)) if n as u64 >= *left => return Poll::Ready(()),
                Poll::Ready(Ok(n)) => *left -= n as u64,
                Poll::Pending => break,
            }
        }
        let until = *until;
        loop {
            match self.timer.poll(&self.rt, cx, Some(until), self.rt.now()) {
                Poll::Pending => return Poll::Pending,
                // Armed for an earlier deadline: poll again for ours.
                Poll::Ready(Fired::Early) => {}
                Poll::Ready(Fired::Due(_)) => return Poll::Ready(()),
            }
        }
    }

    fn ready_to_hand_off(&self) -> bool {
        self.hand_off.is_some() && self.hand_off_bytes.is_some() && self.out.is_empty() && {
            // A response finished since the last look (by a handler on
            // another thread) still has its bytes in the protocol core.
            let s = lock(&self.shared);
            s.owed() == 0 && s.conn.pending_transmit() == 0
        }
    }

    fn hand_off(&mut self) {
        let (req, kind) = self.hand_off.take().expect("checked");
        let head = self.hand_off_bytes.take().unwrap_or_default();
        let io = self.io.take().expect("transport present");
        lock(&self.shared).abandon();
        let handler = match kind {
            HandOffKind::Connect => self.server.handlers.connect.clone(),
            HandOffKind::Upgrade => self.server.handlers.upgrade.clone(),
        };
        match handler {
            Some(f) => {
                let upgraded = Upgraded::new(Box::new(io));
                self.rt.spawn(f(req, upgraded, head));
            }
            // node: S10 — CONNECT without a handler: the socket is destroyed.
            None => drop(io),
        }
    }
}

fn canned_response(status: u16) -> Bytes {
    let reason = pier_proto::reason_phrase(status).unwrap_or("Bad Request");
    Bytes::from(format!(
        "HTTP/1.1 {status} {reason}\r\nConnection: close\r\n\r\n"
    ))
}

// Nothing in the driver is structurally pinned.
impl<R: Runtime, T: Transport> Unpin for Driver<R, T> {}

impl<R: Runtime, T: Transport> Future for Driver<R, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let span = this.span.clone();
        let _entered = span.enter();
        if this.linger.is_some() {
            lock(&this.shared).driver = Some(cx.waker().clone());
            if this.poll_linger(cx).is_pending() {
                return Poll::Pending;
            }
            this.io = None;
            return Poll::Ready(());
        }
        // One clock read per wake-up: deadlines are seconds long, so
        // anchoring them a few microseconds early changes nothing.
        let now = this.rt.now();
        let mut snap = this.first_look(cx, now);
        loop {
            // Read first, then parse and run handlers, then write: a
            // request and its answer go through in one pass of the loop,
            // and a second pass finds nothing left to do.
            let mut progress = false;
            let mut batch = Batch::new();
            if !this.finished(&snap) {
                match this.poll_read(cx, &snap, now, &mut batch) {
                    Ok(p) => progress |= p,
                    Err(()) => break,
                }
            }
            // Nothing to parse, run or refuse (the second pass of most
            // wake-ups): the handlers' turn is skipped.
            let nothing_to_run = batch.is_empty()
                && !this.maybe_events
                && this.tasks.is_empty()
                && this.deferred_error.is_none();
            if !nothing_to_run {
                // Responses submitted from here on are seen by the
                // snapshot below: nobody needs to wake this task for them.
                let driving = Driving::enter(this.shared_address);
                let _turn = crate::date::Turn::enter(now);
                progress |= this.poll_events(&mut batch);
                progress |= this.poll_tasks(cx);
                if let Some(e) = this.deferred_error.take() {
                    this.on_parse_error(e);
                }
                progress |= driving.was_asked();
            }
            // A pass that read, parsed and ran nothing changed nothing a
            // snapshot would see (others wake this task when they do).
            if progress || this.writers_waiting || std::mem::take(&mut this.snapshot_due) {
                snap = this.snapshot(now, None);
            }
            match this.poll_write(cx, &snap) {
                Ok(p) => progress |= p,
                Err(()) => break,
            }
            if this.ready_to_hand_off() {
                this.hand_off();
                break;
            }
            if this.finished(&snap) {
                let linger = this.peer_may_send(&snap);
                // Send FIN after the last byte; a refusal here changes
                // nothing. Dropping the socket sends it too, but only when
                // no input is left unread (else the close resets the
                // connection): after the peer's FIN, or when the close is
                // abrupt anyway. Never when the socket stays open to
                // linger, or holds the last bytes back for the FIN.
                if let Some(io) = this.io.as_mut() {
                    let drop_sends_fin = (this.eof || snap.destroy) && io.fin_on_drop();
                    let shut_down = linger || this.held_for_fin || !drop_sends_fin;
                    if shut_down && io.poll_shutdown(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                if linger {
                    this.linger = Some((now + LINGER_TIME, LINGER_BYTES));
                }
                break;
            }
            // A pass that made progress is followed by one more, which
            // keeps the timer at the deadline the turn ends with.
            if !progress {
                progress = this.poll_timer(cx, &snap, now);
            }
            if !progress {
                this.last_snapshot = Some(snap);
                return Poll::Pending;
            }
        }
        // Done: fail what is still waiting and let the server forget us.
        tracing::debug!(requests = this.requests, "connection closed");
        if let Some(tx) = this.body.take() {
            tx.fail(BodyError::Aborted);
        }
        lock(&this.shared).abandon();
        // One last turn, so handlers waiting on the body or on a write hear
        // of the end (`Aborted`, `WriteError::Closed`) instead of being
        // dropped unawares; those still waiting on anything else are dropped.
        this.poll_tasks(cx);
        this.tasks.clear();
        if this.linger.is_some() && this.poll_linger(cx).is_pending() {
            return Poll::Pending;
        }
        this.io = None;
        Poll::Ready(())
    }
}
