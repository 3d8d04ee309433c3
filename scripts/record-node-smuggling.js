#!/usr/bin/env node
// Records where Node's `http` module puts message boundaries for every input
// of the security record (shared/node-semantics.md, "Security record", and
// the named tests of crates/pier-proto/tests/security_record.rs), so that
// crates/pier-suite/tests/smuggling.rs can replay each input through Pier's
// real server and client and compare.
//
//   node scripts/record-node-smuggling.js          # rewrites the fixture
//   node scripts/record-node-smuggling.js --print  # prints it instead
//
// Output: crates/pier-suite/tests/smuggling/node.json. Plain Node, no packages.
//
// Inputs are stored as `parts`: a list of [latin1 string, repeat count], so
// the 300 KiB and 70 KiB inputs stay small in the file. One char = one byte.
//
// Sections of the fixture:
//   server   raw bytes written in one write to `http.createServer()` (default
//            options unless the case sets timeouts); the `request` handler
//            records method, url and body (null if the body never ended) and
//            answers 200 "ok\n" with Content-Length once the body has ended
//            (at once, body unread, when `ignore_body`). No `clientError`
//            listener: Node's default answers refused input. Recorded: the
//            messages the handler saw, the status of every response on the
//            wire in order, and whether the server closed the connection.
//   client   a raw TCP server answers `http.request({agent: false})` (GET /)
//            with the case bytes and ends its side. Recorded: the response
//            (status, body bytes as far as they were delivered, complete) and
//            the request's error code.
//   pool     a keep-alive agent with one socket: bytes or EOF arrive on the
//            idle pooled socket, then a second request is made. Recorded: the
//            second response and how many connections the server accepted.
//   outgoing names, values, reasons, methods and paths carrying CR, LF, NUL
//            or U+010D (whose low byte is CR): the error Node throws and
//            what reached the wire.

'use strict';

const http = require('http');
const net = require('net');
const fs = require('fs');
const path = require('path');
// The parser-vector recorder already has the message builders, the timings,
// the worker pool and the name check; requiring it records nothing.
const {
  message, CHUNKED_HELLO, CH_HI, chResp, runAll, checkNames, SECURITY_SECTIONS,
  SILENCE_MS, CLIENT_LIMIT_MS, SETTLE_MS,
} = require('./record-node-vectors.js');

const OUT = path.join(__dirname, '..', 'crates', 'pier-suite', 'tests', 'smuggling', 'node.json');
const POOL_IDLE_MS = 200; // pool cases: idle time before the second request
const CONCURRENCY = 8;

// ---------------------------------------------------------------------------
// Inputs

