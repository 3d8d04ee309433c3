//! # pier
//!
//! Node.js's `http` module for Rust, written once over a small [`Runtime`]
//! trait: [`Server`] (Node's `http.Server`) with [`ServerResponse`] and
//! [`IncomingMessage`], with Node's defaults, events and their order.
//! Runtime crates (`pier-tokio`, `pier-async-std`) fill the runtime in and
//! re-export everything; applications depend on one of those.
//!
//! The protocol itself (parsing, framing, limits, deadlines) is
//! `pier-proto`; this crate adds Node's policies on top: the automatic
//! `100 Continue`, 417 for other expectations, 400 without `Host`, the
//! canned 400/408/413/431 on bad input, `Connection`/`Keep-Alive`/`Date`
//! headers, `maxRequestsPerSocket`, and graceful `close()`.
//!
//! ```
//! use pier::{IncomingMessage, ServerResponse};
//!
//! // A handler is an async function of the request and the response.
//! async fn hello(_req: IncomingMessage, mut res: ServerResponse) {
//!     res.set_header("Content-Type", "text/plain").unwrap();
//!     let _ = res.end("Hello, World!").await;
//! }
//! # let _ = hello;
//! ```

#![deny(missing_docs)]

mod body;
mod client;
mod date;
mod incoming;
mod lazy_timer;
mod outgoing;
mod queue;
pub mod runtime;
mod server;
mod write;

pub use body::{Body, BodyError};
pub use bytes::Bytes;
pub use client::{
    apply_url, Agent, AgentChoice, ClientRequest, Connector, RequestError, RequestOptions,
    Response, UpgradeResponse,
};
pub use incoming::{HasHeaders, IncomingMessage};
pub use outgoing::OutgoingHeaders;
pub use pier_pool::{AgentOptions, ConnectOptions, Scheduling};
pub use pier_proto as proto;
pub use pier_proto::{Method, RawHeaders, RequestHead, ResponseHead, Version};
pub use runtime::{ListenAddr, Listener, PeerAddr, Runtime, Timer, Transport};
pub use server::{
    bind_tcp, ClientError, Server, ServerExt, ServerOptions, ServerResponse, Upgraded, WriteError,
    DEFAULT_BACKLOG,
};
