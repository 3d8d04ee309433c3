//! The chunked decoder, through a `ServerConn`: a fixed chunked POST head,
//! then the fuzz bytes as its body (and whatever follows it).
//!
//! Input: `[flags] body…`; flags bit 0 bare_lf, bit 1 small limits
//! (16-byte chunk extensions, 64-byte trailers).
//!
//! Invariants: everything the server target checks, and the same events
//! (data joined), error code and output whether the body arrives in one
//! read or one byte at a time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pier_fuzz::{assert_same, drive_server, Input, ServerRun, Split};

const HEAD: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.byte();
    // EOF at the end; answers at End, with Content-Length.
    let mut run = ServerRun::from_flags(0x40 | (flags & 1), 0);
    if flags & 2 != 0 {
        run.config.limits = pier_fuzz::small_limits();
    }
    let mut bytes = HEAD.to_vec();
    bytes.extend_from_slice(input.rest());
    let whole = drive_server(&run, &Split::whole().apply(&bytes));
    let bytewise = drive_server(&run, &Split::ByteByByte.apply(&bytes));
    assert_same(&whole, &bytewise, "one read vs. byte by byte", false);
});