const NEXT = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n';
const SECOND = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevil!';
const hex = (n) => n.toString(16);
// A chunked body whose only chunk is a whole request.
const SMUGGLED_CHUNKED = `${hex(SMUGGLED.length)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;

function post(fields, body) {
  return message('POST / HTTP/1.1', ['Host: a', ...fields], body);
}
function postCl(value, body = 'hello') {
  return post([`Content-Length: ${value}`], body);
}
function postTe(value, body = SMUGGLED_CHUNKED) {
  return post([`Transfer-Encoding: ${value}`], body);
}
function chunked(body) {
  return post(['Transfer-Encoding: chunked'], body);
}
const GET = (fields) => message('GET / HTTP/1.1', fields);
function resp(fields, body) {
  return message('HTTP/1.1 200 OK', fields, body);
}
const respCl = (v, body = 'hi') => resp([`Content-Length: ${v}`], body);
const respTe = (v, body = CH_HI) => resp([`Transfer-Encoding: ${v}`], body);
// The plain "hi" response with `fields` in front of its Content-Length.
const respHi = (fields) => resp([...fields, 'Content-Length: 2'], 'hi');
// 70 KiB of field lines after `startLine`, and no end of the head.
const endlessHead = (startLine) => [[`${startLine}\r\n`, 1], [`X-Filler: ${'a'.repeat(40)}\r\n`, 1400]];

const {
  CL: SEC_CL, CLTE: SEC_CLTE, TE: SEC_TE, HEAD: SEC_HEAD, CHUNK: SEC_CHUNK, LIMIT: SEC_LIMIT,
} = SECURITY_SECTIONS;
const SEC_SLOW = 'slow head delivery';
const SEC_BODY = 'body never read as the next request';

const asParts = (input) => (typeof input === 'string' ? [[input, 1]] : input);

// Server cases. `input` is a string or a parts list; NEXT follows unless the
// case says otherwise, so a wrong boundary shows up as an extra or missing
// message.
const serverCases = [];
function S(name, rule, why, input, extra = {}) {
  const parts = asParts(input);
  if (extra.next !== false) parts.push([NEXT, 1]);
  delete extra.next;
  serverCases.push({ name, rule, why, parts, ignore_body: false, timeouts: null, ...extra });
}

// Client cases: the bytes the raw server answers with.
const clientCases = [];
function C(name, rule, why, input) {
  clientCases.push({ name, rule, why, parts: asParts(input) });
}

// A variant tried on both sides is written once, for either side: requests
// to Node's server (body "hello"; a chunked body holds a smuggled request)
// and responses to its client (body "hi", names prefixed r_).
const SIDES = [
  { server: true, record: S, prefix: '', message: post, chunked, body: 'hello', chunkedBody: SMUGGLED_CHUNKED },
  { server: false, record: C, prefix: 'r_', message: resp, chunked: chResp, body: 'hi', chunkedBody: CH_HI },
];
// `variants(side)` lists [name, rule, why, input]; `server && [...]` keeps a
// server-only case in its place among the shared ones.
function onBothSides(variants) {
  for (const side of SIDES) {
    for (const v of variants(side)) {
      if (v) side.record(side.prefix + v[0], v[1], v[2], v[3]);
    }
  }
}

// --- Content-Length
C('r_cl_valid', SEC_CL, 'accepted, a second response follows in the same packet', respCl('2') + SECOND);
onBothSides(({ server, message, body }) => {
  const n = body.length;
  // One Content-Length line per value.
  const cl = (values, b = body) => message(values.map((v) => `Content-Length: ${v}`), b);
  return [
    ['cl_plus', SEC_CL, `+${n}`, cl([`+${n}`])],
    ['cl_minus', SEC_CL, `-${n}`, cl([`-${n}`])],
    ['cl_hex', SEC_CL, `0x${n}`, cl([`0x${n}`])],
    ['cl_two_numbers', SEC_CL, `${n} ${n}`, cl([`${n} ${n}`])],
    ['cl_empty', SEC_CL, server ? 'empty value' : 'empty', cl([''])],
    ['cl_list_different', SEC_CL, `${n},${n + 1}`, cl([`${n},${n + 1}`], `${body}!`)],
    ['cl_list_equal', SEC_CL, `${n}, ${n}`, cl([`${n}, ${n}`])],
    ['cl_trailing_tab', SEC_CL, `${n} then TAB`, cl([`${n}\t`])],
    ['cl_overflow', SEC_CL, '2^64', cl(['18446744073709551616'])],
    ['cl_two_lines_different', SEC_CL, 'two different lines', cl([n, n + 1], `${body}!`)],
    ['cl_two_lines_equal', SEC_CL, 'two equal lines', cl([n, n])],
  ];
});
S('cl_first_or_last_line', SEC_CL, 'taking the first line would deliver the body as a request',
  post(['Content-Length: 0', `Content-Length: ${SMUGGLED.length}`], SMUGGLED));
S('cl_list_first_or_last', SEC_CL, 'the same with a list',
  postCl(`0, ${SMUGGLED.length}`, SMUGGLED));
S('cl_leading_zeros_and_spaces', SEC_CL, 'accepted: leading zeros and OWS', postCl('  0005  '));
C('r_cl_leading_zeros_and_spaces', SEC_CL, 'accepted', respCl('  002  '));
S('cl_body_is_a_request', SEC_BODY, 'a body that looks like a request stays a body',
  postCl(String(SMUGGLED.length), SMUGGLED));

// --- Content-Length with Transfer-Encoding
const TECL_BODY = '0\r\n\r\n' + SMUGGLED;
S('clte_cl_then_te', SEC_CLTE, 'TE.CL shape: chunked ends early, CL covers the smuggled request',
  post([`Content-Length: ${TECL_BODY.length}`, 'Transfer-Encoding: chunked'], TECL_BODY));
S('clte_te_then_cl', SEC_CLTE, 'the same, TE line first',
  post(['Transfer-Encoding: chunked', `Content-Length: ${TECL_BODY.length}`], TECL_BODY));
S('clte_cl_prefix', SEC_CLTE, 'CL.TE shape: CL ends inside the chunked body',
  post(['Content-Length: 3', 'Transfer-Encoding: chunked'], SMUGGLED_CHUNKED));
S('clte_http10', SEC_CLTE, 'HTTP/1.0 with TE chunked and CL',
  message('POST / HTTP/1.0', ['Transfer-Encoding: chunked', 'Content-Length: 5'], CHUNKED_HELLO));
C('r_clte_cl_then_te', SEC_CLTE, 'CL then TE chunked', resp(['Content-Length: 2', 'Transfer-Encoding: chunked'], CH_HI));
C('r_clte_te_then_cl', SEC_CLTE, 'TE chunked then CL', resp(['Transfer-Encoding: chunked', 'Content-Length: 2'], CH_HI));

// --- Transfer-Encoding (the server's body is one chunk holding a whole request)
S('te_chunked', SEC_TE, 'accepted: plain chunked', postTe('chunked'));
S('te_gzip', SEC_TE, 'not ending in chunked', postTe('gzip'));
S('te_chunked_gzip', SEC_TE, 'chunked, gzip', postTe('chunked, gzip'));
S('te_identity', SEC_TE, 'identity', postTe('identity'));
C('r_te_chunked', SEC_TE, 'accepted, a second response follows', chResp(CH_HI + SECOND));
C('r_te_gzip', SEC_TE, 'not ending in chunked: body until close', respTe('gzip', 'hello'));
C('r_te_chunked_gzip', SEC_TE, 'chunked, gzip: body until close', respTe('chunked, gzip'));
onBothSides(({ server, message, chunkedBody }) => {
  // One Transfer-Encoding line per value.
  const te = (...values) => message(values.map((v) => `Transfer-Encoding: ${v}`), chunkedBody);
  return [
    ['te_chunkedchunked', SEC_TE, 'chunkedchunked', te('chunkedchunked')],
    ['te_xchunked', SEC_TE, 'xchunked', te('xchunked')],
    server && ['te_chunkedx', SEC_TE, 'chunkedx', te('chunkedx')],
    server && ['te_trailing_comma', SEC_TE, 'chunked,', te('chunked,')],
    server && ['te_parameter', SEC_TE, 'chunked;q=1', te('chunked;q=1')],
    server && ['te_quoted', SEC_TE, '"chunked"', te('"chunked"')],
    ['te_chunked_twice', SEC_TE, 'chunked, chunked', te('chunked, chunked')],
    server && ['te_lines_chunked_chunked', SEC_TE, 'spread over lines: chunked twice', te('chunked', 'chunked')],
    ['te_lines_chunked_gzip', SEC_TE,
      server ? 'spread over lines: chunked not last' : 'spread over lines, chunked not last', te('chunked', 'gzip')],
    ['te_lines_gzip_chunked', SEC_TE,
      server ? 'accepted: spread over lines, chunked last' : 'spread over lines, chunked last', te('gzip', 'chunked')],
    ['te_obs_fold', SEC_TE, 'continued by obs-fold', message(['Transfer-Encoding: gzip,', ' chunked'], chunkedBody)],
  ];
});
S('te_case_and_whitespace', SEC_TE, 'accepted: TAB, upper case, trailing spaces', postTe('\tCHUNKED  '));
S('te_leading_comma', SEC_TE, 'accepted: , chunked', postTe(', chunked'));
S('te_http10_chunked', SEC_TE, 'HTTP/1.0 with TE chunked',
  message('POST / HTTP/1.0', ['Transfer-Encoding: chunked'], SMUGGLED_CHUNKED));
S('te_http10_gzip', SEC_TE, 'HTTP/1.0 with TE gzip', message('POST / HTTP/1.0', ['Transfer-Encoding: gzip'], 'hello'));
C('r_te_http10', SEC_TE, 'HTTP/1.0 response with TE chunked',
  message('HTTP/1.0 200 OK', ['Transfer-Encoding: chunked'], CH_HI));

// --- head syntax
S('hs_space_before_colon', SEC_HEAD, 'Host : a', GET(['Host : a']));
S('hs_space_before_colon_hides_cl', SEC_HEAD, 'a parser that skipped the line would run the body as a request',
  post([`Content-Length : ${SMUGGLED.length}`], SMUGGLED));
S('hs_space_before_first_line', SEC_HEAD, 'SP before the first field line', GET([' Host: a']));
S('hs_tab_before_first_line', SEC_HEAD, 'TAB before the first field line', GET(['\tHost: a']));
S('hs_bare_cr_in_value', SEC_HEAD, 'Host: a CR b', GET(['Host: a\rb']));
S('hs_bare_cr_request_line', SEC_HEAD, 'request line ended by CR', 'GET / HTTP/1.1\rHost: a\r\n\r\n');
S('hs_bare_lf_field_line', SEC_HEAD, 'field line ended by LF', 'GET / HTTP/1.1\r\nHost: a\n\r\n');
S('hs_bare_lf_request_line', SEC_HEAD, 'request line ended by LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n');
S('hs_bare_lf_empty_line', SEC_HEAD, 'head ended by CRLF LF', 'GET / HTTP/1.1\r\nHost: a\r\n\n');
S('hs_bare_lf_empty_value', SEC_HEAD, 'X: LF', 'GET / HTTP/1.1\r\nHost: a\r\nX: \n\r\n');
S('hs_bare_lf_hides_cl', SEC_HEAD, 'Content-Length after a bare LF',
  `POST / HTTP/1.1\r\nHost: a\r\nX: y\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`);
S('hs_cr_in_name', SEC_HEAD, 'Ho CR st: a', GET(['Ho\rst: a']));
S('hs_head_ends_cr_x', SEC_HEAD, 'head ended by CRLF CR X', 'GET / HTTP/1.1\r\nHost: a\r\n\rX');
S('hs_nul_in_value', SEC_HEAD, 'NUL in a value', GET(['Host: a\x00b']));
S('hs_del_in_value', SEC_HEAD, 'DEL in a value', GET(['Host: a\x7fb']));
S('hs_obs_fold', SEC_HEAD, 'obs-fold', GET(['Host: a', 'X: a', ' b']));
C('r_hs_space_before_colon', SEC_HEAD, 'X : b', respHi(['X : b']));
C('r_hs_space_before_first_line', SEC_HEAD, 'SP before the first field line', respHi([' X: b']));
C('r_hs_bare_cr_in_value', SEC_HEAD, 'X: a CR b', respHi(['X: a\rb']));
C('r_hs_bare_cr_status_line', SEC_HEAD, 'status line ended by CR', 'HTTP/1.1 200 OK\rContent-Length: 2\r\n\r\nhi');
C('r_hs_bare_lf_field_line', SEC_HEAD, 'field line ended by LF', 'HTTP/1.1 200 OK\r\nX: b\nContent-Length: 2\r\n\r\nhi');
C('r_hs_bare_lf_everywhere', SEC_HEAD, 'every line ended by LF', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nhi');
C('r_hs_cr_in_name', SEC_HEAD, 'X CR Y: b', respHi(['X\rY: b']));
C('r_hs_head_ends_cr_x', SEC_HEAD, 'head ended by CRLF CR X', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\rXhi');
C('r_hs_nul_in_value', SEC_HEAD, 'NUL in a value', respHi(['X: a\x00b']));
C('r_hs_obs_fold', SEC_HEAD, 'obs-fold', respHi(['X: a', ' b']));

// --- chunked framing
S('ch_size_overflow', SEC_CHUNK, '17 hex digits', chunked('10000000000000000\r\nx\r\n0\r\n\r\n'));
S('ch_size_u64_max', SEC_CHUNK, 'ffffffffffffffff: Node waits for the data', chunked('ffffffffffffffff\r\nabc'));
C('r_ch_size_overflow', SEC_CHUNK, '17 hex digits', chResp('10000000000000000\r\nhi\r\n0\r\n\r\n'));
onBothSides(({ chunked, body }) => {
  const n = hex(body.length);
  return [
    ['ch_data_then_x', SEC_CHUNK, 'data followed by X', chunked(`${n}\r\n${body}X\r\n0\r\n\r\n`)],
    ['ch_data_then_lf', SEC_CHUNK, 'data followed by a bare LF', chunked(`${n}\r\n${body}\n0\r\n\r\n`)],
    ['ch_data_then_cr_x', SEC_CHUNK, 'data followed by CR X', chunked(`${n}\r\n${body}\rX0\r\n\r\n`)],
    ['ch_size_space', SEC_CHUNK, `${n} SP`, chunked(`${n} \r\n${body}\r\n0\r\n\r\n`)],
  ];
});
S('ch_size_negative', SEC_CHUNK, '-1', chunked('-1\r\n'));
S('ch_size_0x', SEC_CHUNK, '0x5', chunked('0x5\r\n'));
S('ch_size_empty', SEC_CHUNK, 'empty size line', chunked('\r\n'));
S('ch_size_bare_lf', SEC_CHUNK, 'size line ended by LF', chunked('5\nhello\r\n'));
S('ch_ext_valid', SEC_CHUNK, 'accepted: extensions', chunked('5;a=b;c;d="x y"\r\nhello\r\n0;z\r\n\r\n'));
C('r_ch_ext_valid', SEC_CHUNK, 'accepted: extensions', chResp('2;a=b;c="d e"\r\nhi\r\n0\r\n\r\n'));
onBothSides(({ server, chunked, body }) => {
  const n = hex(body.length);
  return [
    server && ['ch_ext_space_before', SEC_CHUNK, '5 ;a', chunked('5 ;a\r\nhello\r\n0\r\n\r\n')],
    ['ch_ext_no_name', SEC_CHUNK, `${n};`, chunked(`${n};\r\n${body}\r\n0\r\n\r\n`)],
    ['ch_ext_nul', SEC_CHUNK, 'NUL in an extension', chunked(`${n};a\x00\r\n${body}\r\n0\r\n\r\n`)],
    server && ['ch_ext_open_quote', SEC_CHUNK, 'unterminated quoted value', chunked('5;a="x\r\nhello\r\n0\r\n\r\n')],
    ['ch_ext_over_16k', SEC_CHUNK, server ? 'extension of 16 KiB + 1: 413' : 'extension of 16 KiB + 1',
      [[chunked(`${n};`), 1], ['a', 16385], [`\r\n${body}\r\n0\r\n\r\n`, 1]]],
  ];
});
S('ch_trailers', SEC_CHUNK, 'accepted: two trailer fields', chunked('5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n'));
C('r_ch_trailers', SEC_CHUNK, 'accepted: a trailer field', chResp('2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n'));
onBothSides(({ server, chunked, body }) => {
  // The server's trailer sections follow the last chunk alone, the client's a
  // chunk of data first.
  const lead = server ? '' : `${hex(body.length)}\r\n${body}\r\n`;
  return [
    ['ch_trailer_over_16k', SEC_LIMIT, 'trailer section of 17 KiB',
      [[chunked(`${lead}0\r\nX: `), 1], ['v', 17408], ['\r\n\r\n', 1]]],
    ['ch_trailer_content_length', SEC_CHUNK, 'Content-Length in the trailers',
      chunked(`${lead}0\r\nContent-Length: ${body.length}\r\n\r\n`)],
    ['ch_trailer_transfer_encoding', SEC_CHUNK, 'Transfer-Encoding in the trailers',
      chunked(`${lead}0\r\nTransfer-Encoding: chunked\r\n\r\n`)],
  ];
});
S('ch_body_is_a_request', SEC_BODY, 'a chunk that looks like a request stays a body', chunked(SMUGGLED_CHUNKED));

// --- limits
S('lim_head_over_16k', SEC_LIMIT, 'a 16 KiB value: 431',
  [['GET / HTTP/1.1\r\nHost: a\r\nX: ', 1], ['v', 16384], ['\r\n\r\n', 1]]);
S('lim_endless_head', SEC_LIMIT, '70 KiB of field lines and no end', endlessHead('GET / HTTP/1.1'), { next: false });
C('r_lim_head_over_16k', SEC_LIMIT, 'a 17 KiB value',
  [['HTTP/1.1 200 OK\r\nX: ', 1], ['v', 17408], ['\r\nContent-Length: 2\r\n\r\nhi', 1]]);
C('r_lim_endless_head', SEC_LIMIT, '70 KiB of field lines and no end', endlessHead('HTTP/1.1 200 OK'));

// --- slow head delivery (Node's checker runs every 50 ms here, not every 30 s)
const SHORT = { headers_ms: 500, request_ms: 1000 };
S('slow_first_head', SEC_SLOW, 'the first head never ends: 408 at the deadline',
  'GET / HTTP/1.1\r\nHost: a\r\n', { next: false, timeouts: SHORT });
S('slow_later_head', SEC_SLOW, 'a keep-alive request served, the next head never ends',
  'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n', { next: false, timeouts: SHORT });

// --- bodies the handler ignores
S('ignored_small_body', SEC_BODY, 'an unread body that looks like a request',
  postCl(String(SMUGGLED.length), SMUGGLED), { ignore_body: true });
const BIG = 300 * 1024;
S('ignored_large_body', SEC_BODY, 'an unread 300 KiB body made of requests',
  [[post([`Content-Length: ${BIG}`], ''), 1], [SMUGGLED, Math.floor(BIG / SMUGGLED.length)], ['x', BIG % SMUGGLED.length]],
  { ignore_body: true });
S('ignored_chunked_body', SEC_BODY, 'an unread chunked body holding a request',
  chunked(SMUGGLED_CHUNKED), { ignore_body: true });

// --- pipelining after Connection: close
S('data_after_connection_close', SEC_BODY, 'a request after Connection: close',
  GET(['Host: a', 'Connection: close']));

// Pool cases: what the server does to the idle pooled socket.
const poolCases = [
  { name: 'pool_unsolicited_bytes', rule: 'idle pooled socket', why: 'a whole response arrives on the idle socket',
    idle_latin1: SECOND, idle_close: false },
  { name: 'pool_eof', rule: 'idle pooled socket', why: 'the server closes the idle socket',
    idle_latin1: '', idle_close: true },
];

// Outgoing cases.
const BAD = { cr: '\r', lf: '\n', nul: '\x00', u010d: '\u010d' };
const outgoingCases = [];
for (const [char, c] of Object.entries(BAD)) {
  for (const field of ['header_name', 'header_value', 'method', 'path']) {
    outgoingCases.push({ name: `out_client_${field}_${char}`, side: 'client', field, char, bad: c });
  }
  for (const field of ['header_name', 'header_value', 'reason']) {
    outgoingCases.push({ name: `out_server_${field}_${char}`, side: 'server', field, char, bad: c });
  }
}

// ---------------------------------------------------------------------------
// Helpers

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const joinParts = (parts) => parts.map(([s, n]) => s.repeat(n)).join('');

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// Statuses of the responses in `wire`, in order. Every response here has a
// Content-Length or no body at all (Node's canned errors).
function statuses(wire) {
  const out = [];
  let at = 0;
  while (at < wire.length) {
    const end = wire.indexOf('\r\n\r\n', at);
    if (end < 0) throw new Error(`unparsable response bytes: ${JSON.stringify(wire.slice(at))}`);
    const headText = wire.slice(at, end);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(headText);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(headText)}`);
    out.push(Number(m[1]));
    const cl = /\r\ncontent-length: *(\d+)/i.exec(headText);
    at = end + 4 + (cl ? Number(cl[1]) : 0);
  }
  return out;
}

