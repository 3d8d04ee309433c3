//! Replays the inputs recorded from Node 20 (`tests/vectors/*.json`, made by
//! `scripts/record-node-vectors.js`) through Pier's connections and checks
//! that Pier accepts what Node accepts, refuses what Node refuses, and
//! delivers the same messages (method, target, version, fields, body,
//! trailers). Error codes may differ in name; where Pier's verdict differs
//! on purpose, the case is listed in `KNOWN_DIFFERENCES` with the reason
//! (and in docs/node-compat.md).

use pier_proto::{BodyHint, ClientConfig, ClientConn, Event, Method, ServerConfig, ServerConn};
use serde_json::Value;

/// Cases where Pier's parse differs from Node's on purpose.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "fr_bytes_after_complete",
    "a second response nobody asked for is refused, not parsed: the connection is not reused",
)];

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
}

fn pier_server(input: &[u8]) -> Verdict {
    let mut conn = ServerConn::new(ServerConfig::default());
    conn.feed(input);
    let mut messages: Vec<Msg> = Vec::new();
    let mut current: Option<Msg> = None;
    let mut error = None;
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
    Verdict { messages, error }
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
                break;
            }
        }
    }
    Verdict { messages, error }
}

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn check(file: &str, server: bool) {
    let data = load(file);
    let cases = data["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut code_differences = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        if KNOWN_DIFFERENCES.iter().any(|(n, _)| *n == name) {
            continue;
        }
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
        let pier = if server {
            pier_server(&input)
        } else {
            pier_client(case, &input)
        };
        let refused_node = node_error.is_some();
        let refused_pier = pier.error.is_some();
        // Messages Node completed must all come out of Pier the same way.
        let same_messages = pier.messages.len() >= node.len()
            && node.iter().zip(&pier.messages).all(|(a, b)| a == b);
        if refused_node != refused_pier || !same_messages {
            failures.push(format!(
                "{name}: node {:?} {:?}\n      pier {:?} {:?}",
                node_error,
                node.iter().map(|m| &m.start).collect::<Vec<_>>(),
                pier.error,
                pier.messages.iter().map(|m| &m.start).collect::<Vec<_>>(),
            ));
        } else if node_error != pier.error {
            code_differences += 1;
        }
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
