//! The agent state machine.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::hash::FastMap;
use crate::name::{write_name, ConnectOptions};
use crate::options::{AgentOptions, OptionsError, Scheduling};

/// Node subtracts this from a `Keep-Alive: timeout=N` hint so the client gives up on a
/// free socket before the server closes it.
const HINT_MARGIN_MS: u64 = 1000;

/// An interned pool key (the result of [`get_name`](crate::get_name)). Cheap to copy and
/// compare; resolve it once per origin with [`Agent::name`] and keep it. It is only
/// meaningful to the agent that made it (another agent's id panics or misroutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameId(u32);

impl NameId {
    /// Position of this name in [`Agent::names`], dense from 0.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A request handed to [`Agent::add_request`]; ids grow and are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReqId(u64);

impl ReqId {
    /// The raw id.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A connection attempt asked for by [`Action::Connect`]; ids grow and are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The raw id.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A decision of the agent, for the driver to carry out. Drain them with
/// [`Agent::poll_action`] after every input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<H> {
    /// Give `handle` to `req`. `reused` is Node's `request.reusedSocket`: `false` only for
    /// a connection that just came up, `true` when it served an earlier request or sat
    /// idle in the free list; the server may have closed such a socket at the very moment
    /// it was handed out, so a reset on it is worth one retry of an idempotent request.
    Assign {
        /// The request.
        req: ReqId,
        /// The socket it gets.
        handle: H,
        /// Whether the socket served a request before.
        reused: bool,
    },
    /// Open a connection for `name` (its options: [`Agent::connect_options`]) and report
    /// the outcome with [`Agent::connected`] or [`Agent::connect_failed`]. The attempt
    /// belongs to the name, not to one request: when it is up it serves the oldest request
    /// then waiting under that name, so connections that finish out of order never break
    /// the per-name FIFO, and a cancelled request leaves no orphan behind.
    Connect {
        /// Id to report the outcome with.
        conn: ConnId,
        /// The pool the connection is for.
        name: NameId,
    },
    /// Abandon a connection attempt ([`Agent::destroy`]); the agent already forgot it.
    AbortConnect(ConnId),
    /// Destroy the socket. The agent already forgot it; a later `on_close` is ignored.
    Destroy(H),
    /// Arm the socket's inactivity timeout (Node's `socket.setTimeout(ms)`); when it fires,
    /// call [`Agent::on_timeout`].
    SetTimeout {
        /// The socket.
        handle: H,
        /// Inactivity allowed before `on_timeout`.
        timeout: Duration,
    },
    /// Disarm the socket's inactivity timeout (Node's `socket.setTimeout(0)`).
    ClearTimeout(H),
    /// Turn TCP keep-alive on (Node's `socket.setKeepAlive(true, keepAliveMsecs)`).
    SetKeepAlive {
        /// The socket.
        handle: H,
        /// Idle time before the first probe.
        initial_delay: Duration,
    },
    /// `req` will not get a socket; it has left the agent.
    Failed {
        /// The request.
        req: ReqId,
        /// Why.
        reason: FailReason,
    },
}

/// Why a request failed without a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// It waited longer than [`AgentOptions::queue_timeout`].
    QueueTimeout,
    /// This connection attempt failed and no other attempt was left to serve the request
    /// (the driver holds the error that [`Agent::connect_failed`] was called for).
    ConnectFailed(ConnId),
    /// [`Agent::destroy`] was called while it waited.
    AgentDestroyed,
}

/// What the finished request and its response said about the socket, given to
/// [`Agent::on_free`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Release {
    /// The exchange allowed reuse and the socket is still writable (Node's
    /// `req.shouldKeepAlive && socket.writable`). `false` destroys the socket.
    pub reusable: bool,
    /// The response's `Keep-Alive: timeout=N`, in seconds
    /// ([`parse_keep_alive_timeout`](crate::parse_keep_alive_timeout)).
    pub keep_alive_timeout_hint: Option<u64>,
    /// The user's verdict, like overriding Node's `agent.keepSocketAlive(socket)`; `false`
    /// destroys a socket that would otherwise be kept.
    pub keep_socket_alive: bool,
}

impl Release {
    /// A keep-alive exchange with no hint.
    pub const fn keep_alive() -> Self {
        Self {
            reusable: true,
            keep_alive_timeout_hint: None,
            keep_socket_alive: true,
        }
    }

    /// An exchange that ends the connection (`Connection: close`, an error, an upgrade...).
    pub const fn close() -> Self {
        Self {
            reusable: false,
            keep_alive_timeout_hint: None,
            keep_socket_alive: true,
        }
    }

