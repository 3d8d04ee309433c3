//! # pier-proto
//!
//! The HTTP/1.1 protocol core of Pier: bytes in, events out, bytes to send
//! out. No sockets, no tasks, no clock: a runtime (Pier's tokio and
//! async-std adapters, or your own transport) moves the bytes and passes
//! the time in.
//!
//! - [`ServerConn`] and [`ClientConn`] are the two roles. Feed received
//!   bytes with `feed`, take [`Event`]s with `poll_event`, send with
//!   `send_*`, take the bytes to write with `poll_transmit`, and keep one
//!   timer at `poll_timeout(now)`, calling `handle_timeout(now)` when it
//!   fires.
//! - Parsing is strict by default, with Node 20's answers and limits;
//!   [`Leniency`] holds the documented relaxations, one switch each.
//! - Errors are small `Copy` values: [`ParseError`] (the peer's fault, with
//!   an llhttp-style [`ErrorCode`], a status hint and the stream offset) and
//!   [`LocalError`] (the caller's).
//!
//! ## Driving a server connection over an in-memory pipe
//!
//! ```
//! use pier_proto::{BodyHint, Event, ServerConfig, ServerConn};
//! use std::time::Instant;
//!
//! let mut conn = ServerConn::new(ServerConfig::default());
//! // What a client wrote into the pipe, arriving in two reads.
//! let reads: [&[u8]; 2] = [b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Le", b"ngth: 5\r\n\r\nhello"];
//! let mut wire = Vec::new();
//! let mut body = Vec::new();
//! for read in reads {
//!     conn.feed(read);
//!     // Contract: after every input, drain events, then transmits, then
//!     // re-read the deadline.
//!     while let Some(event) = conn.poll_event().expect("valid request") {
//!         match event {
//!             Event::Request(req) => assert_eq!(req.method().as_str(), "POST"),
//!             Event::Data(chunk) => body.extend_from_slice(&chunk),
//!             Event::End(_trailers) => {
//!                 conn.send_response(200, b"", &[("Content-Type", "text/plain")], BodyHint::Length(body.len() as u64))
//!                     .unwrap();
//!                 conn.send_data(body.clone().into()).unwrap();
//!                 conn.send_end().unwrap();
//!             }
//!             _ => {}
//!         }
//!     }
//!     while let Some(bytes) = conn.poll_transmit() {
//!         wire.extend_from_slice(&bytes);
//!     }
//!     let _next_timer = conn.poll_timeout(Instant::now());
//! }
//! assert_eq!(
//!     wire,
//!     b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
//! );
//! assert!(!conn.should_close());
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod chunked;
mod client;
mod config;
mod conn;
mod encode;
mod error;
mod event;
mod fields;
mod framing;
mod head;
mod headers;
mod message;
mod method;
mod server;
mod syntax;
mod timer;

pub use chunked::ChunkedDecoder;
pub use client::ClientConn;
pub use config::{ClientConfig, Leniency, Limits, ServerConfig};
pub use encode::{reason_phrase, validate_field, BodyHint, COPIED_BODY_MAX};
pub use error::{Error, ErrorCode, LocalError, ParseError};
pub use event::Event;
pub use framing::{BodyKind, Expectation};
pub use headers::{duplicates_rule, Duplicates, RawHeaders, Trailers};
pub use message::{RequestHead, ResponseHead};
pub use method::{KnownMethod, Method, Version};
pub use server::{parse_request_head, ServerConn};
