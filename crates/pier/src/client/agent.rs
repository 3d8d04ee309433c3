//! Node's `http.Agent`: `pier-pool`'s decisions carried out with real
//! connections.

use super::conn::{lock as lock_conn, ClientDriver, ConnRef, ConnShared};
use super::RequestError;
use crate::runtime::{ConnectFuture, Runtime};
use pier_pool::{
    Action, AgentOptions, ConnId, ConnectOptions, FailReason, IdMap, NameId, OptionsError, Release,
    ReqId,
};
use pier_proto::{ClientConfig, ClientConn};
use std::future::poll_fn;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// What a waiting request gets.
type Grant = Result<(ConnRef, bool), RequestError>;

#[derive(Default)]
struct Waiter {
    grant: Option<Grant>,
    waker: Option<Waker>,
}

pub(crate) struct State {
    pool: pier_pool::Agent<u64>,
    conns: IdMap<u64, ConnRef>,
    waiting: IdMap<ReqId, Waiter>,
    next_handle: u64,
    client_config: ClientConfig,
    last_connect_error: Option<(std::io::ErrorKind, String)>,
    /// A task sleeps until the pool's next deadline (queue timeouts).
    timer_running: bool,
}

/// Opens connections for an agent: Node's `agent.createConnection`.
pub type Connector = Arc<dyn Fn(&ConnectOptions) -> ConnectFuture + Send + Sync>;

pub(crate) struct Shared<R: Runtime> {
    rt: R,
    state: Mutex<State>,
    connector: Option<Connector>,
    /// The options never change: whether sockets may be reused is known
    /// without the lock.
    may_reuse: bool,
}

/// The handle the connection drivers hold (runtime-erased).
pub(crate) type AgentRef = Arc<dyn AgentHooks>;

/// What a connection driver tells its agent.
pub(crate) trait AgentHooks: Send + Sync {
    fn on_free(&self, handle: u64, release: Release);
    fn on_close(&self, handle: u64);
    fn on_timeout(&self, handle: u64);
    fn mark_unusable(&self, handle: u64);
    fn detach(&self, handle: u64);
}

/// A connection pool with Node's `http.Agent` rules (see `pier-pool`).
/// Cloning gives another handle to the same pool.
pub struct Agent<R: Runtime> {
    shared: Arc<Shared<R>>,
}

impl<R: Runtime> Clone for Agent<R> {
    fn clone(&self) -> Self {
        Agent {
            shared: self.shared.clone(),
        }
    }
}

impl<R: Runtime> std::fmt::Debug for Agent<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