    /// Adds the `Keep-Alive: timeout=N` hint, in seconds.
    pub const fn with_hint(mut self, secs: u64) -> Self {
        self.keep_alive_timeout_hint = Some(secs);
        self
    }

    /// Sets the user's keep-socket-alive verdict.
    pub const fn with_keep_socket_alive(mut self, keep: bool) -> Self {
        self.keep_socket_alive = keep;
        self
    }
}

/// Counters kept per name and for the whole agent. They only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Requests added.
    pub requests: u64,
    /// Requests given a freshly connected socket.
    pub assigned_new: u64,
    /// Requests given a socket that had served before.
    pub reused: u64,
    /// Requests that found no free socket and no room for a new one (Node's `requests`).
    pub queued: u64,
    /// Connections asked for.
    pub connects: u64,
    /// Connections that came up.
    pub connected: u64,
    /// Connections that failed.
    pub connect_failures: u64,
    /// Sockets the agent destroyed (evictions, timeouts and `destroy()` included).
    pub destroyed: u64,
    /// Free sockets destroyed to make room for a request of another name under
    /// `max_total_sockets`.
    pub evicted: u64,
    /// Free sockets destroyed by their inactivity timeout.
    pub free_timeouts: u64,
    /// Sockets that closed on their own ([`Agent::on_close`]).
    pub closed: u64,
    /// Sockets taken out of the pool ([`Agent::detach`]).
    pub detached: u64,
    /// Requests cancelled while waiting.
    pub cancelled: u64,
    /// Requests failed by the queue timeout.
    pub queue_timeouts: u64,
    /// Requests failed for any reason.
    pub failed: u64,
}

/// Where a socket is, as [`Agent::socket`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketInfo {
    /// The pool it belongs to.
    pub name: NameId,
    /// Idle in the free list (`true`) or serving a request (`false`).
    pub free: bool,
    /// Marked unusable: it will be destroyed instead of being kept.
    pub unusable: bool,
}

struct Sock {
    name: NameId,
    free: bool,
    unusable: bool,
    /// Index in the pool's `active` list while not free.
    slot: usize,
    /// When it was last freed; ties it to its entry in the eviction queue.
    stamp: u64,
    /// The inactivity timeout the driver was last told about.
    timeout: Option<Duration>,
    tcp_keep_alive: bool,
}

/// What a name is; kept apart from [`Pool`] so the hot per-name state stays small.
struct NameMeta {
    key: Box<str>,
    connect: ConnectOptions,
}

struct Pool<H> {
    /// Oldest freed at the front.
    free: VecDeque<H>,
    active: Vec<H>,
    connecting: usize,
    /// Requests waiting, oldest first; cancelled and timed-out ids stay until skipped.
    waiting: VecDeque<ReqId>,
    /// Requests in `waiting` that are still waiting.
    live: usize,
    /// Position in the queue order while the pool has queued requests.
    listed: Option<u64>,
    stats: Stats,
}

impl<H> Pool<H> {
    /// Waiting requests that no connection attempt is on the way for: Node's
    /// `requests[name]`. The first `connecting` waiters are covered by attempts.
    fn queued(&self) -> usize {
        self.live.saturating_sub(self.connecting)
    }

    /// Node's `freeSockets[name].length + sockets[name].length`.
    fn count(&self) -> usize {
        self.free.len() + self.active.len() + self.connecting
    }
}

/// Node's `http.Agent` as a pure state machine over opaque socket handles `H`.
///
/// Feed it what happened (`add_request`, `connected`, `on_free`, `on_close`, ...) and
/// carry out the [`Action`]s it returns through [`poll_action`](Agent::poll_action). It
/// never does I/O and never reads a clock: the few inputs that need time take `now`.
pub struct Agent<H> {
    opts: AgentOptions,
    max_sockets: usize,
    max_total: usize,
    pools: Vec<Pool<H>>,
    meta: Vec<NameMeta>,
    keys: HashMap<Box<str>, NameId>,
    scratch: String,
    sockets: FastMap<H, Sock>,
    conns: FastMap<ConnId, NameId>,
    waiters: FastMap<ReqId, NameId>,
    /// Queue deadlines in request order (all requests share one timeout).
    deadlines: VecDeque<(Instant, ReqId)>,
    /// Names with queued requests, in the order their queues formed (Node's key order of
    /// `agent.requests`); stale entries are skipped.
    order: VecDeque<(NameId, u64)>,
    listed: usize,
    epoch: u64,
    /// Free sockets, least recently freed first, for eviction under `max_total_sockets`.
    lru: VecDeque<(H, u64)>,
    stamp: u64,
    total: usize,
    free_total: usize,
    next_req: u64,
    next_conn: u64,
    actions: VecDeque<Action<H>>,
    stats: Stats,
}

