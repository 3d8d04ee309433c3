//! Arbitrary bytes into a `ServerConn`.
//!
//! Input: `[flags] [shape] [plan] [cut bytes…] payload`
//! - flags: bit 0 bare_lf, 1 CL+TE leniency, 2 unknown methods,
//!   3 data_after_close, 4 accept_upgrades, 5 answer at the head (else at
//!   End), 6 EOF after the last read, 7 small limits.
//! - shape: the response written to every request (bits 0–1), and whether
//!   `100 Continue` goes out to requests that expect it (bit 4).
//! - plan: how the payload is cut into reads (see `Input::split`).
//!
//! Invariants: no panic; a bounded number of polls; events in protocol
//! order and consistent with the fields (framing, body sizes, trailers);
//! sticky errors; never more head and body bytes than were fed; every
//! request can be answered, and the answers read back whole with a
//! `ClientConn`; and the same events, error code and output whether the
//! payload arrives in one read or as the plan cuts it (the cut run
//! recycling its request heads, the whole run not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pier_fuzz::{assert_same, drive_server, Input, ServerRun, Split};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let run = ServerRun::from_flags(input.byte(), input.byte());
    let split = input.split();
    let payload = input.rest();
    // The cut run parses into recycled heads, the whole run into new
    // ones: whatever a head held before must not show.
    let recycling = ServerRun {
        recycle_heads: true,
        ..run
    };
    let cut = drive_server(&recycling, &split.apply(payload));
    let whole = drive_server(&run, &Split::whole().apply(payload));
    assert_same(&whole, &cut, "one read vs. the plan's reads", false);
});