fn lock_state(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Runtime> Agent<R> {
    /// An agent with these options (Node's `new http.Agent(options)`).
    pub fn new(rt: R, options: AgentOptions) -> Result<Self, OptionsError> {
        let may_reuse = options.keep_alive || options.max_sockets.is_some();
        Ok(Agent {
            shared: Arc::new(Shared {
                rt,
                state: Mutex::new(State {
                    pool: pier_pool::Agent::new(options)?,
                    conns: IdMap::default(),
                    waiting: IdMap::default(),
                    next_handle: 0,
                    client_config: ClientConfig::default(),
                    last_connect_error: None,
                    timer_running: false,
                }),
                connector: None,
                may_reuse,
            }),
        })
    }

    /// Node's global agent preset: keep-alive, lifo, 5 s free-socket timeout.
    pub fn default_agent(rt: R) -> Self {
        Self::new(rt, AgentOptions::default_agent()).expect("the preset is valid")
    }

    /// Opens connections with `connector` instead of TCP / Unix sockets
    /// (Node's `createConnection`): any transport works.
    pub fn with_connector(
        rt: R,
        options: AgentOptions,
        connector: Connector,
    ) -> Result<Self, OptionsError> {
        let mut a = Self::new(rt, options)?;
        Arc::get_mut(&mut a.shared).expect("fresh").connector = Some(connector);
        Ok(a)
    }

    /// Node's `agent.getName(options)`.
    pub fn get_name(&self, options: &ConnectOptions) -> String {
        let mut st = lock_state(&self.shared.state);
        let id = st.pool.name(options);
        st.pool.key(id).to_string()
    }

    fn views(&self, f: impl Fn(&pier_pool::Agent<u64>, NameId) -> usize) -> Vec<(String, usize)> {
        let st = lock_state(&self.shared.state);
        st.pool
            .names()
            .map(|n| (st.pool.key(n).to_string(), f(&st.pool, n)))
            .filter(|(_, c)| *c > 0)
            .collect()
    }

    /// Sockets in use per name (Node's `agent.sockets`).
    pub fn sockets(&self) -> Vec<(String, usize)> {
        self.views(|p, n| p.active_sockets(n).len())
    }

    /// Idle sockets per name (Node's `agent.freeSockets`).
    pub fn free_sockets(&self) -> Vec<(String, usize)> {
        self.views(|p, n| p.free_sockets(n).len())
    }

    /// Requests waiting for a socket per name (Node's `agent.requests`).
    pub fn requests(&self) -> Vec<(String, usize)> {
        self.views(|p, n| p.requests(n))
    }

    /// Counters over the agent's life.
    pub fn stats(&self) -> pier_pool::Stats {
        *lock_state(&self.shared.state).pool.stats()
    }

    /// Whether a socket can ever be reused: keep-alive on, or a socket cap
    /// (Node sends `Connection: keep-alive` exactly then, C1).
    pub fn may_reuse(&self) -> bool {
        self.shared.may_reuse
    }

    /// Destroys every socket and fails the waiting requests (Node's `destroy()`).
    pub fn destroy(&self) {
        let mut st = lock_state(&self.shared.state);
        st.pool.destroy();
        self.run_actions(&mut st);
    }

    /// Waits for a socket for `options`; returns it and whether it was reused.
    pub(crate) async fn checkout(
        &self,
        options: &ConnectOptions,
        config: ClientConfig,
    ) -> Result<(ConnRef, bool), RequestError> {
        let req = {
            let mut st = lock_state(&self.shared.state);
            st.client_config = config;
            let name = st.pool.name(options);
            let now = self.shared.rt.now();
            let req = st.pool.add_request(name, now);
            st.waiting.insert(req, Waiter::default());
            self.run_actions(&mut st);
            // A free socket is usually handed out at once: no waiting then.
            if let Some(grant) = st.waiting.get_mut(&req).and_then(|w| w.grant.take()) {
                st.waiting.remove(&req);
                return grant;
            }
            req
        };
        let mut cancel = CancelOnDrop {
            agent: self,
            req: Some(req),
        };
        let grant = poll_fn(|cx| {
            let mut st = lock_state(&self.shared.state);
            let w = st.waiting.get_mut(&req).expect("waiting");
            if let Some(g) = w.grant.take() {
                st.waiting.remove(&req);
                return Poll::Ready(g);
            }
            w.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        cancel.req = None;
        grant
    }

    /// Keeps one task sleeping until the pool's next deadline.
    fn arm_timer(&self, st: &mut State) {
        if st.timer_running || st.pool.poll_timeout().is_none() {
            return;
        }
        st.timer_running = true;
        let agent = self.clone();
        self.shared.rt.spawn(async move {
            loop {
                let deadline = {
                    let mut st = lock_state(&agent.shared.state);
                    match st.pool.poll_timeout() {
                        Some(d) => d,
                        None => {
                            st.timer_running = false;
                            return;
                        }
                    }
                };
                agent.shared.rt.timer(deadline).await;
                let mut st = lock_state(&agent.shared.state);
                let now = agent.shared.rt.now();
                st.pool.handle_timeout(now);
                st.timer_running = true;
                agent.run_actions_only(&mut st);
            }
        });
    }

    /// Carries out what the pool decided, and keeps its timer armed.
    fn run_actions(&self, st: &mut State) {
        self.run_actions_only(st);
        self.arm_timer(st);
    }

    fn run_actions_only(&self, st: &mut State) {
        while let Some(action) = st.pool.poll_action() {
            match action {
                Action::Assign {
                    req,
                    handle,
                    reused,
                } => {
                    let conn = st.conns.get(&handle).cloned();
                    if let Some(w) = st.waiting.get_mut(&req) {
                        w.grant = Some(conn.map(|c| (c, reused)).ok_or(RequestError::Destroyed));
                        if let Some(k) = w.waker.take() {
                            k.wake();
                        }
                    }
                }
                Action::Connect { conn, name } => {
                    let options = st.pool.connect_options(name).clone();
                    self.start_connect(conn, options, st.client_config);
                }
                Action::AbortConnect(_) => {}
                Action::Destroy(handle) => {
                    if let Some(c) = st.conns.remove(&handle) {
                        let mut c = lock_conn(&c);
                        c.destroy = true;
                        c.wake_driver();
                    }
                }
                Action::SetTimeout { handle, timeout } => {
                    if let Some(c) = st.conns.get(&handle) {
                        let mut c = lock_conn(c);
                        c.idle_timeout = Some(timeout);
                        c.wake_driver();
                    }
                }
                Action::ClearTimeout(handle) => {
                    if let Some(c) = st.conns.get(&handle) {
                        lock_conn(c).idle_timeout = None;
                    }
                }
                Action::SetKeepAlive {
                    handle,
                    initial_delay,
                } => {
                    if let Some(c) = st.conns.get(&handle) {
                        let mut c = lock_conn(c);
                        c.keepalive = Some(initial_delay);
                        c.wake_driver();
                    }
                }
                Action::Failed { req, reason } => {
                    if let Some(w) = st.waiting.get_mut(&req) {
                        w.grant = Some(Err(match reason {
                            FailReason::QueueTimeout => RequestError::QueueTimeout,
                            FailReason::ConnectFailed(_) => {
                                let (kind, msg) = st.last_connect_error.clone().unwrap_or((
                                    std::io::ErrorKind::ConnectionRefused,
                                    "connection failed".into(),
                                ));
                                RequestError::Connect(kind, msg)
                            }
                            FailReason::AgentDestroyed => RequestError::Destroyed,
                        }));
                        if let Some(k) = w.waker.take() {
                            k.wake();
                        }
                    }
                }
            }
        }
    }

    fn start_connect(&self, conn: ConnId, options: ConnectOptions, config: ClientConfig) {
        let agent = self.clone();
        let fut = match &self.shared.connector {
            Some(f) => f(&options),
            None => connect_with(&self.shared.rt, &options),
        };
        self.shared.rt.spawn(async move {
            let result = fut.await;
            let mut st = lock_state(&agent.shared.state);
            match result {
                Ok(io) => {
                    let handle = st.next_handle;
                    st.next_handle += 1;
                    let shared = Arc::new(Mutex::new(ConnShared::new(ClientConn::new(config))));
                    st.conns.insert(handle, shared.clone());
                    let hooks: AgentRef = Arc::new(agent.clone());
                    agent.shared.rt.spawn(ClientDriver::new(
                        io,
                        agent.shared.rt.clone(),
                        shared,
                        Some((hooks, handle)),
                    ));
                    st.pool.connected(conn, handle);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "connect failed");
                    st.last_connect_error = Some((e.kind(), e.to_string()));
                    st.pool.connect_failed(conn);
                }
            }
            agent.run_actions(&mut st);
        });
    }
}

struct CancelOnDrop<'a, R: Runtime> {
    agent: &'a Agent<R>,
    req: Option<ReqId>,
}

impl<R: Runtime> Drop for CancelOnDrop<'_, R> {
    fn drop(&mut self) {
        if let Some(req) = self.req {
            let mut st = lock_state(&self.agent.shared.state);
            st.pool.cancel(req);
            if let Some(w) = st.waiting.remove(&req) {
                // Granted just before the cancel: give the socket back.
                if let Some(Ok((conn, _))) = w.grant {
                    let handle = st
                        .conns
                        .iter()
                        .find(|(_, c)| Arc::ptr_eq(c, &conn))
                        .map(|(h, _)| *h);
                    if let Some(h) = handle {
                        st.pool.on_free(h, Release::keep_alive());
                    }
                }
            }
            self.agent.run_actions(&mut st);
        }
    }
}