impl<H: Copy + Eq + Hash> Agent<H> {
    /// An agent with these options, or why they are invalid.
    pub fn new(options: AgentOptions) -> Result<Self, OptionsError> {
        options.validate()?;
        Ok(Self {
            max_sockets: options.max_sockets.unwrap_or(usize::MAX),
            max_total: options.max_total_sockets.unwrap_or(usize::MAX),
            opts: options,
            pools: Vec::new(),
            meta: Vec::new(),
            keys: HashMap::new(),
            scratch: String::new(),
            sockets: FastMap::default(),
            conns: FastMap::default(),
            waiters: FastMap::default(),
            deadlines: VecDeque::new(),
            order: VecDeque::new(),
            listed: 0,
            epoch: 0,
            lru: VecDeque::new(),
            stamp: 0,
            total: 0,
            free_total: 0,
            next_req: 0,
            next_conn: 0,
            actions: VecDeque::new(),
            stats: Stats::default(),
        })
    }

    /// The options in force.
    pub fn options(&self) -> &AgentOptions {
        &self.opts
    }

    // ----- names -------------------------------------------------------------------------

    /// The pool for a request's connect options: the agent's own connect options override
    /// the request's (A2), the key is Node's `getName` (A1), and the name is interned.
    /// Costs no allocation for a name seen before.
    pub fn name(&mut self, request: &ConnectOptions) -> NameId {
        self.scratch.clear();
        write_name(&mut self.scratch, request, &self.opts.connect);
        if let Some(&id) = self.keys.get(self.scratch.as_str()) {
            return id;
        }
        let id = NameId(u32::try_from(self.pools.len()).expect("fewer than 2^32 names"));
        let key: Box<str> = self.scratch.as_str().into();
        self.keys.insert(key.clone(), id);
        self.meta.push(NameMeta {
            key,
            connect: request.overridden_by(&self.opts.connect),
        });
        self.pools.push(Pool {
            free: VecDeque::new(),
            active: Vec::new(),
            connecting: 0,
            waiting: VecDeque::new(),
            live: 0,
            listed: None,
            stats: Stats::default(),
        });
        id
    }

    /// The name with this key, if it was resolved before.
    pub fn lookup(&self, key: &str) -> Option<NameId> {
        self.keys.get(key).copied()
    }

    /// The key string of a name (Node's property name in `sockets`, `freeSockets`, ...).
    pub fn key(&self, name: NameId) -> &str {
        &self.meta[name.index()].key
    }

    /// Where connections for this name go: the request's options merged under the agent's.
    pub fn connect_options(&self, name: NameId) -> &ConnectOptions {
        &self.meta[name.index()].connect
    }

    /// Every name resolved so far, in the order first seen.
    pub fn names(&self) -> impl ExactSizeIterator<Item = NameId> {
        (0..self.pools.len() as u32).map(NameId)
    }

    // ----- inputs ------------------------------------------------------------------------

    /// A request wants a socket for `name` (Node's `agent.addRequest`). It gets a free
    /// socket (A3), or a new connection under both caps (A4, A5), or waits in the name's
    /// FIFO queue (A6). `now` starts its queue timeout, if any.
    pub fn add_request(&mut self, name: NameId, now: Instant) -> ReqId {
        let req = ReqId(self.next_req);
        self.next_req += 1;
        self.bump(name, |s| s.requests += 1);

        if let Some(handle) = self.take_free(name) {
            self.assign(req, handle, true, name);
            return req;
        }

        let pool = &mut self.pools[name.index()];
        // An attempt left over by a cancelled request already covers this one.
        let covered = pool.connecting > pool.live;
        pool.waiting.push_back(req);
        pool.live += 1;
        self.waiters.insert(req, name);
        if let Some(deadline) = self.opts.queue_timeout.and_then(|qt| now.checked_add(qt)) {
            self.deadlines.push_back((deadline, req));
        }
        if !covered && !self.try_open(name) {
            self.bump(name, |s| s.queued += 1);
        }
        self.sync(name);
        self.tidy_order();
        req
    }

