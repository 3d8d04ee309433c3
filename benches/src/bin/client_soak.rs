//! Client soak: many requests through ONE Pier `Agent`, checking every
//! response and the process's own resident memory.
//!
//! `client_soak URL [--connections C] [--requests R] [--warmup W]
//!  [--passes P] [--body STR] [--max-growth PCT] [--slack-kib K] [--threads T]
//!  [--seconds S]`
//!
//! Steps: an agent with keep-alive on and `max_sockets = C`; C request
//! loops, spawned once and run in lockstep passes: a warm-up of W requests
//! per loop (opens the sockets and lets buffers and allocator pools reach
//! steady state); `VmRSS`; then P main passes of R requests split over the
//! C loops, reading `VmRSS` after each. Every response must be a 200 whose
//! body is exactly STR (default the `hello_server` body) and as long as its
//! `Content-Length`. A pass that takes longer than S seconds (default 600)
//! fails the run.
//!
//! While it runs, a sampler records the most sockets the agent held at
//! once (connecting, in use or free) and the most socket descriptors the
//! process had open.
//!
//! Prints one `warmup`/`pass N` line per pass and a `client_soak:` summary;
//! exits non-zero on any failed request, when the agent held more than C
//! sockets at once, when socket descriptors remain after `agent.destroy()`,
//! or when `VmRSS` after a main pass exceeds the post-warm-up figure by more
//! than PCT percent (default 5) plus K KiB (default 0: small runs need a few
//! hundred KiB of slack for allocator noise). Loopback only.
//!
//! The agent may open more than C sockets over the run: with lifo
//! scheduling the free sockets at the bottom of the stack can sit idle past
//! the server's `Keep-Alive: timeout` hint and be closed, and later
//! replaced. The summary reports those (`free_timeouts`).

use pier_tokio::{apply_url, request, Agent, AgentChoice, AgentOptions, RequestOptions, Tokio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

const USAGE: &str = "usage: client_soak URL [--connections C] [--requests R] [--warmup W] \
                     [--passes P] [--body STR] [--max-growth PCT] [--slack-kib K] [--threads T] \
                     [--seconds S]";

struct Args {
    url: String,
    connections: usize,
    requests: u64,
    warmup: u64,
    passes: u32,
    body: String,
    max_growth: f64,
    slack_kib: u64,
    threads: usize,
    deadline: Duration,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let url = it.next().ok_or(USAGE)?;
    let host = url
        .strip_prefix("http://")
        .and_then(|r| r.split(['/', '?']).next())
        .map(|a| a.rsplit_once(':').map_or(a, |(h, _)| h))
        .ok_or("URL: expected http://HOST:PORT/...")?;
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err("only loopback addresses are allowed".into());
    }
    let mut a = Args {
        url,
        connections: 1000,
        requests: 100_000,
        warmup: 2,
        passes: 2,
        body: "Hello, World!".into(),
        max_growth: 5.0,
        slack_kib: 0,
        threads: 2,
        deadline: Duration::from_secs(600),
    };
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--connections" => a.connections = num()?.max(1) as usize,
            "--requests" => a.requests = num()?,
            "--warmup" => a.warmup = num()?,
            "--passes" => a.passes = num()?.max(1) as u32,
            "--threads" => a.threads = num()?.max(1) as usize,
            "--slack-kib" => a.slack_kib = num()?,
            "--seconds" => a.deadline = Duration::from_secs(num()?),
            "--body" => a.body = v,
            "--max-growth" => {
                a.max_growth = v.parse().map_err(|_| format!("{flag}: not a number"))?
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

/// This process's resident set in KiB, from /proc/self/status.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Open socket descriptors of this process.
fn socket_fds() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.as_os_str().as_encoded_bytes().starts_with(b"socket:"))
        .count()
}

/// Sockets the agent holds: connecting, in use or free, the set
/// `max_sockets` bounds. Derived from one `stats()` snapshot because
/// `sockets()` and `free_sockets()` are taken under separate locks and a
/// socket moving between them in the meantime would be counted twice.
fn held(agent: &Agent<Tokio>) -> u64 {
    let s = agent.stats();
    s.connects
        .saturating_sub(s.connect_failures + s.closed + s.detached + s.destroyed)
}

