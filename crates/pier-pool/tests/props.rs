//! Property tests: random sequences of requests, connects, connect failures, frees, closes,
//! timeouts, liveness verdicts, cancels, queue timeouts and destroys, checked against the
//! pool's promises after every step:
//! - sockets per name ≤ `max_sockets`, total ≤ `max_total_sockets`, free lists ≤
//!   `max_free_sockets`;
//! - per name, requests are served (assigned or failed) in the order they were added;
//! - an active socket is destroyed only by `destroy()` or by its own release;
//! - `reused` is false exactly for a socket connected for that very request;
//! - every request ends assigned, cancelled or failed: none is stranded.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::Harness;
use pier_pool::{Action, AgentOptions, ConnId, NameId, Release, ReqId, Scheduling};
use proptest::prelude::*;
use proptest::sample::Index;

#[derive(Clone, Debug)]
enum Op {
    Request(usize),
    Connect(Index),
    ConnectFail(Index),
    Free {
        socket: Index,
        reusable: bool,
        hint: Option<u64>,
        keep: bool,
    },
    Close(Index),
    Timeout(Index),
    Unusable(Index),
    Cancel(Index),
    Advance(u64),
    Destroy,
}

fn op(names: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..names).prop_map(Op::Request),
        4 => any::<Index>().prop_map(Op::Connect),
        1 => any::<Index>().prop_map(Op::ConnectFail),
        5 => (any::<Index>(), prop::bool::weighted(0.8), prop::option::weighted(0.2, 0u64..4), prop::bool::weighted(0.9))
            .prop_map(|(socket, reusable, hint, keep)| Op::Free { socket, reusable, hint, keep }),
        1 => any::<Index>().prop_map(Op::Close),
        1 => any::<Index>().prop_map(Op::Timeout),
        1 => any::<Index>().prop_map(Op::Unusable),
        1 => any::<Index>().prop_map(Op::Cancel),
        1 => (1u64..80).prop_map(Op::Advance),
        1 => Just(Op::Destroy).prop_filter("rare", |_| true),
    ]
}

fn options() -> impl Strategy<Value = AgentOptions> {
    (
        any::<bool>(),
        prop::option::of(1usize..4),
        prop::option::of(1usize..6),
        prop_oneof![Just(0usize), Just(1), Just(2), Just(256)],
        prop_oneof![Just(Scheduling::Lifo), Just(Scheduling::Fifo)],
        prop::option::of(Just(Duration::from_millis(50))),
        prop::option::of(Just(Duration::from_secs(5))),
        any::<bool>(),
    )
        .prop_map(
            |(keep_alive, max_sockets, max_total, max_free, scheduling, queue, timeout, hint)| {
                AgentOptions {
                    keep_alive,
                    max_sockets,
                    max_total_sockets: max_total,
                    max_free_sockets: max_free,
                    scheduling,
                    queue_timeout: queue,
                    timeout,
                    hint_without_timeout: hint,
                    ..AgentOptions::default()
                }
            },
        )
}

struct Model {
    h: Harness,
    opts: AgentOptions,
    names: Vec<NameId>,
    pending: Vec<ConnId>,
    /// Open sockets the driver knows, in creation order.
    sockets: Vec<u32>,
    /// Sockets currently serving a request.
    busy: BTreeMap<u32, ReqId>,
    /// The socket being connected right now: only it may be assigned with `reused: false`.
    fresh: Option<u32>,
    /// Requests added and not yet assigned, failed or cancelled.
    outstanding: BTreeMap<ReqId, NameId>,
    last_served: HashMap<NameId, ReqId>,
    next_handle: u32,
}

impl Model {
    fn new(opts: AgentOptions, names: usize) -> Self {
        let mut h = Harness::new(opts.clone());
        let names = (0..names).map(|i| h.name(&format!("h{i}"))).collect();
        Self {
            h,
            opts,
            names,
            pending: Vec::new(),
            sockets: Vec::new(),
            busy: BTreeMap::new(),
            fresh: None,
            outstanding: BTreeMap::new(),
            last_served: HashMap::new(),
            next_handle: 1,
        }
    }

    fn pick<T: Copy>(items: &[T], index: Index) -> Option<T> {
        (!items.is_empty()).then(|| items[index.index(items.len())])
    }

