//! Drivers shared by the integration tests: feed a connection under every
//! split of its input and record what comes out.
#![allow(dead_code)]

use pier_proto::{
    BodyHint, ClientConfig, ClientConn, ErrorCode, Event, Expectation, Method, RawHeaders,
    ServerConfig, ServerConn,
};

pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

pub fn fields(h: &RawHeaders) -> Fields {
    h.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

pub fn pairs(list: &[(&str, &str)]) -> Fields {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub target: Vec<u8>,
    pub version: String,
    pub headers: Fields,
    pub body: Vec<u8>,
    pub trailers: Option<Fields>,
    pub keep_alive: bool,
    pub expect: Expectation,
    pub upgrade: bool,
}

/// Everything a server connection reported for one input.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerOutcome {
    pub requests: Vec<SeenRequest>,
    pub error: Option<ErrorCode>,
    pub error_offset: Option<u64>,
    pub upgrade: Option<Vec<u8>>,
    pub closed: bool,
}

impl ServerOutcome {
    pub fn code(&self) -> Option<ErrorCode> {
        self.error
    }
    pub fn single(&self) -> &SeenRequest {
        assert_eq!(self.requests.len(), 1, "{self:#?}");
        &self.requests[0]
    }
}

fn drain_server(conn: &mut ServerConn, out: &mut ServerOutcome) {
    if out.error.is_some() {
        return;
    }
    loop {
        match conn.poll_event() {
            Ok(Some(Event::Request(head))) => out.requests.push(SeenRequest {
                method: head.method().as_str().to_string(),
                target: head.target().to_vec(),
                version: head.version().to_string(),
                headers: fields(head.headers()),
                body: Vec::new(),
                trailers: None,
                keep_alive: head.keep_alive(),
                expect: head.expect(),
                upgrade: head.is_upgrade(),
            }),
            Ok(Some(Event::Data(d))) => out.requests.last_mut().unwrap().body.extend_from_slice(&d),
            Ok(Some(Event::End(t))) => out.requests.last_mut().unwrap().trailers = Some(fields(&t)),
            Ok(Some(Event::Upgrade(rest))) => out
                .upgrade
                .get_or_insert_with(Vec::new)
                .extend_from_slice(&rest),
            Ok(Some(Event::Closed)) => out.closed = true,
            Ok(Some(other)) => panic!("unexpected server event {other:?}"),
            Ok(None) => return,
            Err(e) => {
                // Sticky: asking again gives the same error.
                assert_eq!(conn.poll_event().err(), Some(e));
                out.error = Some(e.code());
                out.error_offset = Some(e.offset());
                return;
            }
        }
    }
}

/// Feeds `pieces` in order (then EOF if asked), draining after each.
pub fn serve_pieces(config: ServerConfig, pieces: &[&[u8]], eof: bool) -> ServerOutcome {
    let mut conn = ServerConn::new(config);
    let mut out = ServerOutcome::default();
    for p in pieces {
        conn.feed(p);
        drain_server(&mut conn, &mut out);
    }
    if eof {
        conn.feed_eof();
        drain_server(&mut conn, &mut out);
    }
    out
}

