//! The task that drives one client connection: writes requests handed to
//! it, reads responses into the waiting request, and reports to the Agent
//! when the connection is free again, idle-timed-out, unusable or closed.

use super::agent::AgentRef;
use super::RequestError;
use crate::body::{self, Body, BodyError, BodySender};
use crate::lazy_timer::{Fired, LazyTimer};
use crate::runtime::{Runtime, Transport};
use crate::write::with_read_scratch;
use bytes::Bytes;
use pier_pool::Release;
use pier_proto::{ClientConn, Event, ParseError, ResponseHead, Trailers};
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What the request in flight is waiting for.
#[derive(Default)]
pub(crate) struct Exchange {
    pub(crate) informational: VecDeque<ResponseHead>,
    pub(crate) head: Option<Result<Box<ResponseHead>, RequestError>>,
    pub(crate) body: Option<Body>,
    pub(crate) upgraded: Option<(Box<dyn Transport>, Bytes)>,
    pub(crate) waker: Option<Waker>,
    /// Response bytes arrived (a retry is no longer safe).
    pub(crate) got_bytes: bool,
    pub(crate) timeouts_fired: u32,
    /// The request is a CONNECT: a 2xx makes a tunnel.
    pub(crate) is_connect: bool,
}

impl Exchange {
    pub(crate) fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// One request's mailbox, shared by the request and the connection task.
pub(crate) type Mailbox = Arc<Mutex<Exchange>>;

#[inline]
pub(crate) fn lock_ex(m: &Mutex<Exchange>) -> MutexGuard<'_, Exchange> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct ConnShared {
    pub(crate) conn: ClientConn,
    /// The mailbox of the request in flight. Each request owns its own:
    /// the next request on this socket replaces this pointer, never the
    /// previous request's mailbox.
    pub(crate) exchange: Option<Mailbox>,
    /// A request is in flight (sent, response not ended).
    pub(crate) busy: bool,
    pub(crate) driver: Option<Waker>,
    pub(crate) writers: Vec<Waker>,
    pub(crate) destroy: bool,
    pub(crate) gone: bool,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) no_delay: Option<bool>,
    /// Bytes written for the request in flight.
    pub(crate) written: u64,
    pub(crate) high_water_mark: usize,
    /// The last response's `Keep-Alive: timeout=N`.
    pub(crate) last_hint: Option<i64>,
    /// Node's `req.setTimeout` of the request in flight (only reported).
    pub(crate) exchange_timeout: Option<Duration>,
}

pub(crate) type ConnRef = Arc<Mutex<ConnShared>>;

#[inline]
pub(crate) fn lock(c: &Mutex<ConnShared>) -> MutexGuard<'_, ConnShared> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

impl ConnShared {
    pub(crate) fn new(conn: ClientConn) -> Self {
        ConnShared {
            conn,
            exchange: None,
            busy: false,
            driver: None,
            writers: Vec::new(),
            destroy: false,
            gone: false,
            idle_timeout: None,
            keepalive: None,
            no_delay: None,
            written: 0,
            high_water_mark: 16 * 1024,
            last_hint: None,
            exchange_timeout: None,
        }
    }

    pub(crate) fn wake_driver(&mut self) {
        if let Some(w) = self.driver.take() {
            w.wake();
        }
    }
}

/// The peer closed before the response: Node's `socket hang up`. The
/// request fills in whether the socket was reused and whether it retried.
fn hang_up(bytes_written: u64) -> RequestError {
    RequestError::SocketHangUp {
        reused: false,
        bytes_written,
        retried: false,
    }
}