    fn apply(&mut self, op: &Op) {
        let mut destroying = false;
        match *op {
            Op::Request(n) => {
                let req = self.h.request(self.names[n]);
                self.outstanding.insert(req, self.names[n]);
            }
            Op::Connect(i) => {
                if self.pending.is_empty() {
                    return;
                }
                let conn = self.pending.remove(i.index(self.pending.len()));
                let handle = self.new_handle();
                self.h.agent.connected(conn, handle);
            }
            Op::ConnectFail(i) => {
                if self.pending.is_empty() {
                    return;
                }
                let conn = self.pending.remove(i.index(self.pending.len()));
                self.h.agent.connect_failed(conn);
            }
            Op::Free {
                socket,
                reusable,
                hint,
                keep,
            } => {
                let busy: Vec<u32> = self.busy.keys().copied().collect();
                let Some(handle) = Self::pick(&busy, socket) else {
                    return;
                };
                self.busy.remove(&handle);
                let mut release = if reusable {
                    Release::keep_alive()
                } else {
                    Release::close()
                };
                release.keep_alive_timeout_hint = hint;
                release.keep_socket_alive = keep;
                self.h.agent.on_free(handle, release);
            }
            Op::Close(i) => {
                let Some(handle) = Self::pick(&self.sockets, i) else {
                    return;
                };
                self.forget(handle);
                self.h.agent.on_close(handle);
            }
            Op::Timeout(i) => {
                if let Some(handle) = Self::pick(&self.sockets, i) {
                    self.h.agent.on_timeout(handle);
                }
            }
            Op::Unusable(i) => {
                if let Some(handle) = Self::pick(&self.sockets, i) {
                    self.h.agent.mark_unusable(handle);
                }
            }
            Op::Cancel(i) => {
                let waiting: Vec<ReqId> = self.outstanding.keys().copied().collect();
                let Some(req) = Self::pick(&waiting, i) else {
                    return;
                };
                assert!(
                    self.h.agent.cancel(req),
                    "an outstanding request is waiting"
                );
                self.outstanding.remove(&req);
            }
            Op::Advance(ms) => {
                self.h.clock.advance(Duration::from_millis(ms));
                let now = self.h.clock.now();
                self.h.agent.handle_timeout(now);
            }
            Op::Destroy => {
                destroying = true;
                self.h.agent.destroy();
            }
        }
        self.absorb(destroying);
        self.fresh = None;
        self.check();
    }

    fn new_handle(&mut self) -> u32 {
        let handle = self.next_handle;
        self.next_handle += 1;
        self.sockets.push(handle);
        self.fresh = Some(handle);
        handle
    }

    fn forget(&mut self, handle: u32) {
        self.sockets.retain(|&h| h != handle);
        self.busy.remove(&handle);
    }

    fn served_in_order(&mut self, req: ReqId) -> NameId {
        let name = self
            .outstanding
            .remove(&req)
            .unwrap_or_else(|| panic!("{req:?} served twice or never added"));
        if let Some(last) = self.last_served.insert(name, req) {
            assert!(last < req, "per-name FIFO broken: {last:?} then {req:?}");
        }
        name
    }

    fn absorb(&mut self, destroying: bool) {
        while let Some(action) = self.h.agent.poll_action() {
            match action {
                Action::Connect { conn, .. } => self.pending.push(conn),
                Action::AbortConnect(conn) => {
                    assert!(destroying);
                    let before = self.pending.len();
                    self.pending.retain(|&c| c != conn);
                    assert_eq!(self.pending.len() + 1, before, "abort of unknown attempt");
                }
                Action::Assign {
                    req,
                    handle,
                    reused,
                } => {
                    let name = self.served_in_order(req);
                    let info = self
                        .h
                        .agent
                        .socket(handle)
                        .expect("assigned socket is known");
                    assert_eq!(info.name, name, "socket of another name");
                    assert!(!info.free);
                    assert!(self.sockets.contains(&handle));
                    assert_eq!(reused, self.fresh != Some(handle), "reused flag");
                    assert!(
                        self.busy.insert(handle, req).is_none(),
                        "socket given twice"
                    );
                }
                Action::Destroy(handle) => {
                    assert!(self.sockets.contains(&handle), "destroy of unknown socket");
                    assert!(
                        destroying || !self.busy.contains_key(&handle),
                        "an active socket was destroyed under its request"
                    );
                    self.forget(handle);
                }
                Action::Failed { req, .. } => {
                    self.served_in_order(req);
                }
                Action::SetTimeout { handle, .. }
                | Action::ClearTimeout(handle)
                | Action::SetKeepAlive { handle, .. } => {
                    assert!(self.sockets.contains(&handle));
                }
            }
        }
    }

    fn check(&self) {
        let agent = &self.h.agent;
        if let Err(e) = agent.check_invariants() {
            panic!("{e}");
        }
        let max_sockets = self.opts.max_sockets.unwrap_or(usize::MAX);
        let max_total = self.opts.max_total_sockets.unwrap_or(usize::MAX);
        for &n in &self.names {
            let free = agent.free_sockets(n).len();
            assert!(agent.sockets(n) + free <= max_sockets);
            assert!(free <= self.opts.max_free_sockets);
        }
        assert!(agent.total_sockets() <= max_total);
        assert_eq!(agent.total_waiting(), self.outstanding.len());
        assert_eq!(
            agent.total_sockets(),
            self.sockets.len() + self.pending.len()
        );
    }

    /// Runs the world to quiescence: connections come up, requests finish.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            if self.outstanding.is_empty() && self.busy.is_empty() && self.pending.is_empty() {
                return;
            }
            if let Some(conn) = self.pending.pop() {
                let handle = self.new_handle();
                self.h.agent.connected(conn, handle);
            } else if let Some((&handle, _)) = self.busy.iter().next() {
                self.busy.remove(&handle);
                self.h.agent.on_free(handle, Release::keep_alive());
            } else {
                panic!(
                    "stranded: {} requests wait with no connection on the way and no socket busy",
                    self.outstanding.len()
                );
            }
            self.absorb(false);
            self.fresh = None;
            self.check();
        }
        panic!("did not settle");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn pool_invariants_hold(
        opts in options(),
        names in 1usize..4,
        ops in prop::collection::vec(op(3), 1..80),
    ) {
        let mut model = Model::new(opts, names);
        for op in &ops {
            let op = match op {
                Op::Request(n) => Op::Request(n % names),
                other => other.clone(),
            };
            model.apply(&op);
        }
        model.settle();
        prop_assert!(model.outstanding.is_empty());
    }
}
