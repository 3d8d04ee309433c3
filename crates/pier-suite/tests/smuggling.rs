//! Request smuggling: every input of the security record
//! (`shared/node-semantics.md`, and the named tests of
//! `crates/pier-proto/tests/security_record.rs`) goes through Pier's real
//! server and Pier's real client, and the message boundaries must be the
//! ones Node 20 drew for the same bytes.
//!
//! Node's side is recorded by `scripts/record-node-smuggling.js` into
//! `tests/smuggling/node.json`. For each case this test checks:
//! - server: the same requests reach the handler (method, url, body, in
//!   order; a body that never ended counts as `None`), the same response
//!   statuses go out in the same order, and the connection is closed (or
//!   kept) as Node did;
//! - client: the same response (status, body bytes, complete) or an error;
//! - idle pooled sockets: the second request gets its own response;
//! - outgoing fields: refused before anything is written.
//!
//! Pier delivering a message Node never delivered, or cutting a body
//! elsewhere, is a failure. Where Pier differs on purpose, the case is
//! listed in one of the `*_DIFFERENCES` tables with what Pier does instead
//! and the words of `docs/node-compat.md` that document it; a test checks
//! those words are there and that the listed outcome still differs.

mod support;

/// The client helpers, for tokio (they expect `rt()` and `Rt` next door).
mod on_tokio {
    #![allow(dead_code, unused_imports)]

    pub type Rt = pier_tokio::Tokio;

    pub fn rt() -> Rt {
        pier_tokio::Tokio::current()
    }

    pub mod client_support {
        include!("client_support/mod.rs");
    }
}

use on_tokio::client_support::{self as cs, RawServer};
use pier::{
    AgentChoice, AgentOptions, ClientRequest, IncomingMessage, Method, RequestError, ServerOptions,
    ServerResponse,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{latin1, ms, Peer};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

// ----- the fixture -----

type Json = serde_json::Value;

/// Reading the fixture: a missing or mistyped field is a broken fixture.
trait Fixture {
    fn field(&self, key: &str) -> &Json;
    fn str(&self) -> &str;
    fn opt_str(&self) -> Option<&str>;
    fn num(&self) -> u64;
    fn bool(&self) -> bool;
    fn arr(&self) -> &[Json];
}

impl Fixture for Json {
    fn field(&self, key: &str) -> &Json {
        self.get(key)
            .unwrap_or_else(|| panic!("fixture: no field {key:?} in {self}"))
    }
    fn str(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| panic!("fixture: not a string: {self}"))
    }
    fn opt_str(&self) -> Option<&str> {
        (!self.is_null()).then(|| self.str())
    }
    fn num(&self) -> u64 {
        self.as_u64()
            .unwrap_or_else(|| panic!("fixture: not a count: {self}"))
    }
    fn bool(&self) -> bool {
        self.as_bool()
            .unwrap_or_else(|| panic!("fixture: not a bool: {self}"))
    }
    fn arr(&self) -> &[Json] {
        self.as_array()
            .unwrap_or_else(|| panic!("fixture: not an array: {self}"))
    }
}

fn fixture() -> Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smuggling/node.json");
    let text = std::fs::read_to_string(path).expect("tests/smuggling/node.json");
    serde_json::from_str(&text).expect("tests/smuggling/node.json is JSON")
}

/// A latin1 string (one char per byte) as bytes.
fn bytes_of(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a latin1 char"))
        .collect()
}

/// `parts`: a list of `[latin1 string, repeat count]`.
fn input_of(case: &Json) -> Vec<u8> {
    let mut out = Vec::new();
    for part in case.field("parts").arr() {
        let [s, n] = part.arr() else {
            panic!("a part is [string, count]")
        };
        out.extend(bytes_of(s.str()).repeat(n.num() as usize));
    }
    out
}

// ----- deliberate differences -----

/// One message the handler saw: method, url, body (`None` if it never
/// ended).
type Msg = (String, String, Option<String>);

/// What one server case produced.
#[derive(Debug, Clone, PartialEq)]
struct ServerOutcome {
    messages: Vec<Msg>,
    statuses: Vec<u16>,
    closed: bool,
}

/// A case where Pier differs from Node on purpose: what Pier does instead
/// and the words of docs/node-compat.md that document the difference.
struct Documented<T: 'static> {
    case: &'static str,
    pier: fn(&T) -> T,
    doc: &'static str,
}

