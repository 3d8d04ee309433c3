//! The whole server stack on tokio (connection task, handler, response,
//! protocol core) with the kernel taken out: connections are in-memory
//! transports that hand the server the next request once it has written
//! the previous response, as a keep-alive load generator does. As with a
//! socket, the next request is not there at once: the read after a
//! response finds nothing and the task is woken for it, so every request
//! costs a wake-up of the connection task.
//!
//!   cargo bench -p pier-tokio --bench server_turns [-- [ROUNDS] [keep-alive|close]]
//!
//! Under `wrk` on loopback about three quarters of the server's time is
//! the kernel's, and runs of the same binary differ by more than the
//! changes worth measuring; here what is left is Pier's own cost per
//! request (and per connection, in `close` mode). Rounds alternate between
//! the modes and the fastest round of each is kept (noise only adds time),
//! with the median beside it.

use pier_tokio::{create_server, Bytes};
use pier_tokio::{ListenAddr, Listener, Transport};
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What `wrk -c64` sends.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const BODY: &[u8] = b"Hello, World!";

/// One client connection: `left` requests, each sent once the previous
/// response's body has been written, then EOF.
struct Client {
    left: usize,
    /// The server owes a response: reads wait.
    awaiting: bool,
    reader: Option<Waker>,
    /// The tail of what was written, to see a response's end.
    tail: Vec<u8>,
    /// A response just ended: the next read finds nothing yet.
    between: bool,
    finished: Arc<Finished>,
}

struct Finished {
    count: AtomicUsize,
    waker: std::sync::Mutex<Option<Waker>>,
}

impl Transport for Client {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.awaiting {
            self.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if self.between {
            // The request is "on the wire": the task hears of it by a wake.
            self.between = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.left == 0 {
            return Poll::Ready(Ok(0));
        }
        self.left -= 1;
        self.awaiting = true;
        buf[..REQUEST.len()].copy_from_slice(REQUEST);
        Poll::Ready(Ok(REQUEST.len()))
    }

    fn poll_write_vectored(
        &mut self,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut n = 0;
        for b in bufs {
            n += b.len();
            self.tail.extend_from_slice(b);
        }
        if self.tail.ends_with(BODY) {
            self.tail.clear();
            self.awaiting = false;
            self.between = true;
            if let Some(w) = self.reader.take() {
                w.wake();
            }
        } else if self.tail.len() > 4096 {
            self.tail.drain(..self.tail.len() - BODY.len());
        }
        Poll::Ready(Ok(n))
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.finished.count.fetch_add(1, Ordering::AcqRel);
        if let Some(w) = self.finished.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

/// Hands out `conns` clients once, then nothing.
struct Clients {
    conns: usize,
    requests_each: usize,
    finished: Arc<Finished>,
}

impl Listener for Clients {
    type Conn = Client;
    fn poll_accept(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<Client>> {
        if self.conns == 0 {
            return Poll::Pending;
        }
        self.conns -= 1;
        Poll::Ready(Ok(Client {
            left: self.requests_each,
            awaiting: false,
            reader: None,
            tail: Vec::with_capacity(512),
            between: false,
            finished: self.finished.clone(),
        }))
    }
    fn local_addr(&self) -> io::Result<ListenAddr> {
        Ok(ListenAddr::Unix("in-memory".into()))
    }
}

/// Serves `conns` connections of `requests_each` requests with the server
/// of the performance contract; the time per request.
fn round(rt: &tokio::runtime::Runtime, conns: usize, requests_each: usize) -> Duration {
    rt.block_on(async move {
        let finished = Arc::new(Finished {
            count: AtomicUsize::new(0),
            waker: std::sync::Mutex::new(None),
        });
        let mut server = create_server(|_req, mut res| async move {
            let _ = res.set_header("Content-Type", "text/plain");
            let _ = res.end_now(Bytes::from_static(BODY));
        });
        let start = Instant::now();
        server
            .listen_on(Clients {
                conns,
                requests_each,
                finished: finished.clone(),
            })
            .expect("listening");
        std::future::poll_fn(|cx| {
            *finished.waker.lock().unwrap() = Some(cx.waker().clone());
            if finished.count.load(Ordering::Acquire) == conns {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let elapsed = start.elapsed();
        server.close_all_connections();
        elapsed / (conns * requests_each) as u32
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(40);
    // A mode's first word picks it alone (for profiling and instruction
    // counts); `--bench` is cargo's.
    let only = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with("--"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // (name, connections, requests per connection)
    let modes = [
        ("keep-alive, 64 conns x 100", 64, 100),
        ("close, 256 conns x 1", 256, 1),
    ];
    let modes: Vec<_> = modes
        .into_iter()
        .filter(|(name, _, _)| only.is_none_or(|o| name.starts_with(o.as_str())))
        .collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
    for _ in 0..3 {
        for &(_, c, n) in &modes {
            round(&rt, c, n);
        }
    }
    for _ in 0..rounds {
        for (i, &(_, c, n)) in modes.iter().enumerate() {
            times[i].push(round(&rt, c, n));
        }
    }
    println!("{:<28} {:>10} {:>10}", "ns per request", "min", "median");
    for (i, (name, _, _)) in modes.iter().enumerate() {
        let t = &mut times[i];
        t.sort();
        println!(
            "{:<28} {:>10} {:>10}",
            name,
            t[0].as_nanos(),
            t[t.len() / 2].as_nanos()
        );
    }
}
