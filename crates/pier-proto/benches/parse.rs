//! Parsing and encoding costs of pier-proto, next to raw `httparse`.
//!
//!   cargo bench -p pier-proto --bench parse -- --warm-up-time 1 --measurement-time 3
//!
//! Groups (Throughput::Bytes throughout):
//! - `request_head`: three request heads (minimal, a ~700-byte browser GET
//!   with 12 fields, 100 fields), each as
//!   - `httparse`: `httparse::Request::parse` into a 128-entry array made
//!     once, outside the loop;
//!   - `pier_head`: `parse_request_head` alone (all of the connection's
//!     checks) into a reused `RequestHead`;
//!   - `pier_cycle`: one kept-alive `ServerConn`: feed the head, poll
//!     `Request` and `End`, answer `204` and drain the transmit queue;
//!   - `pier_parse`: the parse alone: 32 pipelined copies are fed outside
//!     the timing, then the 32 `Request` + `End` polls are timed, and the
//!     32 answers are written outside the timing again.
//! - `response_head`: a ~200-byte response head with 6 fields, as
//!   `httparse` and through a `ClientConn` (`pier_cycle`: send a GET, feed
//!   the response, poll `Response` + `End`; `pier_parse`: polls only).
//! - `chunked_decode`: a chunked POST body of ~1 MiB in 16 B, 1 KiB or
//!   64 KiB chunks (throughput counts body bytes): `feed_and_decode` feeds
//!   the encoded body (copied in) and polls every `Data` and the `End`;
//!   `feed_bytes_and_decode` hands the body over as owned `Bytes` (adopted,
//!   no copy; building that buffer is not timed, freeing it is); `decode`
//!   times the polls only (the body is fed outside the timing).
//! - `encode`: a 200 response with 5 fields and a 1 KiB body:
//!   `send_response` + `send_data` + `send_end` + draining `poll_transmit`.

use bytes::Bytes;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use pier_proto::{
    parse_request_head, BodyHint, ClientConfig, ClientConn, Event, Method, RequestHead,
    ServerConfig, ServerConn,
};
use std::time::{Duration, Instant};

mod inputs;
use inputs::{browser_get, hundred_fields, minimal_get, response_head};

/// Requests fed at once for the `pier_parse` variants (the server's
/// pipelining bound).
const BATCH: usize = 32;

/// Answers the oldest request with an empty 204 and drops what it wrote.
fn answer(conn: &mut ServerConn) {
    conn.send_response(204, b"", &[] as &[(&str, &str)], BodyHint::Empty)
        .unwrap();
    conn.send_end().unwrap();
    while let Some(b) = conn.poll_transmit() {
        black_box(b);
    }
}

/// Polls until a request's `End`; panics on anything unexpected.
fn poll_request(conn: &mut ServerConn) {
    match conn.poll_event() {
        Ok(Some(Event::Request(head))) => {
            black_box(&head);
        }
        other => panic!("expected a request, got {other:?}"),
    }
    match conn.poll_event() {
        Ok(Some(Event::End(t))) => {
            black_box(&t);
        }
        other => panic!("expected End, got {other:?}"),
    }
}

fn bench_request_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_head");
    let cases = [
        ("minimal", minimal_get()),
        ("browser_700b", browser_get()),
        ("fields_100", hundred_fields()),
    ];
    for (name, req) in &cases {
        group.throughput(Throughput::Bytes(req.len() as u64));

        group.bench_with_input(BenchmarkId::new("httparse", name), req, |b, req| {
            let mut storage = [httparse::EMPTY_HEADER; 128];
            b.iter(|| {
                let mut parsed = httparse::Request::new(&mut storage);
                let status = parsed.parse(black_box(req)).unwrap();
                assert!(status.is_complete());
                black_box(parsed.headers.len());
            })
        });

        group.bench_with_input(BenchmarkId::new("pier_head", name), req, |b, req| {
            let input = Bytes::from(req.clone());
            let config = ServerConfig::default();
            let mut head = RequestHead::default();
            b.iter(|| {
                let len = parse_request_head(black_box(&input), &config, &mut head).unwrap();
                black_box((len, &head));
            })
        });

        group.bench_with_input(BenchmarkId::new("pier_cycle", name), req, |b, req| {
            let mut conn = ServerConn::new(ServerConfig::default());
            b.iter(|| {
                conn.feed(black_box(req));
                poll_request(&mut conn);
                answer(&mut conn);
            })
        });

        group.bench_with_input(BenchmarkId::new("pier_parse", name), req, |b, req| {
            let mut conn = ServerConn::new(ServerConfig::default());
            let batch: Vec<u8> = req.repeat(BATCH);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = (iters - done).min(BATCH as u64) as usize;
                    conn.feed(&batch[..n * req.len()]);
                    let start = Instant::now();
                    for _ in 0..n {
                        poll_request(&mut conn);
                    }
                    total += start.elapsed();
                    for _ in 0..n {
                        answer(&mut conn);
                    }
                    done += n as u64;
                }
                total
            })
        });
    }
    group.finish();
}