    /// The connection attempt `conn` succeeded with socket `handle`. It serves the oldest
    /// request waiting under its name; with none left it is kept free or destroyed like a
    /// finished socket. A `conn` the agent abandoned gets [`Action::Destroy`].
    pub fn connected(&mut self, conn: ConnId, handle: H) {
        let Some(name) = self.conns.remove(&conn) else {
            self.actions.push_back(Action::Destroy(handle));
            return;
        };
        if self.sockets.contains_key(&handle) {
            // The driver reused a handle that is still live: count the attempt as failed
            // rather than corrupt the books.
            self.conns.insert(conn, name);
            self.connect_failed(conn);
            return;
        }
        let keep_alive = self.opts.keep_alive;
        let pool = &mut self.pools[name.index()];
        pool.connecting -= 1;
        let slot = pool.active.len();
        pool.active.push(handle);
        self.sockets.insert(
            handle,
            Sock {
                name,
                free: false,
                unusable: false,
                slot,
                stamp: 0,
                timeout: self.opts.timeout,
                tcp_keep_alive: keep_alive,
            },
        );
        self.bump(name, |s| s.connected += 1);
        // Node hands `keepAlive`, `keepAliveInitialDelay` and `timeout` to
        // `net.createConnection`.
        if keep_alive {
            self.actions.push_back(Action::SetKeepAlive {
                handle,
                initial_delay: self.opts.keep_alive_msecs,
            });
        }
        if let Some(timeout) = self.opts.timeout {
            self.actions
                .push_back(Action::SetTimeout { handle, timeout });
        }
        if let Some(req) = self.pop_waiter(name) {
            self.assign(req, handle, false, name);
            self.sync(name);
        } else {
            self.sync(name);
            self.keep_or_destroy(handle, name, None, true);
        }
        self.tidy_order();
    }

    /// The connection attempt `conn` failed. If the requests waiting under its name now
    /// outnumber the attempts still running, the oldest one fails with
    /// [`FailReason::ConnectFailed`]; either way the freed slot goes to the next queued
    /// request (same name first, A10), so a failure never strands the queue.
    pub fn connect_failed(&mut self, conn: ConnId) {
        let Some(name) = self.conns.remove(&conn) else {
            return;
        };
        let pool = &mut self.pools[name.index()];
        pool.connecting -= 1;
        self.total -= 1;
        self.bump(name, |s| s.connect_failures += 1);
        let pool = &self.pools[name.index()];
        if pool.live > pool.connecting {
            if let Some(req) = self.pop_waiter(name) {
                self.fail(req, FailReason::ConnectFailed(conn), name);
            }
        }
        self.pump(Some(name));
        self.tidy_order();
    }

    /// The request on `handle` is done (Node's socket `free` event). The socket serves the
    /// oldest queued request of its name (A6), else is kept free or destroyed (A7, A8).
    /// Unknown or already free handles are ignored.
    pub fn on_free(&mut self, handle: H, release: Release) {
        let Some(sock) = self.sockets.get(&handle) else {
            return;
        };
        if sock.free {
            return;
        }
        let name = sock.name;
        if !release.reusable || sock.unusable {
            self.kill(handle, name);
            return;
        }
        if let Some(req) = self.pop_waiter(name) {
            self.assign(req, handle, true, name);
            self.sync(name);
            self.tidy_order();
            return;
        }
        self.keep_or_destroy(
            handle,
            name,
            release.keep_alive_timeout_hint,
            release.keep_socket_alive,
        );
    }

    /// The socket closed (peer, error, or after a [`Action::Destroy`]): it leaves the
    /// agent, and its slot goes to the next queued request (A10).
    pub fn on_close(&mut self, handle: H) {
        if let Some(name) = self.remove_socket(handle) {
            self.bump(name, |s| s.closed += 1);
            self.pump(Some(name));
            self.tidy_order();
        }
    }

    /// The socket leaves the pool without being destroyed (Node's `agentRemove`, used for
    /// upgrades and CONNECT). Its slot goes to the next queued request.
    pub fn detach(&mut self, handle: H) {
        if let Some(name) = self.remove_socket(handle) {
            self.bump(name, |s| s.detached += 1);
            self.pump(Some(name));
            self.tidy_order();
        }
    }

    /// The socket's inactivity timeout fired. Destroyed only if it is still free (A9); an
    /// active socket's timeout belongs to its request.
    pub fn on_timeout(&mut self, handle: H) {
        if let Some(sock) = self.sockets.get(&handle) {
            if sock.free {
                let name = sock.name;
                self.bump(name, |s| s.free_timeouts += 1);
                self.kill(handle, name);
            }
        }
    }

    /// The socket reported an error. A free socket is destroyed and removed (A9); an active
    /// one will not be kept when its request finishes.
    pub fn on_error(&mut self, handle: H) {
        self.mark_unusable(handle);
    }