pub(crate) struct ClientDriver<R: Runtime> {
    io: Option<Box<dyn Transport>>,
    rt: R,
    shared: ConnRef,
    agent: Option<(AgentRef, u64)>,
    body: Option<BodySender>,
    out: VecDeque<Bytes>,
    timer: LazyTimer<R>,
    last_activity: Instant,
    eof: bool,
    upgrade_pending: bool,
    failed: bool,
    /// The peer stopped taking bytes (reset or closed while we sent). What
    /// is left to send is dropped; reading goes on, because a server may
    /// have answered before it stopped reading (an early 413).
    write_failed: bool,
    /// Writers wait for the output to drain: every pass publishes it.
    writers_waiting: bool,
    /// When this wake-up began: the one clock read that stamps activity
    /// and drives the timer for the whole wake-up.
    now: Instant,
}

impl<R: Runtime> ClientDriver<R> {
    pub(crate) fn new(
        io: Box<dyn Transport>,
        rt: R,
        shared: ConnRef,
        agent: Option<(AgentRef, u64)>,
    ) -> Self {
        let now = rt.now();
        ClientDriver {
            io: Some(io),
            rt,
            shared,
            agent,
            body: None,
            out: VecDeque::new(),
            timer: LazyTimer::new(),
            last_activity: now,
            eof: false,
            upgrade_pending: false,
            failed: false,
            write_failed: false,
            writers_waiting: false,
            now,
        }
    }

    /// Tells the agent (outside the connection's lock).
    fn tell_agent(&self, f: impl FnOnce(&AgentRef, u64)) {
        if let Some((agent, handle)) = &self.agent {
            f(agent, *handle);
        }
    }

    /// Takes the events the last input made, under one lock, with what
    /// handling them needs to know of the shared state. `eof`: the input
    /// has ended.
    fn take_events(s: &mut ConnShared, eof: bool) -> Taken {
        let mut taken = Taken {
            events: SmallVec::new(),
            mailbox: None,
            written: s.written,
            reusable: false,
            hint: None,
            was_idle: !s.busy,
            more: true,
        };
        loop {
            match s.conn.poll_event() {
                Ok(None) => {
                    taken.more = false;
                    break;
                }
                Ok(Some(ev)) => {
                    let last = match &ev {
                        Event::Response(head) => {
                            s.last_hint = head.keep_alive_timeout_hint();
                            false
                        }
                        Event::End(_) => {
                            s.busy = false;
                            s.written = 0;
                            taken.reusable = s.conn.is_reusable();
                            taken.hint = s.last_hint.take();
                            true
                        }
                        Event::Closed => {
                            s.destroy = true;
                            true
                        }
                        Event::Upgrade(_) => true,
                        _ => false,
                    };
                    taken.events.push(Ok(ev));
                    // What follows an end belongs to the socket's next use;
                    // without more input or its end there is nothing.
                    if last {
                        taken.more = eof || !s.conn.buffered_input().is_empty();
                        break;
                    }
                }
                Err(e) => {
                    taken.events.push(Err(e));
                    taken.more = false;
                    break;
                }
            }
        }
        if !taken.events.is_empty() {
            taken.mailbox = s.exchange.clone();
        }
        taken
    }

