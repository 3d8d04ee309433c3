//! Shared test driver: u32 handles, a manual clock, and helpers to drain actions.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use pier_pool::{Action, Agent, AgentOptions, ConnId, ConnectOptions, NameId, ReqId};

/// Time only moves when a test says so.
pub struct ManualClock {
    now: Instant,
}

impl ManualClock {
    pub fn new() -> Self {
        // The one reading of a real clock: a fixed origin; everything after is explicit.
        Self {
            now: Instant::now(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }
}

pub struct Harness {
    pub agent: Agent<u32>,
    pub clock: ManualClock,
    next_handle: u32,
}

impl Harness {
    pub fn new(options: AgentOptions) -> Self {
        Self {
            agent: Agent::new(options).expect("valid options"),
            clock: ManualClock::new(),
            next_handle: 1,
        }
    }

    pub fn name(&mut self, host: &str) -> NameId {
        self.agent.name(&ConnectOptions::new().host(host).port(80))
    }

    pub fn request(&mut self, name: NameId) -> ReqId {
        self.agent.add_request(name, self.clock.now())
    }

    pub fn drain(&mut self) -> Vec<Action<u32>> {
        std::iter::from_fn(|| self.agent.poll_action()).collect()
    }

    /// Drains, keeping only the actions that matter for pooling decisions (drops the
    /// socket-option actions).
    pub fn decisions(&mut self) -> Vec<Action<u32>> {
        self.drain()
            .into_iter()
            .filter(|a| {
                !matches!(
                    a,
                    Action::SetTimeout { .. }
                        | Action::ClearTimeout(_)
                        | Action::SetKeepAlive { .. }
                )
            })
            .collect()
    }

    /// Connects `conn` with a fresh handle and returns it.
    pub fn connect(&mut self, conn: ConnId) -> u32 {
        let handle = self.next_handle;
        self.next_handle += 1;
        self.agent.connected(conn, handle);
        handle
    }

    /// A request that gets a freshly connected socket; returns (request, handle).
    pub fn open(&mut self, name: NameId) -> (ReqId, u32) {
        let req = self.request(name);
        let conn = match self.decisions().as_slice() {
            [Action::Connect { conn, name: n }] if *n == name => *conn,
            other => panic!("expected one Connect, got {other:?}"),
        };
        let handle = self.connect(conn);
        let actions = self.decisions();
        assert_eq!(
            actions,
            [Action::Assign {
                req,
                handle,
                reused: false
            }]
        );
        (req, handle)
    }

    pub fn ok(&self) {
        if let Err(e) = self.agent.check_invariants() {
            panic!("invariant broken: {e}");
        }
    }
}

pub fn keep_alive() -> AgentOptions {
    AgentOptions {
        keep_alive: true,
        ..AgentOptions::default()
    }
}

pub fn connects(actions: &[Action<u32>]) -> Vec<ConnId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { conn, .. } => Some(*conn),
            _ => None,
        })
        .collect()
}
