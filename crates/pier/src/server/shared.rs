//! State one connection shares between its driver task and the responses
//! being written for it: the protocol connection and the queue of
//! responses, which must go out in request order.

use crate::outgoing::OutgoingHeaders;
use crate::queue::InlineQueue;
use bytes::Bytes;
use pier_proto::{BodyHint, LocalError, RequestHead, ServerConn, Version};
use smallvec::SmallVec;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

/// A response command, applied when its response reaches the front.
#[derive(Debug)]
pub(crate) enum Cmd {
    /// A head that had to wait for earlier responses (boxed: heads sent
    /// at once are only borrowed, see [`Shared::submit_head`]).
    Head(Box<OwnedHead>),
    Data(Bytes),
    End(Vec<(String, Vec<u8>)>),
    Continue,
    Informational(u16, Vec<(String, Vec<u8>)>),
}

/// A response head as the response object holds it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadRef<'a> {
    pub(crate) status: u16,
    pub(crate) reason: &'a [u8],
    pub(crate) headers: &'a OutgoingHeaders,
    pub(crate) hint: BodyHint,
    pub(crate) send_date: bool,
}

/// A copy of a head queued behind earlier responses.
#[derive(Debug)]
pub(crate) struct OwnedHead {
    status: u16,
    reason: Vec<u8>,
    headers: OutgoingHeaders,
    hint: BodyHint,
    send_date: bool,
}

impl OwnedHead {
    fn new(head: HeadRef<'_>) -> Self {
        OwnedHead {
            status: head.status,
            reason: head.reason.to_vec(),
            headers: head.headers.clone(),
            hint: head.hint,
            send_date: head.send_date,
        }
    }

    fn borrow(&self) -> HeadRef<'_> {
        HeadRef {
            status: self.status,
            reason: &self.reason,
            headers: &self.headers,
            hint: self.hint,
            send_date: self.send_date,
        }
    }
}

/// The fields Node adds or reads that the user set: one pass over them.
#[derive(Default)]
struct SetByUser<'a> {
    framing: bool,
    date: bool,
    keep_alive: bool,
    /// The first `Connection` value.
    connection: Option<&'a [u8]>,
    /// A field the protocol core reads for the framing (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`, `Proxy-Connection`).
    read_for_framing: bool,
}

impl<'a> SetByUser<'a> {
    fn of(headers: &'a OutgoingHeaders) -> Self {
        let mut set = SetByUser::default();
        for (name, value) in headers.iter_bytes() {
            // The length picks the one candidate worth comparing.
            let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
            match name.len() {
                4 => set.date |= is(b"date"),
                10 if is(b"connection") => {
                    set.connection = set.connection.or(Some(value));
                }
                10 => set.keep_alive |= is(b"keep-alive"),
                14 => set.framing |= is(b"content-length"),
                17 => set.framing |= is(b"transfer-encoding"),
                16 => set.read_for_framing |= is(b"proxy-connection"),
                _ => {}
            }
        }
        set.read_for_framing |= set.framing || set.connection.is_some();
        set
    }
}

/// What a response submits: a command, or its head (borrowed).
enum Work<'a> {
    Cmd(Cmd),
    Head(HeadRef<'a>),
}

impl Work<'_> {
    /// The command to queue behind earlier responses (a head is copied).
    fn into_cmd(self) -> Cmd {
        match self {
            Work::Cmd(cmd) => cmd,
            Work::Head(head) => Cmd::Head(Box::new(OwnedHead::new(head))),
        }
    }
}

/// The slot a request's response got.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Opened {
    pub(crate) id: u64,
    /// Past Node's `maxRequestsPerSocket`: answered 503, never handled.
    pub(crate) over_limit: bool,
}

