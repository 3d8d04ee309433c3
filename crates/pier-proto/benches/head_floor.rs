//! Pier's request-head parse against raw `httparse`, interleaved.
//!
//!   cargo bench -p pier-proto --bench head_floor [-- [ROUNDS] [HEAD]]
//!
//! This machine shares its cores with others, so a mean over seconds
//! swings by a third from run to run. Here the two parsers take turns in
//! short rounds (a batch of 32 pipelined heads each) and the fastest round
//! of each is kept: noise only ever adds time, so the minimum is the
//! closest reading of the cost itself. The median is printed beside it.
//! What is timed: for httparse, one `Request::parse` into a ready array;
//! for `parse_request_head`, Pier's head parse on its own (all of
//! `ServerConn`'s checks, into a reused head); for `ServerConn`, polling
//! `Request` and `End` of heads fed beforehand (the `pier_parse` variant of
//! the `parse` benchmark), which adds the connection's bookkeeping, a box
//! per head and the events.

use bytes::Bytes;
use pier_proto::{parse_request_head, BodyHint, Event, RequestHead, ServerConfig, ServerConn};
use std::hint::black_box;
use std::time::{Duration, Instant};

mod inputs;

const BATCH: usize = 32;

fn httparse_round<'a>(req: &'a [u8], storage: &mut [httparse::Header<'a>]) -> Duration {
    let start = Instant::now();
    for _ in 0..BATCH {
        let mut parsed = httparse::Request::new(storage);
        let status = parsed.parse(black_box(req)).expect("a valid head");
        assert!(status.is_complete());
        black_box(parsed.headers.len());
    }
    start.elapsed()
}

fn head_round(req: &Bytes, config: &ServerConfig, head: &mut RequestHead) -> Duration {
    let start = Instant::now();
    for _ in 0..BATCH {
        let len = parse_request_head(black_box(req), config, head).expect("a valid head");
        black_box((len, &head));
    }
    start.elapsed()
}

fn pier_round(conn: &mut ServerConn, batch: &[u8]) -> Duration {
    conn.feed(batch);
    let start = Instant::now();
    for _ in 0..BATCH {
        match conn.poll_event() {
            Ok(Some(Event::Request(head))) => {
                black_box(&head);
            }
            other => panic!("expected a request, got {other:?}"),
        }
        match conn.poll_event() {
            Ok(Some(Event::End(trailers))) => {
                black_box(&trailers);
            }
            other => panic!("expected the end, got {other:?}"),
        }
    }
    let elapsed = start.elapsed();
    for _ in 0..BATCH {
        conn.send_response(204, b"", &[] as &[(&str, &str)], BodyHint::Empty)
            .expect("a response");
        conn.send_end().expect("the end");
        while let Some(bytes) = conn.poll_transmit() {
            black_box(bytes);
        }
    }
    elapsed
}

fn per_head(d: Duration) -> f64 {
    d.as_nanos() as f64 / BATCH as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20_000);
    // A head's name picks it alone (for profiling); `--bench` is cargo's.
    let only = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with("--"));
    println!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "head", "httparse", "head", "over", "over(med)", "conn", "over", "over(med)"
    );
    for (name, req) in [
        ("minimal", inputs::minimal_get()),
        ("browser_700b", inputs::browser_get()),
        ("fields_100", inputs::hundred_fields()),
    ] {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let mut storage = vec![httparse::EMPTY_HEADER; 128];
        let config = ServerConfig::default();
        let mut conn = ServerConn::new(config);
        let mut head = RequestHead::default();
        let one = Bytes::from(req.clone());
        let batch = req.repeat(BATCH);
        let (mut floor, mut alone, mut pier) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            floor.push(per_head(httparse_round(&req, &mut storage)));
            alone.push(per_head(head_round(&one, &config, &mut head)));
            pier.push(per_head(pier_round(&mut conn, &batch)));
        }
        for v in [&mut floor, &mut alone, &mut pier] {
            v.sort_by(f64::total_cmp);
        }
        let median = |v: &[f64]| v[v.len() / 2];
        println!(
            "{:<14} {:>7.0}ns {:>7.0}ns {:>7.0}ns {:>7.0}ns {:>7.0}ns {:>7.0}ns {:>7.0}ns",
            name,
            floor[0],
            alone[0],
            alone[0] - floor[0],
            median(&alone) - median(&floor),
            pier[0],
            pier[0] - floor[0],
            median(&pier) - median(&floor),
        );
    }
}