// Writes `input` in one write and reads until the server closes, or until
// SILENCE_MS pass without data (and at least `minWait` ms in all).
function converse(port, input, minWait) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const started = Date.now();
    let timer = null;
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ wire: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = () => {
      clearTimeout(timer);
      const wait = Math.max(SILENCE_MS, minWait - (Date.now() - started));
      timer = setTimeout(() => finish(false), wait);
    };
    sock.on('connect', () => {
      sock.write(Buffer.from(input, 'latin1'));
      arm();
    });
    sock.on('data', (d) => {
      chunks.push(d);
      arm();
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
  });
}

// ---------------------------------------------------------------------------
// Recorders

async function recordServer(c) {
  const messages = [];
  const options = {};
  if (c.timeouts) {
    options.headersTimeout = c.timeouts.headers_ms;
    options.requestTimeout = c.timeouts.request_ms;
    options.connectionsCheckingInterval = 50;
  }
  const server = http.createServer(options, (req, res) => {
    const m = { method: req.method, url: req.url, body_latin1: null };
    messages.push(m);
    req.on('error', () => {});
    const answer = () => {
      res.writeHead(200, { 'Content-Length': 3 });
      res.end('ok\n');
    };
    if (c.ignore_body) {
      answer();
      return;
    }
    const body = [];
    req.on('data', (d) => body.push(d));
    req.on('end', () => {
      m.body_latin1 = Buffer.concat(body).toString('latin1');
      answer();
    });
  });
  const port = await listen(server);
  const minWait = c.timeouts ? c.timeouts.request_ms + 500 : 0;
  const { wire, closed } = await converse(port, joinParts(c.parts), minWait);
  server.close();
  server.closeAllConnections();
  return { ...c, messages, statuses: statuses(wire), closed };
}

