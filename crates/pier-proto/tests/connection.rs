//! Connection behaviour: the client/server pair, keep-alive, pipelining,
//! Expect, upgrades, deadlines and outgoing validation.

mod common;
use common::*;
use pier_proto::{
    BodyHint, ClientConfig, ClientConn, ErrorCode, Event, Expectation, LocalError, Method,
    ServerConfig, ServerConn,
};
use std::time::{Duration, Instant};

fn drain(s: &mut ServerConn) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

fn events(s: &mut ServerConn) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(e) = s.poll_event().unwrap() {
        v.push(e);
    }
    v
}

#[test]
fn client_and_server_pair_keep_alive_many_requests() {
    let mut client = ClientConn::new(ClientConfig::default());
    let mut server = ServerConn::new(ServerConfig::default());
    for i in 0..5u32 {
        let path = format!("/r{i}");
        client
            .send_request(
                &Method::POST,
                path.as_bytes(),
                &[("Host", "x")],
                BodyHint::Streaming,
            )
            .unwrap();
        client.send_data(format!("body{i}").into()).unwrap();
        client.send_end().unwrap();
        let mut wire = Vec::new();
        while let Some(b) = client.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        server.feed(&wire);
        let evs = events(&mut server);
        assert!(matches!(&evs[0], Event::Request(r) if r.target() == path.as_bytes()));
        assert!(matches!(evs.last(), Some(Event::End(_))));
        server
            .send_response(200, b"", &[("X-N", i.to_string())], BodyHint::Length(2))
            .unwrap();
        server.send_data("ok".into()).unwrap();
        server.send_end().unwrap();
        client.feed(&drain(&mut server));
        let mut got = Vec::new();
        while let Some(e) = client.poll_event().unwrap() {
            got.push(e);
        }
        assert!(matches!(&got[0], Event::Response(r) if r.status() == 200 && r.keep_alive()));
        assert!(client.is_reusable());
        assert!(!server.should_close());
    }
}

#[test]
fn pipelined_responses_go_out_in_order() {
    // node: S14
    let mut server = ServerConn::new(ServerConfig::default());
    server.feed(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
    let evs = events(&mut server);
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, Event::Request(_)))
            .count(),
        3
    );
    assert_eq!(server.responses_owed(), 3);
    for body in ["one", "two", "three"] {
        server
            .send_response(
                200,
                b"",
                &[] as &[(&str, &str)],
                BodyHint::Length(body.len() as u64),
            )
            .unwrap();
        // The HEAD response carries no body: data is refused, not sent.
        match server.send_data(body.into()) {
            Ok(()) => {}
            Err(e) => assert_eq!(e, LocalError::BodyNotAllowed),
        }
        server.send_end().unwrap();
    }
    let wire = drain(&mut server);
    let text = String::from_utf8(wire).unwrap();
    let one = text.find("one").unwrap();
    let three = text.find("three").unwrap();
    assert!(one < three);
    assert!(!text.contains("two"), "{text}");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
}

#[test]
fn http10_keep_alive_needs_the_token_both_ways() {
    let mut server = ServerConn::new(ServerConfig::default());
    server.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    events(&mut server);
    assert!(server.response_keep_alive());
    server
        .send_response(
            200,
            b"",
            &[("Connection", "keep-alive")],
            BodyHint::Length(0),
        )
        .unwrap();
    server.send_end().unwrap();
    assert!(!server.should_close());

    // Without the token the response closes the connection.
    let mut server = ServerConn::new(ServerConfig::default());
    server.feed(b"GET / HTTP/1.0\r\n\r\n");
    events(&mut server);
    assert!(!server.response_keep_alive());
    server
        .send_response(200, b"", &[] as &[(&str, &str)], BodyHint::Streaming)
        .unwrap();
    server.send_data("x".into()).unwrap();
    server.send_end().unwrap();
    let wire = drain(&mut server);
    // HTTP/1.0 peers get a close-delimited body, never chunked.
    assert_eq!(wire, b"HTTP/1.1 200 OK\r\n\r\nx");
    assert!(server.should_close());
}

