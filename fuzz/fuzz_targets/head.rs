//! Arbitrary bytes into `parse_request_head`, against a `ServerConn`.
//!
//! Input: `[flags] payload`, flags as for the server target (leniencies,
//! small limits).
//!
//! Invariants: no panic; a complete head takes no more bytes than were
//! given and passes the server target's head checks; and the standalone
//! parse says what a `ServerConn` fed the same bytes in one read says:
//! the same head (method, target, version, fields, framing, expectation,
//! upgrade, persistence), "not yet", or the same error at the same offset.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pier_fuzz::{check_request_head, fields, Input, ServerRun};
use pier_proto::{parse_request_head, Event, RequestHead, ServerConn};

/// What a head says, in comparable form.
fn summary(h: &RequestHead) -> impl PartialEq + std::fmt::Debug {
    (
        h.method().as_bytes().to_vec(),
        h.target().to_vec(),
        h.version(),
        fields(h.headers()),
        h.headers_truncated(),
        h.body_kind(),
        h.expect(),
        h.is_upgrade(),
        h.has_host(),
        h.keep_alive(),
    )
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let run = ServerRun::from_flags(input.byte(), 0);
    let payload = Bytes::copy_from_slice(input.rest());

    let mut head = RequestHead::default();
    let alone = parse_request_head(&payload, &run.config, &mut head);

    let mut conn = ServerConn::new(run.config);
    conn.feed(&payload);
    let in_conn = conn.poll_event();

    match (&alone, in_conn) {
        (Ok(Some(len)), Ok(Some(Event::Request(h)))) => {
            assert!(
                *len <= payload.len(),
                "took {len} of {} bytes",
                payload.len()
            );
            check_request_head(&head, &run.config);
            assert_eq!(summary(&head), summary(&h), "standalone vs. connection");
        }
        (Ok(None), Ok(None)) => {}
        (Err(a), Err(b)) => {
            assert_eq!(
                (a.code(), a.offset()),
                (b.code(), b.offset()),
                "errors differ"
            );
        }
        (a, b) => panic!("standalone {a:?} vs. connection {b:?}"),
    }
});
