//! Replays the inputs recorded from Node 20 (`tests/vectors/*.json`, made by
//! `scripts/record-node-vectors.js`) through Pier's connections and checks
//! that Pier accepts what Node accepts, refuses what Node refuses, and
//! delivers the same messages (method, target, version, fields, body,
//! trailers). Error codes may differ in name; where Pier's verdict differs
//! on purpose, the case is listed in `KNOWN_DIFFERENCES` with the reason
//! (and in docs/node-compat.md), and the test checks that it still differs.
//!
//! `PIER_VECTORS_DIR=dir` replays `dir/node_{server,client}.json` instead
//! (written by `scripts/differential.js`): every disagreement is listed, a
//! panic counts as one, and each case's verdict is also written to
//! `dir/pier_{server,client}.json` for the script to group.

use pier_proto::{BodyHint, ClientConfig, ClientConn, Event, Method, ServerConfig, ServerConn};
use serde_json::{json, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

const BARE_LF_REFUSED: &str =
    "a bare LF ending a line is refused, the version-less request line included (security record)";

/// Cases where Pier's parse differs from Node's on purpose.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "fr_bytes_after_complete",
        "a second response nobody asked for is refused, not parsed: the connection is not reused",
    ),
    ("rl_http09_bare_lf", BARE_LF_REFUSED),
    ("rl_http09_bare_lf_fields", BARE_LF_REFUSED),
    ("rl_http09_bare_lf_absolute", BARE_LF_REFUSED),
];

fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

fn b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn pairs(v: &Value) -> Pairs {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                latin1(p[0].as_str().unwrap()),
                latin1(p[1].as_str().unwrap()),
            )
        })
        .collect()
}

#[derive(Debug, PartialEq)]
struct Msg {
    start: (String, Vec<u8>, String),
    headers: Pairs,
    body: Vec<u8>,
    trailers: Pairs,
}

fn cut(mut p: Pairs) -> Pairs {
    // Node keeps 1023 pairs, Pier 1000 (max_headers_count / 2).
    p.truncate(1000);
    p
}

fn node_messages(case: &Value, server: bool) -> Vec<Msg> {
    let key = if server { "requests" } else { "messages" };
    case[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["complete"].as_bool() == Some(true))
        .map(|m| Msg {
            start: if server {
                (
                    m["method"].as_str().unwrap_or("").to_string(),
                    latin1(m["url"].as_str().unwrap_or("")),
                    m["http_version"].as_str().unwrap().to_string(),
                )
            } else {
                (
                    m["status"].to_string(),
                    Vec::new(),
                    m["http_version"].as_str().unwrap().to_string(),
                )
            },
            headers: cut(pairs(&m["raw_headers"])),
            body: b64(m["body_base64"].as_str().unwrap()),
            trailers: cut(pairs(&m["raw_trailers"])),
        })
        .collect()
}

struct Verdict {
    messages: Vec<Msg>,
    error: Option<String>,
    /// Stream offset of the error.
    offset: Option<u64>,
    /// A head was parsed whose message has not ended.
    pending: bool,
}

/// Where and how two message lists first differ, for the report.
fn first_difference(node: &[Msg], pier: &[Msg]) -> Option<String> {
    for (i, (a, b)) in node.iter().zip(pier).enumerate() {
        let field = if a.start != b.start {
            "start line"
        } else if a.headers != b.headers {
            "headers"
        } else if a.body != b.body {
            "body"
        } else if a.trailers != b.trailers {
            "trailers"
        } else {
            continue;
        };
        return Some(format!("message {i}: {field}"));
    }
    (pier.len() < node.len()).then(|| format!("{} of {} messages", pier.len(), node.len()))
}