// A raw server that answers the first request head on each connection with
// `respond(connection index)` and then does `after(socket, index)`.
function rawServer(respond, after) {
  let connections = 0;
  let requests = 0;
  const server = net.createServer((sock) => {
    const index = ++connections;
    let buf = '';
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        requests += 1;
        sock.write(Buffer.from(respond(requests), 'latin1'));
        after(sock, index, requests);
      }
    });
  });
  return { server, counts: () => ({ connections, requests }) };
}

function runRequest(port, agent) {
  return new Promise((resolve) => {
    const out = { response: null, error: null };
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      setTimeout(() => resolve(out), SETTLE_MS);
    };
    const limit = setTimeout(settle, CLIENT_LIMIT_MS);
    const req = http.request({ host: '127.0.0.1', port, agent }, (res) => {
      const body = [];
      const r = { status: res.statusCode, body_latin1: '', complete: false };
      out.response = r;
      res.on('data', (d) => {
        body.push(d);
        r.body_latin1 = Buffer.concat(body).toString('latin1');
      });
      res.on('end', () => {
        r.complete = true;
      });
      res.on('error', () => {});
      res.on('close', () => {
        clearTimeout(limit);
        settle();
      });
    });
    req.on('error', (e) => {
      out.error = e.code || e.message;
    });
    req.on('close', () => {
      if (!out.response) {
        clearTimeout(limit);
        settle();
      }
    });
    req.end();
  });
}