fn bench_response_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("response_head");
    let res = response_head();
    group.throughput(Throughput::Bytes(res.len() as u64));

    group.bench_function("httparse", |b| {
        let mut storage = [httparse::EMPTY_HEADER; 128];
        b.iter(|| {
            let mut parsed = httparse::Response::new(&mut storage);
            let status = parsed.parse(black_box(&res)).unwrap();
            assert!(status.is_complete());
            black_box(parsed.headers.len());
        })
    });

    let fields = [("Host", "api.example.com")];
    let send = |conn: &mut ClientConn| {
        conn.send_request(&Method::GET, b"/", &fields, BodyHint::Empty)
            .unwrap();
        conn.send_end().unwrap();
        while let Some(b) = conn.poll_transmit() {
            black_box(b);
        }
    };
    let poll_response = |conn: &mut ClientConn| {
        match conn.poll_event() {
            Ok(Some(Event::Response(head))) => {
                black_box(&head);
            }
            other => panic!("expected a response, got {other:?}"),
        }
        match conn.poll_event() {
            Ok(Some(Event::End(t))) => {
                black_box(&t);
            }
            other => panic!("expected End, got {other:?}"),
        }
    };

    group.bench_function("pier_cycle", |b| {
        let mut conn = ClientConn::new(ClientConfig::default());
        b.iter(|| {
            send(&mut conn);
            conn.feed(black_box(&res));
            poll_response(&mut conn);
        })
    });

    group.bench_function("pier_parse", |b| {
        let mut conn = ClientConn::new(ClientConfig::default());
        let batch = res.repeat(BATCH);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(BATCH as u64) as usize;
                for _ in 0..n {
                    send(&mut conn);
                }
                conn.feed(&batch[..n * res.len()]);
                let start = Instant::now();
                for _ in 0..n {
                    poll_response(&mut conn);
                }
                total += start.elapsed();
                done += n as u64;
            }
            total
        })
    });
    group.finish();
}

/// A chunked POST: the head, `body_len / chunk` chunks of `chunk` bytes
/// and the last chunk.
fn chunked_request(chunk: usize, body_len: usize) -> (Vec<u8>, usize) {
    let mut wire =
        b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let data: Vec<u8> = (0..chunk).map(|i| b'a' + (i % 26) as u8).collect();
    let count = body_len / chunk;
    for _ in 0..count {
        wire.extend_from_slice(format!("{chunk:x}\r\n").as_bytes());
        wire.extend_from_slice(&data);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    (wire, count * chunk)
}

/// Polls one whole chunked request; returns the body bytes seen.
fn drain_chunked(conn: &mut ServerConn) -> usize {
    let mut got = 0;
    loop {
        match conn.poll_event() {
            Ok(Some(Event::Request(head))) => {
                black_box(&head);
            }
            Ok(Some(Event::Data(d))) => got += d.len(),
            Ok(Some(Event::End(_))) => return got,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn bench_chunked(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunked_decode");
    const BODY: usize = 1 << 20;
    for chunk in [16usize, 1024, 64 * 1024] {
        let (wire, body_len) = chunked_request(chunk, BODY);
        group.throughput(Throughput::Bytes(body_len as u64));
        let label = match chunk {
            16 => "16B",
            1024 => "1KiB",
            _ => "64KiB",
        };

        group.bench_with_input(
            BenchmarkId::new("feed_and_decode", label),
            &wire,
            |b, wire| {
                let mut conn = ServerConn::new(ServerConfig::default());
                b.iter(|| {
                    conn.feed(black_box(wire));
                    assert_eq!(drain_chunked(&mut conn), body_len);
                    answer(&mut conn);
                })
            },
        );

        // Input handed over as `Bytes` (a runtime reading into its own
        // buffers): adopted, not copied. Building the buffer is not timed.
        group.bench_with_input(
            BenchmarkId::new("feed_bytes_and_decode", label),
            &wire,
            |b, wire| {
                let mut conn = ServerConn::new(ServerConfig::default());
                b.iter_batched(
                    || Bytes::from(wire.clone()),
                    |input| {
                        conn.feed_bytes(input);
                        assert_eq!(drain_chunked(&mut conn), body_len);
                        answer(&mut conn);
                    },
                    BatchSize::LargeInput,
                )
            },
        );

        group.bench_with_input(BenchmarkId::new("decode", label), &wire, |b, wire| {
            let mut conn = ServerConn::new(ServerConfig::default());
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    conn.feed(wire);
                    let start = Instant::now();
                    let got = drain_chunked(&mut conn);
                    total += start.elapsed();
                    assert_eq!(got, body_len);
                    answer(&mut conn);
                }
                total
            })
        });
    }
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let body = Bytes::from(vec![b'x'; 1024]);
    let fields = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Date", "Tue, 11 Jun 2024 10:15:42 GMT"),
        ("Cache-Control", "no-cache"),
        ("ETag", "\"33a64df551425fcc55e4d42a148795d9f25f89d4\""),
        ("X-Request-Id", "f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
    ];
    let respond = |conn: &mut ServerConn| -> usize {
        conn.send_response(200, b"", &fields, BodyHint::Length(body.len() as u64))
            .unwrap();
        conn.send_data(body.clone()).unwrap();
        conn.send_end().unwrap();
        let mut n = 0;
        while let Some(b) = conn.poll_transmit() {
            n += b.len();
            black_box(b);
        }
        n
    };
    // Bytes on the wire for one response.
    let wire_len = {
        let mut conn = ServerConn::new(ServerConfig::default());
        conn.feed(&minimal_get());
        poll_request(&mut conn);
        respond(&mut conn)
    };
    group.throughput(Throughput::Bytes(wire_len as u64));
    group.bench_function("response_5_fields_1KiB", |b| {
        let mut conn = ServerConn::new(ServerConfig::default());
        let batch = minimal_get().repeat(BATCH);
        let one = minimal_get().len();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(BATCH as u64) as usize;
                conn.feed(&batch[..n * one]);
                for _ in 0..n {
                    poll_request(&mut conn);
                }
                let start = Instant::now();
                for _ in 0..n {
                    black_box(respond(&mut conn));
                }
                total += start.elapsed();
                done += n as u64;
            }
            total
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_request_head,
    bench_response_head,
    bench_chunked,
    bench_encode
);
criterion_main!(benches);
