//! Requests built from the fuzz bytes, encoded by a `ClientConn`, decoded
//! by a `ServerConn` (cut into reads at fuzz-chosen points): what the
//! server reads must be exactly what the client was asked to send.
//!
//! Each of one or two requests has a method from Node's table (now and then
//! another token), a target, up to eight fields (framing fields among them,
//! with valid and broken values), a body sent in pieces under a
//! `BodyHint`, and trailers. The encoder may refuse a request with a
//! `LocalError` (then nothing may have been queued by the refused call, and
//! the request is left out of the comparison); everything it accepts must
//! come out of the server as sent: method, target, fields in order and
//! case (values without surrounding whitespace, which field syntax does not
//! keep), the framing field the encoder added, body and trailers. A request
//! built only from valid parts must be accepted.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pier_fuzz::{
    drive_server, is_field_vchar, is_target_byte, is_token, method_from, trim_ows, Fields, Seen,
    ServerRun, Split,
};
use pier_proto::{BodyHint, ClientConfig, ClientConn, ErrorCode, LocalError, Method};

const NAMES: &[&str] = &[
    "Host",
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "Expect",
    "Upgrade",
    "Keep-Alive",
    "Content-Type",
    "Cookie",
    "Set-Cookie",
    "TE",
    "Trailer",
    "Proxy-Connection",
    "X-Pier",
    "Accept",
];

fn pick<'a, T>(u: &mut Unstructured, items: &'a [T]) -> Result<&'a T> {
    let i = u.int_in_range(0..=items.len() - 1)?;
    Ok(&items[i])
}

fn from_alphabet(u: &mut Unstructured, alphabet: &[u8], min: usize, max: usize) -> Result<Vec<u8>> {
    let n = u.int_in_range(min..=max)?;
    (0..n).map(|_| pick(u, alphabet).copied()).collect()
}

fn raw_bytes(u: &mut Unstructured, max: usize) -> Result<Vec<u8>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| u.arbitrary::<u8>()).collect()
}

fn tchars() -> Vec<u8> {
    (0u8..=255).filter(|&b| pier_fuzz::is_tchar(b)).collect()
}

fn name(u: &mut Unstructured) -> Result<Vec<u8>> {
    Ok(match u.int_in_range(0..=15)? {
        0..=8 => {
            // A well-known name, in a random case.
            let mut n = pick(u, NAMES)?.as_bytes().to_vec();
            for b in n.iter_mut() {
                if u.ratio(1, 4)? {
                    *b = if b.is_ascii_lowercase() {
                        b.to_ascii_uppercase()
                    } else {
                        b.to_ascii_lowercase()
                    };
                }
            }
            n
        }
        9..=14 => from_alphabet(u, &tchars(), 1, 12)?,
        _ => raw_bytes(u, 8)?,
    })
}

