//! Moving bytes through a transport, shared by both connection tasks:
//! vectored writing of a queue of buffers, and the per-thread read buffer.

use crate::runtime::Transport;
use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::task::{Context, Poll};

/// Bytes one read asks for.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    static READ_SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Runs `f` with this thread's read buffer: one per thread, so an idle
/// connection holds no read buffer of its own and none is cleared per read.
pub(crate) fn with_read_scratch<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    READ_SCRATCH.with(|scratch| f(&mut scratch.borrow_mut()))
}

/// Buffers handed to one `writev` at most.
const MAX_IOVECS: usize = 32;

/// Points `slices` at the front buffers of `out`; returns how many.
/// (Filled in place: collecting builds the array elsewhere and copies all
/// of it over.)
fn fill_slices<'a>(slices: &mut [IoSlice<'a>; MAX_IOVECS], out: &'a VecDeque<Bytes>) -> usize {
    let mut n = 0;
    for (slot, b) in slices.iter_mut().zip(out.iter()) {
        *slot = IoSlice::new(b);
        n += 1;
    }
    n
}

/// Writes as much of `out` as the transport takes now; `last` when a
/// shutdown follows these bytes. `Ok(true)` when bytes went out, `Err(())`
/// when the transport is broken.
pub(crate) fn poll_write_queue(
    io: &mut dyn Transport,
    cx: &mut Context<'_>,
    out: &mut VecDeque<Bytes>,
    last: bool,
) -> Result<bool, ()> {
    let mut progress = false;
    while !out.is_empty() {
        let written = if out.len() == 1 && !last {
            // A whole small response is one buffer: a plain write.
            io.poll_write(cx, &out[0])
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = fill_slices(&mut slices, out);
            if last {
                io.poll_write_last(cx, &slices[..n])
            } else {
                io.poll_write_vectored(cx, &slices[..n])
            }
        };
        match written {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Err(()),
            Poll::Ready(Ok(mut n)) => {
                progress = true;
                while n > 0 {
                    let front = out.front_mut().expect("written bytes were queued");
                    if n >= front.len() {
                        n -= front.len();
                        out.pop_front();
                    } else {
                        front.advance(n);
                        n = 0;
                    }
                }
            }
            Poll::Pending => break,
        }
    }
    Ok(progress)
}
