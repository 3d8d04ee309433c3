//! Every input of the security record in `node-semantics.md`, by name.
//! Each is fed whole, byte by byte and at every split (see `common`).

mod common;
use common::*;
use pier_proto::{ErrorCode, ServerConfig};

fn refused(input: &str, code: ErrorCode) {
    let out = serve(input.as_bytes());
    assert_eq!(out.code(), Some(code), "{input:?} => {out:#?}");
    assert!(
        out.requests.is_empty(),
        "nothing may be delivered: {out:#?}"
    );
}

fn post_cl(value: &str) -> String {
    format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\nhello")
}

// --- Content-Length ---

#[test]
fn content_length_plus_sign() {
    refused(&post_cl("+5"), ErrorCode::InvalidContentLength);
}
#[test]
fn content_length_minus_sign() {
    refused(&post_cl("-5"), ErrorCode::InvalidContentLength);
}
#[test]
fn content_length_hex() {
    refused(&post_cl("0x5"), ErrorCode::InvalidContentLength);
}
#[test]
fn content_length_two_numbers() {
    refused(&post_cl("5 5"), ErrorCode::InvalidContentLength);
}
#[test]
fn content_length_empty() {
    refused(&post_cl(""), ErrorCode::InvalidContentLength);
}
#[test]
fn content_length_list() {
    refused(&post_cl("5,6"), ErrorCode::InvalidContentLength);
    refused(&post_cl("5, 5"), ErrorCode::InvalidContentLength);
}
#[test]
fn content_length_trailing_tab() {
    refused(&post_cl("5\t"), ErrorCode::InvalidContentLength);
}
#[test]
fn content_length_two_different_lines() {
    refused(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ErrorCode::InvalidContentLength,
    );
}
#[test]
fn content_length_two_equal_lines_refused_like_node() {
    refused(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        ErrorCode::InvalidContentLength,
    );
}
#[test]
fn content_length_overflow() {
    refused(
        &post_cl("18446744073709551616"),
        ErrorCode::InvalidContentLength,
    );
}
#[test]
fn content_length_leading_zeros_and_spaces_are_fine() {
    let out = serve(post_cl("  0005  ").as_bytes());
    assert_eq!(out.single().body, b"hello");
}

// --- Transfer-Encoding ---

#[test]
fn content_length_with_transfer_encoding() {
    refused(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ErrorCode::UnexpectedContentLength,
    );
    refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        ErrorCode::UnexpectedContentLength,
    );
}

fn te(value: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {value}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
}