/// One owed response.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) id: u64,
    pub(crate) version: Version,
    queued: Vec<Cmd>,
    pub(crate) head_sent: bool,
    /// The head said the connection closes after this response.
    pub(crate) closes: bool,
    /// This is the last response `max_requests_per_socket` allows.
    pub(crate) last_allowed: bool,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) conn: ServerConn,
    /// Owed responses, oldest first (inline for one: a connection serving
    /// one request allocates nothing here).
    slots: InlineQueue<Slot>,
    next_id: u64,
    pub(crate) driver: Option<Waker>,
    pub(crate) writers: Vec<Waker>,
    /// The transport is gone: writes fail from now on.
    pub(crate) gone: bool,
    /// Close once idle (server.close(), closeIdleConnections()).
    pub(crate) close_when_idle: bool,
    /// Close now (closeAllConnections()).
    pub(crate) destroy: bool,
    /// The `Keep-Alive` value advertised (`timeout=N`), if any.
    keep_alive_lines: KeepAliveLines,
    pub(crate) high_water_mark: usize,
    /// Bytes the driver took from `conn` and has not written yet: they
    /// count towards the high-water mark like those still in `conn`.
    pub(crate) unsent: usize,
    /// Handlers still running on this connection.
    pub(crate) handlers: usize,
    /// Node's `maxRequestsPerSocket` (0: no limit).
    max_requests_per_socket: u64,
    /// An `upgrade` handler exists: upgrade requests leave HTTP.
    upgrades_handled: bool,
    /// The request taken last said the connection ends after it.
    pub(crate) request_is_last: bool,
    /// Raised whenever someone outside the driver's turn changed this state
    /// and woke the driver: until then the driver's last look is still
    /// true, and a wake-up by the transport needs no new one.
    touched: Arc<AtomicBool>,
}

pub(crate) type SharedRef = Arc<Mutex<Shared>>;

thread_local! {
    /// The address of the `Shared` whose driver is running code on this
    /// thread that may submit responses (0 for none), and whether that
    /// code asked for the driver meanwhile.
    static DRIVING: Cell<(usize, bool)> = const { Cell::new((0, false)) };
}

/// Marks this thread as running the driver of the `Shared` at `address`
/// (see [`Shared::address`]) until the guard drops.
pub(crate) struct Driving((usize, bool));

impl Driving {
    pub(crate) fn enter(address: usize) -> Driving {
        Driving(DRIVING.with(|d| d.replace((address, false))))
    }

    /// Whether a wake-up was asked for (and skipped) since `enter`: the
    /// driver must then take a fresh look at the shared state.
    pub(crate) fn was_asked(&self) -> bool {
        DRIVING.with(Cell::get).1
    }
}

impl Drop for Driving {
    fn drop(&mut self) {
        DRIVING.with(|d| d.set(self.0));
    }
}

