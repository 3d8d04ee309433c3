//! The client of the performance contract (`../shared/perf/README.md`):
//! reads `BENCH_URL`, `BENCH_N`, `BENCH_C`; makes N GETs split over C
//! concurrent loops on keep-alive connections through one Agent with at
//! most C sockets, reading every body; prints `rps=<float>`.
//!
//! `BENCH_URL=http://127.0.0.1:8080/ BENCH_N=100000 BENCH_C=8 cargo run --release -p pier-tokio --example bench_client`

use pier_tokio::{apply_url, request, Agent, AgentChoice, AgentOptions, RequestOptions, Tokio};
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let url = std::env::var("BENCH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080/".into());
    let n = env("BENCH_N", 100_000);
    let c = env("BENCH_C", 1).max(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let agent = Agent::new(
            Tokio::current(),
            AgentOptions {
                keep_alive: true,
                max_sockets: Some(c),
                ..AgentOptions::default()
            },
        )
        .expect("valid options");
        let mut template: RequestOptions<Tokio> = RequestOptions::new(AgentChoice::Agent(agent));
        apply_url(&mut template, &url).expect("an http:// URL");
        let start = Instant::now();
        let mut loops = Vec::with_capacity(c);
        for i in 0..c {
            let count = n / c + usize::from(i < n % c);
            let template = template.clone();
            loops.push(tokio::spawn(async move {
                for _ in 0..count {
                    let mut req = request(template.clone()).expect("request");
                    let mut res = req.end(bytes::Bytes::new()).await.expect("response");
                    res.bytes().await.expect("body");
                }
            }));
        }
        for l in loops {
            l.await.expect("loop");
        }
        let secs = start.elapsed().as_secs_f64();
        println!("rps={:.1}", n as f64 / secs);
    });
}
