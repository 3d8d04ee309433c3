//! The client of the performance contract (`../shared/perf/README.md`) on
//! async-std (or smol with `PIER_RUNTIME=smol`): `BENCH_URL`, `BENCH_N`,
//! `BENCH_C`; N GETs over C concurrent loops through one Agent with at most
//! C keep-alive sockets; prints `rps=<float>`.

use pier_async_std::{
    apply_url, Agent, AgentChoice, AgentOptions, Bytes, ClientRequest, RequestOptions, Runtime,
};
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run<R: Runtime>(
    rt: R,
    spawn: impl Fn(
        pier_async_std::runtime::BoxFuture,
    ) -> Box<dyn std::future::Future<Output = ()> + Unpin>,
) {
    let url = std::env::var("BENCH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080/".into());
    let n = env("BENCH_N", 100_000);
    let c = env("BENCH_C", 1).max(1);
    let agent = Agent::new(
        rt.clone(),
        AgentOptions {
            keep_alive: true,
            max_sockets: Some(c),
            ..AgentOptions::default()
        },
    )
    .expect("valid options");
    let mut template: RequestOptions<R> = RequestOptions::new(AgentChoice::Agent(agent));
    apply_url(&mut template, &url).expect("an http:// URL");
    let start = Instant::now();
    let mut loops = Vec::with_capacity(c);
    for i in 0..c {
        let count = n / c + usize::from(i < n % c);
        let (template, rt) = (template.clone(), rt.clone());
        loops.push(spawn(Box::pin(async move {
            for _ in 0..count {
                let mut req = ClientRequest::new(rt.clone(), template.clone()).expect("request");
                let mut res = req.end(Bytes::new()).await.expect("response");
                res.bytes().await.expect("body");
            }
        })));
    }
    for l in loops {
        l.await;
    }
    println!("rps={:.1}", n as f64 / start.elapsed().as_secs_f64());
}

fn main() {
    match std::env::var("PIER_RUNTIME").as_deref() {
        Ok("smol") => smol::block_on(run(pier_async_std::Smol, |f| Box::new(smol::spawn(f)))),
        _ => async_std::task::block_on(run(pier_async_std::AsyncStd, |f| {
            Box::new(async_std::task::spawn(f))
        })),
    }
}