/// Node hands the head to the `request` listener and then fails its body
/// with a 400; Pier refuses the head, so the handler never starts. The
/// last message Node delivered must be that unfinished one.
fn refused_at_head(node: &ServerOutcome) -> ServerOutcome {
    let (last, delivered) = node.messages.split_last().expect("Node delivered a head");
    assert_eq!(last.2, None, "only an unfinished request may go missing");
    ServerOutcome {
        messages: delivered.to_vec(),
        ..node.clone()
    }
}

const TE_AT_HEAD: &str = "refused at the head: the handler is never called";

const SERVER_DIFFERENCES: &[Documented<ServerOutcome>] = &[
    Documented {
        case: "ignored_large_body",
        // Node drains the 300 KiB nobody reads and then serves /next; Pier
        // stops at `max_unread_body` (256 KiB) and closes after the
        // response: /next is never read at all, rather than from an offset.
        pier: |node| ServerOutcome {
            messages: node.messages[..1].to_vec(),
            statuses: node.statuses[..1].to_vec(),
            closed: true,
        },
        doc: "drained up to `max_unread_body` (256 KiB) while the connection stays reusable; past that the connection closes after the response",
    },
    Documented { case: "te_gzip", pier: refused_at_head, doc: TE_AT_HEAD },
    Documented { case: "te_identity", pier: refused_at_head, doc: TE_AT_HEAD },
    Documented { case: "te_chunkedchunked", pier: refused_at_head, doc: TE_AT_HEAD },
    Documented { case: "te_xchunked", pier: refused_at_head, doc: TE_AT_HEAD },
    Documented { case: "te_chunkedx", pier: refused_at_head, doc: TE_AT_HEAD },
    Documented { case: "te_parameter", pier: refused_at_head, doc: TE_AT_HEAD },
    Documented { case: "te_quoted", pier: refused_at_head, doc: TE_AT_HEAD },
    Documented { case: "te_http10_gzip", pier: refused_at_head, doc: TE_AT_HEAD },
];

/// Idle pooled sockets: the number of connections the two requests used.
const POOL_DIFFERENCES: &[Documented<u64>] = &[Documented {
    case: "pool_unsolicited_bytes",
    // Node reads the stray response into nowhere and reuses the socket.
    pier: |_| 2,
    doc: "Pier destroys a free socket the moment it is marked unusable",
}];

/// Outgoing values are bytes and a reason goes out as UTF-8: U+010D is
/// sent as C4 8D (obs-text), where Node refuses it because writing it as
/// latin1 would turn it into a CR. Pier's expected wire shows there is
/// one message and no CR.
const UTF8: &str = "values are bytes (`Vec<u8>`) and a reason `&str` goes out as its UTF-8 bytes";

const OUTGOING_DIFFERENCES: &[Documented<OutgoingOutcome>] = &[
    Documented {
        case: "out_client_header_value_u010d",
        pier: |_| OutgoingOutcome {
            refused: false,
            wire: Some(
                "GET / HTTP/1.1\r\nX: a\u{c4}\u{8d}b\r\nHost: H\r\nConnection: close\r\n\r\n"
                    .into(),
            ),
        },
        doc: UTF8,
    },
    Documented {
        case: "out_server_header_value_u010d",
        pier: |_| {
            OutgoingOutcome {
            refused: false,
            wire: Some("HTTP/1.1 200 OK | Connection: close | Content-Length: 3 | X: a\u{c4}\u{8d}b | ok\n".into()),
        }
        },
        doc: UTF8,
    },
    Documented {
        case: "out_server_reason_u010d",
        pier: |_| OutgoingOutcome {
            refused: false,
            wire: Some(
                "HTTP/1.1 200 O\u{c4}\u{8d}K | Connection: close | Content-Length: 3 | ok\n".into(),
            ),
        },
        doc: UTF8,
    },
];

/// The expected outcome, Node's or the documented difference, and which
/// of the two it is (for failure messages).
fn expected<T: Clone>(table: &[Documented<T>], case: &str, node: &T) -> (T, &'static str) {
    match table.iter().find(|d| d.case == case) {
        Some(d) => ((d.pier)(node), " (documented difference)"),
        None => (node.clone(), " (Node)"),
    }
}

fn node_compat() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/node-compat.md");
    std::fs::read_to_string(path).expect("docs/node-compat.md")
}

