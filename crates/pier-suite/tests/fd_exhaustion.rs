//! Running out of file descriptors while connections wait to be accepted:
//! `accept` fails with EMFILE, and the server backs off (no busy loop),
//! keeps serving the connections it has, and accepts the waiting ones as
//! soon as descriptors are free again.
//!
//! The one test here owns its process: it uses up every descriptor the
//! process may open, which would break any test running beside it.

mod support;

use pier_tokio::{create_server, IncomingMessage, ServerResponse};
use socket2::{Domain, Socket, Type};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use support::*;

/// Client connections left waiting in the listen backlog.
const PENDING: usize = 3;

/// How long the descriptors stay used up.
const WINDOW_MS: u64 = 600;

/// Linux reports CPU times in /proc in units of USER_HZ, which is 100.
const TICKS_PER_SEC: f64 = 100.0;

async fn echo_url(req: IncomingMessage, mut res: ServerResponse) {
    let url = latin1(req.url());
    let _ = res.end(url).await;
}

/// CPU time used so far by the whole process (every thread), read through
/// a descriptor opened beforehand: no descriptor is needed to read it.
fn cpu_seconds(stat: &mut File) -> f64 {
    let mut text = String::new();
    stat.seek(SeekFrom::Start(0)).expect("seek /proc/self/stat");
    stat.read_to_string(&mut text)
        .expect("read /proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14 and stime 15.
    let rest = &text[text.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / TICKS_PER_SEC
}

/// Opens /dev/null until the process may open no more; returns the files.
fn use_up_descriptors(hog: &mut Vec<File>) {
    loop {
        match File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(24), "expected EMFILE, got {e}");
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_backs_off_on_emfile_and_recovers() {
    let mut stat = File::open("/proc/self/stat").expect("open /proc/self/stat");
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    let mut server = create_server(echo_url).on_connection(move |_| {
        a.fetch_add(1, Ordering::SeqCst);
    });
    let addr = listen(&mut server).await;

    // A connection made before the shortage, to be served during it.
    let mut existing = Peer::connect(addr).await;
    existing.send(get("/before")).await;
    assert_eq!(existing.response().await, ok_keep_alive("/before"));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // Use every descriptor, then free exactly enough for the client
    // sockets. All of them are created before any connects: a connection
    // in the backlog could otherwise let the server's accept take a
    // descriptor meant for the next client socket.
    let mut hog = Vec::new();
    use_up_descriptors(&mut hog);
    let hogged = hog.len();
    hog.truncate(hogged - PENDING);
    let sockets: Vec<Socket> = (0..PENDING)
        .map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).expect("client socket"))
        .collect();
    // Anything freed meanwhile (nothing, normally) is taken back, so the
    // server's accept finds no descriptor at all.
    use_up_descriptors(&mut hog);
    let slack = hog.len() + PENDING - hogged;

    let t0 = Instant::now();
    let cpu0 = cpu_seconds(&mut stat);
    let mut pending = Vec::new();
    for (i, s) in sockets.into_iter().enumerate() {
        // Loopback connects complete in the kernel, into the backlog.
        s.connect(&addr.into()).expect("connect into the backlog");
        s.set_nonblocking(true).expect("nonblocking");
        let stream = tokio::net::TcpStream::from_std(s.into()).expect("register");
        let mut p = Peer::new(Box::new(stream));
        let path = format!("/pending/{i}");
        // Waits in the kernel's buffer until the server accepts.
        p.send(get(&path)).await;
        pending.push((path, p));
    }

    // The connection the server already has is served all along.
    existing.send(get("/during")).await;
    assert_eq!(existing.response().await, ok_keep_alive("/during"));

    // The waiting ones get nothing while no descriptor is free.
    let [(_, p0), (_, p1), (_, p2)] = &mut pending[..] else {
        unreachable!("{PENDING} pending connections")
    };
    tokio::join!(
        p0.assert_quiet(ms(WINDOW_MS)),
        p1.assert_quiet(ms(WINDOW_MS)),
        p2.assert_quiet(ms(WINDOW_MS)),
    );
    let cpu = cpu_seconds(&mut stat) - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    let refused = File::open("/dev/null").map(drop);
    let still_accepted = accepted.load(Ordering::SeqCst);
    let listening = server.listening();

    // Give the descriptors back before asserting, so a failure can report.
    drop(hog);
    let t_release = Instant::now();
    eprintln!(
        "hogged {hogged} descriptors (slack {slack}); over {wall:.3} s of shortage the process used {cpu:.3} s of CPU"
    );
    assert_eq!(
        refused.map_err(|e| e.raw_os_error()),
        Err(Some(24)),
        "descriptors were free during the window"
    );
    assert_eq!(
        still_accepted, 1,
        "accepted a connection with no descriptor free"
    );
    assert!(listening, "the server stopped listening");
    // One turn of a busy accept loop would burn a whole core.
    assert!(
        cpu < 0.25 * wall,
        "accept spun: {cpu:.3} s of CPU in {wall:.3} s"
    );

    // Descriptors are free again: the waiting connections are accepted and
    // served, in no more than a few backoff periods.
    for (path, mut p) in pending {
        assert_eq!(p.response().await, ok_keep_alive(&path));
    }
    let recovered = t_release.elapsed();
    eprintln!("pending connections served {recovered:?} after the release");
    assert!(
        recovered < ms(1000),
        "slow to resume accepting: {recovered:?}"
    );

    // New connections too, and the old one still works.
    let mut fresh = Peer::connect(addr).await;
    fresh.send(get("/after")).await;
    assert_eq!(fresh.response().await, ok_keep_alive("/after"));
    existing.send(get("/after-existing")).await;
    assert_eq!(existing.response().await, ok_keep_alive("/after-existing"));
    assert_eq!(accepted.load(Ordering::SeqCst), 1 + PENDING + 1);

    tokio::time::timeout(PATIENCE, server.close())
        .await
        .expect("close() resolves");
}
