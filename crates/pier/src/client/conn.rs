//! The task that drives one client connection: writes requests handed to
//! it, reads responses into the waiting request, and reports to the Agent
//! when the connection is free again, idle-timed-out, unusable or closed.

use super::agent::AgentRef;
use super::RequestError;
use crate::body::{self, Body, BodyError, BodySender};
use crate::lazy_timer::{Fired, LazyTimer};
use crate::runtime::{Runtime, Transport};
use bytes::Bytes;
use pier_pool::Release;
use pier_proto::{ClientConn, Event, ResponseHead};
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
    /// Node's `req.setTimeout`: inactivity that only reports.
    pub(crate) timeout: Option<Duration>,
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
        }
    }

    /// Tells the agent (outside the connection's lock).
    fn tell_agent(&self, f: impl FnOnce(&AgentRef, u64)) {
        if let Some((agent, handle)) = &self.agent {
            f(agent, *handle);
        }
    }

    fn poll_events(&mut self) -> bool {
        let mut progress = false;
        loop {
            let mut s = lock(&self.shared);
            let ev = s.conn.poll_event();
            match ev {
                Ok(None) => return progress,
                Ok(Some(ev)) => {
                    progress = true;
                    if let Some(mb) = s.exchange.clone() {
                        let mut ex = lock_ex(&mb);
                        ex.got_bytes = true;
                    }
                    match ev {
                        Event::Informational(head) => {
                            if let Some(mb) = s.exchange.clone() {
                                let mut ex = lock_ex(&mb);
                                ex.informational.push_back(*head);
                                ex.wake();
                            }
                        }
                        Event::Response(head) => {
                            s.last_hint = head.keep_alive_timeout_hint();
                            let connect =
                                s.exchange.as_ref().is_some_and(|e| lock_ex(e).is_connect);
                            let upgrade = head.status() == 101
                                || (connect && (200..300).contains(&head.status()));
                            if let Some(mb) = s.exchange.clone() {
                                let mut ex = lock_ex(&mb);
                                if upgrade {
                                    self.upgrade_pending = true;
                                    ex.head = Some(Ok(head));
                                } else {
                                    let (tx, rx) = body::channel();
                                    self.body = Some(tx);
                                    ex.head = Some(Ok(head));
                                    ex.body = Some(rx);
                                    ex.wake();
                                }
                            }
                        }
                        Event::Data(d) => {
                            if let Some(tx) = &self.body {
                                tx.push(d);
                            }
                        }
                        Event::End(trailers) => {
                            s.busy = false;
                            s.written = 0;
                            let reusable = s.conn.is_reusable();
                            drop(s);
                            // The socket goes back to the agent before the
                            // reader hears of the end, so a request made
                            // right after the body reuses it.
                            self.on_exchange_done(reusable);
                            if let Some(tx) = self.body.take() {
                                tx.end(trailers.into_raw());
                            }
                        }
                        Event::Upgrade(rest) => {
                            let mailbox = s.exchange.clone();
                            drop(s);
                            // The agent forgets the socket before the
                            // request gets it: it is not the pool's any more.
                            self.tell_agent(|a, h| a.detach(h));
                            self.agent = None;
                            if let Some(mb) = mailbox {
                                let mut ex = lock_ex(&mb);
                                if let Some(io) = self.io.take() {
                                    ex.upgraded = Some((io, rest));
                                }
                                ex.wake();
                            }
                            return true;
                        }
                        Event::Closed => {
                            drop(s);
                            self.on_closed();
                        }
                        _ => {}
                    }
                }
                Err(e) => {
                    self.failed = true;
                    let closed_early = e.code() == pier_proto::ErrorCode::InvalidEofState;
                    let written = s.written;
                    if let Some(mb) = s.exchange.clone() {
                        let mut ex = lock_ex(&mb);
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
                    return true;
                }
            }
        }
    }

    fn on_exchange_done(&mut self, reusable: bool) {
        if self.agent.is_none() {
            lock(&self.shared).destroy = true;
            return;
        }
        let hint = lock(&self.shared).last_hint.take();
        let release = match (reusable, hint) {
            (true, Some(h)) if h > 0 => Release::keep_alive().with_hint(h as u64),
            (true, Some(_)) => Release::close(),
            (true, None) => Release::keep_alive(),
            (false, _) => Release::close(),
        };
        self.last_activity = self.rt.now();
        self.tell_agent(|a, h| a.on_free(h, release));
    }

    fn on_closed(&mut self) {
        let mut s = lock(&self.shared);
        let idle = !s.busy;
        let written = s.written;
        if let Some(mb) = s.exchange.clone() {
            let mut ex = lock_ex(&mb);
            if ex.head.is_none() {
                ex.head = Some(Err(hang_up(written)));
                ex.wake();
            }
        }
        s.destroy = true;
        drop(s);
        if idle {
            // EOF on an idle pooled socket: never hand it out again.
            self.tell_agent(|a, h| a.mark_unusable(h));
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, now: Instant) -> Result<bool, ()> {
        {
            let mut s = lock(&self.shared);
            if self.write_failed {
                // Nothing more goes out: drop it, so writers never wait on it.
                while s.conn.poll_transmit().is_some() {}
                self.out.clear();
                for w in s.writers.drain(..) {
                    w.wake();
                }
                return Ok(false);
            }
            while let Some(b) = s.conn.poll_transmit() {
                s.written += b.len() as u64;
                self.out.push_back(b);
            }
        }
        let Some(io) = self.io.as_mut() else {
            return Ok(false);
        };
        let progress = crate::write::poll_write_queue(io.as_mut(), cx, &mut self.out)?;
        if progress {
            self.last_activity = now;
            let mut s = lock(&self.shared);
            let queued = self.out.iter().map(Bytes::len).sum::<usize>() + s.conn.pending_transmit();
            if queued <= s.high_water_mark {
                for w in s.writers.drain(..) {
                    w.wake();
                }
            }
        }
        Ok(progress)
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> Result<bool, ()> {
        if self.eof || self.upgrade_pending {
            return Ok(false);
        }
        if !lock(&self.shared).conn.wants_read() {
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
        let mut buf = [0u8; 8192];
        match io.poll_read(cx, &mut buf) {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                lock(&self.shared).conn.feed_eof();
                Ok(true)
            }
            Poll::Ready(Ok(n)) => {
                self.last_activity = now;
                let mut s = lock(&self.shared);
                let idle = !s.busy;
                s.conn.feed(&buf[..n]);
                drop(s);
                if idle {
                    // Bytes nobody asked for on an idle socket: unusable.
                    self.tell_agent(|a, h| a.mark_unusable(h));
                }
                Ok(true)
            }
            Poll::Ready(Err(_)) => Err(()),
            Poll::Pending => Ok(false),
        }
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let (idle, exchange_timeout) = {
            let s = lock(&self.shared);
            let idle = if s.busy { None } else { s.idle_timeout };
            let exchange = if s.busy {
                s.exchange.as_ref().and_then(|e| lock_ex(e).timeout)
            } else {
                None
            };
            (idle, exchange)
        };
        let deadline = idle
            .or(exchange_timeout)
            .map(|limit| self.last_activity + limit);
        match self.timer.poll(&self.rt, cx, deadline, now) {
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

    fn apply_socket_options(&mut self) {
        let (ka, nd) = {
            let mut s = lock(&self.shared);
            (s.keepalive.take(), s.no_delay.take())
        };
        if let Some(io) = &self.io {
            if let Some(d) = ka {
                let _ = io.set_keepalive(Some(d));
            }
            if let Some(on) = nd {
                let _ = io.set_nodelay(on);
            }
        }
    }
}

// Nothing in the driver is structurally pinned.
impl<R: Runtime> Unpin for ClientDriver<R> {}

impl<R: Runtime> Future for ClientDriver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        {
            let mut s = lock(&this.shared);
            if !s.driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.driver = Some(cx.waker().clone());
            }
        }
        // Options set by the user wake us, so once per wake-up is enough;
        // so is one clock read (it only stamps activity for the timers).
        this.apply_socket_options();
        let now = this.rt.now();
        loop {
            let mut progress = false;
            match this.poll_write(cx, now) {
                Ok(p) => progress |= p,
                Err(()) => {
                    // Read on: the close or reset reaches us as EOF, after
                    // whatever the peer sent before it.
                    this.write_failed = true;
                    progress = true;
                }
            }
            progress |= this.poll_events();
            if this.io.is_none() || this.failed || lock(&this.shared).destroy && this.out.is_empty()
            {
                break;
            }
            match this.poll_read(cx, now) {
                // What was read is parsed and delivered in this same pass.
                Ok(true) => {
                    this.poll_events();
                    progress = true;
                }
                Ok(false) => {}
                Err(()) => {
                    lock(&this.shared).conn.feed_eof();
                    this.eof = true;
                    progress = true;
                }
            }
            progress |= this.poll_timer(cx, now);
            if !progress {
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
