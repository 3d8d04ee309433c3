//! Each leniency switch relaxes exactly one rule, and only when turned on.

mod common;
use common::*;
use pier_proto::{ClientConfig, ErrorCode, Leniency, Limits, ServerConfig};

fn server_with(leniency: Leniency) -> ServerConfig {
    ServerConfig {
        leniency,
        ..Default::default()
    }
}

#[test]
fn bare_lf() {
    let input = b"POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n";
    assert_eq!(serve(input).code(), Some(ErrorCode::LfExpected));
    let out = serve_with(
        server_with(Leniency {
            bare_lf: true,
            ..Default::default()
        }),
        input,
        false,
    );
    assert_eq!(out.single().body, b"hello");
}

#[test]
fn content_length_with_transfer_encoding() {
    let input = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(
        serve(input).code(),
        Some(ErrorCode::UnexpectedContentLength)
    );
    let lenient = Leniency {
        content_length_with_transfer_encoding: true,
        ..Default::default()
    };
    let out = serve_with(server_with(lenient), input, false);
    // Transfer-Encoding wins, and the connection will not be reused.
    assert_eq!(out.single().body, b"hello");
    assert!(!out.single().keep_alive);
}

#[test]
fn unknown_methods() {
    let input = b"FOO / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(serve(input).code(), Some(ErrorCode::InvalidMethod));
    let lenient = Leniency {
        unknown_methods: true,
        ..Default::default()
    };
    assert_eq!(
        serve_with(server_with(lenient), input, false)
            .single()
            .method,
        "FOO"
    );
}

#[test]
fn data_after_close() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nextra";
    assert_eq!(serve(input).code(), Some(ErrorCode::ClosedConnection));
    let lenient = Leniency {
        data_after_close: true,
        ..Default::default()
    };
    let out = serve_with(server_with(lenient), input, false);
    assert_eq!(out.code(), None);
    assert_eq!(out.requests.len(), 1);
}

fn client_with(leniency: Leniency, input: &[u8]) -> ClientOutcome {
    fetch_pieces(
        ClientConfig {
            leniency,
            ..Default::default()
        },
        &[("GET", "/")],
        &[input],
        true,
    )
}

#[test]
fn obs_fold_in_responses() {
    let input = b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nhi";
    assert_eq!(fetch(input).error, Some(ErrorCode::InvalidHeaderToken));
    let out = client_with(
        Leniency {
            obs_fold_in_responses: true,
            ..Default::default()
        },
        input,
    );
    assert_eq!(out.single().body, b"hi");
    assert_eq!(out.single().headers[0].0, b"X-A");
}

#[test]
fn space_before_colon_in_responses() {
    let input = b"HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 2\r\n\r\nhi";
    assert_eq!(fetch(input).error, Some(ErrorCode::InvalidHeaderToken));
    let lenient = Leniency {
        space_before_colon_in_responses: true,
        ..Default::default()
    };
    let out = client_with(lenient, input);
    assert_eq!(out.single().body, b"hi");
    // Requests stay strict whatever the response switches say.
    let strict_requests = serve_with(
        server_with(lenient),
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        false,
    );
    assert_eq!(strict_requests.code(), Some(ErrorCode::InvalidHeaderToken));
}

#[test]
fn target_length_bound_gives_414() {
    let config = ServerConfig {
        limits: Limits {
            max_target_len: Some(8),
            ..Default::default()
        },
        ..Default::default()
    };
    // Exactly at the bound is fine.
    let at_bound = serve_with(config, b"GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n", false);
    assert_eq!(at_bound.code(), None);
    let out = serve_with(config, b"GET /123456789 HTTP/1.1\r\nHost: a\r\n\r\n", false);
    assert_eq!(out.code(), Some(ErrorCode::UriTooLong));
    assert_eq!(ErrorCode::UriTooLong.status_hint(), 414);
    let ok = serve_with(config, b"GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n", false);
    assert_eq!(ok.single().target, b"/1234567");
}