fn lossy(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fn pier_server(input: &[u8]) -> Verdict {
    let mut conn = ServerConn::new(ServerConfig::default());
    conn.feed(input);
    let mut messages: Vec<Msg> = Vec::new();
    let mut current: Option<Msg> = None;
    let mut error = None;
    let mut offset = None;
    // Like Node, parse everything that arrived before answering anything.
    'outer: loop {
        loop {
            match conn.poll_event() {
                Ok(Some(Event::Request(h))) => {
                    current = Some(Msg {
                        start: (
                            h.method().as_str().to_string(),
                            h.target().to_vec(),
                            h.version().to_string(),
                        ),
                        headers: h
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_vec(), v.to_vec()))
                            .collect(),
                        body: Vec::new(),
                        trailers: Vec::new(),
                    });
                    if h.method().is_connect() {
                        // Node completes a CONNECT message at its head.
                        messages.push(current.take().unwrap());
                    }
                }
                Ok(Some(Event::Data(d))) => current.as_mut().unwrap().body.extend_from_slice(&d),
                Ok(Some(Event::End(t))) => {
                    let mut m = current.take().unwrap();
                    m.trailers = t.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
                    messages.push(m);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    error = Some(e.code().as_str().to_string());
                    offset = Some(e.offset());
                    break 'outer;
                }
            }
        }
        if !conn.awaiting_response() {
            break;
        }
        while conn.awaiting_response() {
            let keep = if conn.response_keep_alive() {
                "keep-alive"
            } else {
                "close"
            };
            conn.send_response(200, b"", &[("Connection", keep)], BodyHint::Empty)
                .unwrap();
            conn.send_end().unwrap();
        }
    }
    Verdict {
        messages,
        error,
        offset,
        pending: current.is_some(),
    }
}

fn pier_client(case: &Value, input: &[u8]) -> Verdict {
    let mut conn = ClientConn::new(ClientConfig::default());
    let req = &case["request"];
    let method = Method::from_bytes(req["method"].as_str().unwrap().as_bytes()).unwrap();
    let headers: Vec<(String, String)> = req["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    let body = req["body_latin1"].as_str().map(latin1);
    let hint = body
        .as_ref()
        .map_or(BodyHint::Empty, |b| BodyHint::Length(b.len() as u64));
    conn.send_request(&method, b"/", &headers, hint).unwrap();
    if let Some(b) = body {
        conn.send_data(b.into()).unwrap();
    }
    conn.send_end().unwrap();
    conn.feed(input);
    if !case["keep_open"].as_bool().unwrap_or(false) {
        conn.feed_eof();
    }
    let mut messages: Vec<Msg> = Vec::new();
    let mut current: Option<Msg> = None;
    let mut error = None;
    let mut offset = None;
    loop {
        match conn.poll_event() {
            Ok(Some(Event::Response(h))) => {
                current = Some(Msg {
                    start: (h.status().to_string(), Vec::new(), h.version().to_string()),
                    headers: h
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.to_vec(), v.to_vec()))
                        .collect(),
                    body: Vec::new(),
                    trailers: Vec::new(),
                });
            }
            Ok(Some(Event::Data(d))) => current.as_mut().unwrap().body.extend_from_slice(&d),
            Ok(Some(Event::End(t))) => {
                let mut m = current.take().unwrap();
                m.trailers = t.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
                messages.push(m);
            }
            Ok(Some(Event::Upgrade(_))) => {
                messages.extend(current.take());
            }
            Ok(Some(Event::Informational(h))) => messages.push(Msg {
                start: (h.status().to_string(), Vec::new(), h.version().to_string()),
                headers: h
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_vec(), v.to_vec()))
                    .collect(),
                body: Vec::new(),
                trailers: Vec::new(),
            }),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                error = Some(e.code().as_str().to_string());
                offset = Some(e.offset());
                break;
            }
        }
    }
    Verdict {
        messages,
        error,
        offset,
        pending: current.is_some(),
    }
}

/// A directory of generated vectors to replay instead of the recorded ones.
fn differential_dir() -> Option<PathBuf> {
    std::env::var_os("PIER_VECTORS_DIR").map(PathBuf::from)
}