    /// Liveness verdict: the socket must never serve another request, typically because
    /// bytes or EOF arrived while it sat idle. A free socket is destroyed at once; an
    /// active one is destroyed when it is freed.
    pub fn mark_unusable(&mut self, handle: H) {
        let Some(sock) = self.sockets.get_mut(&handle) else {
            return;
        };
        if sock.free {
            let name = sock.name;
            self.kill(handle, name);
        } else {
            sock.unusable = true;
        }
    }

    /// Beyond Node: a waiting request gives up. It leaves the queue at once and nothing is
    /// reported for it. Returns whether it was waiting.
    pub fn cancel(&mut self, req: ReqId) -> bool {
        let Some(name) = self.waiters.remove(&req) else {
            return false;
        };
        self.pools[name.index()].live -= 1;
        self.bump(name, |s| s.cancelled += 1);
        self.sync(name);
        self.tidy_order();
        true
    }

    /// Node's `agent.destroy()` (A11): destroys every free and active socket and abandons
    /// every connection attempt. Pier also fails the waiting requests with
    /// [`FailReason::AgentDestroyed`], where Node would open new sockets for them as the
    /// destroyed ones close. The agent stays usable.
    pub fn destroy(&mut self) {
        for i in 0..self.pools.len() {
            let pool = &mut self.pools[i];
            let n = pool.free.len() as u64;
            self.actions
                .extend(pool.free.drain(..).map(Action::Destroy));
            pool.stats.destroyed += n;
            self.stats.destroyed += n;
        }
        for i in 0..self.pools.len() {
            let pool = &mut self.pools[i];
            let n = pool.active.len() as u64;
            self.actions
                .extend(pool.active.drain(..).map(Action::Destroy));
            pool.stats.destroyed += n;
            self.stats.destroyed += n;
        }
        let mut conns: Vec<ConnId> = self.conns.drain().map(|(c, _)| c).collect();
        conns.sort_unstable();
        self.actions
            .extend(conns.into_iter().map(Action::AbortConnect));
        for i in 0..self.pools.len() {
            let name = NameId(i as u32);
            while let Some(req) = self.pop_waiter(name) {
                self.fail(req, FailReason::AgentDestroyed, name);
            }
            let pool = &mut self.pools[i];
            pool.connecting = 0;
            pool.waiting.clear();
            pool.listed = None;
        }
        self.sockets.clear();
        self.waiters.clear();
        self.deadlines.clear();
        self.order.clear();
        self.lru.clear();
        self.listed = 0;
        self.total = 0;
        self.free_total = 0;
    }

