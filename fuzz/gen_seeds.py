#!/usr/bin/env python3
"""Writes Pier's fuzz seed corpora into fuzz/seeds/<target>/.

Each seed is a small, readable input in the target's layout (see the doc
comment at the top of each fuzz_targets/*.rs). Run from anywhere:

    python3 fuzz/gen_seeds.py

It rewrites the seed folders from scratch, so edit the lists below rather
than the files.
"""
import os
import random
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))

# server: [flags] [shape] [plan] payload. flags 0x40 = EOF at the end,
# answers at End, strict. plan 0x00 = one read, 0x02 + 2 cut bytes, 0x07 =
# byte by byte.
SERVER = {
    "get": (0x40, 0x00, b"\x00", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "get_browser": (0x40, 0x00, b"\x02\x40\xa0",
                    b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\n"
                    b"Accept: text/html,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
                    b"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nCookie: a=1; b=2\r\n\r\n"),
    "post_cl": (0x40, 0x01, b"\x01\x80", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
    "pipelined": (0x40, 0x00, b"\x07",
                  b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                  b"HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n"),
    "chunked_trailers": (0x40, 0x01, b"\x03\x30\x60\x90",
                         b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                         b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n"),
    "chunked_ext_quoted": (0x40, 0x00, b"\x00",
                           b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                           b"A;a=\"q\\\"x\";b\r\n0123456789\r\n0\r\n\r\n"),
    "http10_keepalive": (0x40, 0x01, b"\x00",
                         b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n"),
    "http09": (0x40, 0x00, b"\x00", b"GET /\r\n\r\n"),
    "expect_continue": (0x40, 0x10, b"\x01\x90",
                        b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"),
    "upgrade": (0x50, 0x00, b"\x01\xc0",
                b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
    "connect": (0x40, 0x00, b"\x00", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01"),
    "conn_close": (0x40, 0x03, b"\x00",
                   b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /after HTTP/1.1\r\n\r\n"),
    "answer_early": (0x60, 0x01, b"\x01\x70", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"),
    "leading_crlf": (0x40, 0x00, b"\x00", b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n"),
    # Smuggling shapes: each must be refused (or read one single way).
    "cl_te": (0x40, 0x00, b"\x00",
              b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"),
    "cl_te_lenient": (0x42, 0x00, b"\x00",
                      b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"),
    "te_te": (0x40, 0x00, b"\x00",
              b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"
              b"1\r\nx\r\n0\r\n\r\n"),
    "te_space_colon": (0x40, 0x00, b"\x00",
                       b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    "te_xchunked": (0x40, 0x00, b"\x00",
                    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    "double_cl": (0x40, 0x00, b"\x00",
                  b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
    "cl_list": (0x40, 0x00, b"\x00", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx"),
    "cl_tab": (0x40, 0x00, b"\x00", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\t\r\n\r\nx"),
    "bare_lf": (0x40, 0x00, b"\x00", b"GET / HTTP/1.1\nHost: a\n\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
    "bare_lf_lenient": (0x41, 0x00, b"\x00", b"GET / HTTP/1.1\nHost: a\n\n"),
    "obs_fold": (0x40, 0x00, b"\x00", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
    "chunk_overflow": (0x40, 0x00, b"\x00",
                       b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"10000000000000001\r\nx\r\n0\r\n\r\n"),
    "chunk_lf_only": (0x40, 0x00, b"\x00",
                      b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n"),
    "small_limits": (0xc0, 0x00, b"\x00",
                     b"GET /a/very/long/target/over/thirty-two/bytes HTTP/1.1\r\nHost: a\r\n\r\n"),
    "unknown_method": (0x44, 0x00, b"\x00", b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"),
    "trailer_te_empty": (0x40, 0x00, b"\x00",
                         b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"0\r\nTransfer-Encoding:  \r\nX: 1\r\n\r\n"),
    "connection_close_tab": (0x40, 0x00, b"\x00",
                             b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\t\r\n\r\n"
                             b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
    "rtsp_put": (0x40, 0x00, b"\x00", b"PUT / RTSP/1.0\r\nHost: a\r\n\r\n"),
}

# client: [flags] [method] [later methods] [plan] payload. Method bytes index
# Node's table: 6 GET, 7 HEAD, 3 CONNECT, 19 POST. flags: bit 7 EOF,
# bits 4-5 extra requests.
GET, HEAD, CONNECT, POST = 6, 7, 3, 19
CLIENT = {
    "ok_cl": (0x80, GET, GET, b"\x00", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    "ok_chunked_trailers": (0x80, GET, GET, b"\x02\x50\xa0",
                            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n"),
    "close_delimited": (0x80, GET, GET, b"\x01\x80", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"),
    "http10": (0x80, GET, GET, b"\x00", b"HTTP/1.0 200 OK\r\n\r\nbody"),
    "no_content": (0x80, GET, GET, b"\x00", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
    "not_modified": (0x80, GET, GET, b"\x00", b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"),
    "head": (0x80, HEAD, GET, b"\x00", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
    "pipelined_head_get": (0x90, HEAD, GET, b"\x07",
                           b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
    "continue_then_ok": (0x80, POST, GET, b"\x01\x40",
                         b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                         b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    "switching": (0x80, GET, GET, b"\x00",
                  b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00"),
    "connect_ok": (0x80, CONNECT, GET, b"\x00", b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03"),
    "connect_refused": (0x80, CONNECT, GET, b"\x00", b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 1\r\n\r\nx"),
    "keep_alive_hint": (0x00, GET, GET, b"\x00",
                        b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n"),
    "close": (0xc0, GET, GET, b"\x00", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"),
    "cl_te": (0x80, GET, GET, b"\x00",
              b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "te_not_chunked": (0x80, GET, GET, b"\x00", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw"),
    "double_cl": (0x80, GET, GET, b"\x00", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
    "obs_fold": (0x82, GET, GET, b"\x00", b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n"),
    "space_colon": (0x84, GET, GET, b"\x00", b"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx"),
    "bare_lf": (0x81, GET, GET, b"\x00", b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx"),
    "status_odd": (0x80, GET, GET, b"\x00", b"HTTP/1.1 099 \r\nContent-Length: 0\r\n\r\n"),
    "unsolicited": (0x80, GET, GET, b"\x00",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    "eof_mid_body": (0x80, GET, GET, b"\x00", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
}

# chunked: [flags] body after "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".
CHUNKED = {
    "simple": (0, b"5\r\nhello\r\n0\r\n\r\n"),
    "two": (0, b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"),
    "upper_hex": (0, b"A\r\n0123456789\r\n0\r\n\r\n"),
    "leading_zeros": (0, b"0005\r\nhello\r\n000\r\n\r\n"),
    "ext": (0, b"5;name=value;flag\r\nhello\r\n0;last\r\n\r\n"),
    "ext_quoted": (0, b"5;n=\"a b\\\"c\"\r\nhello\r\n0\r\n\r\n"),
    "trailers": (0, b"1\r\nx\r\n0\r\nX-A: 1\r\nX-B: two\r\n\r\n"),
    "trailer_forbidden": (0, b"1\r\nx\r\n0\r\nContent-Length: 5\r\n\r\n"),
    "pipelined_after": (0, b"1\r\nx\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n"),
    "overflow": (0, b"ffffffffffffffffff\r\nx\r\n"),
    "size_space": (0, b"5 \r\nhello\r\n0\r\n\r\n"),
    "negative": (0, b"-1\r\nx\r\n0\r\n\r\n"),
    "bare_lf": (0, b"5\nhello\n0\n\n"),
    "bare_lf_lenient": (1, b"5\nhello\n0\n\n"),
    "data_no_crlf": (0, b"5\r\nhelloX0\r\n\r\n"),
    "ext_overflow_small": (2, b"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1\r\nx\r\n0\r\n\r\n"),
    "trailer_overflow_small": (2, b"0\r\nX-Long: " + b"v" * 80 + b"\r\n\r\n"),
    "truncated": (0, b"5\r\nhel"),
    "smuggle_0x": (0, b"0x5\r\nhello\r\n0\r\n\r\n"),
    "ext_space": (0, b"5 ;a=b\r\nhello\r\n0\r\n\r\n"),
}


def write(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    shutil.rmtree(os.path.join(HERE, "seeds"), ignore_errors=True)
    for name, (flags, shape, plan, payload) in SERVER.items():
        write("server", name, bytes([flags, shape]) + plan + payload)
    # head: [flags] payload, the server's payloads and leniency flags (the
    # answer, EOF and plan bits mean nothing to it).
    for name, (flags, shape, plan, payload) in SERVER.items():
        write("head", name, bytes([flags]) + payload)
    for name, (flags, m1, m2, plan, payload) in CLIENT.items():
        write("client", name, bytes([flags, m1, m2]) + plan + payload)
    for name, (flags, body) in CHUNKED.items():
        write("chunked", name, bytes([flags]) + body)
    # roundtrip inputs are read as a stream of choices, not text: seed it
    # with fixed pseudo-random bytes of a few sizes.
    rng = random.Random(0x91e7)
    for i, size in enumerate([16, 32, 48, 64, 96, 128, 160, 200, 256, 320, 400, 512]):
        write("roundtrip", "random_%02d_%d" % (i, size), bytes(rng.randrange(256) for _ in range(size)))


if __name__ == "__main__":
    main()