#[test]
fn every_difference_is_documented_and_still_a_difference() {
    let docs = node_compat();
    let fx = fixture();
    let find = |section: &str, case: &str| -> Json {
        fx.field(section)
            .arr()
            .iter()
            .find(|c| c.field("name").str() == case)
            .unwrap_or_else(|| panic!("{case}: no such case in the fixture"))
            .clone()
    };
    let mut problems = Vec::new();
    let docs_of = SERVER_DIFFERENCES
        .iter()
        .map(|d| (d.case, d.doc))
        .chain(POOL_DIFFERENCES.iter().map(|d| (d.case, d.doc)))
        .chain(OUTGOING_DIFFERENCES.iter().map(|d| (d.case, d.doc)));
    for (case, doc) in docs_of {
        if !docs.contains(doc) {
            problems.push(format!("{case}: docs/node-compat.md does not say {doc:?}"));
        }
    }
    for d in SERVER_DIFFERENCES {
        let node = node_server_outcome(&find("server", d.case));
        if (d.pier)(&node) == node {
            problems.push(format!("{}: not a difference any more", d.case));
        }
    }
    for d in POOL_DIFFERENCES {
        let node = find("pool", d.case).field("connections").num();
        if (d.pier)(&node) == node {
            problems.push(format!("{}: not a difference any more", d.case));
        }
    }
    for d in OUTGOING_DIFFERENCES {
        find("outgoing", d.case);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ----- server -----

fn node_server_outcome(case: &Json) -> ServerOutcome {
    ServerOutcome {
        messages: case
            .field("messages")
            .arr()
            .iter()
            .map(|m| {
                (
                    m.field("method").str().to_string(),
                    m.field("url").str().to_string(),
                    m.field("body_latin1").opt_str().map(str::to_string),
                )
            })
            .collect(),
        statuses: case
            .field("statuses")
            .arr()
            .iter()
            .map(|s| s.num() as u16)
            .collect(),
        closed: case.field("closed").bool(),
    }
}

/// Statuses of the whole responses in `wire`, in order; `Err` on bytes
/// that are not a response.
fn statuses(wire: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let end = rest
            .find("\r\n\r\n")
            .ok_or_else(|| format!("partial response {rest:?}"))?;
        let head = &rest[..end];
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not a status line: {head:?}"))?;
        out.push(status);
        let lower = head.to_ascii_lowercase();
        let len = lower
            .split("\r\n")
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(Ok(0), |v| v.trim().parse::<usize>())
            .map_err(|e| format!("{e} in {head:?}"))?;
        if lower.contains("\r\ntransfer-encoding:") {
            return Err(format!("unexpected chunked response {head:?}"));
        }
        rest = rest
            .get(end + 4 + len..)
            .ok_or_else(|| format!("partial body in {rest:?}"))?;
    }
    Ok(out)
}

/// The handler: records each request when it is handed over (as Node's
/// `request` event does), reads its body unless told not to, and answers
/// `ok` once the body has ended, as the recorder's does. A body that fails
/// gets no answer (Node's never ends either).
///
/// The work runs in a task of its own: Pier polls handler futures inside
/// the connection task and drops them when the connection ends, while a
/// Node listener keeps running. Spawning keeps that difference out of the
/// comparison, which is about where bodies end, not about cancellation.
fn recorder(
    log: Arc<Mutex<Vec<Msg>>>,
    running: Arc<AtomicUsize>,
    ignore_body: bool,
) -> impl Fn(IncomingMessage, ServerResponse) -> std::future::Ready<()> + Send + Sync + 'static {
    move |mut req: IncomingMessage, mut res: ServerResponse| {
        let at = {
            let mut log = log.lock().unwrap();
            log.push((latin1(req.method().as_bytes()), latin1(req.url()), None));
            log.len() - 1
        };
        let log = log.clone();
        let running = Running::start(&running);
        tokio::spawn(async move {
            let _running = running;
            if !ignore_body {
                let Ok(body) = req.bytes().await else { return };
                log.lock().unwrap()[at].2 = Some(latin1(&body));
            }
            let _ = res.end("ok\n").await;
            // Only now is the body unread: Node dumps it after the response.
            drop(req);
        });
        std::future::ready(())
    }
}

