//! A request (or a few pipelined ones) out of a `ClientConn`, then
//! arbitrary bytes in as the answer.
//!
//! Input: `[flags] [method] [later methods] [plan] [cut bytes…] payload`
//! - flags: bit 0 bare_lf, 1 obs-fold leniency, 2 space-before-colon
//!   leniency, 3 small limits, bits 4–5 requests sent minus one, 6 the last
//!   request says `Connection: close`, 7 EOF after the last read.
//! - method: index into Node's method table for the first request; the
//!   next byte does the same for the others.
//!
//! Invariants: as for the server target (bounded polls, event order,
//! framing consistent with the fields and the request method, sticky
//! errors, byte accounting, split independence), plus: requests are
//! refused after `Connection: close`, and a connection that reports itself
//! reusable takes another request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pier_fuzz::{assert_same, drive_client, ClientRun, Input, Split};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let run = ClientRun::from_bytes(input.byte(), input.byte(), input.byte());
    let split = input.split();
    let payload = input.rest();
    let cut = drive_client(&run, &split.apply(payload));
    let whole = drive_client(&run, &Split::whole().apply(payload));
    assert_same(&whole, &cut, "one read vs. the plan's reads", false);
});