async function recordClient(c) {
  const input = joinParts(c.parts);
  const { server } = rawServer(() => input, (sock) => sock.end());
  const port = await listen(server);
  const out = await runRequest(port, false);
  server.close();
  return { ...c, ...out };
}

async function recordPool(c) {
  const { server, counts } = rawServer(
    (n) => `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr${n}`,
    (sock, index, n) => {
      if (index !== 1 || n !== 1) return;
      // Once the first response is out, the idle socket gets the case's
      // treatment.
      setTimeout(() => {
        if (c.idle_latin1) sock.write(Buffer.from(c.idle_latin1, 'latin1'));
        if (c.idle_close) sock.end();
      }, POOL_IDLE_MS / 4);
    },
  );
  const port = await listen(server);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await runRequest(port, agent);
  await delay(POOL_IDLE_MS);
  const second = await runRequest(port, agent);
  agent.destroy();
  server.close();
  return { ...c, first: first.response, second: second.response, second_error: second.error,
    connections: counts().connections };
}

async function recordOutgoing(c) {
  const out = { ...c, refused: null, wire_latin1: '' };
  delete out.bad;
  if (c.side === 'client') {
    let connected = false;
    let wire = '';
    const raw = net.createServer((sock) => {
      connected = true;
      sock.on('data', (d) => {
        wire += d.toString('latin1');
      });
      sock.on('error', () => {});
      sock.on('end', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    });
    const port = await listen(raw);
    const opts = { host: '127.0.0.1', port, agent: false, method: 'GET', path: '/', headers: {} };
    if (c.field === 'header_name') opts.headers[`X${c.bad}Y`] = 'v';
    if (c.field === 'header_value') opts.headers.X = `a${c.bad}b`;
    if (c.field === 'method') opts.method = `GE${c.bad}T`;
    if (c.field === 'path') opts.path = `/a${c.bad}b`;
    try {
      const req = http.request(opts);
      req.on('error', () => {});
      req.end();
    } catch (e) {
      out.refused = e.code;
    }
    await delay(150);
    raw.close();
    out.wire_latin1 = connected ? wire : null;
    return out;
  }
  // Server side: the handler tries the bad field, then answers 500 "refused"
  // cleanly if it was refused, or ends with what it set if it was not.
  const server = http.createServer((req, res) => {
    try {
      if (c.field === 'header_name') res.setHeader(`X${c.bad}Y`, 'v');
      if (c.field === 'header_value') res.setHeader('X', `a${c.bad}b`);
      if (c.field === 'reason') res.writeHead(200, `O${c.bad}K`);
      res.end('ok\n');
    } catch (e) {
      out.refused = e.code;
      res.writeHead(500, 'Refused', { 'Content-Length': 8 });
      res.end('refused\n');
    }
  });
  const port = await listen(server);
  const { wire } = await converse(port, GET(['Host: a', 'Connection: close']), 0);
  server.close();
  // Only the status line and body matter; Date varies.
  out.wire_latin1 = wire.replace(/\r\nDate: [^\r]*/, '');
  return out;
}

async function main() {
  checkNames([...serverCases, ...clientCases, ...poolCases, ...outgoingCases]);
  const fixture = {
    node: process.version,
    llhttp: process.versions.llhttp,
    server: await runAll(serverCases, recordServer, CONCURRENCY),
    client: await runAll(clientCases, recordClient, CONCURRENCY),
    pool: await runAll(poolCases, recordPool, CONCURRENCY),
    outgoing: await runAll(outgoingCases, recordOutgoing, CONCURRENCY),
  };
  // One case per line keeps diffs readable.
  const section = (list) => '[\n' + list.map((c) => '    ' + JSON.stringify(c)).join(',\n') + '\n  ]';
  const text = '{\n' + [
    `  "node": ${JSON.stringify(fixture.node)}`,
    `  "llhttp": ${JSON.stringify(fixture.llhttp)}`,
    `  "server": ${section(fixture.server)}`,
    `  "client": ${section(fixture.client)}`,
    `  "pool": ${section(fixture.pool)}`,
    `  "outgoing": ${section(fixture.outgoing)}`,
  ].join(',\n') + '\n}\n';
  if (process.argv.includes('--print')) {
    process.stdout.write(text);
  } else {
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(OUT, text);
    const n = serverCases.length + clientCases.length + poolCases.length + outgoingCases.length;
    console.log(`wrote ${path.relative(process.cwd(), OUT)}: ${n} cases`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
