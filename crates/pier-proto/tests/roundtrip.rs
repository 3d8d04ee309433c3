//! Property tests: whatever a ClientConn encodes, a ServerConn decodes to the
//! same message under any split of the byte stream, and the other way
//! round; arbitrary bytes never panic either role.

mod common;
use bytes::Bytes;
use pier_proto::{
    BodyHint, ClientConfig, ClientConn, Event, KnownMethod, Method, ServerConfig, ServerConn,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Msg {
    method: Method,
    target: Vec<u8>,
    fields: Vec<(String, String)>,
    chunks: Vec<Vec<u8>>,
    chunked: bool,
    trailers: Vec<(String, String)>,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn field_name() -> impl Strategy<Value = String> {
    // Framing and connection fields are the encoder's to write.
    token().prop_filter("framing field", |n| {
        let l = n.to_ascii_lowercase();
        !matches!(
            l.as_str(),
            "content-length"
                | "transfer-encoding"
                | "connection"
                | "upgrade"
                | "expect"
                | "proxy-connection"
                | "keep-alive"
                | "trailer"
        )
    })
}

fn field_value() -> impl Strategy<Value = String> {
    // Visible ASCII and inner spaces; no leading or trailing whitespace,
    // which the wire does not preserve.
    "([!-~]([ !-~]{0,20}[!-~])?)?"
}

fn message() -> impl Strategy<Value = Msg> {
    (
        prop::sample::select(KnownMethod::ALL.to_vec()),
        "/[!-~]{0,30}",
        prop::collection::vec((field_name(), field_value()), 0..8),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..5),
        any::<bool>(),
        prop::collection::vec((field_name(), field_value()), 0..3),
    )
        .prop_map(|(m, target, fields, chunks, chunked, trailers)| Msg {
            method: m.into(),
            target: target.into_bytes(),
            fields,
            chunks,
            chunked,
            trailers: if chunked { trailers } else { Vec::new() },
        })
        .prop_filter("CONNECT and HEAD are not body carriers here", |m| {
            !m.method.is_connect()
        })
}

fn encode_request(msg: &Msg) -> Vec<u8> {
    let mut client = ClientConn::new(ClientConfig::default());
    let total: usize = msg.chunks.iter().map(Vec::len).sum();
    let hint = if msg.chunked {
        BodyHint::Streaming
    } else {
        BodyHint::Length(total as u64)
    };
    let mut fields = vec![("Host".to_string(), "example".to_string())];
    fields.extend(msg.fields.iter().cloned());
    client
        .send_request(&msg.method, &msg.target, &fields, hint)
        .unwrap();
    for c in &msg.chunks {
        client.send_data(Bytes::from(c.clone())).unwrap();
    }
    client.send_end_with_trailers(&msg.trailers).unwrap();
    let mut wire = Vec::new();
    while let Some(b) = client.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    wire
}

/// What the server decoded: target, fields, body, trailers, method.
type Decoded = (Vec<u8>, common::Fields, Vec<u8>, common::Fields, String);

fn decode_request(pieces: &[&[u8]]) -> Decoded {
    let mut server = ServerConn::new(ServerConfig::default());
    let (mut target, mut fields, mut body, mut trailers, mut method) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        String::new(),
    );
    let mut ended = false;
    for p in pieces {
        server.feed(p);
        while let Some(ev) = server.poll_event().expect("the encoder's output parses") {
            match ev {
                Event::Request(h) => {
                    method = h.method().to_string();
                    target = h.target().to_vec();
                    fields = common::fields(h.headers());
                }
                Event::Data(d) => body.extend_from_slice(&d),
                Event::End(t) => {
                    trailers = common::fields(&t);
                    ended = true;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(ended, "the message must end");
    (target, fields, body, trailers, method)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_encode_then_decode_is_identity(msg in message(), split in any::<prop::sample::Index>()) {
        let wire = encode_request(&msg);
        let at = split.index(wire.len() + 1);
        let (target, fields, body, trailers, method) = decode_request(&[&wire[..at], &wire[at..]]);
        prop_assert_eq!(method, msg.method.to_string());
        prop_assert_eq!(target, msg.target.clone());
        let body_expected: Vec<u8> = msg.chunks.concat();
        prop_assert_eq!(body, body_expected);
        // The caller's fields come out in order and case, after Host and
        // before the framing field the encoder added.
        let user: Vec<_> = fields[1..=msg.fields.len()].to_vec();
        let expected: Vec<_> = msg.fields.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        prop_assert_eq!(user, expected);
        let expected_trailers: Vec<_> = msg.trailers.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        prop_assert_eq!(trailers, expected_trailers);
    }

    #[test]
    fn request_decodes_the_same_one_byte_at_a_time(msg in message()) {
        let wire = encode_request(&msg);
        let whole = decode_request(&[&wire]);
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        prop_assert_eq!(decode_request(&bytes), whole);
    }

    #[test]
    fn response_encode_then_decode_is_identity(
        status in 200u16..=599,
        fields in prop::collection::vec((field_name(), field_value()), 0..8),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..5),
        chunked in any::<bool>(),
        trailers in prop::collection::vec((field_name(), field_value()), 0..3),
        split in any::<prop::sample::Index>(),
    ) {
        prop_assume!(status != 204 && status != 304);
        let mut server = ServerConn::new(ServerConfig::default());
        server.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        while server.poll_event().unwrap().is_some() {}
        let total: usize = chunks.iter().map(Vec::len).sum();
        let hint = if chunked { BodyHint::Streaming } else { BodyHint::Length(total as u64) };
        server.send_response(status, b"", &fields, hint).unwrap();
        for c in &chunks {
            server.send_data(Bytes::from(c.clone())).unwrap();
        }
        let trailers = if chunked { trailers } else { Vec::new() };
        server.send_end_with_trailers(&trailers).unwrap();
        let mut wire = Vec::new();
        while let Some(b) = server.poll_transmit() { wire.extend_from_slice(&b); }

        let at = split.index(wire.len() + 1);
        let out = common::fetch_pieces(ClientConfig::default(), &[("GET", "/")], &[&wire[..at], &wire[at..]], false);
        let res = out.single();
        prop_assert_eq!(res.status, status);
        prop_assert_eq!(&res.body, &chunks.concat());
        let expected: Vec<_> = fields.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        prop_assert_eq!(&res.headers[..fields.len()], &expected[..]);
        let expected_trailers: Vec<_> = trailers.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        prop_assert_eq!(res.trailers.clone(), Some(expected_trailers));
        prop_assert!(out.reusable);
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_server(data in prop::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
        let at = cut.index(data.len() + 1);
        let mut conn = ServerConn::new(ServerConfig::default());
        for piece in [&data[..at], &data[at..]] {
            conn.feed(piece);
            for _ in 0..1000 {
                match conn.poll_event() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }
        conn.feed_eof();
        for _ in 0..1000 {
            match conn.poll_event() {
                Ok(Some(_)) => {}
                _ => break,
            }
        }
    }

    #[test]
    fn request_shaped_noise_never_panics(
        head in "(GET|POST|PUT|HEAD|CONNECT) [ -~]{0,20} HTTP/1\\.[01]\r\n([A-Za-z-]{1,15}:[ -~]{0,20}\r\n){0,6}\r\n",
        tail in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut input = head.into_bytes();
        input.extend_from_slice(&tail);
        let mut conn = ServerConn::new(ServerConfig::default());
        conn.feed(&input);
        for _ in 0..1000 {
            match conn.poll_event() {
                Ok(Some(_)) => {
                    if conn.awaiting_response() {
                        let _ = conn.send_response(200, b"", &[] as &[(&str, &str)], BodyHint::Empty);
                        let _ = conn.send_end();
                    }
                }
                _ => break,
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_client(data in prop::collection::vec(any::<u8>(), 0..512), head in any::<bool>()) {
        let mut conn = ClientConn::new(ClientConfig::default());
        let method = if head { Method::HEAD } else { Method::GET };
        conn.send_request(&method, b"/", &[("Host", "a")], BodyHint::Empty).unwrap();
        conn.send_end().unwrap();
        conn.feed(&data);
        conn.feed_eof();
        for _ in 0..1000 {
            match conn.poll_event() {
                Ok(Some(_)) => {}
                _ => break,
            }
        }
    }
}