/// Serves `input` whole, one byte at a time, and split at every offset;
/// all must agree (error offsets aside, which may depend on when a bound
/// was crossed). Returns the whole-input outcome.
pub fn serve_with(config: ServerConfig, input: &[u8], eof: bool) -> ServerOutcome {
    let whole = serve_pieces(config, &[input], eof);
    let strip = |mut o: ServerOutcome| {
        o.error_offset = None;
        o
    };
    let expected = strip(whole.clone());
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let one_by_one = strip(serve_pieces(config, &bytes, eof));
    assert_eq!(
        one_by_one,
        expected,
        "byte-at-a-time differs for {:?}",
        String::from_utf8_lossy(input)
    );
    // Every two-way split (bounded for large inputs to keep tests fast).
    let step = (input.len() / 512).max(1);
    for at in (1..input.len()).step_by(step) {
        let split = strip(serve_pieces(config, &[&input[..at], &input[at..]], eof));
        assert_eq!(
            split,
            expected,
            "split at {at} differs for {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

pub fn serve(input: &[u8]) -> ServerOutcome {
    serve_with(ServerConfig::default(), input, false)
}

/// One response as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenResponse {
    pub status: u16,
    pub reason: Vec<u8>,
    pub version: String,
    pub headers: Fields,
    pub body: Vec<u8>,
    pub trailers: Option<Fields>,
    pub keep_alive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientOutcome {
    pub informational: Vec<u16>,
    pub responses: Vec<SeenResponse>,
    pub error: Option<ErrorCode>,
    pub upgrade: Option<Vec<u8>>,
    pub closed: bool,
    pub reusable: bool,
}

impl ClientOutcome {
    pub fn single(&self) -> &SeenResponse {
        assert_eq!(self.responses.len(), 1, "{self:#?}");
        &self.responses[0]
    }
}

fn drain_client(conn: &mut ClientConn, out: &mut ClientOutcome) {
    if out.error.is_some() {
        return;
    }
    loop {
        match conn.poll_event() {
            Ok(Some(Event::Informational(h))) => out.informational.push(h.status()),
            Ok(Some(Event::Response(h))) => out.responses.push(SeenResponse {
                status: h.status(),
                reason: h.reason().to_vec(),
                version: h.version().to_string(),
                headers: fields(h.headers()),
                body: Vec::new(),
                trailers: None,
                keep_alive: h.keep_alive(),
            }),
            Ok(Some(Event::Data(d))) => {
                out.responses.last_mut().unwrap().body.extend_from_slice(&d)
            }
            Ok(Some(Event::End(t))) => {
                out.responses.last_mut().unwrap().trailers = Some(fields(&t))
            }
            Ok(Some(Event::Upgrade(rest))) => out
                .upgrade
                .get_or_insert_with(Vec::new)
                .extend_from_slice(&rest),
            Ok(Some(Event::Closed)) => out.closed = true,
            Ok(Some(other)) => panic!("unexpected client event {other:?}"),
            Ok(None) => return,
            Err(e) => {
                assert_eq!(conn.poll_event().err(), Some(e));
                out.error = Some(e.code());
                return;
            }
        }
    }
}

/// Sends `requests` (method, target) and feeds the response bytes in pieces.
pub fn fetch_pieces(
    config: ClientConfig,
    requests: &[(&str, &str)],
    pieces: &[&[u8]],
    eof: bool,
) -> ClientOutcome {
    let mut conn = ClientConn::new(config);
    for (m, t) in requests {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        conn.send_request(&method, t.as_bytes(), &[("Host", "a")], BodyHint::Empty)
            .unwrap();
        conn.send_end().unwrap();
    }
    while conn.poll_transmit().is_some() {}
    let mut out = ClientOutcome::default();
    for p in pieces {
        conn.feed(p);
        drain_client(&mut conn, &mut out);
    }
    if eof {
        conn.feed_eof();
        drain_client(&mut conn, &mut out);
    }
    out.reusable = conn.is_reusable();
    out
}

/// Like [`serve_with`], for the client side.
pub fn fetch_with(requests: &[(&str, &str)], input: &[u8], eof: bool) -> ClientOutcome {
    let config = ClientConfig::default();
    let whole = fetch_pieces(config, requests, &[input], eof);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        fetch_pieces(config, requests, &bytes, eof),
        whole,
        "byte-at-a-time differs"
    );
    let step = (input.len() / 512).max(1);
    for at in (1..input.len()).step_by(step) {
        let split = fetch_pieces(config, requests, &[&input[..at], &input[at..]], eof);
        assert_eq!(split, whole, "split at {at} differs");
    }
    whole
}

pub fn fetch(input: &[u8]) -> ClientOutcome {
    fetch_with(&[("GET", "/")], input, true)
}