fn load(name: &str) -> Value {
    let path = match differential_dir() {
        Some(dir) => dir.join(name),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name),
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn check(file: &str, server: bool) {
    let data = load(file);
    let cases = data["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut code_differences = 0;
    let mut report = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        // Replayed too: a listed case that agrees again must leave the list.
        let known = KNOWN_DIFFERENCES.iter().any(|(n, _)| *n == name);
        let input = latin1(case["input_latin1"].as_str().unwrap());
        let node_error = if server {
            case["client_error"]["code"].as_str().map(str::to_string)
        } else {
            // A close before a complete response is an error for a client,
            // even where Node reports none (it destroys the socket).
            let aborted = case["responses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == "final" && r["complete"].as_bool() == Some(false));
            match case["error"]["code"].as_str() {
                Some(code) => Some(code.to_string()),
                // With the connection kept open, an unfinished response is
                // still pending, not aborted.
                None if aborted && !case["keep_open"].as_bool().unwrap_or(false) => {
                    Some("aborted".to_string())
                }
                None => None,
            }
        };
        let node = node_messages(case, server);
        // A panic is a finding like any other; the remaining cases still run.
        let replay = catch_unwind(AssertUnwindSafe(|| {
            if server {
                pier_server(&input)
            } else {
                pier_client(case, &input)
            }
        }));
        let pier = match replay {
            Ok(v) => v,
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: pier panicked: {msg}"));
                report.push(json!({"name": name, "agree": false, "kind": "panic", "panic": msg}));
                continue;
            }
        };
        let refused_node = node_error.is_some();
        let refused_pier = pier.error.is_some();
        // Messages Node completed must all come out of Pier the same way.
        let difference = first_difference(&node, &pier.messages);
        let kind = if refused_node != refused_pier {
            "verdict"
        } else if difference.is_some() {
            "messages"
        } else {
            "agree"
        };
        if known {
            if kind == "agree" {
                failures.push(format!(
                    "{name}: listed in KNOWN_DIFFERENCES, but Pier now agrees with Node"
                ));
            }
        } else if kind != "agree" {
            failures.push(format!(
                "{name}: node {:?} {:?}\n      pier {:?} @{:?} {:?}{}",
                node_error,
                node.iter().map(|m| &m.start).collect::<Vec<_>>(),
                pier.error,
                pier.offset,
                pier.messages.iter().map(|m| &m.start).collect::<Vec<_>>(),
                difference
                    .as_deref()
                    .map_or(String::new(), |d| format!(" ({d})")),
            ));
        } else if node_error != pier.error {
            code_differences += 1;
        }
        let starts = |ms: &[Msg]| -> Vec<String> {
            ms.iter()
                .map(|m| format!("{} {} {}", m.start.0, lossy(&m.start.1), m.start.2))
                .collect()
        };
        report.push(json!({
            "name": name,
            "agree": kind == "agree",
            "kind": kind,
            "node_error": node_error,
            "pier_error": pier.error,
            "pier_offset": pier.offset,
            "pier_pending": pier.pending,
            "node_messages": starts(&node),
            "pier_messages": starts(&pier.messages),
            "difference": difference,
        }));
    }
    if let Some(dir) = differential_dir() {
        let out = dir.join(file.replace("node_", "pier_"));
        let text = serde_json::to_string_pretty(&Value::Array(report)).unwrap();
        std::fs::write(&out, text).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    }
    eprintln!(
        "{file}: {} cases, {} disagree, {} refused under another code name",
        cases.len(),
        failures.len(),
        code_differences
    );
    assert!(
        failures.is_empty(),
        "disagreements with Node:\n{}",
        failures.join("\n")
    );
}

#[test]
fn server_side_matches_node() {
    check("node_server.json", true);
}

#[test]
fn client_side_matches_node() {
    check("node_client.json", false);
}