fn value(u: &mut Unstructured, name: &[u8], body_len: usize) -> Result<Vec<u8>> {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    let special: Option<Vec<String>> = if is("content-length") {
        Some(vec![
            body_len.to_string(),
            (body_len + 1).to_string(),
            body_len.saturating_sub(1).to_string(),
            format!(" {body_len} "),
            format!("{body_len}\t"),
            format!("\t{body_len}"),
            format!("00{body_len}"),
            format!("+{body_len}"),
            format!("{body_len}, {body_len}"),
            "18446744073709551616".into(),
            String::new(),
        ])
    } else if is("transfer-encoding") {
        Some(
            [
                "chunked",
                "Chunked",
                "gzip, chunked",
                "chunked, gzip",
                "chunked,",
                ", chunked",
                " chunked ",
                "identity",
                "chunked, chunked",
                "gzip ,chunked",
                "x y, chunked",
                "gzip,,chunked",
                "chunked\t",
                "",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        )
    } else if is("connection") || is("proxy-connection") {
        Some(
            [
                "close",
                "keep-alive",
                "upgrade",
                "Upgrade, close",
                "keep-alive, upgrade",
                "CLOSE",
                ",close,",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        )
    } else if is("expect") {
        Some(
            ["100-continue", "100-Continue", "foo", "100-continue, x"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    } else if is("upgrade") {
        Some(
            ["websocket", "h2c", ""]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    } else {
        None
    };
    if let Some(list) = special {
        if u.ratio(3, 4)? {
            return Ok(pick(u, &list)?.clone().into_bytes());
        }
    }
    Ok(match u.int_in_range(0..=15)? {
        0..=12 => {
            let alphabet: Vec<u8> = (0u8..=255).filter(|&b| is_field_vchar(b)).collect();
            from_alphabet(u, &alphabet, 0, 16)?
        }
        _ => raw_bytes(u, 8)?,
    })
}

fn target(u: &mut Unstructured) -> Result<Vec<u8>> {
    Ok(match u.int_in_range(0..=15)? {
        0..=13 => {
            // Mostly visible ASCII; obs-text now and then.
            let alphabet: Vec<u8> = if u.ratio(1, 8)? {
                (0u8..=255).filter(|&b| is_target_byte(b)).collect()
            } else {
                (0x21u8..0x7f).collect()
            };
            let mut t = match u.int_in_range(0..=15)? {
                0..=12 => b"/".to_vec(),
                13 => b"http://".to_vec(),
                _ => Vec::new(),
            };
            t.extend(from_alphabet(u, &alphabet, 0, 20)?);
            if t.is_empty() {
                t.push(b'*');
            }
            t
        }
        _ => raw_bytes(u, 6)?,
    })
}

fn method(u: &mut Unstructured) -> Result<(Method, bool)> {
    if u.ratio(1, 16)? {
        let bytes = from_alphabet(u, &tchars(), 1, 8)?;
        if let Some(m) = Method::from_bytes(&bytes) {
            let custom = m.known().is_none();
            return Ok((m, custom));
        }
    }
    Ok((method_from(u.arbitrary()?), false))
}

struct Request {
    method: Method,
    custom_method: bool,
    target: Vec<u8>,
    fields: Fields,
    hint: BodyHint,
    pieces: Vec<Vec<u8>>,
    trailers: Fields,
}

impl Request {
    fn generate(u: &mut Unstructured) -> Result<Request> {
        let (method, custom_method) = method(u)?;
        let target = target(u)?;
        let body = raw_bytes(u, 48)?;
        let n_pieces = u.int_in_range(1..=4)?;
        let mut pieces = Vec::new();
        let mut rest = &body[..];
        for i in 0..n_pieces {
            let take = if i + 1 == n_pieces {
                rest.len()
            } else {
                u.int_in_range(0..=rest.len())?
            };
            pieces.push(rest[..take].to_vec());
            rest = &rest[take..];
        }
        let hint = match u.int_in_range(0..=7)? {
            0 | 1 => BodyHint::Empty,
            2 | 3 => BodyHint::Length(body.len() as u64),
            4 | 5 => BodyHint::Streaming,
            6 => BodyHint::Length(body.len() as u64 + 1),
            _ => BodyHint::Length((body.len() as u64).saturating_sub(1)),
        };
        let n_fields = u.int_in_range(0..=8)?;
        let mut fields = Vec::new();
        for _ in 0..n_fields {
            let n = name(u)?;
            let v = value(u, &n, body.len())?;
            fields.push((n, v));
        }
        let mut trailers = Vec::new();
        if u.ratio(1, 3)? {
            for _ in 0..u.int_in_range(1..=3)? {
                let n = name(u)?;
                let v = value(u, &n, body.len())?;
                trailers.push((n, v));
            }
        }
        Ok(Request {
            method,
            custom_method,
            target,
            fields,
            hint,
            pieces,
            trailers,
        })
    }

    fn body(&self) -> Vec<u8> {
        self.pieces.concat()
    }

    fn has_field(&self, name: &str) -> bool {
        self.fields
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Built from valid parts only, framing left to the encoder: the
    /// encoder has no reason to refuse it.
    fn plainly_valid(&self) -> bool {
        let valid_field =
            |(n, v): &(Vec<u8>, Vec<u8>)| is_token(n) && v.iter().all(|&b| is_field_vchar(b));
        let framing = |(n, _): &(Vec<u8>, Vec<u8>)| {
            n.eq_ignore_ascii_case(b"content-length")
                || n.eq_ignore_ascii_case(b"transfer-encoding")
        };
        let len = self.body().len() as u64;
        let body_fits = match self.hint {
            BodyHint::Empty => len == 0,
            BodyHint::Length(n) => n == len,
            BodyHint::Streaming => true,
        };
        let chunked = self.hint == BodyHint::Streaming;
        !self.target.is_empty()
            && self.target.iter().all(|&b| is_target_byte(b))
            && self.fields.iter().all(valid_field)
            && !self.fields.iter().any(framing)
            && body_fits
            && (self.trailers.is_empty() || chunked)
            && self.trailers.iter().all(valid_field)
            && !self.trailers.iter().any(framing)
    }

    /// The fields the server must see: the caller's (values trimmed) and
    /// the framing field the encoder adds when the caller set none.
    fn expected_fields(&self) -> Fields {
        let mut out: Fields = self
            .fields
            .iter()
            .map(|(n, v)| (n.clone(), trim_ows(v).to_vec()))
            .collect();
        if !self.has_field("content-length") && !self.has_field("transfer-encoding") {
            match self.hint {
                BodyHint::Empty | BodyHint::Length(0) => {
                    if self.method.body_framing_by_default() {
                        out.push((b"Content-Length".to_vec(), b"0".to_vec()));
                    }
                }
                BodyHint::Length(n) => {
                    out.push((b"Content-Length".to_vec(), n.to_string().into_bytes()))
                }
                BodyHint::Streaming => {
                    out.push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec()))
                }
            }
        }
        out
    }

    fn upgrades(&self, accept_upgrades: bool) -> bool {
        let list_has = |name: &str, item: &[u8]| {
            self.fields.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case(name.as_bytes())
                    && v.split(|&b| b == b',')
                        .any(|i| trim_ows(i).eq_ignore_ascii_case(item))
            })
        };
        let conn_upgrade =
            list_has("connection", b"upgrade") || list_has("proxy-connection", b"upgrade");
        self.method.is_connect() || (accept_upgrades && conn_upgrade && self.has_field("upgrade"))
    }
}

/// Whether a server reads this target (Node's rule): visible ASCII only,
/// and for methods other than CONNECT origin-form (`/…`), `*`, or
/// absolute-form (`scheme://…`). The client lets more through (obs-text,
/// as Node's client does), which a server then refuses with
/// `HPE_INVALID_URL`.
fn receivable_target(method: &Method, t: &[u8]) -> bool {
    if t.is_empty() || !t.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return false;
    }
    if t[0] == b'/' || t[0] == b'*' {
        return true;
    }
    // An authority (up to the first `/` or `?`) holds URL characters only.
    let authority_ok = |a: &[u8]| {
        let end = a
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(a.len());
        a[..end]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@[]%".contains(&b))
    };
    if method.is_connect() {
        return authority_ok(t);
    }
    // Absolute form: a scheme of letters, `://`, an authority.
    let scheme = t.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    scheme > 0 && t[scheme..].starts_with(b"://") && authority_ok(&t[scheme + 3..])
}

/// Runs one call on the client, checking that a refusal queued nothing.
fn call(
    c: &mut ClientConn,
    refusal: &mut Option<LocalError>,
    f: impl FnOnce(&mut ClientConn) -> std::result::Result<(), LocalError>,
) -> bool {
    let before = c.pending_transmit();
    match f(c) {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(
                c.pending_transmit(),
                before,
                "a refused call ({e:?}) queued bytes"
            );
            *refusal = Some(e);
            false
        }
    }
}