    /// Delivers taken events to the request in flight, its body and the
    /// agent. Returns whether the connection is done with (an upgrade or a
    /// parse error).
    fn deliver(&mut self, taken: Taken) -> bool {
        let Taken {
            events,
            mailbox,
            written,
            reusable,
            hint,
            was_idle,
            more: _,
        } = taken;
        let mut events = events.into_iter();
        while let Some(event) = events.next() {
            let ev = match event {
                Ok(ev) => ev,
                Err(e) => {
                    self.on_parse_error(e, written, mailbox.as_ref());
                    return true;
                }
            };
            match ev {
                Event::Informational(head) => {
                    if let Some(mb) = &mailbox {
                        let mut ex = lock_ex(mb);
                        ex.got_bytes = true;
                        ex.informational.push_back(*head);
                        ex.wake();
                    }
                }
                Event::Response(head) => {
                    let Some(mb) = &mailbox else { continue };
                    let mut ex = lock_ex(mb);
                    ex.got_bytes = true;
                    let upgrade = head.status() == 101
                        || (ex.is_connect && (200..300).contains(&head.status()));
                    if upgrade {
                        self.upgrade_pending = true;
                        ex.head = Some(Ok(head));
                        continue;
                    }
                    // The whole body is here already (a small response in
                    // one read): hand it over complete, without a channel.
                    let whole = {
                        let rest = events.as_slice();
                        matches!(rest.last(), Some(Ok(Event::End(_))))
                            && rest
                                .iter()
                                .all(|e| matches!(e, Ok(Event::Data(_) | Event::End(_))))
                    };
                    if whole {
                        drop(ex);
                        let mut chunks = VecDeque::new();
                        let mut trailers = Trailers::default();
                        for e in events.by_ref() {
                            match e {
                                Ok(Event::Data(d)) => chunks.push_back(d),
                                Ok(Event::End(t)) => trailers = t,
                                _ => {}
                            }
                        }
                        // The socket goes back to the agent before the
                        // reader hears of the end, so a request made right
                        // after the body reuses it.
                        self.on_exchange_done(reusable, hint);
                        let mut ex = lock_ex(mb);
                        ex.head = Some(Ok(head));
                        ex.body = Some(Body::complete(chunks, trailers));
                        ex.wake();
                    } else {
                        let (tx, rx) = body::channel();
                        self.body = Some(tx);
                        ex.head = Some(Ok(head));
                        ex.body = Some(rx);
                        ex.wake();
                    }
                }
                Event::Data(d) => {
                    if let Some(tx) = &self.body {
                        tx.push(d);
                    }
                }
                Event::End(trailers) => {
                    self.on_exchange_done(reusable, hint);
                    if let Some(tx) = self.body.take() {
                        tx.end(trailers);
                    }
                }
                Event::Upgrade(rest) => {
                    // The agent forgets the socket before the request gets
                    // it: it is not the pool's any more.
                    self.tell_agent(|a, h| a.detach(h));
                    self.agent = None;
                    if let Some(mb) = &mailbox {
                        let mut ex = lock_ex(mb);
                        ex.got_bytes = true;
                        if let Some(io) = self.io.take() {
                            ex.upgraded = Some((io, rest));
                        }
                        ex.wake();
                    }
                    return true;
                }
                Event::Closed => {
                    if let Some(mb) = &mailbox {
                        let mut ex = lock_ex(mb);
                        ex.got_bytes = true;
                        if ex.head.is_none() {
                            ex.head = Some(Err(hang_up(written)));
                            ex.wake();
                        }
                    }
                    if was_idle {
                        // EOF on an idle pooled socket: never hand it out again.
                        self.tell_agent(|a, h| a.mark_unusable(h));
                    }
                }
                _ => {}
            }
        }
        false
    }

    fn on_parse_error(&mut self, e: ParseError, written: u64, mailbox: Option<&Mailbox>) {
        self.failed = true;
        let closed_early = e.code() == pier_proto::ErrorCode::InvalidEofState;
        if let Some(mb) = mailbox {
            let mut ex = lock_ex(mb);
            if ex.head.is_none() {
                ex.head = Some(Err(if closed_early {
                    hang_up(written)
                } else {
                    RequestError::Parse(e)
                }));
            }
            ex.wake();
        }
        if let Some(tx) = self.body.take() {
            tx.fail(if closed_early {
                BodyError::Aborted
            } else {
                BodyError::Malformed(e.code())
            });
        }
    }

    fn on_exchange_done(&mut self, reusable: bool, hint: Option<i64>) {
        if self.agent.is_none() {
            lock(&self.shared).destroy = true;
            return;
        }
        let release = match (reusable, hint) {
            (true, Some(h)) if h > 0 => Release::keep_alive().with_hint(h as u64),
            (true, Some(_)) => Release::close(),
            (true, None) => Release::keep_alive(),
            (false, _) => Release::close(),
        };
        // The clock read of this wake-up: it is microseconds old at most.
        self.last_activity = self.now;
        self.tell_agent(|a, h| a.on_free(h, release));
    }