#[test]
fn transfer_encoding_not_ending_in_chunked() {
    refused(&te("gzip"), ErrorCode::InvalidTransferEncoding);
    refused(&te("chunked, gzip"), ErrorCode::InvalidTransferEncoding);
    refused(&te("identity"), ErrorCode::InvalidTransferEncoding);
}
#[test]
fn transfer_encoding_chunkedchunked() {
    refused(&te("chunkedchunked"), ErrorCode::InvalidTransferEncoding);
}
#[test]
fn transfer_encoding_xchunked() {
    refused(&te("xchunked"), ErrorCode::InvalidTransferEncoding);
    refused(&te("chunkedx"), ErrorCode::InvalidTransferEncoding);
}
#[test]
fn transfer_encoding_trailing_comma_or_params() {
    refused(&te("chunked,"), ErrorCode::InvalidTransferEncoding);
    refused(&te("chunked;q=1"), ErrorCode::InvalidTransferEncoding);
    refused(&te("\"chunked\""), ErrorCode::InvalidTransferEncoding);
}
#[test]
fn transfer_encoding_chunked_twice() {
    refused(&te("chunked, chunked"), ErrorCode::InvalidTransferEncoding);
    refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ErrorCode::InvalidTransferEncoding,
    );
}
#[test]
fn transfer_encoding_spread_over_lines_must_end_in_chunked() {
    // gzip then chunked over two lines is a valid list (Node accepts it).
    let ok = serve(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(ok.single().body, b"hello");
    refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
        ErrorCode::InvalidTransferEncoding,
    );
}
#[test]
fn transfer_encoding_continued_by_obs_fold() {
    refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n0\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
}
#[test]
fn transfer_encoding_case_and_whitespace_are_fine() {
    assert_eq!(serve(te("\tCHUNKED  ").as_bytes()).single().body, b"hello");
    assert_eq!(serve(te(", chunked").as_bytes()).single().body, b"hello");
}
#[test]
fn transfer_encoding_on_http10() {
    // Node de-chunks HTTP/1.0 + chunked (conformance README, point 5) and
    // refuses gzip alone or TE with CL; Pier follows Node here.
    let out =
        serve(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(out.single().body, b"hello");
    assert!(!out.single().keep_alive);
    refused(
        "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\nhello",
        ErrorCode::InvalidTransferEncoding,
    );
    refused(
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
        ErrorCode::UnexpectedContentLength,
    );
}

// --- head syntax ---

#[test]
fn space_before_colon() {
    refused(
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
}
#[test]
fn whitespace_before_first_header_line() {
    refused(
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
    refused(
        "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
}
#[test]
fn bare_cr() {
    // Node: HPE_LF_EXPECTED at the byte after the bare CR.
    refused(
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        ErrorCode::LfExpected,
    );
    refused("GET / HTTP/1.1\rHost: a\r\n\r\n", ErrorCode::LfExpected);
}
#[test]
fn bare_lf_line_end() {
    refused("GET / HTTP/1.1\r\nHost: a\n\r\n", ErrorCode::LfExpected);
    refused("GET / HTTP/1.1\nHost: a\r\n\r\n", ErrorCode::LfExpected);
    refused("GET / HTTP/1.1\r\nHost: a\r\n\n", ErrorCode::LfExpected);
    refused(
        "GET / HTTP/1.1\r\nHost: a\r\nX: \n\r\n",
        ErrorCode::LfExpected,
    );
}
#[test]
fn bare_lf_allowed_only_by_its_switch() {
    let mut config = ServerConfig::default();
    config.leniency.bare_lf = true;
    let out = serve_with(config, b"GET / HTTP/1.1\nHost: a\n\n", false);
    assert_eq!(out.single().headers, pairs(&[("Host", "a")]));
}
#[test]
fn cr_inside_a_name() {
    refused(
        "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
}
#[test]
fn head_ended_by_crlf_cr_x() {
    refused("GET / HTTP/1.1\r\nHost: a\r\n\rX", ErrorCode::LfExpected);
}
#[test]
fn nul_and_del_in_values() {
    refused(
        "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
    refused(
        "GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
}
#[test]
fn obs_fold_is_refused() {
    refused(
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        ErrorCode::InvalidHeaderToken,
    );
}

// --- chunked ---

fn chunked(body: &str) -> String {
    format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}")
}

fn chunked_refused(body: &str, code: ErrorCode) {
    let out = serve(chunked(body).as_bytes());
    assert_eq!(out.code(), Some(code), "{body:?} => {out:#?}");
    assert!(
        out.requests.iter().all(|r| r.trailers.is_none()),
        "the body must not end"
    );
}

#[test]
fn chunk_size_overflow() {
    chunked_refused(
        "10000000000000000\r\nx\r\n0\r\n\r\n",
        ErrorCode::InvalidChunkSize,
    );
}
#[test]
fn chunk_size_at_u64_max_is_representable() {
    let out = serve(chunked("ffffffffffffffff\r\nabc").as_bytes());
    assert_eq!(out.code(), None);
    assert_eq!(out.single().body, b"abc");
}
#[test]
fn chunk_data_not_followed_by_crlf() {
    chunked_refused("5\r\nhelloX\r\n0\r\n\r\n", ErrorCode::LfExpected);
    chunked_refused("5\r\nhello\n0\r\n\r\n", ErrorCode::LfExpected);
    chunked_refused("5\r\nhello\rX0\r\n\r\n", ErrorCode::LfExpected);
}
#[test]
fn chunk_size_syntax() {
    chunked_refused("5 \r\nhello\r\n0\r\n\r\n", ErrorCode::InvalidChunkSize);
    chunked_refused("-1\r\n", ErrorCode::InvalidChunkSize);
    chunked_refused("0x5\r\n", ErrorCode::InvalidChunkSize);
    chunked_refused("\r\n", ErrorCode::InvalidChunkSize);
    chunked_refused("5\nhello\r\n", ErrorCode::LfExpected);
}
#[test]
fn chunk_extensions() {
    let ok = serve(chunked("5;a=b;c;d=\"x y\"\r\nhello\r\n0;z\r\n\r\n").as_bytes());
    assert_eq!(ok.single().body, b"hello");
    chunked_refused("5 ;a\r\nhello\r\n0\r\n\r\n", ErrorCode::InvalidChunkSize);
    chunked_refused("5;\r\nhello\r\n0\r\n\r\n", ErrorCode::InvalidChunkExtension);
    chunked_refused(
        "5;a\0\r\nhello\r\n0\r\n\r\n",
        ErrorCode::InvalidChunkExtension,
    );
    chunked_refused(
        "5;a=\"x\r\nhello\r\n0\r\n\r\n",
        ErrorCode::InvalidChunkExtension,
    );
}
#[test]
fn chunk_extensions_over_16k_give_413() {
    let ext = "a".repeat(16 * 1024 + 1);
    let out = serve(chunked(&format!("5;{ext}\r\nhello\r\n0\r\n\r\n")).as_bytes());
    assert_eq!(out.code(), Some(ErrorCode::ChunkExtensionsOverflow));
    assert_eq!(ErrorCode::ChunkExtensionsOverflow.status_hint(), 413);
}
#[test]
fn trailers_are_parsed_and_bounded() {
    let out = serve(chunked("5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n").as_bytes());
    assert_eq!(
        out.single().trailers,
        Some(pairs(&[("X-Sum", "1"), ("X-B", "2")]))
    );
    let big = format!("0\r\nX: {}\r\n\r\n", "v".repeat(17 * 1024));
    chunked_refused(&big, ErrorCode::HeaderOverflow);
}
#[test]
fn framing_fields_in_trailers_are_refused() {
    chunked_refused("0\r\nContent-Length: 5\r\n\r\n", ErrorCode::InvalidTrailer);
    chunked_refused(
        "0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ErrorCode::InvalidTrailer,
    );
}

// --- limits ---

#[test]
fn head_over_16k_gives_431() {
    let input = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "v".repeat(16 * 1024)
    );
    let out = serve(input.as_bytes());
    assert_eq!(out.code(), Some(ErrorCode::HeaderOverflow));
    assert_eq!(ErrorCode::HeaderOverflow.status_hint(), 431);
}
#[test]
fn endless_head_is_cut_off() {
    // A head that never ends cannot make the connection buffer for ever.
    let line = "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut input = String::from("GET / HTTP/1.1\r\n");
    while input.len() < 70 * 1024 {
        input.push_str(line);
    }
    let out = serve_pieces(ServerConfig::default(), &[input.as_bytes()], false);
    assert_eq!(out.code(), Some(ErrorCode::HeaderOverflow));
}

// --- message boundaries ---

#[test]
fn ignored_body_is_never_read_as_a_request() {
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let input = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{smuggled}GET /next HTTP/1.1\r\nHost: a\r\n\r\n",
        smuggled.len()
    );
    let out = serve(input.as_bytes());
    let targets: Vec<_> = out.requests.iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, vec![b"/".to_vec(), b"/next".to_vec()]);
    assert_eq!(out.requests[0].body, smuggled.as_bytes());
}

#[test]
fn chunked_body_hides_no_request() {
    let inner = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let input = chunked(&format!("{:x}\r\n{inner}\r\n0\r\n\r\n", inner.len()));
    let out = serve(input.as_bytes());
    assert_eq!(out.code(), None);
    assert_eq!(out.requests.len(), 1);
}

#[test]
fn data_after_connection_close_is_refused() {
    let out = serve(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(out.requests.len(), 1);
    assert_eq!(out.code(), Some(ErrorCode::ClosedConnection));
}
