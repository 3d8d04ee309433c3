//! Opens many keep-alive connections to a server and sends requests on
//! each of them, checking every response; the load driver for "10,000
//! concurrent keep-alive connections" and for soak runs.
//!
//! `conns ADDR [--connections N] [--requests R] [--connect-parallel P] [--seconds S]`
//!
//! Prints `connections=… requests=… errors=… seconds=… rps=… p50_us=…
//! p99_us=… max_us=…` (latency of the successful requests, from write to
//! the end of the response) and exits non-zero when any request failed.
//! Loopback only: it refuses other addresses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Semaphore};

struct Args {
    addr: SocketAddr,
    connections: usize,
    requests: u64,
    connect_parallel: usize,
    deadline: Duration,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let addr: SocketAddr = it
        .next()
        .ok_or("usage: conns ADDR [--connections N] [--requests R] [--connect-parallel P] [--seconds S]")?
        .parse()
        .map_err(|e| format!("address: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err("only loopback addresses are allowed".into());
    }
    let mut a = Args {
        addr,
        connections: 1000,
        requests: 10,
        connect_parallel: 256,
        deadline: Duration::from_secs(600),
    };
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let n: u64 = v.parse().map_err(|_| format!("{flag}: not a number"))?;
        match flag.as_str() {
            "--connections" => a.connections = n as usize,
            "--requests" => a.requests = n,
            "--connect-parallel" => a.connect_parallel = n.max(1) as usize,
            "--seconds" => a.deadline = Duration::from_secs(n),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

/// Reads one response; returns whether it was a 200 with its whole body.
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let ok = head.starts_with("http/1.1 200");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                let mut chunk = [0u8; 4096];
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..total);
            return Ok(ok);
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Microseconds, saturated: u32 keeps a million samples at 4 MB.
fn micros(d: Duration) -> u32 {
    d.as_micros().try_into().unwrap_or(u32::MAX)
}

/// Nearest-rank percentile of sorted samples; 0 when there are none.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("conns: {e}");
            std::process::exit(2);
        }
    };
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let connect_gate = Arc::new(Semaphore::new(args.connect_parallel));
    // Every connection is open before any request is sent: the server
    // really holds them all at once.
    let all_open = Arc::new(Barrier::new(args.connections));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let (done, errors, gate, all_open) = (
            done.clone(),
            errors.clone(),
            connect_gate.clone(),
            all_open.clone(),
        );
        let (addr, requests) = (args.addr, args.requests);
        tasks.push(tokio::spawn(async move {
            // Collected per connection and merged at the end, so the hot
            // loop shares nothing but two counters.
            let mut latencies = Vec::with_capacity(requests as usize);
            let stream = {
                let _permit = gate.acquire().await.expect("open semaphore");
                TcpStream::connect(addr).await
            };
            all_open.wait().await;
            let mut s = match stream {
                Ok(s) => s,
                Err(e) => {
                    if i == 0 {
                        eprintln!("conns: connect failed: {e}");
                    }
                    errors.fetch_add(requests, Ordering::Relaxed);
                    return latencies;
                }
            };
            let _ = s.set_nodelay(true);
            let req = format!("GET /c{i} HTTP/1.1\r\nHost: bench\r\n\r\n");
            let mut buf = Vec::new();
            for _ in 0..requests {
                let sent = Instant::now();
                let ok = match s.write_all(req.as_bytes()).await {
                    Ok(()) => read_response(&mut s, &mut buf).await.unwrap_or(false),
                    Err(_) => false,
                };
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                    latencies.push(micros(sent.elapsed()));
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    let all = async {
        for t in tasks {
            if let Ok(l) = t.await {
                latencies.extend(l);
            }
        }
    };
    if tokio::time::timeout(args.deadline, all).await.is_err() {
        eprintln!("conns: deadline reached");
        errors.fetch_add(1, Ordering::Relaxed);
    }
    let secs = start.elapsed().as_secs_f64();
    let (d, e) = (done.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    latencies.sort_unstable();
    println!(
        "connections={} requests={d} errors={e} seconds={secs:.2} rps={:.0} p50_us={} p99_us={} max_us={}",
        args.connections,
        d as f64 / secs,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0),
    );
    if e > 0 {
        std::process::exit(1);
    }
}