fn drain(c: &mut ClientConn, wire: &mut Vec<u8>) {
    while let Some(b) = c.poll_transmit() {
        wire.extend_from_slice(&b);
    }
}

fn run(u: &mut Unstructured) -> Result<()> {
    let accept_upgrades = u.arbitrary::<bool>()?;
    let count = u.int_in_range(1..=2)?;
    let requests: Vec<Request> = (0..count)
        .map(|_| Request::generate(u))
        .collect::<Result<_>>()?;
    let mut plan = vec![u.arbitrary::<u8>()? % 7];
    for _ in 0..plan[0] {
        plan.push(u.arbitrary()?);
    }
    let split = Split::Cuts(plan[1..].to_vec());

    let mut client = ClientConn::new(ClientConfig::default());
    let mut wire = Vec::new();
    let mut sent: Vec<&Request> = Vec::new();
    let mut head_ends = Vec::new();
    for r in &requests {
        let start = wire.len();
        let mut refusal = None;
        let head = call(&mut client, &mut refusal, |c| {
            c.send_request(&r.method, &r.target, &r.fields, r.hint)
        });
        drain(&mut client, &mut wire);
        let head_end = wire.len();
        let ok =
            head && r.pieces.iter().all(|p| {
                let data = Bytes::copy_from_slice(p);
                call(&mut client, &mut refusal, |c| c.send_data(data))
            }) && call(&mut client, &mut refusal, |c| {
                c.send_end_with_trailers(&r.trailers)
            });
        if !ok {
            // Valid parts and consistent framing must go through (unless an
            // earlier request closed the connection).
            let closed_before = sent.iter().any(|s| {
                s.fields.iter().any(|(n, v)| {
                    (n.eq_ignore_ascii_case(b"connection")
                        || n.eq_ignore_ascii_case(b"proxy-connection"))
                        && v.split(|&b| b == b',')
                            .any(|i| trim_ows(i).eq_ignore_ascii_case(b"close"))
                })
            });
            assert!(
                !r.plainly_valid() || closed_before,
                "the encoder refused a plainly valid request with {refusal:?}: {} {:?} fields {:?} hint {:?} body {:?} trailers {:?}",
                r.method,
                String::from_utf8_lossy(&r.target),
                r.fields.iter().map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))).collect::<Vec<_>>(),
                r.hint,
                r.pieces,
                r.trailers.iter().map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))).collect::<Vec<_>>(),
            );
            wire.truncate(start);
            drain(&mut client, &mut Vec::new());
            break;
        }
        drain(&mut client, &mut wire);
        head_ends.push(head_end);
        sent.push(r);
        if r.upgrades(accept_upgrades) {
            break;
        }
    }
    if sent.is_empty() {
        return Ok(());
    }

    let mut run = ServerRun::from_flags(0, 0);
    run.config.accept_upgrades = accept_upgrades;
    run.config.leniency.unknown_methods = sent.iter().any(|r| r.custom_method);
    run.eof = true;
    let out = drive_server(&run, &split.apply(&wire));
    let refused_target = sent
        .iter()
        .position(|r| !receivable_target(&r.method, &r.target));
    match (out.error, refused_target) {
        (None, None) => {}
        (Some(e), Some(_)) if e.code() == ErrorCode::InvalidUrl => {}
        (Some(e), _) => panic!(
            "the server refused what the encoder accepted: {e}\nwire: {:?}",
            String::from_utf8_lossy(&wire)
        ),
        (None, Some(i)) => panic!(
            "request {i}: the server accepted target {:?}",
            String::from_utf8_lossy(&sent[i].target)
        ),
    }
    let mut seen = out.seen.iter();
    for (i, r) in sent.iter().enumerate() {
        if refused_target == Some(i) {
            return Ok(());
        }
        let Some(Seen::Request {
            method,
            target,
            version,
            headers,
            ..
        }) = seen.next()
        else {
            panic!("request {i}: no Request event; events {:?}", out.seen)
        };
        assert_eq!(method, r.method.as_bytes(), "request {i}: method");
        assert_eq!(target, &r.target, "request {i}: target");
        assert_eq!(
            *version,
            pier_proto::Version::HTTP_11,
            "request {i}: version"
        );
        assert_eq!(
            headers,
            &r.expected_fields(),
            "request {i}: fields\nwire: {:?}",
            String::from_utf8_lossy(&wire)
        );
        if r.upgrades(accept_upgrades) {
            // Everything after the head belongs to the new protocol.
            let Some(Seen::Upgrade(rest)) = seen.next() else {
                panic!("request {i}: no Upgrade")
            };
            assert_eq!(rest, &wire[head_ends[i]..], "request {i}: bytes handed off");
            assert!(seen.next().is_none());
            return Ok(());
        }
        let body = r.body();
        if !body.is_empty() {
            assert_eq!(seen.next(), Some(&Seen::Data(body)), "request {i}: body");
        }
        let expected_trailers: Fields = r
            .trailers
            .iter()
            .map(|(n, v)| (n.clone(), trim_ows(v).to_vec()))
            .collect();
        assert_eq!(
            seen.next(),
            Some(&Seen::End(expected_trailers)),
            "request {i}: trailers"
        );
    }
    assert_eq!(seen.next(), Some(&Seen::Closed));
    assert!(seen.next().is_none());
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});