#[test]
fn response_connection_close_ends_the_connection() {
    let mut server = ServerConn::new(ServerConfig::default());
    server.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    events(&mut server);
    server
        .send_response(200, b"", &[("Connection", "close")], BodyHint::Empty)
        .unwrap();
    server.send_end().unwrap();
    assert!(server.should_close());
    // Later bytes are ignored, never parsed.
    server.feed(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(events(&mut server).is_empty());
}

#[test]
fn expect_is_classified_like_node() {
    // node: S5, S6
    let e = |input: &str| serve(input.as_bytes()).single().expect;
    assert_eq!(
        e("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n"),
        Expectation::Continue
    );
    assert_eq!(
        e("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x-y\r\n\r\n"),
        Expectation::Continue
    );
    assert_eq!(
        e("GET / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n"),
        Expectation::Other
    );
    assert_eq!(
        e("GET / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n"),
        Expectation::Other
    );
    assert_eq!(
        e("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"),
        Expectation::None
    );
}

#[test]
fn final_response_without_the_awaited_100_turns_keep_alive_off() {
    // node: S7 (Pier keeps the connection when the body was already read)
    let mut server = ServerConn::new(ServerConfig::default());
    server.feed(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    events(&mut server);
    assert!(!server.response_keep_alive());
    server.send_continue().unwrap();
    assert!(server.response_keep_alive());
    assert_eq!(drain(&mut server), b"HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn informational_responses_reach_the_client_in_order() {
    // node: C5
    let out = fetch(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(out.informational, vec![100, 103]);
    assert_eq!(out.single().body, b"hi");
}

#[test]
fn upgrade_hands_off_the_leftover_bytes() {
    // node: S9, S10
    let config = ServerConfig {
        accept_upgrades: true,
        ..Default::default()
    };
    let out = serve_with(
        config,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: ws\r\n\r\n\x81\x00frame",
        false,
    );
    assert!(out.single().upgrade);
    assert_eq!(out.upgrade.as_deref(), Some(&b"\x81\x00frame"[..]));
    // Without upgrade handling it is an ordinary request.
    let out = serve(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: ws\r\n\r\n");
    assert_eq!(out.upgrade, None);
    assert!(out.single().trailers.is_some());
    // CONNECT always hands off.
    let out = serve(b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\ntunnel");
    assert_eq!(out.upgrade.as_deref(), Some(&b"tunnel"[..]));
}

#[test]
fn client_upgrade_and_connect() {
    // node: C6
    let out = fetch_with(
        &[("GET", "/")],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\nabc",
        false,
    );
    assert_eq!(out.single().status, 101);
    assert_eq!(out.upgrade.as_deref(), Some(&b"abc"[..]));
    let out = fetch_with(
        &[("CONNECT", "h:443")],
        b"HTTP/1.1 200 OK\r\n\r\ntunnel",
        false,
    );
    assert_eq!(out.upgrade.as_deref(), Some(&b"tunnel"[..]));
}

#[test]
fn client_framing_by_status_and_method() {
    let out = fetch_with(
        &[("HEAD", "/")],
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        false,
    );
    assert_eq!(out.single().body, b"");
    assert!(out.reusable);
    for status in ["204 No Content", "304 Not Modified"] {
        let input = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
        let out = fetch_with(&[("GET", "/")], input.as_bytes(), false);
        assert!(out.reusable, "{status}");
    }
    // Close-delimited: ends at EOF, and the connection is done.
    let out = fetch(b"HTTP/1.1 200 OK\r\n\r\nuntil close");
    assert_eq!(out.single().body, b"until close");
    assert!(!out.single().keep_alive);
}

#[test]
fn client_errors_before_and_during_a_response() {
    // node: C4
    assert_eq!(fetch(b"").error, Some(ErrorCode::InvalidEofState));
    assert_eq!(
        fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhi").error,
        Some(ErrorCode::InvalidEofState)
    );
    assert_eq!(
        fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n").error,
        Some(ErrorCode::UnexpectedContentLength)
    );
}

#[test]
fn headers_count_truncates_never_errors() {
    // node: S13, C8
    let mut input = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..2500 {
        input.push_str(&format!("x: {i}\r\n"));
    }
    input.push_str("\r\n");
    let out = serve_pieces(ServerConfig::default(), &[input.as_bytes()], false);
    assert_eq!(out.code(), None);
    assert_eq!(out.single().headers.len(), 1000);
}

#[test]
fn outgoing_injection_is_refused_before_any_byte() {
    let mut server = ServerConn::new(ServerConfig::default());
    server.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    events(&mut server);
    let bad: &[(&str, &str, LocalError)] = &[
        ("X-A", "a\r\nSet-Cookie: x", LocalError::InvalidHeaderValue),
        ("X-A", "a\nb", LocalError::InvalidHeaderValue),
        ("X-A", "a\0b", LocalError::InvalidHeaderValue),
        ("X A", "b", LocalError::InvalidHeaderName),
        ("", "b", LocalError::InvalidHeaderName),
        ("X\r\nA", "b", LocalError::InvalidHeaderName),
    ];
    for (n, v, err) in bad {
        assert_eq!(
            server.send_response(200, b"", &[(n, v)], BodyHint::Empty),
            Err(*err)
        );
        assert_eq!(server.pending_transmit(), 0, "nothing may be queued");
    }
    assert_eq!(
        server.send_response(200, b"OK\r\nX: y", &[] as &[(&str, &str)], BodyHint::Empty),
        Err(LocalError::InvalidReason)
    );
    assert_eq!(server.pending_transmit(), 0);
    // The connection is still usable afterwards.
    server
        .send_response(200, b"", &[("X-A", "fine")], BodyHint::Empty)
        .unwrap();
    server.send_end().unwrap();

    let mut client = ClientConn::new(ClientConfig::default());
    assert_eq!(
        client.send_request(&Method::GET, b"/a b", &[("Host", "a")], BodyHint::Empty),
        Err(LocalError::InvalidTarget)
    );
    assert_eq!(
        client.send_request(
            &Method::GET,
            b"/\r\nX: y",
            &[("Host", "a")],
            BodyHint::Empty
        ),
        Err(LocalError::InvalidTarget)
    );
    assert_eq!(Method::from_bytes(b"GE T"), None);
    assert_eq!(client.pending_transmit(), 0);
}

#[test]
fn body_length_is_enforced_on_the_way_out() {
    let mut client = ClientConn::new(ClientConfig::default());
    client
        .send_request(&Method::POST, b"/", &[("Host", "a")], BodyHint::Length(3))
        .unwrap();
    assert_eq!(
        client.send_data("toolong".into()),
        Err(LocalError::BodyTooLong)
    );
    client.send_data("ab".into()).unwrap();
    assert_eq!(client.send_end(), Err(LocalError::BodyTooShort));
    client.send_data("c".into()).unwrap();
    client.send_end().unwrap();
    assert_eq!(
        client.send_end_with_trailers(&[("X", "y")]),
        Err(LocalError::WrongState)
    );
}

#[test]
fn node_default_framing_for_requests() {
    // node: C2
    let wire = |m: Method, hint: BodyHint| {
        let mut c = ClientConn::new(ClientConfig::default());
        c.send_request(&m, b"/", &[("Host", "a")], hint).unwrap();
        let mut w = Vec::new();
        while let Some(b) = c.poll_transmit() {
            w.extend_from_slice(&b);
        }
        String::from_utf8(w).unwrap()
    };
    assert_eq!(
        wire(Method::GET, BodyHint::Empty),
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    );
    assert_eq!(
        wire(Method::POST, BodyHint::Empty),
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        wire(Method::PUT, BodyHint::Length(3)),
        "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"
    );
    assert!(wire(Method::POST, BodyHint::Streaming).ends_with("Transfer-Encoding: chunked\r\n\r\n"));
}

// --- deadlines ---

#[test]
fn slow_head_gets_headers_timeout_on_first_request() {
    // node: S2
    let t0 = Instant::now();
    let mut server = ServerConn::new(ServerConfig::default());
    assert_eq!(server.poll_timeout(t0), Some(t0 + Duration::from_secs(60)));
    server.feed(b"GET / HTTP/1.1\r\nHo");
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t0 + Duration::from_secs(59));
    assert!(server.poll_event().is_ok());
    server.handle_timeout(t0 + Duration::from_secs(60));
    let err = server.poll_event().unwrap_err();
    assert_eq!(err.code(), ErrorCode::HeadersTimeout);
    assert_eq!(err.status_hint(), 408);
    assert!(server.should_close());
}

#[test]
fn slow_head_gets_headers_timeout_on_a_later_request_too() {
    // node: S2, S3
    let t0 = Instant::now();
    let mut server = ServerConn::new(ServerConfig::default());
    server.poll_timeout(t0);
    server.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    events(&mut server);
    server
        .send_response(200, b"", &[] as &[(&str, &str)], BodyHint::Empty)
        .unwrap();
    server.send_end().unwrap();
    // Idle: the keep-alive timer (5 s) runs.
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(server.poll_timeout(t1), Some(t1 + Duration::from_secs(5)));
    // A byte arrives: now the head timer runs from here.
    let t2 = t1 + Duration::from_secs(2);
    server.feed(b"G");
    assert_eq!(server.poll_timeout(t2), Some(t2 + Duration::from_secs(60)));
    server.handle_timeout(t2 + Duration::from_secs(60));
    assert_eq!(
        server.poll_event().unwrap_err().code(),
        ErrorCode::HeadersTimeout
    );
}

#[test]
fn keep_alive_timeout_closes_silently() {
    // node: S3
    let t0 = Instant::now();
    let mut server = ServerConn::new(ServerConfig::default());
    server.poll_timeout(t0);
    server.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    events(&mut server);
    server
        .send_response(200, b"", &[] as &[(&str, &str)], BodyHint::Empty)
        .unwrap();
    server.send_end().unwrap();
    drain(&mut server);
    let deadline = server.poll_timeout(t0).unwrap();
    server.handle_timeout(deadline);
    assert!(matches!(
        server.poll_event(),
        Ok(Some(Event::KeepAliveTimeout))
    ));
    assert!(server.should_close());
    assert_eq!(
        server.pending_transmit(),
        0,
        "no response on an idle timeout"
    );
}

#[test]
fn request_timeout_covers_the_body() {
    // node: S1
    let t0 = Instant::now();
    let config = ServerConfig {
        request_timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    };
    let mut server = ServerConn::new(config);
    server.poll_timeout(t0);
    server.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc");
    events(&mut server);
    // The head is done: only the request deadline remains.
    assert_eq!(server.poll_timeout(t0), Some(t0 + Duration::from_secs(10)));
    server.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(
        server.poll_event().unwrap_err().code(),
        ErrorCode::RequestTimeout
    );
}

#[test]
fn no_timer_while_the_handler_works() {
    let t0 = Instant::now();
    let mut server = ServerConn::new(ServerConfig::default());
    server.poll_timeout(t0);
    server.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    events(&mut server);
    assert_eq!(server.poll_timeout(t0), None);
}

#[test]
fn eof_between_requests_is_a_clean_close() {
    let out = serve_with(
        ServerConfig::default(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        true,
    );
    assert!(out.closed);
    assert_eq!(out.code(), None);
    let out = serve_with(ServerConfig::default(), b"GET / HTTP/1.1\r\nHo", true);
    assert_eq!(out.code(), Some(ErrorCode::InvalidEofState));
}

/// Body bytes handed out for input fed as `Bytes` point into that input
/// (no copy) when the connection held nothing else, and the events equal
/// those of the copying `feed`.
#[test]
fn feed_bytes_adopts_the_callers_buffer() {
    let wire = b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".to_vec();
    let adopted = bytes::Bytes::from(wire.clone());
    let (start, end) = (
        adopted.as_ptr() as usize,
        adopted.as_ptr() as usize + adopted.len(),
    );

    let mut zero_copy = ServerConn::new(ServerConfig::default());
    zero_copy.feed_bytes(adopted);
    let got = events(&mut zero_copy);
    let mut copying = ServerConn::new(ServerConfig::default());
    copying.feed(&wire);
    assert_eq!(format!("{got:?}"), format!("{:?}", events(&mut copying)));

    let data = got
        .iter()
        .find_map(|e| match e {
            Event::Data(d) => Some(d.clone()),
            _ => None,
        })
        .expect("a Data event");
    assert_eq!(&data[..], b"hello");
    let at = data.as_ptr() as usize;
    assert!((start..end).contains(&at), "body was copied");
}

/// A shared buffer, or one fed behind buffered bytes, is copied: the
/// caller's other references stay valid and the stream reads the same.
#[test]
fn feed_bytes_copies_when_it_must() {
    let wire = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    for split in 0..=wire.len() {
        let whole = bytes::Bytes::from_static(wire);
        let kept = whole.clone();
        let mut s = ServerConn::new(ServerConfig::default());
        s.feed_bytes(whole.slice(..split));
        s.feed_bytes(whole.slice(split..));
        let targets: Vec<Vec<u8>> = events(&mut s)
            .into_iter()
            .filter_map(|e| match e {
                Event::Request(h) => Some(h.target().to_vec()),
                _ => None,
            })
            .collect();
        assert_eq!(
            targets,
            [b"/a".to_vec(), b"/b".to_vec()],
            "split at {split}"
        );
        assert_eq!(&kept[..], &wire[..]);
    }
}

#[test]
fn client_feed_bytes_reads_like_feed() {
    let mut client = ClientConn::new(ClientConfig::default());
    client
        .send_request(&Method::GET, b"/", &[("Host", "x")], BodyHint::Empty)
        .unwrap();
    while client.poll_transmit().is_some() {}
    client.feed_bytes(bytes::Bytes::from_static(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ));
    let mut body = Vec::new();
    let mut status = 0;
    while let Some(e) = client.poll_event().unwrap() {
        match e {
            Event::Response(h) => status = h.status(),
            Event::Data(d) => body.extend_from_slice(&d),
            _ => {}
        }
    }
    assert_eq!((status, &body[..]), (200, &b"ok"[..]));
}

/// Feeds `start` then `filler` repeated, in 16 KiB reads (so the buffer
/// lands exactly on power-of-two sizes, as a runtime's reads do), for as
/// long as the connection wants to read, polling after each read; returns
/// the error that ended it.
fn read_until_refused(
    wants_read: &mut dyn FnMut() -> bool,
    feed: &mut dyn FnMut(&[u8]),
    poll: &mut dyn FnMut() -> Result<(), pier_proto::ParseError>,
    start: &[u8],
    filler: &[u8],
) -> pier_proto::ParseError {
    let stream: Vec<u8> = start
        .iter()
        .chain(filler.iter().cycle().take(1 << 20))
        .copied()
        .collect();
    for read in stream.chunks(16 * 1024) {
        assert!(
            wants_read(),
            "reading paused before the section was refused"
        );
        feed(read);
        if let Err(e) = poll() {
            return e;
        }
    }
    panic!("a 1 MiB section was neither refused nor paused");
}

/// A head that never ends is refused with 431 once it passes its raw
/// bound, on both sides; reading never pauses first (the connection would
/// otherwise wait for a timeout, or for ever on a client).
#[test]
fn endless_heads_are_refused_before_reading_pauses() {
    let s = std::cell::RefCell::new(ServerConn::new(ServerConfig::default()));
    let e = read_until_refused(
        &mut || s.borrow().wants_read(),
        &mut |b| s.borrow_mut().feed(b),
        &mut || s.borrow_mut().poll_event().map(|_| ()),
        b"GET / HTTP/1.1\r\n",
        b"X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n",
    );
    assert_eq!(
        (e.code(), e.status_hint()),
        (ErrorCode::HeaderOverflow, 431)
    );

    let mut client = ClientConn::new(ClientConfig::default());
    client
        .send_request(&Method::GET, b"/", &[("Host", "x")], BodyHint::Empty)
        .unwrap();
    while client.poll_transmit().is_some() {}
    let c = std::cell::RefCell::new(client);
    let e = read_until_refused(
        &mut || c.borrow().wants_read(),
        &mut |b| c.borrow_mut().feed(b),
        &mut || c.borrow_mut().poll_event().map(|_| ()),
        b"HTTP/1.1 200 OK\r\n",
        b"X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n",
    );
    assert_eq!(e.code(), ErrorCode::HeaderOverflow);
}

/// The same for a trailer section that never ends.
#[test]
fn endless_trailers_are_refused_before_reading_pauses() {
    let s = std::cell::RefCell::new(ServerConn::new(ServerConfig::default()));
    let e = read_until_refused(
        &mut || s.borrow().wants_read(),
        &mut |b| s.borrow_mut().feed(b),
        &mut || loop {
            match s.borrow_mut().poll_event() {
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        },
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        b"X-Trailer: aaaaaaaaaaaaaaaaaaa\r\n",
    );
    assert_eq!(e.code(), ErrorCode::HeaderOverflow);
}

#[test]
fn validated_fields_are_written_alike_and_framing_is_still_checked() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let fields = [("Content-Type", "text/plain"), ("X-Id", "7")];
    // 0: checked here, 1: validated by the caller, 2: formatted by the caller.
    let by = |how: u8, fields: &[(&str, &str)]| {
        let mut s = ServerConn::new(ServerConfig::default());
        s.feed(head);
        events(&mut s);
        let lines: Vec<Vec<u8>> = fields
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n").into_bytes())
            .collect();
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let pairs = fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
        let r = match how {
            0 => s.send_response(200, b"", fields, BodyHint::Length(2)),
            1 => s.send_response_validated(200, b"", fields, BodyHint::Length(2)),
            _ => s.send_response_lines(200, b"", &lines, pairs, BodyHint::Length(2)),
        };
        r.map(|()| (drain(&mut s), s.should_close()))
    };
    let written = |validated: bool, fields: &[(&str, &str)]| {
        by(u8::from(validated), fields).map(|(wire, _)| wire)
    };
    assert_eq!(written(true, &fields), written(false, &fields));
    assert_eq!(by(2, &fields), by(0, &fields));
    // Formatted lines are read for framing like any fields.
    for framing in [
        &[("Content-Length", "1x")][..],
        &[("Content-Length", "2"), ("Transfer-Encoding", "chunked")][..],
        &[("Transfer-Encoding", "chunked, gzip")][..],
    ] {
        assert_eq!(by(2, framing), Err(LocalError::InvalidFraming));
    }
    let closing = [("Connection", "close")];
    assert_eq!(by(2, &closing), by(0, &closing));
    assert!(written(true, &fields)
        .unwrap()
        .starts_with(b"HTTP/1.1 200 OK\r\n"));
    // Framing fields are read either way: a bad length is still refused.
    let bad_length = [("Content-Length", "1x")];
    assert_eq!(written(true, &bad_length), Err(LocalError::InvalidFraming));
    assert_eq!(written(false, &bad_length), Err(LocalError::InvalidFraming));
}

/// A small body leaves in one buffer with its head (one plain write); a
/// large one is the caller's own buffer, never copied; chunk framing
/// around a small write is one buffer too. The bytes are the same either way.
#[test]
fn small_bodies_join_their_head_and_large_ones_are_not_copied() {
    let take = |s: &mut ServerConn| {
        let mut out = Vec::new();
        while let Some(b) = s.poll_transmit() {
            out.push(b);
        }
        out
    };
    let serve = |body_len: usize, hint: BodyHint| {
        let mut s = ServerConn::new(ServerConfig::default());
        s.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let _ = events(&mut s);
        s.send_response(200, b"", &[("X", "y")], hint).unwrap();
        let body = bytes::Bytes::from(vec![b'b'; body_len]);
        let at = body.as_ptr() as usize;
        s.send_data(body).unwrap();
        s.send_end().unwrap();
        (take(&mut s), at)
    };

    let small = pier_proto::COPIED_BODY_MAX;
    let (bufs, _) = serve(small, BodyHint::Length(small as u64));
    assert_eq!(bufs.len(), 1, "head and small body in one buffer");
    let wire: Vec<u8> = bufs.concat();
    assert!(wire.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(wire.ends_with(&vec![b'b'; small]));

    let (bufs, at) = serve(small + 1, BodyHint::Length(small as u64 + 1));
    assert_eq!(bufs.len(), 2, "a large body is a buffer of its own");
    assert_eq!(bufs[1].as_ptr() as usize, at, "a large body was copied");
    assert!(bufs[0].ends_with(b"\r\n\r\n"));

    let (bufs, _) = serve(10, BodyHint::Streaming);
    assert_eq!(bufs.len(), 1, "head, chunk and last chunk in one buffer");
    assert!(bufs[0].ends_with(b"\r\n\r\na\r\nbbbbbbbbbb\r\n0\r\n\r\n"));
}

/// The status line and `Content-Length` come out the same whatever the
/// reason's length (short ones are put together on the stack).
#[test]
fn status_lines_and_lengths_of_every_size() {
    for (reason, length) in [
        ("", 0u64),
        ("", 13),
        ("Fine", 9),
        (&*"r".repeat(51), 1 << 20),
        (&*"r".repeat(52), u64::MAX),
        (&*"r".repeat(300), 7),
    ] {
        let mut s = ServerConn::new(ServerConfig::default());
        s.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let _ = events(&mut s);
        s.send_response(
            299,
            reason.as_bytes(),
            &[] as &[(&str, &str)],
            BodyHint::Length(length),
        )
        .unwrap();
        let wire = String::from_utf8(drain(&mut s)).unwrap();
        let phrase = if reason.is_empty() { "unknown" } else { reason };
        let want = if length == 0 {
            format!("HTTP/1.1 299 {phrase}\r\nContent-Length: 0\r\n\r\n")
        } else {
            format!("HTTP/1.1 299 {phrase}\r\nContent-Length: {length}\r\n\r\n")
        };
        assert_eq!(wire, want);
    }
}

/// A head given back is parsed into again: the same box, with nothing left
/// over from the request it held before.
#[test]
fn recycled_heads_are_parsed_into_afresh() {
    let mut s = ServerConn::new(ServerConfig::default());
    let mut big =
        String::from("POST /first?q=1 HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n");
    for i in 0..40 {
        big.push_str(&format!("X-Field-{i}: value {i}\r\n"));
    }
    big.push_str("Connection: keep-alive\r\n\r\n");
    s.feed(big.as_bytes());
    let Some(Event::Request(first)) = s.poll_event().unwrap() else {
        panic!("a request");
    };
    assert_eq!(first.headers().len(), 43);
    assert_eq!(first.expect(), Expectation::Continue);
    assert!(matches!(s.poll_event().unwrap(), Some(Event::End(_))));
    s.send_response(200, b"", &[("Content-Length", "0")], BodyHint::Empty)
        .unwrap();
    s.send_end().unwrap();
    drain(&mut s);

    // Given back as it is: the parser must overwrite all of it.
    let address = &*first as *const _ as usize;
    assert!(s.recycle_head(first).is_none(), "taken");

    s.feed(b"GET /second HTTP/1.1\r\nHost: h\r\n\r\n");
    let Some(Event::Request(second)) = s.poll_event().unwrap() else {
        panic!("a request");
    };
    assert_eq!(&*second as *const _ as usize, address, "the same box");
    assert_eq!(second.method(), &Method::GET);
    assert_eq!(second.target(), b"/second");
    assert_eq!(second.version(), pier_proto::Version::HTTP_11);
    assert_eq!(second.expect(), Expectation::None);
    assert!(second.keep_alive() && second.has_host());
    let fields: Vec<_> = second.headers().iter().collect();
    assert_eq!(fields, [(&b"Host"[..], &b"h"[..])]);
    assert_eq!(
        second.raw().as_ref(),
        b"GET /second HTTP/1.1\r\nHost: h\r\n\r\n"
    );

    // One spare at a time (once the request has ended): a second one
    // comes back.
    assert!(
        s.recycle_head(Box::default()).is_some(),
        "still in the body"
    );
    assert!(matches!(s.poll_event().unwrap(), Some(Event::End(_))));
    assert!(s.recycle_head(Box::default()).is_none());
    assert!(s.recycle_head(Box::default()).is_some());

    // Cleared, a head lets go of its bytes.
    let mut head = second;
    assert!(!head.raw().is_empty());
    head.clear();
    assert!(head.raw().is_empty() && head.headers().is_empty());
    assert_eq!(head.target(), b"");

    // A connection reading a body takes none.
    let mut s = ServerConn::new(ServerConfig::default());
    s.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab");
    assert!(matches!(s.poll_event().unwrap(), Some(Event::Request(_))));
    assert!(s.recycle_head(head).is_some(), "refused mid-body");
}

/// Polling with nothing buffered (between requests, at the peer's EOF)
/// sets no head aside: the connection still takes a recycled one after.
#[test]
fn polling_an_empty_buffer_sets_no_head_aside() {
    let mut s = ServerConn::new(ServerConfig::default());
    assert!(s.poll_event().unwrap().is_none());
    s.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let evs = events(&mut s);
    assert_eq!(evs.len(), 2, "{evs:?}");
    s.send_response(200, b"", &[("Content-Length", "0")], BodyHint::Empty)
        .unwrap();
    s.send_end().unwrap();
    drain(&mut s);
    assert!(s.poll_event().unwrap().is_none());
    s.feed_eof();
    assert!(matches!(s.poll_event().unwrap(), Some(Event::Closed)));
    assert!(s.poll_event().unwrap().is_none());
    assert!(
        s.recycle_head(Box::default()).is_none(),
        "no head was set aside"
    );
}