/// Highest values seen by the sampler.
#[derive(Default)]
struct Peaks {
    held: AtomicU64,
    fds: AtomicUsize,
    stop: AtomicBool,
}

/// Samples the agent's socket count often and the descriptor count (a
/// directory walk of C entries) less often, until told to stop.
async fn sample(agent: Agent<Tokio>, peaks: Arc<Peaks>) {
    let mut tick = 0u32;
    while !peaks.stop.load(Ordering::Relaxed) {
        peaks.held.fetch_max(held(&agent), Ordering::Relaxed);
        if tick % 10 == 0 {
            // A few milliseconds of blocking on a worker; a separate
            // blocking thread would bring its own allocator arena.
            peaks.fds.fetch_max(socket_fds(), Ordering::Relaxed);
        }
        tick += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    /// The first failure, for the report; later ones only count.
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(what);
    }
}

/// One request, checked end to end.
async fn one(template: &RequestOptions<Tokio>, expect: &[u8]) -> Result<(), String> {
    let mut req = request(template.clone()).map_err(|e| format!("request: {e}"))?;
    let mut res = req
        .end(bytes::Bytes::new())
        .await
        .map_err(|e| format!("response: {e}"))?;
    let status = res.status();
    let declared: Option<usize> = res
        .header("content-length")
        .and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse().ok());
    let body = res.bytes().await.map_err(|e| format!("body: {e:?}"))?;
    if status != 200 {
        return Err(format!("status {status}"));
    }
    if declared != Some(body.len()) {
        return Err(format!(
            "body of {} bytes, Content-Length {declared:?}",
            body.len()
        ));
    }
    if body != expect {
        return Err(format!(
            "unexpected body {:?}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(())
}

/// The C request loops, spawned once and kept across passes, so that a
/// pass allocates no tasks of its own and every RSS reading finds the same
/// set of long-lived allocations.
struct Loops {
    start: Arc<Barrier>,
    done: Arc<Barrier>,
}

impl Loops {
    /// Spawns `loops` loops that run `plan[k]` requests between them in
    /// pass k (split as evenly as possible).
    fn spawn(
        template: &RequestOptions<Tokio>,
        expect: &Arc<[u8]>,
        loops: usize,
        plan: &[u64],
        tally: &Arc<Tally>,
    ) -> Loops {
        let start = Arc::new(Barrier::new(loops + 1));
        let done = Arc::new(Barrier::new(loops + 1));
        for i in 0..loops as u64 {
            let counts: Vec<u64> = plan
                .iter()
                .map(|&t| t / loops as u64 + u64::from(i < t % loops as u64))
                .collect();
            let (template, expect, tally) = (template.clone(), expect.clone(), tally.clone());
            let (start, done) = (start.clone(), done.clone());
            tokio::spawn(async move {
                for count in counts {
                    start.wait().await;
                    for _ in 0..count {
                        match one(&template, &expect).await {
                            Ok(()) => {
                                tally.ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => tally.fail(e),
                        }
                    }
                    done.wait().await;
                }
            });
        }
        Loops { start, done }
    }

    /// Runs the next pass; returns the seconds it took, or `None` past the
    /// deadline (a stuck request, or a loop that panicked and will never
    /// reach the barrier).
    async fn pass(&self, deadline: Duration) -> Option<f64> {
        let t = Instant::now();
        self.start.wait().await;
        tokio::time::timeout(deadline, self.done.wait())
            .await
            .ok()?;
        Some(t.elapsed().as_secs_f64())
    }
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("client_soak: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .expect("runtime");
    let failed = rt.block_on(run(&args));
    if failed {
        std::process::exit(1);
    }
}

/// Runs the soak; returns whether it failed.
async fn run(args: &Args) -> bool {
    let c = args.connections;
    let agent = Agent::new(
        Tokio::current(),
        AgentOptions {
            keep_alive: true,
            max_sockets: Some(c),
            // Every socket may be idle at once between passes; the default
            // (256) would close the rest and the pass would reconnect.
            max_free_sockets: c,
            ..AgentOptions::default()
        },
    )
    .expect("valid agent options");
    let mut template = RequestOptions::new(AgentChoice::Agent(agent.clone()));
    if let Err(e) = apply_url(&mut template, &args.url) {
        eprintln!("client_soak: URL: {e}");
        return true;
    }
    let expect: Arc<[u8]> = args.body.as_bytes().into();
    let tally = Arc::new(Tally::default());
    let peaks = Arc::new(Peaks::default());
    let sampler = tokio::spawn(sample(agent.clone(), peaks.clone()));

    let mut plan = vec![c as u64 * args.warmup];
    plan.extend(std::iter::repeat_n(args.requests, args.passes as usize));
    let loops = Loops::spawn(&template, &expect, c, &plan, &tally);
    let rss_start = rss_kib();
    let Some(secs) = loops.pass(args.deadline).await else {
        eprintln!("client_soak: FAIL: the warm-up did not finish in time");
        return true;
    };
    let rss_before = rss_kib();
    println!(
        "warmup: requests={} seconds={secs:.2} rss_kib={rss_before} (at start {rss_start})",
        tally.ok.load(Ordering::Relaxed)
    );
    let mut rss_after = Vec::new();
    for p in 1..=args.passes {
        let done_before = tally.ok.load(Ordering::Relaxed);
        let Some(secs) = loops.pass(args.deadline).await else {
            eprintln!("client_soak: FAIL: pass {p} did not finish in time");
            return true;
        };
        let done = tally.ok.load(Ordering::Relaxed) - done_before;
        let rss = rss_kib();
        println!(
            "pass {p}: requests={done} seconds={secs:.2} rps={:.0} rss_kib={rss}",
            done as f64 / secs
        );
        rss_after.push(rss);
    }

    peaks.stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    peaks.held.fetch_max(held(&agent), Ordering::Relaxed);
    let stats = agent.stats();
    agent.destroy();
    // The drivers close their sockets as they see the destroy: wait for it.
    let mut left = socket_fds();
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = socket_fds();
    }
    let errors = tally.errors.load(Ordering::Relaxed);
    let limit = rss_before as f64 * (1.0 + args.max_growth / 100.0) + args.slack_kib as f64;
    let worst = rss_after.iter().copied().max().unwrap_or(0);
    let rss_list = rss_after
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    println!(
        "client_soak: connections={c} requests={} errors={errors} peak_sockets={} \
         peak_socket_fds={} sockets_opened={} free_timeouts={} closed={} reused={} \
         sockets_left={left} rss_before_kib={rss_before} rss_after_kib={rss_list} growth={:+.2}%",
        tally.ok.load(Ordering::Relaxed),
        peaks.held.load(Ordering::Relaxed),
        peaks.fds.load(Ordering::Relaxed),
        stats.connects,
        stats.free_timeouts,
        stats.closed,
        stats.reused,
        (worst as f64 / rss_before.max(1) as f64 - 1.0) * 100.0,
    );
    let mut failed = false;
    if errors > 0 {
        let first = tally.first_error.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!(
            "client_soak: FAIL: {errors} failed requests (first: {})",
            first.as_deref().unwrap_or("?")
        );
        failed = true;
    }
    let peak = peaks.held.load(Ordering::Relaxed);
    if peak > c as u64 {
        eprintln!("client_soak: FAIL: the agent held {peak} sockets at once, more than {c}");
        failed = true;
    }
    if left > 0 {
        eprintln!("client_soak: FAIL: {left} sockets still open after agent.destroy()");
        failed = true;
    }
    if rss_before == 0 || worst as f64 > limit {
        eprintln!(
            "client_soak: FAIL: VmRSS grew from {rss_before} KiB to {worst} KiB (limit +{}% + {} KiB)",
            args.max_growth, args.slack_kib
        );
        failed = true;
    }
    failed
}