/// Counts a handler's task while it runs (its log entry is final after).
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Running {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run_server_case(case: &Json) -> Result<(), String> {
    let node = node_server_outcome(case);
    let name = case.field("name").str();
    let mut options = ServerOptions::default();
    let timeouts = case.field("timeouts");
    if !timeouts.is_null() {
        options.headers_timeout = ms(timeouts.field("headers_ms").num());
        options.request_timeout = ms(timeouts.field("request_ms").num());
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(AtomicUsize::new(0));
    let mut server = pier_tokio::create_server(recorder(
        log.clone(),
        running.clone(),
        case.field("ignore_body").bool(),
    ))
    .options(options);
    let addr = support::listen(&mut server).await;
    let mut peer = Peer::connect(addr).await;
    peer.try_send(input_of(case)).await;

    // Read until the server closes; if Node kept the connection, until as
    // many responses as Node's arrived and then a quiet spell.
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut wire = String::new();
    let closed = loop {
        let (got, eof) = peer.read_for(ms(50)).await;
        wire.push_str(&got);
        if eof {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        if !node.closed && statuses(&wire).is_ok_and(|s| s.len() >= node.statuses.len()) {
            let (got, eof) = peer.read_for(support::QUIET).await;
            wire.push_str(&got);
            break eof;
        }
    };
    // Handlers run in tasks of their own (on another thread, maybe): the
    // log is final once they have all returned, which they do once the
    // connection is gone (bodies fail then).
    if closed {
        let settle = Instant::now() + Duration::from_secs(2);
        while running.load(Ordering::SeqCst) > 0 && Instant::now() < settle {
            tokio::time::sleep(ms(5)).await;
        }
    }
    let pier = ServerOutcome {
        messages: log.lock().unwrap().clone(),
        statuses: statuses(&wire).map_err(|e| format!("{name}: {e}"))?,
        closed,
    };
    let (expected, why) = expected(SERVER_DIFFERENCES, name, &node);
    if pier != expected {
        return Err(format!(
            "{name}: Pier {pier:?}\n    expected{why} {expected:?}\n    input {:?}",
            latin1(&input_of(case))
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    Ok(())
}

/// Runs `f` on every case, a few at a time, and fails with every
/// disagreement at once.
/// Runs every case of the fixture's `section` (at least `min` of them)
/// through `f`, a dozen at a time, and reports every failure at once.
async fn run_section<F, Fut>(section: &str, min: usize, f: F)
where
    F: Fn(Json) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let fx = fixture();
    let cases = fx.field(section).arr();
    assert!(cases.len() >= min, "the fixture lost {section} cases");
    let gate = Arc::new(tokio::sync::Semaphore::new(12));
    let mut tasks = Vec::new();
    for case in cases {
        let name = case.field("name").str().to_string();
        let permit = gate.clone().acquire_owned();
        let fut = f(case.clone());
        tasks.push((
            name,
            tokio::spawn(async move {
                let _permit = permit.await;
                fut.await
            }),
        ));
    }
    let mut failures = Vec::new();
    for (name, task) in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("{name}: panicked: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with Node:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_draws_nodes_message_boundaries() {
    run_section(
        "server",
        80,
        |case| async move { run_server_case(&case).await },
    )
    .await;
}

// ----- client -----

/// Status, body bytes delivered, and whether the body ended.
type ClientOutcome = Option<(u16, String, bool)>;

fn node_client_outcome(case: &Json) -> ClientOutcome {
    let r = case.field("response");
    (!r.is_null()).then(|| {
        (
            r.field("status").num() as u16,
            r.field("body_latin1").str().to_string(),
            r.field("complete").bool(),
        )
    })
}

async fn run_client_case(case: &Json) -> Result<(), String> {
    let name = case.field("name").str();
    let node = node_client_outcome(case);
    let input = input_of(case);
    let peer = RawServer::bind().await;
    let o = cs::opts(peer.port(), AgentChoice::None);
    let client = tokio::spawn(async move {
        let mut res = ClientRequest::new(on_tokio::rt(), o)?.end("").await?;
        let mut body = Vec::new();
        let complete = loop {
            match res.data().await {
                None => break true,
                Some(Ok(b)) => body.extend_from_slice(&b),
                Some(Err(_)) => break false,
            }
        };
        Ok::<_, RequestError>((res.status(), latin1(&body), complete))
    });
    let mut w = peer.accept().await;
    w.read_head().await;
    w.write(&input).await;
    let _ = w.stream.shutdown().await;
    let got = cs::within("the client", client)
        .await
        .map_err(|e| format!("{name}: client task: {e}"))?;
    let (pier, error) = match got {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    };
    if pier != node {
        return Err(format!(
            "{name}: Pier {pier:?} (error {error:?})\n    Node {node:?} (error {:?})\n    input {:?}",
            case.field("error").opt_str(),
            latin1(&input).chars().take(300).collect::<String>()
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_draws_nodes_message_boundaries() {
    run_section(
        "client",
        45,
        |case| async move { run_client_case(&case).await },
    )
    .await;
}

// ----- idle pooled sockets -----

async fn run_pool_case(case: &Json) -> Result<(), String> {
    let name = case.field("name").str();
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = cs::agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(1),
        ..AgentOptions::default()
    });
    let fetch = || {
        let o = cs::opts(port, AgentChoice::Agent(agent.clone()));
        tokio::spawn(async move {
            let mut res = ClientRequest::new(on_tokio::rt(), o)?.end("").await?;
            let body = res.bytes().await;
            Ok::<_, RequestError>((res.status(), body.map(|b| latin1(&b))))
        })
    };
    let ok = |n: u32| format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr{n}");

    let first = fetch();
    let mut w1 = peer.accept().await;
    w1.read_head().await;
    w1.write(ok(1)).await;
    let first = cs::within("the first request", first)
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    if !matches!(&first, Ok((200, Ok(b))) if b == "r1") {
        return Err(format!("{name}: first exchange failed: {first:?}"));
    }
    cs::eventually("the socket is back in the pool", || {
        !agent.free_sockets().is_empty()
    })
    .await;

    // What the server does to the idle socket.
    w1.write(bytes_of(case.field("idle_latin1").str())).await;
    if case.field("idle_close").bool() {
        let _ = w1.stream.shutdown().await;
    }
    // Pier notices either at once; wait for that rather than for a delay.
    cs::eventually("the idle socket leaves the pool", || {
        agent.free_sockets().is_empty()
    })
    .await;

    let second = fetch();
    let on_new_connection = tokio::select! {
        w2 = peer.accept() => {
            let mut w2 = w2;
            w2.read_head().await;
            w2.write(ok(2)).await;
            true
        }
        Some(_) = w1.try_read_request() => {
            w1.write(ok(2)).await;
            false
        }
    };
    let second = cs::within("the second request", second)
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    let pier_second = match &second {
        Ok((status, Ok(body))) => Some((*status, body.clone(), true)),
        _ => None,
    };
    let node_second = {
        let r = case.field("second");
        (!r.is_null()).then(|| {
            (
                r.field("status").num() as u16,
                r.field("body_latin1").str().to_string(),
                r.field("complete").bool(),
            )
        })
    };
    let connections = 1 + u64::from(on_new_connection);
    let (expected_connections, _) =
        expected(POOL_DIFFERENCES, name, &case.field("connections").num());
    if pier_second != node_second || connections != expected_connections {
        return Err(format!(
            "{name}: Pier's second response {second:?} on {connections} connection(s); \
             expected {node_second:?} on {expected_connections}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pooled_socket_never_answers_the_next_request() {
    run_section("pool", 2, |case| async move { run_pool_case(&case).await }).await;
}

// ----- outgoing fields -----

/// What a bad outgoing field led to: whether the call that took it refused
/// it, and what reached the wire (`None`: no connection at all).
#[derive(Debug, Clone, PartialEq)]
struct OutgoingOutcome {
    refused: bool,
    wire: Option<String>,
}

fn bad_char(case: &Json) -> &'static str {
    match case.field("char").str() {
        "cr" => "\r",
        "lf" => "\n",
        "nul" => "\0",
        "u010d" => "\u{10d}",
        other => panic!("unknown char {other:?}"),
    }
}

async fn client_outgoing(field: &str, bad: &str) -> OutgoingOutcome {
    let peer = RawServer::bind().await;
    let mut o = cs::opts(peer.port(), AgentChoice::None);
    match field {
        "header_name" => o.headers = vec![(format!("X{bad}Y"), b"v".to_vec())],
        "header_value" => o.headers = vec![("X".into(), format!("a{bad}b").into_bytes())],
        "method" => match Method::from_bytes(format!("GE{bad}T").as_bytes()) {
            Some(m) => o.method = m,
            // There is no such method value to send.
            None => {
                return OutgoingOutcome {
                    refused: true,
                    wire: (peer.accepts_within(ms(100)).await).then(String::new),
                }
            }
        },
        "path" => o.path = format!("/a{bad}b"),
        other => panic!("unknown field {other:?}"),
    }
    let req = ClientRequest::new(on_tokio::rt(), o);
    let refused = req.is_err();
    let client = tokio::spawn(async move {
        if let Ok(mut req) = req {
            let _ = req.end("").await;
        }
    });
    let wire = if refused {
        (peer.accepts_within(ms(100)).await).then(String::new)
    } else {
        let mut w = peer.accept().await;
        let head = w.read_head().await;
        w.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await;
        Some(head.replace(&format!("Host: 127.0.0.1:{}", peer.port()), "Host: H"))
    };
    let _ = cs::within("the client", client).await;
    OutgoingOutcome { refused, wire }
}

async fn server_outgoing(field: &'static str, bad: &'static str) -> OutgoingOutcome {
    let refused = Arc::new(Mutex::new(None));
    let seen = refused.clone();
    let mut server = pier_tokio::create_server(move |_req, mut res: ServerResponse| {
        let seen = seen.clone();
        async move {
            let tried = match field {
                "header_name" => res.set_header(&format!("X{bad}Y"), "v"),
                "header_value" => res.set_header("X", format!("a{bad}b")),
                "reason" => res.write_head(200, Some(&format!("O{bad}K")), &[] as &[(&str, &str)]),
                other => panic!("unknown field {other:?}"),
            };
            *seen.lock().unwrap() = Some(tried.is_err());
            // As the recorder: a clean 500 if refused, else end as set.
            if tried.is_err() {
                let _ = res.write_head(500, Some("Refused"), &[] as &[(&str, &str)]);
                let _ = res.end("refused\n").await;
            } else {
                let _ = res.end("ok\n").await;
            }
        }
    });
    let addr = support::listen(&mut server).await;
    let mut peer = Peer::connect(addr).await;
    peer.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await;
    let wire = peer.rest().await;
    let refused = refused.lock().unwrap().expect("the handler ran");
    OutgoingOutcome {
        refused,
        wire: Some(wire),
    }
}

/// A response as status line, sorted header lines without `Date`, body:
/// the order of Node's and Pier's header lines is not the point here.
fn response_shape(wire: &str) -> String {
    let (head, body) = wire.split_once("\r\n\r\n").unwrap_or((wire, ""));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut fields: Vec<&str> = lines.filter(|l| !l.starts_with("Date: ")).collect();
    fields.sort_unstable();
    format!("{status} | {} | {body}", fields.join(" | "))
}

async fn run_outgoing_case(case: &Json) -> Result<(), String> {
    let name = case.field("name").str();
    let field: &'static str = match case.field("field").str() {
        "header_name" => "header_name",
        "header_value" => "header_value",
        "method" => "method",
        "path" => "path",
        "reason" => "reason",
        other => panic!("unknown field {other:?}"),
    };
    let bad = bad_char(case);
    let node = OutgoingOutcome {
        refused: !case.field("refused").is_null(),
        wire: case.field("wire_latin1").opt_str().map(str::to_string),
    };
    let (pier, node) = match case.field("side").str() {
        "client" => (client_outgoing(field, bad).await, node),
        _ => {
            let pier = server_outgoing(field, bad).await;
            let shape = |o: OutgoingOutcome| OutgoingOutcome {
                refused: o.refused,
                wire: o.wire.as_deref().map(response_shape),
            };
            (shape(pier), shape(node))
        }
    };
    let (expected, why) = expected(OUTGOING_DIFFERENCES, name, &node);
    if pier != expected {
        return Err(format!(
            "{name}: Pier {pier:?}\n    expected{why} {expected:?}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_outgoing_fields_are_refused_before_anything_is_written() {
    run_section("outgoing", 28, |case| async move {
        run_outgoing_case(&case).await
    })
    .await;
}

#[tokio::test]
async fn a_reason_refused_when_the_head_goes_out_still_gets_an_answer() {
    // Set through the field, the reason is only checked when the head goes
    // out. Node throws from `res.end()` then; Pier refuses the same way,
    // writes nothing of it, and the unsent response dropped by the handler
    // becomes a 500 (docs/node-compat.md: "dropped before the head: 500").
    let refusal = Arc::new(Mutex::new(None));
    let seen = refusal.clone();
    let mut server = pier_tokio::create_server(move |_req, mut res: ServerResponse| {
        let seen = seen.clone();
        async move {
            res.status_message = "OK\r\nX-Injected: 1".into();
            let r = res.end("ok\n").await;
            *seen.lock().unwrap() = Some(format!("{r:?}"));
        }
    });
    let addr = support::listen(&mut server).await;
    let mut peer = Peer::connect(addr).await;
    peer.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let wire = peer.rest().await;
    assert_eq!(
        refusal.lock().unwrap().as_deref(),
        Some("Err(Protocol(InvalidReason))")
    );
    assert_eq!(
        statuses(&wire),
        Ok(vec![500]),
        "one 500 and nothing injected: {wire:?}"
    );
    assert!(!wire.contains("X-Injected"), "{wire:?}");
}