impl<R: Runtime> AgentHooks for Agent<R> {
    fn on_free(&self, handle: u64, release: Release) {
        let mut st = lock_state(&self.shared.state);
        st.pool.on_free(handle, release);
        self.run_actions(&mut st);
    }
    fn on_close(&self, handle: u64) {
        let mut st = lock_state(&self.shared.state);
        st.conns.remove(&handle);
        st.pool.on_close(handle);
        self.run_actions(&mut st);
    }
    fn on_timeout(&self, handle: u64) {
        let mut st = lock_state(&self.shared.state);
        st.pool.on_timeout(handle);
        self.run_actions(&mut st);
    }
    fn mark_unusable(&self, handle: u64) {
        let mut st = lock_state(&self.shared.state);
        st.pool.mark_unusable(handle);
        self.run_actions(&mut st);
    }
    fn detach(&self, handle: u64) {
        let mut st = lock_state(&self.shared.state);
        st.conns.remove(&handle);
        st.pool.detach(handle);
        self.run_actions(&mut st);
    }
}

/// Opens a connection by the options: a Unix path, or the host's
/// addresses in turn (filtered by family), from `local_address` if set.
pub(crate) fn connect_with<R: Runtime>(rt: &R, options: &ConnectOptions) -> ConnectFuture {
    if let Some(path) = &options.socket_path {
        return rt.connect_unix(std::path::Path::new(path));
    }
    let rt = rt.clone();
    let host = options
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = options.port.unwrap_or(80);
    let family = options.family;
    let local: Option<IpAddr> = options
        .local_address
        .as_deref()
        .and_then(|a| a.parse().ok());
    Box::pin(async move {
        let addrs = rt.resolve(&host, port).await?;
        let mut last = std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("no address for {host}"),
        );
        for addr in addrs {
            match family {
                Some(4) if !addr.is_ipv4() => continue,
                Some(6) if !addr.is_ipv6() => continue,
                _ => {}
            }
            match rt.connect_tcp(addr, local).await {
                Ok(io) => return Ok(io),
                Err(e) => last = e,
            }
        }
        Err(last)
    })
}
