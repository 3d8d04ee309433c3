//! Node's `http.Agent` as a pure state machine.
//!
//! `pier-pool` decides which socket a request gets, when a connection is opened, when a
//! finished socket is kept and when it is destroyed: the rules of Node's
//! `lib/_http_agent.js`, written as data. It performs no I/O, reads no clock and owns no
//! socket. Sockets are opaque handles `H` chosen by the driver (a runtime crate, a test,
//! a fuzzer); every decision comes back as an [`Action`] value.
//!
//! # Driving the pool
//!
//! 1. Resolve a request's connect options to a [`NameId`] with [`Agent::name`] (Node's
//!    `getName` key, interned; keep it for the origin).
//! 2. Call [`Agent::add_request`]. Then drain [`Agent::poll_action`] and carry out each
//!    action: [`Action::Connect`] → open a connection and report [`Agent::connected`] or
//!    [`Agent::connect_failed`]; [`Action::Assign`] → run the request on that socket;
//!    [`Action::Destroy`], [`Action::SetTimeout`], [`Action::SetKeepAlive`] → do that to
//!    the socket; [`Action::Failed`] → fail the request.
//! 3. When the response is done, call [`Agent::on_free`] with what the exchange said
//!    ([`Release`]); report socket events with [`Agent::on_close`], [`Agent::on_timeout`],
//!    [`Agent::on_error`], and bytes or EOF on an idle socket with
//!    [`Agent::mark_unusable`].
//! 4. After every input, drain the actions again, then re-arm one timer at
//!    [`Agent::poll_timeout`] for [`Agent::handle_timeout`] (only used with a queue
//!    timeout).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pier_pool::{Action, Agent, AgentOptions, ConnectOptions, Release};
//!
//! # fn main() -> Result<(), pier_pool::OptionsError> {
//! // Node's global agent: keep-alive, lifo, 5 s free-socket timeout.
//! let mut agent: Agent<u32> = Agent::new(AgentOptions::default_agent())?;
//! let origin = agent.name(&ConnectOptions::new().host("example.com").port(80));
//! assert_eq!(agent.key(origin), "example.com:80:");
//! let now = Instant::now();
//!
//! // Nothing to reuse yet: the agent asks for a connection for this name.
//! let first = agent.add_request(origin, now);
//! let Some(Action::Connect { conn, name }) = agent.poll_action() else { unreachable!() };
//! assert_eq!(name, origin);
//!
//! // The driver connected; its socket is handle 7.
//! agent.connected(conn, 7);
//! assert_eq!(
//!     agent.poll_action(),
//!     Some(Action::SetKeepAlive { handle: 7, initial_delay: Duration::from_secs(1) })
//! );
//! assert_eq!(
//!     agent.poll_action(),
//!     Some(Action::SetTimeout { handle: 7, timeout: Duration::from_secs(5) })
//! );
//! assert_eq!(agent.poll_action(), Some(Action::Assign { req: first, handle: 7, reused: false }));
//!
//! // The response ended and allowed keep-alive: the socket waits in the free list.
//! agent.on_free(7, Release::keep_alive());
//! assert_eq!(agent.poll_action(), None);
//! assert_eq!(agent.free_sockets(origin).collect::<Vec<_>>(), [7]);
//!
//! // The next request to the same origin reuses it at once.
//! let second = agent.add_request(origin, now);
//! assert_eq!(agent.poll_action(), Some(Action::Assign { req: second, handle: 7, reused: true }));
//!
//! // This response said `Connection: close`: the socket is destroyed.
//! agent.on_free(7, Release::close());
//! assert_eq!(agent.poll_action(), Some(Action::Destroy(7)));
//! assert_eq!(agent.total_sockets(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Node's rules, and where Pier goes further
//!
//! The rule ids (A1–A12) are those of Pier's Node semantics notes; each has a test.
//! Beyond Node, a waiting request can be [cancelled](Agent::cancel) or time out in the
//! queue; a failed connect hands its slot on instead of stranding the queue; an idle
//! socket that saw bytes or EOF is never handed out; a free socket is evicted rather than
//! let `max_total_sockets` strand another origin's requests; statistics are kept per name
//! and in total ([`Stats`]).
//!
//! # Accounting
//!
//! A socket counts against `max_sockets` and `max_total_sockets` from the moment the
//! agent asks for it ([`Action::Connect`]) until the agent destroys it
//! ([`Action::Destroy`]) or hears that it closed ([`Agent::on_close`]). The agent forgets
//! a socket as soon as it emits `Destroy`; inputs about unknown handles are ignored.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agent;
mod hash;
mod name;
mod options;

pub use agent::{Action, Agent, ConnId, FailReason, NameId, Release, ReqId, SocketInfo, Stats};
pub use hash::{FastHasher, IdMap};
pub use name::{get_name, ConnectOptions};
pub use options::{parse_keep_alive_timeout, AgentOptions, OptionsError, Scheduling};