    /// One look at the shared state per pass: registers the waker (first
    /// pass of a wake-up), takes the bytes to send and the socket options,
    /// wakes writers once the output has drained, and reads every flag the
    /// pass needs, under a single lock.
    fn snapshot(&mut self, waker: Option<&Waker>) -> Snapshot {
        let mut s = lock(&self.shared);
        if let Some(waker) = waker {
            if !s.driver.as_ref().is_some_and(|w| w.will_wake(waker)) {
                s.driver = Some(waker.clone());
            }
        }
        if self.write_failed {
            // Nothing more goes out: drop it, so writers never wait on it.
            while s.conn.poll_transmit().is_some() {}
            self.out.clear();
        }
        while let Some(b) = s.conn.poll_transmit() {
            s.written += b.len() as u64;
            self.out.push_back(b);
        }
        let queued = self.out.iter().map(Bytes::len).sum::<usize>();
        if (queued <= s.high_water_mark || self.write_failed) && !s.writers.is_empty() {
            for w in s.writers.drain(..) {
                w.wake();
            }
        }
        self.writers_waiting = !s.writers.is_empty();
        let options = (s.keepalive.take(), s.no_delay.take());
        Snapshot {
            destroy: s.destroy,
            wants_read: s.conn.wants_read(),
            idle_timeout: if s.busy { None } else { s.idle_timeout },
            exchange_timeout: if s.busy { s.exchange_timeout } else { None },
            options,
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<bool, ()> {
        if self.write_failed {
            return Ok(false);
        }
        let Some(io) = self.io.as_mut() else {
            return Ok(false);
        };
        let progress = crate::write::poll_write_queue(io.as_mut(), cx, &mut self.out, false)?;
        if progress {
            self.last_activity = self.now;
        }
        Ok(progress)
    }

    /// Reads once and delivers the events the bytes complete. `Ok(true)`
    /// when something happened; `Err` on a broken transport.
    fn poll_read(&mut self, cx: &mut Context<'_>, snap: &Snapshot) -> Result<bool, ()> {
        if self.eof || self.upgrade_pending || !snap.wants_read {
            return Ok(false);
        }
        if let Some(tx) = &self.body {
            if tx.buffered(cx) >= 64 * 1024 {
                return Ok(false);
            }
        }
        let Some(io) = self.io.as_mut() else {
            return Ok(false);
        };
        let shared = &self.shared;
        let read = with_read_scratch(|scratch| match io.poll_read(cx, scratch) {
            Poll::Ready(Ok(0)) => {
                lock(shared).conn.feed_eof();
                Poll::Ready(Ok(None))
            }
            Poll::Ready(Ok(n)) => {
                let mut s = lock(shared);
                let idle = !s.busy;
                s.conn.feed(&scratch[..n]);
                // The events these bytes complete, under the same lock.
                Poll::Ready(Ok(Some((idle, Self::take_events(&mut s, false)))))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        });
        match read {
            Poll::Ready(Ok(None)) => {
                self.eof = true;
                self.poll_events();
            }
            Poll::Ready(Ok(Some((idle, taken)))) => {
                self.last_activity = self.now;
                if idle {
                    // Bytes nobody asked for on an idle socket: unusable.
                    self.tell_agent(|a, h| a.mark_unusable(h));
                }
                if self.deliver_taken(taken) {
                    self.poll_events();
                }
            }
            Poll::Ready(Err(_)) => return Err(()),
            Poll::Pending => return Ok(false),
        }
        Ok(true)
    }

    /// Takes and delivers what the input made, until nothing is left.
    fn poll_events(&mut self) {
        loop {
            let taken = Self::take_events(&mut lock(&self.shared), self.eof);
            if !self.deliver_taken(taken) {
                return;
            }
        }
    }

    /// Delivers `taken`; returns whether more events may follow.
    fn deliver_taken(&mut self, taken: Taken) -> bool {
        let more = taken.more;
        !taken.events.is_empty() && !self.deliver(taken) && more
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, snap: &Snapshot) -> bool {
        let idle = snap.idle_timeout;
        let deadline = idle
            .or(snap.exchange_timeout)
            .map(|limit| self.last_activity + limit);
        match self.timer.poll(&self.rt, cx, deadline, self.now) {
            Poll::Pending => return false,
            Poll::Ready(Fired::Early) => return true,
            Poll::Ready(Fired::Due(_)) => {}
        }
        self.last_activity = self.rt.now();
        if idle.is_some() {
            self.tell_agent(|a, h| a.on_timeout(h));
        } else {
            // node: C7 — only reported, never aborts.
            let s = lock(&self.shared);
            if let Some(mb) = s.exchange.clone() {
                let mut ex = lock_ex(&mb);
                ex.timeouts_fired += 1;
                ex.wake();
            }
        }
        true
    }

    fn apply_socket_options(&self, (keepalive, no_delay): (Option<Duration>, Option<bool>)) {
        if let Some(io) = &self.io {
            if let Some(d) = keepalive {
                let _ = io.set_keepalive(Some(d));
            }
            if let Some(on) = no_delay {
                let _ = io.set_nodelay(on);
            }
        }
    }
}

/// Events taken under the connection's lock, and what delivering them
/// needs from it.
struct Taken {
    events: SmallVec<[Result<Event, ParseError>; 4]>,
    mailbox: Option<Mailbox>,
    written: u64,
    /// At an end: whether the connection may carry another request.
    reusable: bool,
    /// At an end: the response's `Keep-Alive: timeout=N`.
    hint: Option<i64>,
    /// No request was in flight when the events were taken.
    was_idle: bool,
    /// More events may be waiting in the connection.
    more: bool,
}

/// What one pass of the driver's loop knows about the shared state.
struct Snapshot {
    destroy: bool,
    wants_read: bool,
    idle_timeout: Option<Duration>,
    exchange_timeout: Option<Duration>,
    options: (Option<Duration>, Option<bool>),
}

// Nothing in the driver is structurally pinned.
impl<R: Runtime> Unpin for ClientDriver<R> {}

impl<R: Runtime> Future for ClientDriver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // One clock read per wake-up: it only stamps activity for timers.
        this.now = this.rt.now();
        let mut waker = Some(cx.waker());
        loop {
            let snap = this.snapshot(waker.take());
            // Options set by the user wake us, so one look per pass is enough.
            this.apply_socket_options(snap.options);
            let wrote = match this.poll_write(cx) {
                Ok(p) => p,
                Err(()) => {
                    // Read on: the close or reset reaches us as EOF, after
                    // whatever the peer sent before it.
                    this.write_failed = true;
                    true
                }
            };
            if this.io.is_none() || this.failed || snap.destroy && this.out.is_empty() {
                break;
            }
            let read = match this.poll_read(cx, &snap) {
                Ok(p) => p,
                Err(()) => {
                    lock(&this.shared).conn.feed_eof();
                    this.eof = true;
                    this.poll_events();
                    true
                }
            };
            if this.io.is_none() || this.failed {
                break;
            }
            let fired = this.poll_timer(cx, &snap);
            // A write alone changes nothing this pass could act on, unless
            // writers wait for the output to drain (or it failed).
            let again = read || fired || (wrote && (this.writers_waiting || this.write_failed));
            if !again {
                return Poll::Pending;
            }
        }
        // Done: whoever still waits hears about it; the agent forgets us.
        let mut s = lock(&this.shared);
        s.gone = true;
        let written = s.written;
        if let Some(mb) = s.exchange.clone() {
            let mut ex = lock_ex(&mb);
            if ex.head.is_none() && ex.upgraded.is_none() {
                ex.head = Some(Err(hang_up(written)));
            }
            ex.wake();
        }
        for w in s.writers.drain(..) {
            w.wake();
        }
        drop(s);
        if let Some(tx) = this.body.take() {
            tx.fail(BodyError::Aborted);
        }
        this.tell_agent(|a, h| a.on_close(h));
        this.io = None;
        Poll::Ready(())
    }
}