    /// When [`handle_timeout`](Agent::handle_timeout) next has work, if ever.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&(deadline, req)) = self.deadlines.front() {
            if self.waiters.contains_key(&req) {
                return Some(deadline);
            }
            self.deadlines.pop_front();
        }
        None
    }

    /// Fails the requests whose queue timeout passed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, req)) = self.deadlines.front() {
            if self.waiters.contains_key(&req) && deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(name) = self.waiters.remove(&req) {
                self.pools[name.index()].live -= 1;
                self.bump(name, |s| s.queue_timeouts += 1);
                self.fail(req, FailReason::QueueTimeout, name);
                self.sync(name);
            }
        }
        self.tidy_order();
    }

    // ----- outputs and observation -------------------------------------------------------

    /// The next decision to carry out, oldest first.
    pub fn poll_action(&mut self) -> Option<Action<H>> {
        self.actions.pop_front()
    }

    /// Node's `agent.sockets[name].length`: sockets serving requests plus connections on
    /// the way.
    pub fn sockets(&self, name: NameId) -> usize {
        let pool = &self.pools[name.index()];
        pool.active.len() + pool.connecting
    }

    /// The sockets of this name that are serving requests.
    pub fn active_sockets(&self, name: NameId) -> &[H] {
        &self.pools[name.index()].active
    }

    /// Connection attempts on the way for this name.
    pub fn connecting(&self, name: NameId) -> usize {
        self.pools[name.index()].connecting
    }

    /// Node's `agent.freeSockets[name]`, least recently freed first.
    pub fn free_sockets(&self, name: NameId) -> impl ExactSizeIterator<Item = H> + '_ {
        self.pools[name.index()].free.iter().copied()
    }

    /// Node's `agent.requests[name].length`: requests waiting with no connection attempt
    /// on the way for them.
    pub fn requests(&self, name: NameId) -> usize {
        self.pools[name.index()].queued()
    }

    /// Requests waiting under this name, oldest first (queued or covered by an attempt).
    pub fn waiting_requests(&self, name: NameId) -> impl Iterator<Item = ReqId> + '_ {
        self.pools[name.index()]
            .waiting
            .iter()
            .copied()
            .filter(|r| self.waiters.contains_key(r))
    }

    /// Node's `agent.totalSocketCount`: free, active and connecting sockets of every name.
    pub fn total_sockets(&self) -> usize {
        self.total
    }

    /// Free sockets over all names.
    pub fn total_free_sockets(&self) -> usize {
        self.free_total
    }

    /// Requests waiting over all names.
    pub fn total_waiting(&self) -> usize {
        self.waiters.len()
    }

    /// Where a socket is, if the agent knows it.
    pub fn socket(&self, handle: H) -> Option<SocketInfo> {
        self.sockets.get(&handle).map(|s| SocketInfo {
            name: s.name,
            free: s.free,
            unusable: s.unusable,
        })
    }

    /// Counters for the whole agent.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Counters for one name.
    pub fn name_stats(&self, name: NameId) -> &Stats {
        &self.pools[name.index()].stats
    }

    /// Checks the internal books and the pool's promises: caps hold, counts agree, no free
    /// socket idles while a request of its name waits, and no request waits while a
    /// socket could be opened for it. Meant for tests and fuzzers.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut total = 0;
        let mut free_total = 0;
        let mut sockets = 0;
        let mut waiters = 0;
        let mut listed = 0;
        let mut conns = vec![0usize; self.pools.len()];
        for name in self.conns.values() {
            conns[name.index()] += 1;
        }
        for (i, pool) in self.pools.iter().enumerate() {
            let key = &self.meta[i].key;
            total += pool.count();
            free_total += pool.free.len();
            sockets += pool.free.len() + pool.active.len();
            if pool.count() > self.max_sockets {
                return Err(format!("{key}: {} sockets > max_sockets", pool.count()));
            }
            if pool.free.len() > self.opts.max_free_sockets {
                return Err(format!("{key}: free list over max_free_sockets"));
            }
            if conns[i] != pool.connecting {
                return Err(format!("{key}: connecting count disagrees"));
            }
            let live = pool
                .waiting
                .iter()
                .filter(|r| self.waiters.get(r) == Some(&NameId(i as u32)))
                .count();
            if live != pool.live {
                return Err(format!("{key}: live waiter count disagrees"));
            }
            waiters += live;
            if !pool.free.is_empty() && pool.live > 0 {
                return Err(format!("{key}: a free socket idles while a request waits"));
            }
            if (pool.queued() > 0) != pool.listed.is_some() {
                return Err(format!("{key}: queue order listing disagrees"));
            }
            if let Some(epoch) = pool.listed {
                listed += 1;
                if !self.order.contains(&(NameId(i as u32), epoch)) {
                    return Err(format!("{key}: missing from the queue order"));
                }
            }
            if pool.queued() > 0 && pool.count() < self.max_sockets {
                let total_blocked = self.total >= self.max_total && self.free_total == 0;
                if !total_blocked {
                    return Err(format!("{key}: a request is stranded with room to connect"));
                }
            }
            for (slot, h) in pool.active.iter().enumerate() {
                match self.sockets.get(h) {
                    Some(s) if !s.free && s.slot == slot && s.name.index() == i => {}
                    _ => return Err(format!("{key}: active socket books disagree")),
                }
            }
            for h in &pool.free {
                match self.sockets.get(h) {
                    Some(s) if s.free && s.name.index() == i && !s.unusable => {}
                    _ => return Err(format!("{key}: free socket books disagree")),
                }
            }
        }
        if total != self.total || total > self.max_total {
            return Err(format!("total {} vs counted {total}", self.total));
        }
        if free_total != self.free_total {
            return Err("free total disagrees".into());
        }
        if sockets != self.sockets.len() {
            return Err("socket table disagrees".into());
        }
        if waiters != self.waiters.len() {
            return Err("waiter table disagrees".into());
        }
        if listed != self.listed {
            return Err("listed count disagrees".into());
        }
        Ok(())
    }

    // ----- internals ---------------------------------------------------------------------

    fn bump(&mut self, name: NameId, f: fn(&mut Stats)) {
        f(&mut self.pools[name.index()].stats);
        f(&mut self.stats);
    }

    fn assign(&mut self, req: ReqId, handle: H, reused: bool, name: NameId) {
        if reused {
            self.bump(name, |s| s.reused += 1);
        } else {
            self.bump(name, |s| s.assigned_new += 1);
        }
        self.actions.push_back(Action::Assign {
            req,
            handle,
            reused,
        });
    }

    fn fail(&mut self, req: ReqId, reason: FailReason, name: NameId) {
        self.bump(name, |s| s.failed += 1);
        self.actions.push_back(Action::Failed { req, reason });
    }

    /// A3: the newest (lifo) or oldest (fifo) free socket. Unusable sockets never sit in
    /// the free list (they are destroyed when marked), so there is nothing to skip.
    fn take_free(&mut self, name: NameId) -> Option<H> {
        let pool = &mut self.pools[name.index()];
        let handle = match self.opts.scheduling {
            Scheduling::Lifo => pool.free.pop_back(),
            Scheduling::Fifo => pool.free.pop_front(),
        }?;
        self.free_total -= 1;
        let sock = self
            .sockets
            .get_mut(&handle)
            .expect("free sockets are in the socket table");
        sock.free = false;
        sock.slot = pool.active.len();
        pool.active.push(handle);
        // A server hint shortened the timeout for the idle time only; the request runs
        // under the agent's own.
        if sock.timeout != self.opts.timeout {
            sock.timeout = self.opts.timeout;
            self.actions.push_back(match self.opts.timeout {
                Some(timeout) => Action::SetTimeout { handle, timeout },
                None => Action::ClearTimeout(handle),
            });
        }
        Some(handle)
    }

    /// The oldest live waiter of a name, removed from the queue.
    fn pop_waiter(&mut self, name: NameId) -> Option<ReqId> {
        let pool = &mut self.pools[name.index()];
        if pool.live == 0 {
            pool.waiting.clear();
            return None;
        }
        while let Some(req) = pool.waiting.pop_front() {
            if self.waiters.remove(&req).is_some() {
                pool.live -= 1;
                return Some(req);
            }
        }
        None
    }

    /// A4 + A5: opens a connection for `name` if both caps allow, evicting an idle socket
    /// of another name when only `max_total_sockets` stands in the way.
    fn try_open(&mut self, name: NameId) -> bool {
        if self.pools[name.index()].count() >= self.max_sockets {
            return false;
        }
        if self.total >= self.max_total && !self.evict_one() {
            return false;
        }
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(conn, name);
        self.pools[name.index()].connecting += 1;
        self.total += 1;
        self.bump(name, |s| s.connects += 1);
        self.actions.push_back(Action::Connect { conn, name });
        true
    }

    /// Destroys the least recently freed socket. Only called at the total cap, where the
    /// eviction queue is kept.
    fn evict_one(&mut self) -> bool {
        if self.free_total == 0 {
            return false;
        }
        while let Some((handle, stamp)) = self.lru.pop_front() {
            let Some(sock) = self.sockets.get(&handle) else {
                continue;
            };
            if sock.free && sock.stamp == stamp {
                let name = sock.name;
                self.remove_socket(handle);
                self.bump(name, |s| {
                    s.destroyed += 1;
                    s.evicted += 1;
                });
                self.actions.push_back(Action::Destroy(handle));
                return true;
            }
        }
        false
    }

    /// A7 + A8 for a socket with no request of its name waiting: keep it free, or destroy.
    fn keep_or_destroy(&mut self, handle: H, name: NameId, hint: Option<u64>, user_ok: bool) {
        let pool = &self.pools[name.index()];
        // The caps are checked as Node does; they can only fail if the books are wrong.
        if !self.opts.keep_alive
            || !user_ok
            || pool.free.len() >= self.opts.max_free_sockets
            || pool.count() > self.max_sockets
            || self.total > self.max_total
        {
            self.kill(handle, name);
            return;
        }
        let mut timeout = self.opts.timeout;
        if let Some(secs) = hint {
            let ms = secs.saturating_mul(1000).saturating_sub(HINT_MARGIN_MS);
            if ms == 0 {
                // The server closes too soon for a later request to make it.
                self.kill(handle, name);
                return;
            }
            let hinted = Duration::from_millis(ms);
            timeout = match timeout {
                Some(t) => Some(t.min(hinted)),
                None if self.opts.hint_without_timeout => Some(hinted),
                None => None,
            };
        }

        let sock = self
            .sockets
            .get_mut(&handle)
            .expect("caller checked the handle");
        if !sock.tcp_keep_alive {
            sock.tcp_keep_alive = true;
            self.actions.push_back(Action::SetKeepAlive {
                handle,
                initial_delay: self.opts.keep_alive_msecs,
            });
        }
        if sock.timeout != timeout {
            sock.timeout = timeout;
            self.actions.push_back(match timeout {
                Some(timeout) => Action::SetTimeout { handle, timeout },
                None => Action::ClearTimeout(handle),
            });
        }
        self.stamp += 1;
        sock.stamp = self.stamp;
        sock.free = true;
        let slot = sock.slot;

        let pool = &mut self.pools[name.index()];
        pool.active.swap_remove(slot);
        if let Some(&moved) = pool.active.get(slot) {
            self.sockets
                .get_mut(&moved)
                .expect("active sockets are in the socket table")
                .slot = slot;
        }
        pool.free.push_back(handle);
        self.free_total += 1;

        if self.opts.max_total_sockets.is_some() {
            self.lru.push_back((handle, self.stamp));
            if self.lru.len() > 2 * self.free_total + 32 {
                let sockets = &self.sockets;
                self.lru.retain(|(h, stamp)| {
                    sockets.get(h).is_some_and(|s| s.free && s.stamp == *stamp)
                });
            }
            // Node hands the slot to another name here too (it calls removeSocket); Pier
            // can only do so by evicting an idle socket, which the pump decides.
            if self.listed > 0 {
                self.pump(None);
                self.tidy_order();
            }
        }
    }

    /// Destroys a socket the agent decided to drop, then hands its slot on (A10).
    fn kill(&mut self, handle: H, name: NameId) {
        self.remove_socket(handle);
        self.bump(name, |s| s.destroyed += 1);
        self.actions.push_back(Action::Destroy(handle));
        self.pump(Some(name));
        self.tidy_order();
    }

    /// Forgets a socket wherever it is; returns its name.
    fn remove_socket(&mut self, handle: H) -> Option<NameId> {
        let sock = self.sockets.remove(&handle)?;
        let pool = &mut self.pools[sock.name.index()];
        if sock.free {
            if let Some(pos) = pool.free.iter().position(|&h| h == handle) {
                pool.free.remove(pos);
            }
            self.free_total -= 1;
        } else {
            pool.active.swap_remove(sock.slot);
            if let Some(&moved) = pool.active.get(sock.slot) {
                self.sockets
                    .get_mut(&moved)
                    .expect("active sockets are in the socket table")
                    .slot = sock.slot;
            }
        }
        self.total -= 1;
        Some(sock.name)
    }

    /// A10: capacity came free (a socket of `released` went away, or a socket went idle
    /// that could be evicted). The same name's queue is served first; then, because only
    /// `max_total_sockets` can hold back a name that has no sockets of its own, the other
    /// queues in the order they formed.
    fn pump(&mut self, released: Option<NameId>) {
        if let Some(name) = released {
            while self.pools[name.index()].queued() > 0 && self.try_open(name) {}
            self.sync(name);
        }
        if self.opts.max_total_sockets.is_none() || self.listed == 0 {
            return;
        }
        let mut i = 0;
        while i < self.order.len() {
            let (name, epoch) = self.order[i];
            i += 1;
            if self.pools[name.index()].listed != Some(epoch) {
                continue;
            }
            while self.pools[name.index()].queued() > 0 && self.try_open(name) {}
            self.sync(name);
            if self.total >= self.max_total && self.free_total == 0 {
                break;
            }
        }
    }

    /// Keeps the queue-order listing in step with whether `name` has queued requests, and
    /// sheds skipped ids from its queue.
    fn sync(&mut self, name: NameId) {
        let pool = &mut self.pools[name.index()];
        match (pool.queued() > 0, pool.listed) {
            (true, None) => {
                self.epoch += 1;
                pool.listed = Some(self.epoch);
                self.order.push_back((name, self.epoch));
                self.listed += 1;
            }
            (false, Some(_)) => {
                pool.listed = None;
                self.listed -= 1;
            }
            _ => {}
        }
        if pool.waiting.len() > 2 * pool.live + 16 {
            let waiters = &self.waiters;
            pool.waiting.retain(|r| waiters.contains_key(r));
        }
    }

    /// Drops stale entries of the queue order and the deadline queue once they pile up.
    fn tidy_order(&mut self) {
        let pools = &self.pools;
        let valid = |&(name, epoch): &(NameId, u64)| pools[name.index()].listed == Some(epoch);
        while self.order.front().is_some_and(|e| !valid(e)) {
            self.order.pop_front();
        }
        if self.order.len() > 2 * self.listed + 16 {
            self.order.retain(valid);
        }
        if self.deadlines.len() > 2 * self.waiters.len() + 32 {
            let waiters = &self.waiters;
            self.deadlines.retain(|(_, r)| waiters.contains_key(r));
        }
    }
}

impl<H> core::fmt::Debug for Agent<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Agent")
            .field("names", &self.pools.len())
            .field("total_sockets", &self.total)
            .field("free_sockets", &self.free_total)
            .field("waiting", &self.waiters.len())
            .field("pending_actions", &self.actions.len())
            .finish()
    }
}