#[inline]
pub(crate) fn lock(s: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The lines a kept-alive response gets: `Connection: keep-alive`, then
/// `Keep-Alive: timeout=N` when a timeout is advertised. Formatted once
/// per connection and held inline (a heap string cost an allocation per
/// connection); a response copies them in one go.
#[derive(Debug)]
struct KeepAliveLines {
    text: [u8; 72],
    len: u8,
}

const CONNECTION_KEEP_ALIVE: &[u8] = b"Connection: keep-alive\r\n";
const KEEP_ALIVE_PREFIX: &[u8] = b"Keep-Alive: ";

impl KeepAliveLines {
    fn new(timeout_secs: Option<u64>) -> Self {
        let mut text = [0u8; 72];
        let mut len = 0;
        let mut put = |part: &[u8]| {
            text[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        };
        put(CONNECTION_KEEP_ALIVE);
        if let Some(secs) = timeout_secs {
            put(KEEP_ALIVE_PREFIX);
            put(b"timeout=");
            put(crate::outgoing::Decimal::new(secs).as_bytes());
            put(b"\r\n");
        }
        KeepAliveLines {
            text,
            len: len as u8,
        }
    }

    /// Both lines (or the first alone when no timeout is advertised).
    fn lines(&self) -> &[u8] {
        &self.text[..usize::from(self.len)]
    }

    /// `Connection: keep-alive` alone.
    fn connection_line(&self) -> &[u8] {
        &self.text[..CONNECTION_KEEP_ALIVE.len()]
    }
}

/// What went wrong writing a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The connection is closed; nothing more can be sent.
    Closed,
    /// The protocol refused the call (bad field, body too long, …).
    Protocol(LocalError),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Closed => f.write_str("connection closed"),
            WriteError::Protocol(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for WriteError {}

impl Shared {
    pub(crate) fn new(
        conn: ServerConn,
        keep_alive_secs: Option<u64>,
        high_water_mark: usize,
        max_requests_per_socket: u64,
        upgrades_handled: bool,
    ) -> Self {
        Shared {
            max_requests_per_socket,
            upgrades_handled,
            touched: Arc::new(AtomicBool::new(false)),
            request_is_last: false,
            conn,
            slots: InlineQueue::new(),
            next_id: 0,
            driver: None,
            writers: Vec::new(),
            gone: false,
            close_when_idle: false,
            destroy: false,
            keep_alive_lines: KeepAliveLines::new(keep_alive_secs),
            high_water_mark,
            unsent: 0,
            handlers: 0,
        }
    }

    /// Where this state lives; it never moves (it is inside an `Arc`).
    pub(crate) fn address(&self) -> usize {
        self as *const Shared as usize
    }

    pub(crate) fn wake_driver(&mut self) {
        // From inside the driver's own turn (a handler it polls, a canned
        // answer) there is nobody to wake: the driver looks at the shared
        // state again before it sleeps. Waking it anyway would cost a
        // whole extra turn per request.
        let (driving, _) = DRIVING.with(Cell::get);
        if driving == self.address() {
            DRIVING.with(|d| d.set((driving, true)));
            return;
        }
        // Before the wake: the driver's next turn must see it.
        self.touched.store(true, Ordering::Release);
        if let Some(w) = self.driver.take() {
            w.wake();
        }
    }

    /// The flag `wake_driver` raises from outside the driver's turn.
    pub(crate) fn touched(&self) -> Arc<AtomicBool> {
        self.touched.clone()
    }

    /// Opens the response slot of a request just parsed, unless the request
    /// leaves HTTP (CONNECT, or an upgrade someone handles). Called under
    /// the lock that took the request, so a request costs no lock of its own.
    pub(crate) fn slot_for(&mut self, head: &RequestHead) -> Option<Opened> {
        if head.method().is_connect() || (head.is_upgrade() && self.upgrades_handled) {
            return None;
        }
        // Requests that leave HTTP are the connection's last: every earlier
        // one has a slot, and `next_id` counts them.
        let number = self.next_id + 1;
        let max = self.max_requests_per_socket;
        let last_allowed = max > 0 && number == max;
        Some(Opened {
            id: self.open_slot(head.version(), last_allowed),
            over_limit: max > 0 && number > max,
        })
    }

    fn open_slot(&mut self, version: Version, last_allowed: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.slots.push_back(Slot {
            id,
            version,
            queued: Vec::new(),
            head_sent: false,
            closes: false,
            last_allowed,
        });
        id
    }

    pub(crate) fn front_id(&self) -> Option<u64> {
        self.slots.front().map(|s| s.id)
    }

    pub(crate) fn owed(&self) -> usize {
        self.slots.len()
    }

    /// Whether the response being written (if any) has sent its head.
    pub(crate) fn front_head_sent(&self) -> bool {
        self.slots.front().is_some_and(|s| s.head_sent)
    }

    fn slot_mut(&mut self, id: u64) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id == id)
    }

    /// Runs `cmd` for response `id` now if it is at the front, else queues it.
    pub(crate) fn submit(&mut self, id: u64, cmd: Cmd) -> Result<(), WriteError> {
        self.submit_work(id, Work::Cmd(cmd))
    }

    /// Sends the head of response `id` now if it is at the front (encoded
    /// straight from the response's own fields), else queues a copy.
    pub(crate) fn submit_head(&mut self, id: u64, head: HeadRef<'_>) -> Result<(), WriteError> {
        self.submit_work(id, Work::Head(head))
    }

    /// A response's last commands at once: its head (unless sent), its
    /// data and its end. One look for the front, one pass over what was
    /// queued behind it and one wake-up, instead of one per command.
    pub(crate) fn submit_last(
        &mut self,
        id: u64,
        head: Option<HeadRef<'_>>,
        data: Bytes,
        trailers: Vec<(String, Vec<u8>)>,
    ) -> Result<(), WriteError> {
        if let Some(slot) = self.waiting_slot(id)? {
            if let Some(head) = head {
                slot.queued.push(Work::Head(head).into_cmd());
            }
            if !data.is_empty() {
                slot.queued.push(Cmd::Data(data));
            }
            slot.queued.push(Cmd::End(trailers));
            return Ok(());
        }
        let mut r = head.map_or(Ok(()), |head| self.send_head(head));
        if r.is_ok() && !data.is_empty() {
            r = self.execute(Cmd::Data(data));
        }
        if r.is_ok() {
            r = self.execute(Cmd::End(trailers));
        }
        self.front_work_done();
        r
    }

    fn submit_work(&mut self, id: u64, work: Work<'_>) -> Result<(), WriteError> {
        if let Some(slot) = self.waiting_slot(id)? {
            slot.queued.push(work.into_cmd());
            return Ok(());
        }
        let r = match work {
            Work::Cmd(cmd) => self.execute(cmd),
            Work::Head(head) => self.send_head(head),
        };
        self.front_work_done();
        r
    }

    /// Where work for response `id` waits: `None` when the response is at
    /// the front (its work runs now); `Closed` once the connection is gone.
    fn waiting_slot(&mut self, id: u64) -> Result<Option<&mut Slot>, WriteError> {
        if self.gone {
            return Err(WriteError::Closed);
        }
        if self.front_id() == Some(id) {
            return Ok(None);
        }
        self.slot_mut(id).map(Some).ok_or(WriteError::Closed)
    }

    /// After work at the front: what waited behind it may run now, and the
    /// driver has bytes to write.
    fn front_work_done(&mut self) {
        self.run_queued();
        self.wake_driver();
    }

    /// Applies the queued commands of responses that reached the front.
    fn run_queued(&mut self) {
        while let Some(front) = self.slots.front_mut() {
            if front.queued.is_empty() {
                return;
            }
            let cmds = std::mem::take(&mut front.queued);
            for cmd in cmds {
                if let Err(e) = self.execute(cmd) {
                    tracing::warn!(error = %e, "queued response command refused");
                }
            }
        }
    }

    fn execute(&mut self, cmd: Cmd) -> Result<(), WriteError> {
        match cmd {
            Cmd::Head(head) => self.send_head(head.borrow()),
            Cmd::Data(b) => match self.conn.send_data(b) {
                // Node drops body writes for HEAD, 204 and 304 quietly.
                Err(LocalError::BodyNotAllowed) => Ok(()),
                r => r.map_err(WriteError::Protocol),
            },
            Cmd::End(trailers) => {
                let ended = match self.conn.send_end_with_trailers(&trailers) {
                    // Node sends trailers on chunked responses only, and
                    // drops them quietly elsewhere (framing fields never
                    // get this far: `add_trailers` refuses them).
                    Err(LocalError::TrailersNotAllowed) => self.conn.send_end(),
                    r => r,
                };
                if let Err(e) = ended {
                    // The head promised more body than came (a
                    // Content-Length the data fell short of): the response
                    // can never end, so the connection ends instead of
                    // waiting for it for ever.
                    self.destroy = true;
                    return Err(WriteError::Protocol(e));
                }
                self.slots.pop_front();
                Ok(())
            }
            Cmd::Continue => self.conn.send_continue().map_err(WriteError::Protocol),
            Cmd::Informational(status, fields) => self
                .conn
                .send_informational(status, b"", &fields)
                .map_err(WriteError::Protocol),
        }
    }

    fn send_head(&mut self, head: HeadRef<'_>) -> Result<(), WriteError> {
        let HeadRef {
            status,
            reason,
            headers,
            hint,
            send_date,
        } = head;
        let slot = self.slots.front().ok_or(WriteError::Closed)?;
        let set = SetByUser::of(headers);
        let user_framing = set.framing;
        // An HTTP/1.0 peer cannot get chunked: a streamed body ends at close.
        let close_delimited =
            !slot.version.at_least_1_1() && hint == BodyHint::Streaming && !user_framing;
        let mut keep_alive = self.conn.response_keep_alive()
            && !slot.last_allowed
            && !close_delimited
            && !self.close_when_idle;
        // Formatted only when it will be sent.
        let date = (send_date && !set.date).then(crate::date::http_date_line);
        // The caller's lines, then Node's additions, all borrowed and
        // already formatted: the head is a few copies of whole lines.
        // `added` is the `Connection` field added, if any: the one added
        // field the protocol core reads for the framing.
        let mut added: Option<(&[u8], &[u8])> = None;
        let mut connection_lines: &[u8] = b"";
        if let Some(v) = set.connection {
            let says_close = v
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
            keep_alive &= !says_close;
        } else if keep_alive {
            added = Some((b"Connection", b"keep-alive"));
            // The user's own `Keep-Alive` replaces the advertised one.
            let ka = &self.keep_alive_lines;
            connection_lines = if set.keep_alive {
                ka.connection_line()
            } else {
                ka.lines()
            };
        } else {
            connection_lines = b"Connection: close\r\n";
            added = Some((b"Connection", b"close"));
        }
        let mut lines: SmallVec<[&[u8]; 4]> = SmallVec::new();
        headers.lines_into(&mut lines);
        if let Some(date) = &date {
            lines.push(date);
        }
        lines.push(connection_lines);
        if !keep_alive {
            self.conn.close_after_response();
        }
        // The framing fields among the lines: the user's (all of them,
        // when any is one; none to read otherwise) and the added one.
        // Every field was validated when it was set (ServerResponse) or is
        // one of the constants above.
        let user_fields = if set.read_for_framing { usize::MAX } else { 0 };
        let fields = headers.iter_bytes().take(user_fields).chain(added);
        self.conn
            .send_response_lines(status, reason, &lines, fields, hint)
            .map_err(WriteError::Protocol)?;
        if let Some(front) = self.slots.front_mut() {
            front.head_sent = true;
            front.closes = !keep_alive;
        }
        Ok(())
    }

    /// Drops every owed response (the connection is going away).
    pub(crate) fn abandon(&mut self) {
        self.gone = true;
        self.slots.clear();
        for w in self.writers.drain(..) {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeepAliveLines;

    #[test]
    fn keep_alive_lines() {
        for secs in [0, 5, 65, 3600, u64::MAX] {
            let lines = KeepAliveLines::new(Some(secs));
            let value = format!("timeout={secs}");
            assert_eq!(
                lines.lines(),
                format!("Connection: keep-alive\r\nKeep-Alive: {value}\r\n").as_bytes()
            );
            assert!(lines
                .lines()
                .ends_with(format!("Keep-Alive: {value}\r\n").as_bytes()));
            assert_eq!(lines.connection_line(), b"Connection: keep-alive\r\n");
        }
        let none = KeepAliveLines::new(None);
        assert_eq!(none.lines(), b"Connection: keep-alive\r\n");
        assert_eq!(none.lines(), none.connection_line(), "no Keep-Alive line");
    }
}
