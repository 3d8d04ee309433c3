#!/usr/bin/env node
// Records what Node's `http` module does with raw HTTP/1.1 inputs, as test
// vectors for Pier's sans-I/O parser (crates/pier-proto).
//
//   node scripts/record-node-vectors.js            # regenerate both files
//   node scripts/record-node-vectors.js --only cl_  # print matching cases, write nothing
//
// Output: crates/pier-proto/tests/vectors/node_server.json and node_client.json
// (format: crates/pier-proto/tests/vectors/README.md).
//
// Plain Node, no packages. Inputs are "latin1 strings": one char per byte.
//
// Server side: one `http.createServer()` (default options) per case, a
// `clientError` listener that records the error and then answers exactly like
// Node's default handler, and a `request` handler that answers 200 "ok\n" once
// the body has ended. A raw TCP client writes the case bytes in one write and
// reads until the server closes or SILENCE_MS pass without data.
//
// Client side: one raw TCP server per case reads the request head (and body)
// of an `http.request({agent: false})`, answers with the case bytes in one
// write and ends its side (or keeps it open).
//
// Besides the application-level view (request / response events), the script
// records a parser-level trace by wrapping the callbacks Node's C++ parser
// calls on its JS parser object (kOnHeaders, kOnHeadersComplete, kOnBody,
// kOnMessageComplete). The wrappers only observe; they call the original.

'use strict';

const http = require('http');
const net = require('net');
const fs = require('fs');
const path = require('path');

const OUT_DIR = path.join(__dirname, '..', 'crates', 'pier-proto', 'tests', 'vectors');
const SILENCE_MS = 500; // server cases: silence that ends a case
const CLIENT_LIMIT_MS = 1500; // client cases: give up after this long
const SETTLE_MS = 60; // grace after a close, for late events
const CONCURRENCY = 16;

// ---------------------------------------------------------------------------
// Input builders (all strings are latin1: one char per byte)

const CRLF = '\r\n';

function message(startLine, fields = [], body = '') {
  return startLine + CRLF + fields.map((f) => f + CRLF).join('') + CRLF + body;
}
function get(fields = [], target = '/') {
  return message(`GET ${target} HTTP/1.1`, ['Host: h', ...fields]);
}
function post(fields, body = '') {
  return message('POST / HTTP/1.1', ['Host: h', ...fields], body);
}
function withCL(value, body = 'hello') {
  return post([`Content-Length: ${value}`], body);
}
const CHUNKED_HELLO = '5\r\nhello\r\n0\r\n\r\n';
function withTE(value, body = CHUNKED_HELLO) {
  return post([`Transfer-Encoding: ${value}`], body);
}
function chunked(body) {
  return post(['Transfer-Encoding: chunked'], body);
}
const GET = get();
function reqLine(line, fields = ['Host: h']) {
  return message(line, fields);
}
function pad(n, width) {
  return String(n).padStart(width, '0');
}
function manyFields(count, make) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(make(i));
  return out;
}
// A GET whose header section counts `counted` bytes the way Node's limit
// counts them: request target + field names + field values.
// Target "/" (1) + "Host" "h" (5) + "X" (1) = 7 fixed bytes.
function countedHead(counted) {
  return get([`X: ${'v'.repeat(counted - 7)}`]);
}

// ---------------------------------------------------------------------------
// Server cases: [name, rule, why, input]

// Sections of the security record (shared/node-semantics.md); the smuggling
// recorder labels its cases with the same names.
const SECURITY_SECTIONS = {
  CL: 'Content-Length',
  CLTE: 'Content-Length with Transfer-Encoding',
  TE: 'Transfer-Encoding',
  HEAD: 'head syntax',
  CHUNK: 'chunked framing',
  LIMIT: 'size limits',
};
const SEC_CL = `security-record: ${SECURITY_SECTIONS.CL}`;
const SEC_CLTE = `security-record: ${SECURITY_SECTIONS.CLTE}`;
const SEC_TE = `security-record: ${SECURITY_SECTIONS.TE}`;
const SEC_HEAD = `security-record: ${SECURITY_SECTIONS.HEAD}`;
const SEC_CHUNK = `security-record: ${SECURITY_SECTIONS.CHUNK}`;
const SEC_LIMIT = `security-record: ${SECURITY_SECTIONS.LIMIT}`;
const SEC_SMUGGLE = 'security-record: body never read as next request';

const serverCases = [];
function S(name, rule, why, input) {
  serverCases.push({ name, rule, why, input });
}

// --- Content-Length
S('cl_valid', SEC_CL, 'plain Content-Length body', withCL('5'));
S('cl_plus_sign', SEC_CL, 'a sign is not part of 1*DIGIT', withCL('+5'));
S('cl_minus_sign', SEC_CL, 'negative length', withCL('-5'));
S('cl_hex_prefix', SEC_CL, 'hex is not decimal', withCL('0x5'));
S('cl_inner_space', SEC_CL, 'two numbers separated by a space', withCL('5 5'));
S('cl_empty_value', SEC_CL, 'empty value, no space', post(['Content-Length:'], 'hello'));
S('cl_empty_value_space', SEC_CL, 'empty value after a space', post(['Content-Length: '], 'hello'));
S('cl_list_different', SEC_CL, 'list of two different lengths', withCL('5,6', 'hello!'));
S('cl_list_equal', SEC_CL, 'list of two equal lengths with a space', withCL('5, 5'));
S('cl_list_equal_nospace', SEC_CL, 'list of two equal lengths without a space', withCL('5,5'));
S('cl_two_lines_equal', SEC_CL, 'two equal Content-Length lines',
  post(['Content-Length: 5', 'Content-Length: 5'], 'hello'));
S('cl_two_lines_different', SEC_CL, 'two different Content-Length lines',
  post(['Content-Length: 5', 'Content-Length: 6'], 'hello!'));
S('cl_leading_zeros', SEC_CL, 'leading zeros are still decimal', withCL('0005'));
S('cl_surrounding_spaces', SEC_CL, 'OWS around the value is trimmed',
  post(['Content-Length:    5    '], 'hello'));
S('cl_trailing_tab', SEC_CL, 'a TAB after the digits', withCL('5\t'));
S('cl_leading_tab', SEC_CL, 'a TAB before the digits (OWS)', post(['Content-Length:\t5'], 'hello'));
S('cl_trailing_vt', SEC_CL, 'a VT after the digits', withCL('5\x0b'));
S('cl_u64_max', SEC_CL, '2^64-1: representable, Node waits for the body', withCL('18446744073709551615'));
S('cl_u64_max_plus_one', SEC_CL, '2^64 overflows', withCL('18446744073709551616'));
S('cl_twenty_nines', SEC_CL, '20 digits, overflow', withCL('99999999999999999999'));
S('cl_twenty_digits_small', SEC_CL, '20 digits with leading zeros, value 5', withCL('00000000000000000005'));
S('cl_decimal_point', SEC_CL, '5.0 is not 1*DIGIT', withCL('5.0'));
S('cl_exponent', SEC_CL, '1e1 is not 1*DIGIT', withCL('1e1', 'helloworld'));
S('cl_letters', SEC_CL, 'non-numeric value', withCL('abc'));
S('cl_negative_zero', SEC_CL, '-0', withCL('-0', ''));
S('cl_zero_post', SEC_CL, 'POST with an empty body', withCL('0', ''));
S('cl_zero_get', SEC_CL, 'GET with Content-Length: 0', get(['Content-Length: 0']));
S('cl_body_incomplete', SEC_CL, 'fewer body bytes than announced: Node waits', withCL('10'));
S('cl_body_then_pipelined_get', SEC_SMUGGLE, 'body bytes end exactly where the next request starts',
  withCL('5', 'hello' + GET));
S('cl_name_uppercase', SEC_CL, 'field names are case-insensitive', post(['CONTENT-LENGTH: 5'], 'hello'));
S('cl_on_get_with_body', SEC_CL, 'a GET may carry a body', get(['Content-Length: 5']) + 'hello');
S('cl_http10', SEC_CL, 'HTTP/1.0 POST with Content-Length',
  message('POST / HTTP/1.0', ['Content-Length: 5'], 'hello'));
S('cl_obs_fold_value', SEC_CL, 'Content-Length continued by obs-fold',
  post(['Content-Length: 5', ' 5'], 'hello'));
S('cl_smuggled_body_request', SEC_SMUGGLE, 'a body that looks like a request stays a body',
  withCL(String(GET.length), GET));

// --- Content-Length with Transfer-Encoding
S('clte_cl_then_te', SEC_CLTE, 'CL line before TE chunked',
  post(['Content-Length: 5', 'Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('clte_te_then_cl', SEC_CLTE, 'TE chunked line before CL',
  post(['Transfer-Encoding: chunked', 'Content-Length: 5'], CHUNKED_HELLO));
S('clte_te_gzip_chunked', SEC_CLTE, 'CL with TE gzip, chunked',
  post(['Content-Length: 5', 'Transfer-Encoding: gzip, chunked'], CHUNKED_HELLO));
S('clte_cl_zero', SEC_CLTE, 'CL 0 with TE chunked',
  post(['Content-Length: 0', 'Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('clte_te_identity', SEC_CLTE, 'CL with TE identity', post(['Content-Length: 5', 'Transfer-Encoding: identity'], 'hello'));
S('clte_http10', SEC_CLTE, 'CL with TE on HTTP/1.0',
  message('POST / HTTP/1.0', ['Content-Length: 5', 'Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('clte_smuggle_classic', SEC_CLTE, 'CL.TE smuggling shape: CL covers a prefix of the chunked body',
  post(['Content-Length: 6', 'Transfer-Encoding: chunked'], '0\r\n\r\nG' + GET));

// --- Transfer-Encoding
S('te_chunked', SEC_TE, 'plain chunked body', withTE('chunked'));
S('te_gzip_chunked', SEC_TE, 'gzip then chunked', withTE('gzip, chunked'));
S('te_gzip_chunked_nospace', SEC_TE, 'gzip,chunked without a space', withTE('gzip,chunked'));
S('te_two_lines_gzip_chunked', SEC_TE, 'gzip and chunked on two lines',
  post(['Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('te_two_lines_chunked_gzip', SEC_TE, 'chunked and gzip on two lines (chunked not last)',
  post(['Transfer-Encoding: chunked', 'Transfer-Encoding: gzip'], CHUNKED_HELLO));
S('te_two_lines_chunked_chunked', SEC_TE, 'chunked on two lines',
  post(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('te_leading_comma', SEC_TE, 'empty list element before chunked', withTE(', chunked'));
S('te_trailing_comma', SEC_TE, 'empty list element after chunked', withTE('chunked,'));
S('te_comma_only', SEC_TE, 'a lone comma', withTE(','));
S('te_param', SEC_TE, 'chunked with a parameter', withTE('chunked;q=1'));
S('te_chunked_chunked', SEC_TE, 'chunked applied twice', withTE('chunked, chunked'));
S('te_identity', SEC_TE, 'identity alone', withTE('identity'));
S('te_identity_chunked', SEC_TE, 'identity, chunked', withTE('identity, chunked'));
S('te_chunked_gzip', SEC_TE, 'chunked not last', withTE('chunked, gzip'));
S('te_xchunked', SEC_TE, 'prefix glued to chunked', withTE('xchunked'));
S('te_chunkedx', SEC_TE, 'suffix glued to chunked', withTE('chunkedx'));
S('te_chunkedchunked', SEC_TE, 'chunked twice without a separator', withTE('chunkedchunked'));
S('te_quoted', SEC_TE, 'quoted coding name', withTE('"chunked"'));
S('te_uppercase', SEC_TE, 'CHUNKED: codings are case-insensitive', withTE('CHUNKED'));
S('te_mixed_case', SEC_TE, 'Chunked', withTE('Chunked'));
S('te_name_uppercase', SEC_TE, 'TRANSFER-ENCODING as the name', post(['TRANSFER-ENCODING: chunked'], CHUNKED_HELLO));
S('te_leading_tab', SEC_TE, 'TAB before chunked', post(['Transfer-Encoding:\tchunked'], CHUNKED_HELLO));
S('te_trailing_tab', SEC_TE, 'TAB after chunked', withTE('chunked\t'));
S('te_leading_spaces', SEC_TE, 'spaces before chunked', post(['Transfer-Encoding:    chunked'], CHUNKED_HELLO));
S('te_trailing_spaces', SEC_TE, 'spaces after chunked', withTE('chunked   '));
S('te_space_before_comma', SEC_TE, 'gzip ,chunked with odd spacing', withTE('gzip ,\tchunked'));
S('te_obs_fold', SEC_TE, 'TE continued by obs-fold', post(['Transfer-Encoding: gzip,', ' chunked'], CHUNKED_HELLO));
S('te_obs_fold_after_chunked', SEC_TE, 'obs-fold line after TE chunked',
  post(['Transfer-Encoding: chunked', ' gzip'], CHUNKED_HELLO));
S('te_empty', SEC_TE, 'empty TE value', withTE(''));
S('te_spaces_only', SEC_TE, 'TE made of spaces', post(['Transfer-Encoding:    '], CHUNKED_HELLO));
S('te_chunked_then_empty_line', SEC_TE, 'TE chunked then an empty TE line',
  post(['Transfer-Encoding: chunked', 'Transfer-Encoding:'], CHUNKED_HELLO));
S('te_empty_then_chunked', SEC_TE, 'an empty TE line then TE chunked',
  post(['Transfer-Encoding:', 'Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('te_empty_with_cl', SEC_CLTE, 'an empty TE line with Content-Length',
  post(['Content-Length: 5', 'Transfer-Encoding:'], 'hello'));
S('te_vt_after', SEC_TE, 'VT after chunked', withTE('chunked\x0b'));
S('te_nul_after', SEC_TE, 'NUL after chunked', withTE('chunked\x00'));
S('te_gzip_alone_http11', SEC_TE, 'gzip alone on a request cannot be framed', withTE('gzip', 'hello'));
S('te_gzip_alone_http10', SEC_TE, 'gzip alone on HTTP/1.0',
  message('POST / HTTP/1.0', ['Transfer-Encoding: gzip'], 'hello'));
S('te_http10_chunked', SEC_TE, 'HTTP/1.0 with TE chunked',
  message('POST / HTTP/1.0', ['Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('te_http10_chunked_keepalive', SEC_TE, 'HTTP/1.0 with TE chunked and keep-alive',
  message('POST / HTTP/1.0', ['Connection: keep-alive', 'Transfer-Encoding: chunked'], CHUNKED_HELLO));
S('te_http10_chunked_with_cl', SEC_TE, 'HTTP/1.0 with TE chunked and CL',
  message('POST / HTTP/1.0', ['Transfer-Encoding: chunked', 'Content-Length: 5'], CHUNKED_HELLO));
S('te_on_get', SEC_TE, 'a GET with a chunked body', get(['Transfer-Encoding: chunked']) + CHUNKED_HELLO);
S('te_underscore_name', SEC_SMUGGLE, 'Transfer_Encoding is just another field: no body, the chunk becomes the next request',
  post(['Transfer_Encoding: chunked'], CHUNKED_HELLO));
S('te_space_before_colon', SEC_TE, 'Transfer-Encoding followed by a space before the colon',
  post(['Transfer-Encoding : chunked'], CHUNKED_HELLO));

// --- head syntax
S('hs_space_before_colon', SEC_HEAD, 'space between field name and colon', get(['X-A : b']));
S('hs_space_before_colon_host', SEC_HEAD, 'space before the colon of Host', reqLine('GET / HTTP/1.1', ['Host : h']));
S('hs_tab_before_colon', SEC_HEAD, 'TAB between field name and colon', get(['X-A\t: b']));
S('hs_space_before_first_field', SEC_HEAD, 'whitespace before the first header line', reqLine('GET / HTTP/1.1', [' Host: h']));
S('hs_tab_before_first_field', SEC_HEAD, 'TAB before the first header line', reqLine('GET / HTTP/1.1', ['\tHost: h']));
S('hs_obs_fold_space', SEC_HEAD, 'obs-fold with a space', get(['X-A: b', ' c']));
S('hs_obs_fold_tab', SEC_HEAD, 'obs-fold with a TAB', get(['X-A: b', '\tc']));
S('hs_bare_cr_request_line', SEC_HEAD, 'request line ended by a bare CR', 'GET / HTTP/1.1\rHost: h\r\n\r\n');
S('hs_bare_cr_in_value', SEC_HEAD, 'CR inside a field value', get(['X-A: b\rc']));
S('hs_bare_cr_before_crlf', SEC_HEAD, 'CR CR LF at the end of a field line', get(['X-A: b\r']));
S('hs_bare_lf_request_line', SEC_HEAD, 'request line ended by a bare LF', 'GET / HTTP/1.1\nHost: h\r\n\r\n');
S('hs_bare_lf_field_line', SEC_HEAD, 'field line ended by a bare LF', 'GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n');
S('hs_bare_lf_final_line', SEC_HEAD, 'empty line is a bare LF', 'GET / HTTP/1.1\r\nHost: h\r\n\n');
S('hs_bare_lf_everywhere', SEC_HEAD, 'all line ends are bare LF', 'GET / HTTP/1.1\nHost: h\n\n');
S('hs_cr_in_name', SEC_HEAD, 'CR inside a field name', 'GET / HTTP/1.1\r\nHost: h\r\nX\rY: b\r\n\r\n');
S('hs_head_ends_cr_x', SEC_HEAD, 'head ended by CR LF CR X', 'GET / HTTP/1.1\r\nHost: h\r\n\rX');
S('hs_head_ends_cr_x_line', SEC_HEAD, 'CR then a field line', 'GET / HTTP/1.1\r\nHost: h\r\n\rX-A: b\r\n\r\n');
S('hs_value_nul', SEC_HEAD, 'NUL in a field value', get(['X-A: b\x00c']));
S('hs_value_del', SEC_HEAD, 'DEL in a field value', get(['X-A: b\x7fc']));
S('hs_value_byte_80', SEC_HEAD, 'obs-text 0x80 in a value', get(['X-A: b\x80c']));
S('hs_value_byte_ff', SEC_HEAD, 'obs-text 0xFF in a value', get(['X-A: b\xffc']));
S('hs_value_utf8', SEC_HEAD, 'UTF-8 e-acute in a value', get(['X-A: caf\xc3\xa9']));
S('hs_value_tab_inside', SEC_HEAD, 'TAB inside a value', get(['X-A: b\tc']));
S('hs_value_vt', SEC_HEAD, 'VT in a value', get(['X-A: b\x0bc']));
S('hs_value_ff', SEC_HEAD, 'FF in a value', get(['X-A: b\x0cc']));
S('hs_value_ctl_01', SEC_HEAD, 'SOH in a value', get(['X-A: b\x01c']));
S('hs_value_esc', SEC_HEAD, 'ESC in a value', get(['X-A: b\x1bc']));
S('hs_value_empty', 'head syntax', 'empty value without a space', get(['X-A:']));
S('hs_value_empty_space', 'head syntax', 'empty value after a space', get(['X-A: ']));
S('hs_value_only_tabs', 'head syntax', 'value made of TABs', get(['X-A:\t\t']));
S('hs_value_ows_trimmed', 'head syntax', 'leading and trailing OWS are trimmed, inner kept', get(['X-A: \t b  c \t ']));
S('hs_value_no_space', 'head syntax', 'no space after the colon', get(['X-A:b']));
S('hs_value_colons', 'head syntax', 'colons in the value', get(['X-A: b:c::']));
S('hs_value_double_colon', 'head syntax', 'a second colon right after the first', get(['X-A:: b']));
S('hs_name_empty', SEC_HEAD, 'empty field name', get([': x']));
S('hs_name_space', SEC_HEAD, 'space inside a name', get(['a b: c']));
S('hs_name_at', SEC_HEAD, '@ in a name', get(['a@b: c']));
S('hs_name_paren', SEC_HEAD, '( in a name', get(['a(b: c']));
S('hs_name_quote', SEC_HEAD, '" in a name', get(['a"b: c']));
S('hs_name_slash', SEC_HEAD, '/ in a name', get(['a/b: c']));
S('hs_name_brace', SEC_HEAD, '{ in a name', get(['a{b: c']));
S('hs_name_utf8', SEC_HEAD, 'UTF-8 bytes in a name', get(['caf\xc3\xa9: c']));
S('hs_name_del', SEC_HEAD, 'DEL in a name', get(['a\x7fb: c']));
S('hs_name_nul', SEC_HEAD, 'NUL in a name', get(['a\x00b: c']));
S('hs_name_all_tchars', 'head syntax', 'every tchar punctuation in a name', get(["!#$%&'*+-.^_`|~09azAZ: c"]));
S('hs_line_without_colon', SEC_HEAD, 'field line without a colon', get(['X-A']));
S('hs_leading_crlf', 'head syntax', 'one empty line before the request line', '\r\n' + GET);
S('hs_leading_lf', 'head syntax', 'one bare LF before the request line', '\n' + GET);
S('hs_leading_crlf_x3', 'head syntax', 'three empty lines before the request line', '\r\n\r\n\r\n' + GET);
S('hs_leading_cr_only', SEC_HEAD, 'a bare CR before the request line', '\r' + GET);
S('hs_leading_cr_x2', SEC_HEAD, 'two bare CRs before the request line', '\r\r' + GET);
S('hs_leading_space', SEC_HEAD, 'a space before the method', ' ' + GET);
S('hs_duplicate_names', 'S17', 'same name twice with different case', get(['X-A: 1', 'x-a: 2']));
S('hs_value_10k', 'head syntax', 'a 10 KiB value', get([`X-A: ${'v'.repeat(10240)}`]));

// --- request line: methods
for (const m of http.METHODS) {
  const target = m === 'CONNECT' ? 'h:80' : m === 'PRI' ? '*' : '/';
  S(`method_${m.toLowerCase().replace(/-/g, '_')}`, 'node-quirk: methods from llhttp table',
    `${m} is in http.METHODS`, reqLine(`${m} ${target} HTTP/1.1`));
}
S('method_lowercase_get', 'node-quirk: methods are case-sensitive', 'get in lowercase', reqLine('get / HTTP/1.1'));
S('method_titlecase_get', 'node-quirk: methods are case-sensitive', 'Get in title case', reqLine('Get / HTTP/1.1'));
S('method_unknown_foo', 'node-quirk: methods from llhttp table', 'unknown token method', reqLine('FOO / HTTP/1.1'));
S('method_prefix_of_known', 'node-quirk: methods from llhttp table', 'GETX starts like GET', reqLine('GETX / HTTP/1.1'));
S('method_truncated_known', 'node-quirk: methods from llhttp table', 'PU is a prefix of PUT', reqLine('PU / HTTP/1.1'));
for (const m of ['DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER',
  'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH']) {
  S(`method_rtsp_${m.toLowerCase()}`, 'node-quirk: RTSP methods', `${m} is an RTSP method`, reqLine(`${m} / HTTP/1.1`));
}

// --- request line: shape and version
S('rl_double_space_after_method', 'node-quirk: request line', 'two spaces after the method', reqLine('GET  / HTTP/1.1'));
S('rl_double_space_before_version', 'node-quirk: request line', 'two spaces before the version', reqLine('GET /  HTTP/1.1'));
S('rl_double_spaces_both', 'node-quirk: request line', 'two spaces twice', reqLine('GET  /  HTTP/1.1'));
S('rl_tab_after_method', SEC_HEAD, 'TAB as the first separator', reqLine('GET\t/ HTTP/1.1'));
S('rl_tab_before_version', SEC_HEAD, 'TAB as the second separator', reqLine('GET /\tHTTP/1.1'));
S('rl_trailing_space', SEC_HEAD, 'space after the version', reqLine('GET / HTTP/1.1 '));
S('rl_no_target', SEC_HEAD, 'method and version only', reqLine('GET HTTP/1.1'));
S('rl_empty_method', SEC_HEAD, 'line starts with a space', reqLine(' / HTTP/1.1'));
S('rl_http09_no_version', 'node-quirk: HTTP/0.9', 'no version at all: HTTP/0.9', 'GET /\r\n\r\n');
S('rl_http09_no_version_fields', 'node-quirk: HTTP/0.9', 'no version, then a field line', 'GET /\r\nHost: h\r\n\r\n');
S('rl_http09_explicit', 'node-quirk: HTTP/0.9', 'HTTP/0.9 spelled out', reqLine('GET / HTTP/0.9'));
S('rl_rtsp_version_put', 'node-quirk: RTSP', 'PUT is no RTSP method: refused on an RTSP/ line', reqLine('PUT / RTSP/1.0', ['Host: h', 'Content-Length: 0']));
S('rl_rtsp_version_connect', 'node-quirk: RTSP', 'CONNECT is no RTSP method: refused on an RTSP/ line', reqLine('CONNECT h:1 RTSP/1.0'));
S('rl_rtsp_version_source', 'node-quirk: RTSP', 'SOURCE belongs on ICE/ lines, not RTSP/ ones', reqLine('SOURCE / RTSP/1.0'));
S('rl_http09_bare_lf', 'node-quirk: HTTP/0.9', 'no version, the line ended by a bare LF (accepted even when strict)', 'GET /\n\r\n');
S('rl_http09_bare_lf_fields', 'node-quirk: HTTP/0.9', 'no version and a bare LF, then a field line', 'GET /\nHost: h\r\n\r\n');
S('rl_http09_bare_lf_field_bare_lf', 'node-quirk: HTTP/0.9', 'a bare LF ends the versionless line, not the field lines after it', 'GET /\nHost: h\n\r\n');
S('rl_http09_cr_without_lf', 'node-quirk: HTTP/0.9', 'no version, a CR not followed by LF: a bad URL', 'GET /\rX\r\n\r\n');
S('rl_http09_bare_lf_absolute', 'node-quirk: HTTP/0.9', 'an absolute-form target without a version, ended by a bare LF', 'GET http://h/x\n\r\n');
S('rl_http10', 'request line', 'HTTP/1.0', reqLine('GET / HTTP/1.0'));
S('rl_http20', 'node-quirk: request line', 'HTTP/2.0 on a text request line', reqLine('GET / HTTP/2.0'));
S('rl_http12', SEC_HEAD, 'HTTP/1.2', reqLine('GET / HTTP/1.2'));
S('rl_http30', SEC_HEAD, 'HTTP/3.0', reqLine('GET / HTTP/3.0'));
S('rl_http110', SEC_HEAD, 'HTTP/1.10', reqLine('GET / HTTP/1.10'));
S('rl_http011', SEC_HEAD, 'HTTP/01.1', reqLine('GET / HTTP/01.1'));
S('rl_http_no_minor', SEC_HEAD, 'HTTP/1', reqLine('GET / HTTP/1'));
S('rl_http99', SEC_HEAD, 'HTTP/9.9', reqLine('GET / HTTP/9.9'));
S('rl_http00', SEC_HEAD, 'HTTP/0.0', reqLine('GET / HTTP/0.0'));
S('rl_http_lowercase', SEC_HEAD, 'http/1.1 in lowercase', reqLine('GET / http/1.1'));
S('rl_rtsp_version', 'node-quirk: request line', 'RTSP/1.0 protocol name', reqLine('GET / RTSP/1.0'));
S('rl_ice_version', SEC_HEAD, 'ICE/1.0 protocol name', reqLine('GET / ICE/1.0'));
S('rl_ice_source', 'node-quirk: request line', 'SOURCE with ICE/1.0', reqLine('SOURCE / ICE/1.0'));
S('rl_rtsp_method_rtsp_version', 'node-quirk: request line', 'DESCRIBE with RTSP/1.0', reqLine('DESCRIBE / RTSP/1.0'));
S('rl_rtsp_options_asterisk', 'node-quirk: request line', 'OPTIONS * RTSP/1.0', reqLine('OPTIONS * RTSP/1.0'));
S('rl_get_ice_version_fields', SEC_HEAD, 'GET with ICE/1.0', reqLine('GET / ICE/1.0', []));
S('rl_http_space_slash', SEC_HEAD, 'HTTP /1.1', reqLine('GET / HTTP /1.1'));
S('rl_version_suffix', SEC_HEAD, 'HTTP/1.1x', reqLine('GET / HTTP/1.1x'));

// --- request line: targets
S('tgt_asterisk_options', 'request target', 'asterisk-form with OPTIONS', reqLine('OPTIONS * HTTP/1.1'));
S('tgt_asterisk_get', 'request target', 'asterisk-form with GET', reqLine('GET * HTTP/1.1'));
S('tgt_absolute', 'request target', 'absolute-form with Host', reqLine('GET http://h/p?q=1 HTTP/1.1'));
S('tgt_absolute_https_port', 'request target', 'absolute-form https with a port', reqLine('GET https://h:8443/x HTTP/1.1'));
S('tgt_authority_get', 'request target', 'authority-form with GET', reqLine('GET h:80 HTTP/1.1'));
S('tgt_relative_no_slash', 'request target', 'target without a leading slash', reqLine('GET x HTTP/1.1'));
S('tgt_inner_space', SEC_HEAD, 'space inside the target', reqLine('GET /a b HTTP/1.1'));
S('tgt_percent_alone', 'request target', 'a lone percent sign', reqLine('GET /% HTTP/1.1'));
S('tgt_percent_bad_hex', 'request target', 'percent followed by non-hex', reqLine('GET /%zz HTTP/1.1'));
S('tgt_utf8_raw', 'request target', 'raw UTF-8 e-acute', reqLine('GET /caf\xc3\xa9 HTTP/1.1'));
S('tgt_byte_7f', SEC_HEAD, 'raw DEL', reqLine('GET /\x7f HTTP/1.1'));
S('tgt_byte_80', 'request target', 'raw 0x80', reqLine('GET /\x80 HTTP/1.1'));
S('tgt_byte_ff', 'request target', 'raw 0xFF', reqLine('GET /\xff HTTP/1.1'));
S('tgt_fragment', 'request target', 'a fragment is passed through', reqLine('GET /p#frag HTTP/1.1'));
S('tgt_query', 'request target', 'a query string', reqLine('GET /p?q=1&r=%20 HTTP/1.1'));
S('tgt_question_only', 'request target', 'just a question mark', reqLine('GET ? HTTP/1.1'));
S('tgt_ctl_01', SEC_HEAD, 'SOH in the target', reqLine('GET /\x01 HTTP/1.1'));
S('tgt_nul', SEC_HEAD, 'NUL in the target', reqLine('GET /\x00 HTTP/1.1'));
S('tgt_backslash', 'request target', 'backslash in the target', reqLine('GET /a\\b HTTP/1.1'));
S('tgt_unsafe_punct', 'request target', 'unsafe punctuation in the target', reqLine('GET /{}|^`"<> HTTP/1.1'));
S('tgt_double_slash', 'request target', 'two slashes', reqLine('GET //x HTTP/1.1'));
S('tgt_dot_segments', 'request target', 'dot segments are not normalised', reqLine('GET /a/../b/./c HTTP/1.1'));
S('tgt_8k', SEC_LIMIT, 'an 8 KiB target', reqLine(`GET /${'a'.repeat(8191)} HTTP/1.1`));
S('tgt_20k', SEC_LIMIT, 'a 20 KiB target exceeds the header limit', reqLine(`GET /${'a'.repeat(20479)} HTTP/1.1`));
S('connect_authority', 'S10', 'CONNECT without a connect listener', reqLine('CONNECT h:443 HTTP/1.1'));
S('connect_with_pipelined_bytes', 'S10', 'CONNECT followed by tunnel bytes', reqLine('CONNECT h:443 HTTP/1.1') + 'tunnel bytes');
S('connect_origin_form', 'S10', 'CONNECT with an origin-form target', reqLine('CONNECT / HTTP/1.1'));
S('connect_no_host', 'S10', 'CONNECT without Host', reqLine('CONNECT h:443 HTTP/1.1', []));
S('pri_http11', 'node-quirk: PRI', 'PRI on an HTTP/1.1 request line', reqLine('PRI * HTTP/1.1'));
S('pri_h2_preface', 'node-quirk: PRI', 'HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

// --- chunked bodies
S('ch_basic', SEC_CHUNK, 'one chunk', chunked(CHUNKED_HELLO));
S('ch_multiple', SEC_CHUNK, 'three chunks', chunked('1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n'));
S('ch_uppercase_hex', SEC_CHUNK, 'size in uppercase hex', chunked('A\r\n0123456789\r\n0\r\n\r\n'));
S('ch_lowercase_hex', SEC_CHUNK, 'size in lowercase hex', chunked('a\r\n0123456789\r\n0\r\n\r\n'));
S('ch_leading_zeros', SEC_CHUNK, 'size with leading zeros', chunked('0005\r\nhello\r\n0000\r\n\r\n'));
S('ch_16_digits_small', SEC_CHUNK, '16 hex digits, value 10', chunked('000000000000000a\r\n0123456789\r\n0\r\n\r\n'));
S('ch_16_digits_large', SEC_CHUNK, '16 hex digits, large value: Node waits for data', chunked('7fffffffffffffff\r\nhello'));
S('ch_16_digits_max', SEC_CHUNK, 'ffffffffffffffff: largest size', chunked('ffffffffffffffff\r\nhello'));
S('ch_17_digits_overflow', SEC_CHUNK, '17 hex digits, value 2^64', chunked('10000000000000000\r\nhello\r\n0\r\n\r\n'));
S('ch_17_digits_small', SEC_CHUNK, '17 hex digits with leading zeros, value 5', chunked('00000000000000005\r\nhello\r\n0\r\n\r\n'));
S('ch_size_trailing_space', SEC_CHUNK, 'space after the size', chunked('5 \r\nhello\r\n0\r\n\r\n'));
S('ch_size_leading_space', SEC_CHUNK, 'space before the size', chunked(' 5\r\nhello\r\n0\r\n\r\n'));
S('ch_size_trailing_tab', SEC_CHUNK, 'TAB after the size', chunked('5\t\r\nhello\r\n0\r\n\r\n'));
S('ch_space_before_semicolon', SEC_CHUNK, 'space before ;ext', chunked('5 ;a=b\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_semicolon_only', SEC_CHUNK, '; without a name', chunked('5;\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_name', SEC_CHUNK, ';name', chunked('5;name\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_name_value', SEC_CHUNK, ';name=value', chunked('5;name=value\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_quoted', SEC_CHUNK, ';name="quoted value"', chunked('5;name="quoted value"\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_quoted_escape', SEC_CHUNK, 'quoted value with an escaped quote', chunked('5;name="a\\"b"\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_quoted_unterminated', SEC_CHUNK, 'quote never closed', chunked('5;name="abc\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_empty_value', SEC_CHUNK, ';name=', chunked('5;name=\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_multiple', SEC_CHUNK, 'two extensions', chunked('5;a=1;b=2\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_space_after_semicolon', SEC_CHUNK, 'space after ;', chunked('5; a=1\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_spaces_around_equals', SEC_CHUNK, 'spaces around =', chunked('5;a = 1\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_trailing_space', SEC_CHUNK, 'space after the extension', chunked('5;a=1 \r\nhello\r\n0\r\n\r\n'));
S('ch_ext_nul', SEC_CHUNK, 'NUL inside an extension', chunked('5;a=b\x00\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_del', SEC_CHUNK, 'DEL inside an extension name', chunked('5;a\x7f\r\nhello\r\n0\r\n\r\n'));
S('ch_ext_on_last_chunk', SEC_CHUNK, 'extension on the last chunk', chunked('5\r\nhello\r\n0;a=b\r\n\r\n'));
S('ch_ext_name_16384', SEC_CHUNK, 'extension name of exactly 16 KiB', chunked(`5;${'a'.repeat(16384)}\r\nhello\r\n0\r\n\r\n`));
S('ch_ext_name_16385', SEC_CHUNK, 'extension name of 16 KiB + 1', chunked(`5;${'a'.repeat(16385)}\r\nhello\r\n0\r\n\r\n`));
S('ch_ext_value_16385', SEC_CHUNK, 'name + value of 16 KiB + 1', chunked(`5;a=${'b'.repeat(16384)}\r\nhello\r\n0\r\n\r\n`));
S('ch_ext_1000_small', SEC_CHUNK, '1000 extensions ;a=b (4000 bytes)', chunked(`5${';a=b'.repeat(1000)}\r\nhello\r\n0\r\n\r\n`));
S('ch_ext_5000_small', SEC_CHUNK, '5000 extensions ;a=b (20000 bytes)', chunked(`5${';a=b'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`));
S('ch_ext_10k_on_each_of_3', SEC_CHUNK, '10 KiB of extension on each of three chunks: is the budget per chunk?',
  chunked(`1;${'x'.repeat(10240)}\r\na\r\n1;${'y'.repeat(10240)}\r\nb\r\n1;${'z'.repeat(10240)}\r\nc\r\n0\r\n\r\n`));
S('ch_data_no_crlf', SEC_CHUNK, 'data followed by a byte that is not CR', chunked('5\r\nhelloX0\r\n\r\n'));
S('ch_data_bare_lf', SEC_CHUNK, 'data followed by a bare LF', chunked('5\r\nhello\n0\r\n\r\n'));
S('ch_data_bare_cr', SEC_CHUNK, 'data followed by a bare CR', chunked('5\r\nhello\r0\r\n\r\n'));
S('ch_size_bare_lf', SEC_CHUNK, 'size line ended by a bare LF', chunked('5\nhello\r\n0\r\n\r\n'));
S('ch_last_chunk_bare_lf', SEC_CHUNK, 'last-chunk line ended by a bare LF', chunked('5\r\nhello\r\n0\n\r\n'));
S('ch_final_bare_lf', SEC_CHUNK, 'final empty line is a bare LF', chunked('5\r\nhello\r\n0\r\n\n'));
S('ch_missing_final_crlf', SEC_CHUNK, 'last-chunk without the final CRLF: Node waits', chunked('5\r\nhello\r\n0\r\n'));
S('ch_last_chunk_only', SEC_CHUNK, 'empty chunked body', chunked('0\r\n\r\n'));
S('ch_negative_size', SEC_CHUNK, '-1 as a size', chunked('-1\r\nhello\r\n0\r\n\r\n'));
S('ch_size_0x_prefix', SEC_CHUNK, '0x5 as a size', chunked('0x5\r\nhello\r\n0\r\n\r\n'));
S('ch_size_plus', SEC_CHUNK, '+5 as a size', chunked('+5\r\nhello\r\n0\r\n\r\n'));
S('ch_size_empty', SEC_CHUNK, 'empty size line', chunked('\r\nhello\r\n0\r\n\r\n'));
S('ch_size_non_hex', SEC_CHUNK, 'g is not hex', chunked('g\r\nhello\r\n0\r\n\r\n'));
S('ch_data_with_crlf_inside', SEC_CHUNK, 'chunk data may contain CRLF', chunked('4\r\na\r\nb\r\n0\r\n\r\n'));
S('ch_data_incomplete', SEC_CHUNK, 'size larger than the data sent: Node waits', chunked('a\r\nhello'));
S('ch_then_pipelined_get', SEC_SMUGGLE, 'chunked body followed by a GET', chunked(CHUNKED_HELLO) + GET);
S('ch_trailer_one', SEC_CHUNK, 'one trailer field', chunked('5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n'));
S('ch_trailer_several', SEC_CHUNK, 'three trailer fields', chunked('5\r\nhello\r\n0\r\nX-A: 1\r\nX-B: 2\r\nx-a: 3\r\n\r\n'));
S('ch_trailer_content_length', SEC_CHUNK, 'Content-Length in the trailer section', chunked('5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n'));
S('ch_trailer_transfer_encoding', SEC_CHUNK, 'Transfer-Encoding in the trailer section', chunked('5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n'));
S('ch_trailer_transfer_encoding_empty', SEC_CHUNK, 'an empty Transfer-Encoding in the trailer section (names no coding: accepted)', chunked('5\r\nhello\r\n0\r\nTransfer-Encoding:   \r\n\r\n'));
S('ch_trailer_transfer_encoding_gzip', SEC_CHUNK, 'Transfer-Encoding: gzip in the trailer section', chunked('5\r\nhello\r\n0\r\nTransfer-Encoding: gzip\r\n\r\n'));
S('ch_trailer_content_length_empty', SEC_CHUNK, 'an empty Content-Length in the trailer section', chunked('5\r\nhello\r\n0\r\nContent-Length: \r\n\r\n'));
S('ch_trailer_host', SEC_CHUNK, 'Host in the trailer section', chunked('5\r\nhello\r\n0\r\nHost: evil\r\n\r\n'));
S('ch_trailer_obs_fold', SEC_CHUNK, 'obs-fold in the trailer section', chunked('5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n'));
S('ch_trailer_space_before_colon', SEC_CHUNK, 'space before the colon in a trailer', chunked('5\r\nhello\r\n0\r\nX-T : 1\r\n\r\n'));
S('ch_trailer_bare_lf', SEC_CHUNK, 'trailer line ended by a bare LF', chunked('5\r\nhello\r\n0\r\nX-T: 1\n\r\n'));
S('ch_trailer_no_colon', SEC_CHUNK, 'trailer line without a colon', chunked('5\r\nhello\r\n0\r\nX\r\n\r\n'));
S('ch_trailer_16383_counted', SEC_LIMIT, 'trailer section counting 16383 bytes (name+value)',
  chunked(`5\r\nhello\r\n0\r\nT: ${'v'.repeat(16382)}\r\n\r\n`));
S('ch_trailer_16384_counted', SEC_LIMIT, 'trailer section counting 16384 bytes (name+value)',
  chunked(`5\r\nhello\r\n0\r\nT: ${'v'.repeat(16383)}\r\n\r\n`));
S('ch_trailer_over_16k', SEC_LIMIT, 'trailer section of 20 KiB',
  chunked(`5\r\nhello\r\n0\r\nT: ${'v'.repeat(20480)}\r\n\r\n`));
S('ch_trailer_10k_head_10k', SEC_LIMIT, '10 KiB of fields plus 10 KiB of trailers',
  post(['Transfer-Encoding: chunked', `X-H: ${'h'.repeat(10240)}`], `5\r\nhello\r\n0\r\nX-T: ${'t'.repeat(10240)}\r\n\r\n`));

// --- limits
S('lim_counted_16383', SEC_LIMIT, 'target + names + values = 16383', countedHead(16383));
S('lim_counted_16384', SEC_LIMIT, 'target + names + values = 16384', countedHead(16384));
S('lim_counted_16385', SEC_LIMIT, 'target + names + values = 16385', countedHead(16385));
S('lim_raw_16384_bytes', SEC_LIMIT, 'whole head of exactly 16384 raw bytes',
  get([`X: ${'v'.repeat(16384 - GET.length - 5)}`]));
S('lim_value_17k', SEC_LIMIT, 'one 17 KiB value', get([`X-A: ${'v'.repeat(17408)}`]));
S('lim_3000_short_lines', 'S13', '3000 lines of "a: b": 18000 raw bytes, 6000 counted', get(manyFields(3000, () => 'a: b')));
S('lim_9000_short_lines', 'S13', '9000 lines of "a: b": 18000 counted bytes', get(manyFields(9000, () => 'a: b')));
S('lim_1500_distinct_fields', 'S13', '1500 distinct fields (about 15000 counted bytes)',
  get(manyFields(1500, (i) => `x-${pad(i, 4)}: ${i}`)));
S('lim_2000_distinct_fields', 'S13', '2000 distinct fields: over 16 KiB counted',
  get(manyFields(2000, (i) => `x-${pad(i, 4)}: ${i}`)));
S('lim_2000_fields', 'S13', '2000 short fields', get(manyFields(2000, (i) => `y: ${i % 10}`)));
S('lim_2500_fields', 'S13', '2500 short fields', get(manyFields(2500, (i) => `y: ${i % 10}`)));
S('lim_5000_fields', 'S13', '5000 short fields', get(manyFields(5000, (i) => `y: ${i % 10}`)));
S('lim_1023_fields', 'S13', '1022 fields plus Host = 1023 pairs', get(manyFields(1022, (i) => `z: ${i % 10}`)));
S('lim_1025_fields', 'S13', '1024 fields plus Host = 1025 pairs', get(manyFields(1024, (i) => `z: ${i % 10}`)));

// --- connection management
S('conn_http10_plain', 'S16', 'HTTP/1.0 without keep-alive closes', message('GET / HTTP/1.0'));
S('conn_http10_keepalive', 'S16', 'HTTP/1.0 with keep-alive stays open', message('GET / HTTP/1.0', ['Connection: keep-alive']));
S('conn_http10_keepalive_mixed_case', 'S16', 'Keep-Alive in mixed case', message('GET / HTTP/1.0', ['Connection: Keep-Alive']));
S('conn_http10_keepalive_pipelined', 'S14', 'two HTTP/1.0 keep-alive requests in one write',
  message('GET /1 HTTP/1.0', ['Connection: keep-alive']) + message('GET /2 HTTP/1.0', ['Connection: keep-alive']));
S('conn_http10_then_pipelined', 'S14', 'HTTP/1.0 without keep-alive then another request in the same write',
  message('GET /1 HTTP/1.0') + get([], '/2'));
S('conn_close_pipelined', 'S14', 'Connection: close then a second request in the same write',
  get(['Connection: close'], '/1') + get([], '/2'));
S('conn_close_token_list', 'connection', 'Close, foo', get(['Connection: Close, foo']));
S('conn_keepalive_then_close', 'connection', 'keep-alive, close', get(['Connection: keep-alive, close']));
S('conn_close_then_keepalive', 'connection', 'close, keep-alive', get(['Connection: close, keep-alive']));
S('conn_close_uppercase', 'connection', 'CLOSE', get(['Connection: CLOSE']));
S('conn_close_no_space', 'connection', 'Connection:close', get(['Connection:close']));
S('conn_two_fields', 'connection', 'Connection: foo then Connection: close', get(['Connection: foo', 'Connection: close']));
S('conn_xclose', 'connection', 'xclose is not close', get(['Connection: xclose']));
S('conn_close_suffix', 'connection', 'closex is not close', get(['Connection: closex']));
S('conn_close_trailing_tab', 'connection', 'close<TAB>: a TAB after the token hides it from Node, which keeps the connection', get(['Connection: close\t']) + get([], '/2'));
S('conn_close_trailing_space', 'connection', 'close<SP>: spaces after the token are fine', get(['Connection: close ']) + get([], '/2'));
S('conn_close_tab_before_comma', 'connection', 'close<TAB>, foo: the TAB hides close here too', get(['Connection: close\t, foo']) + get([], '/2'));
S('conn_foo_then_close_tab', 'connection', 'foo, close<TAB>', get(['Connection: foo, close\t']) + get([], '/2'));
S('conn_tab_then_close', 'connection', '<TAB>close: a TAB before the token is fine', get(['Connection:\tclose']) + get([], '/2'));
S('conn_http10_keepalive_trailing_tab', 'connection', 'HTTP/1.0 with keep-alive<TAB>: not keep-alive for Node',
  message('GET / HTTP/1.0', ['Connection: keep-alive\t']) + get([], '/2'));
S('conn_upgrade_trailing_tab', 'connection', 'upgrade<TAB>: not an upgrade for Node', get(['Connection: upgrade\t', 'Upgrade: foo']) + get([], '/2'));
S('conn_proxy_connection_close', 'node-quirk: Proxy-Connection', 'Proxy-Connection: close', get(['Proxy-Connection: close']));
S('conn_proxy_connection_keepalive_http10', 'node-quirk: Proxy-Connection', 'HTTP/1.0 with Proxy-Connection: keep-alive',
  message('GET / HTTP/1.0', ['Proxy-Connection: keep-alive']));
S('conn_pipelined_3_gets', 'S14', 'three GETs in one write', get([], '/1') + get([], '/2') + get([], '/3'));
S('conn_pipelined_posts', 'S14', 'two POSTs with bodies in one write', withCL('5', 'hello') + withCL('3', 'abc'));
S('conn_post_then_garbage', 'S14', 'a POST whose body is followed by a garbage line', withCL('5', 'hello') + 'GARBAGE\r\n\r\n');
S('conn_head_request', 'S16', 'HEAD request', reqLine('HEAD / HTTP/1.1'));
S('conn_head_then_get', 'S14', 'HEAD then GET in one write', reqLine('HEAD /1 HTTP/1.1') + get([], '/2'));
S('conn_chunked_then_get', 'S14', 'chunked POST then GET', chunked('3\r\nabc\r\n0\r\n\r\n') + get([], '/2'));
S('conn_50_pipelined', 'S14', '50 GETs in one write', manyFields(50, (i) => get([], `/${i}`)).join(''));

// --- Expect
S('exp_continue', 'S5', '100-continue with the body already sent', post(['Content-Length: 5', 'Expect: 100-continue'], 'hello'));
S('exp_continue_no_body_yet', 'S5', '100-continue, body not sent', post(['Content-Length: 5', 'Expect: 100-continue']));
S('exp_continue_uppercase', 'S5', '100-CONTINUE', post(['Content-Length: 5', 'Expect: 100-CONTINUE'], 'hello'));
S('exp_continue_mixed_case', 'S5', '100-Continue', post(['Content-Length: 5', 'Expect: 100-Continue'], 'hello'));
S('exp_continue_list_first', 'S5', '100-continue first in a list', post(['Content-Length: 5', 'Expect: 100-continue, x-y'], 'hello'));
S('exp_continue_list_second', 'S6', '100-continue second in a list', post(['Content-Length: 5', 'Expect: x-y, 100-continue'], 'hello'));
S('exp_continue_suffix', 'S6', '100-continuex', post(['Content-Length: 5', 'Expect: 100-continuex'], 'hello'));
S('exp_continue_http10', 'S5', 'HTTP/1.0 with 100-continue', message('POST / HTTP/1.0', ['Content-Length: 5', 'Expect: 100-continue'], 'hello'));
S('exp_continue_on_get', 'S5', '100-continue on a GET', get(['Expect: 100-continue']));
S('exp_foo', 'S6', 'unknown expectation: 417', post(['Content-Length: 5', 'Expect: foo'], 'hello'));
S('exp_empty', 'S6', 'empty Expect', get(['Expect:']));
S('exp_foo_then_get', 'S6', '417 then the next request is served', post(['Content-Length: 5', 'Expect: foo'], 'hello') + get([], '/2'));
S('exp_foo_http10', 'S6', 'unknown expectation on HTTP/1.0', message('GET / HTTP/1.0', ['Expect: foo']));
S('exp_two_fields', 'S6', 'Expect: foo then Expect: 100-continue', get(['Expect: foo', 'Expect: 100-continue']));

// --- Host
S('host_missing_http11', 'S11', 'HTTP/1.1 without Host', reqLine('GET / HTTP/1.1', []));
S('host_missing_http10', 'S11', 'HTTP/1.0 without Host', reqLine('GET / HTTP/1.0', []));
S('host_empty', 'S11', 'empty Host', reqLine('GET / HTTP/1.1', ['Host:']));
S('host_duplicate_equal', 'S11', 'two equal Host lines', reqLine('GET / HTTP/1.1', ['Host: h', 'Host: h']));
S('host_duplicate_different', 'S11', 'two different Host lines', reqLine('GET / HTTP/1.1', ['Host: a', 'Host: b']));
S('host_invalid', 'S11', 'Host value with a space and a slash', reqLine('GET / HTTP/1.1', ['Host: a b/c']));
S('host_absolute_form_no_host', 'S11', 'absolute-form target without Host', reqLine('GET http://h/ HTTP/1.1', []));
S('host_lowercase_name', 'S11', 'host in lowercase', reqLine('GET / HTTP/1.1', ['host: h']));
S('host_userinfo', 'S11', 'Host with userinfo', reqLine('GET / HTTP/1.1', ['Host: u@h']));
S('host_with_port', 'S11', 'Host with a port', reqLine('GET / HTTP/1.1', ['Host: h:8080']));

// --- Upgrade (no upgrade listener installed)
S('upg_websocket', 'S9', 'websocket upgrade without a listener is an ordinary request',
  get(['Connection: Upgrade', 'Upgrade: websocket']));
S('upg_websocket_pipelined', 'S9', 'upgrade request followed by a GET in the same write',
  get(['Connection: Upgrade', 'Upgrade: websocket'], '/1') + get([], '/2'));
S('upg_upgrade_only', 'S9', 'Upgrade without Connection: upgrade', get(['Upgrade: websocket']));
S('upg_connection_only', 'S9', 'Connection: upgrade without Upgrade', get(['Connection: upgrade']));
S('upg_h2c', 'S9', 'h2c upgrade', get(['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA']));
S('upg_with_body', 'S9', 'upgrade request with a Content-Length body', post(['Connection: upgrade', 'Upgrade: x', 'Content-Length: 5'], 'hello'));
S('upg_http10', 'S9', 'upgrade on HTTP/1.0', message('GET / HTTP/1.0', ['Connection: upgrade', 'Upgrade: websocket']));

// --- miscellany
S('misc_tls_client_hello', 'robustness', 'start of a TLS ClientHello', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03');
S('misc_only_crlf', 'robustness', 'just an empty line: Node waits', '\r\n');
S('misc_partial_request_line', 'robustness', 'an unfinished request line: Node waits', 'GET / HTT');
S('misc_binary_garbage', 'robustness', 'NUL bytes', '\x00\x00\x00\x00\r\n\r\n');
S('misc_head_unfinished', 'robustness', 'request line and no end of head: Node waits', 'GET / HTTP/1.1\r\n');

// --- found by scripts/differential.js (mutated inputs compared with Node)
S('diff_closed_then_crlf_http11', 'differential', 'a blank line after a Connection: close request is ignored', "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n\r\n");
S('diff_closed_then_crlf_http10_post', 'differential', 'the extra CRLF after an HTTP/1.0 POST body is ignored', "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello\r\n");
S('diff_te_chunked_comma_then_chunked', 'differential', 'chunked, on one line and chunked on the next: chunked twice', "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
S('diff_te_gzip_tab_then_chunked', 'differential', 'a TAB after gzip, then chunked on another line', "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
S('diff_space_then_no_version', 'differential', 'a space after the target and no version', "GET / \r\n\r\n");
S('diff_http20_not_persistent', 'differential', 'HTTP/2.0 request line: persistent only with keep-alive', "GET / HTTP/2.0\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
S('diff_http09_keep_alive', 'differential', 'HTTP/0.9 request line with Connection: keep-alive', "GET /\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
S('diff_absolute_form_quote_in_host', 'differential', 'a quote in the host of an absolute-form target', "GET http://h\" HTTP/1.1\r\nHost: h\r\n\r\n");
S('diff_absolute_form_scheme_digit', 'differential', '- and + and . in the scheme of an absolute-form target', "GET h-t.t+p://h/ HTTP/1.1\r\nHost: h\r\n\r\n");
S('diff_header_size_trailing_space', 'differential', 'a space after a value counts towards the header limit', get([`X: ${'v'.repeat(16376)} `]));
S('diff_connect_hash_in_authority', 'differential', 'a # in a CONNECT authority', "CONNECT h:44# HTTP/1.1\r\nHost: h\r\n\r\n");

// ---------------------------------------------------------------------------
// Client cases: [name, rule, why, response, options]
// options: { request: {method, headers: [[k, v]], body}, keep_open: bool }

const clientCases = [];
function C(name, rule, why, response, options = {}) {
  clientCases.push({ name, rule, why, input: response, ...options });
}
function resp(statusLine, fields = [], body = '') {
  return message(statusLine, fields, body);
}
const OK_HI = resp('HTTP/1.1 200 OK', ['Content-Length: 2'], 'hi');
const CH_HI = '2\r\nhi\r\n0\r\n\r\n';
function chResp(body, extra = []) {
  return resp('HTTP/1.1 200 OK', ['Transfer-Encoding: chunked', ...extra], body);
}
const HEAD_REQ = { request: { method: 'HEAD' } };
const SEC_RESP = 'security-record: response framing';

// --- status line
C('st_ok', 'status line', 'plain 200 OK', OK_HI);
C('st_no_reason', 'status line', 'code followed by a space and no reason', resp('HTTP/1.1 200 ', ['Content-Length: 2'], 'hi'));
C('st_no_space_no_reason', 'status line', 'code directly followed by CRLF', resp('HTTP/1.1 200', ['Content-Length: 2'], 'hi'));
C('st_code_099', 'node-quirk: status code', 'status 099', resp('HTTP/1.1 099 X', ['Content-Length: 2'], 'hi'));
C('st_code_999', 'node-quirk: status code', 'status 999', resp('HTTP/1.1 999 X', ['Content-Length: 2'], 'hi'));
C('st_code_000', 'node-quirk: status code', 'status 000', resp('HTTP/1.1 000 X', ['Content-Length: 2'], 'hi'));
C('st_code_600', 'status code', 'status 600', resp('HTTP/1.1 600 X', ['Content-Length: 2'], 'hi'));
C('st_code_2_digits', 'status code', 'two-digit code', resp('HTTP/1.1 20 OK', ['Content-Length: 2'], 'hi'));
C('st_code_4_digits', 'status code', 'four-digit code', resp('HTTP/1.1 2000 OK', ['Content-Length: 2'], 'hi'));
C('st_code_letters', 'status code', 'letters in the code', resp('HTTP/1.1 2x0 OK', ['Content-Length: 2'], 'hi'));
C('st_http10', 'status line', 'HTTP/1.0 status line', resp('HTTP/1.0 200 OK', ['Content-Length: 2'], 'hi'));
C('st_http20', 'node-quirk: status line', 'HTTP/2.0 status line', resp('HTTP/2.0 200 OK', ['Content-Length: 2'], 'hi'));
C('st_http12', 'status line', 'HTTP/1.2 status line', resp('HTTP/1.2 200 OK', ['Content-Length: 2'], 'hi'));
C('st_http09', 'status line', 'HTTP/0.9 status line', resp('HTTP/0.9 200 OK', ['Content-Length: 2'], 'hi'));
C('st_http_lowercase', 'status line', 'http/1.1 in lowercase', resp('http/1.1 200 OK', ['Content-Length: 2'], 'hi'));
C('st_icy', 'status line', 'ICY 200 OK (SHOUTcast)', resp('ICY 200 OK', ['Content-Length: 2'], 'hi'));
C('st_double_space_before_code', 'status line', 'two spaces before the code', resp('HTTP/1.1  200 OK', ['Content-Length: 2'], 'hi'));
C('st_double_space_before_reason', 'status line', 'two spaces before the reason', resp('HTTP/1.1 200  OK', ['Content-Length: 2'], 'hi'));
C('st_reason_nul', 'node-quirk: reason phrase', 'NUL in the reason', resp('HTTP/1.1 200 O\x00K', ['Content-Length: 2'], 'hi'));
C('st_reason_high_bytes', 'status line', 'obs-text in the reason', resp('HTTP/1.1 200 \xc3\xa9\xff', ['Content-Length: 2'], 'hi'));
C('st_reason_tab', 'status line', 'TAB in the reason', resp('HTTP/1.1 200 O\tK', ['Content-Length: 2'], 'hi'));
C('st_reason_bare_cr', 'status line', 'CR inside the reason', resp('HTTP/1.1 200 O\rK', ['Content-Length: 2'], 'hi'));
C('st_empty_line_before', 'status line', 'an empty line before the status line', '\r\n' + OK_HI);
C('st_bare_lf_before', 'status line', 'a bare LF before the status line', '\n' + OK_HI);
C('st_bare_lf_end', 'status line', 'status line ended by a bare LF', 'HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nhi');
C('st_tab_separator', 'status line', 'TAB between version and code', resp('HTTP/1.1\t200 OK', ['Content-Length: 2'], 'hi'));
C('st_garbage', 'status line', 'not HTTP at all', 'hello world\r\n\r\n');

// --- framing
C('fr_content_length', 'framing', 'Content-Length body', OK_HI);
C('fr_content_length_zero', 'framing', 'Content-Length: 0', resp('HTTP/1.1 200 OK', ['Content-Length: 0']));
C('fr_chunked', 'framing', 'chunked body', chResp(CH_HI));
C('fr_chunked_multi', 'framing', 'several chunks', chResp('1\r\na\r\n2\r\nbc\r\n0\r\n\r\n'));
C('fr_close_delimited', 'framing', 'no framing: body runs until close', resp('HTTP/1.1 200 OK', [], 'hello'));
C('fr_close_delimited_http10', 'framing', 'HTTP/1.0 close-delimited body', resp('HTTP/1.0 200 OK', [], 'hello'));
C('fr_close_delimited_keep_open', 'framing', 'close-delimited body, peer never closes', resp('HTTP/1.1 200 OK', [], 'hello'), { keep_open: true });
C('fr_cl_keep_open', 'framing', 'CL body, peer keeps the connection open', OK_HI, { keep_open: true });
C('fr_chunked_keep_open', 'framing', 'chunked body, peer keeps the connection open', chResp(CH_HI), { keep_open: true });
C('fr_cl_and_te', SEC_RESP, 'CL and TE chunked together', resp('HTTP/1.1 200 OK', ['Content-Length: 2', 'Transfer-Encoding: chunked'], CH_HI));
C('fr_te_then_cl', SEC_RESP, 'TE chunked before CL', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: chunked', 'Content-Length: 2'], CH_HI));
C('fr_te_gzip_alone', SEC_RESP, 'TE gzip alone: read until close', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: gzip'], 'hello'));
C('fr_te_chunked_gzip', SEC_RESP, 'TE chunked, gzip: read until close', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: chunked, gzip'], CH_HI));
C('fr_te_chunked_chunked', SEC_RESP, 'TE chunked, chunked', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: chunked, chunked'], CH_HI));
C('fr_te_two_lines_chunked', SEC_RESP, 'TE chunked on two lines', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], CH_HI));
C('fr_te_gzip_chunked', SEC_RESP, 'TE gzip, chunked', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: gzip, chunked'], CH_HI));
C('fr_te_empty', SEC_RESP, 'empty TE value', resp('HTTP/1.1 200 OK', ['Transfer-Encoding:', 'Content-Length: 2'], 'hi'));
C('fr_te_identity', SEC_RESP, 'TE identity with CL', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: identity', 'Content-Length: 2'], 'hi'));
C('fr_te_xchunked', SEC_RESP, 'TE xchunked', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: xchunked'], CH_HI));
C('fr_te_uppercase', SEC_RESP, 'TE CHUNKED', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: CHUNKED'], CH_HI));
C('fr_head_with_cl', 'S16', 'HEAD response with CL and no body', resp('HTTP/1.1 200 OK', ['Content-Length: 5']), HEAD_REQ);
C('fr_head_with_chunked', 'S16', 'HEAD response with TE chunked and no body', resp('HTTP/1.1 200 OK', ['Transfer-Encoding: chunked']), HEAD_REQ);
C('fr_head_with_cl_body_bytes', 'S16', 'HEAD response followed by stray body bytes', resp('HTTP/1.1 200 OK', ['Content-Length: 5'], 'hello'), HEAD_REQ);
C('fr_204_with_body_bytes', 'S16', '204 with CL and body bytes', resp('HTTP/1.1 204 No Content', ['Content-Length: 5'], 'hello'));
C('fr_204_no_framing_extra_bytes', 'S16', '204 without framing, then stray bytes', resp('HTTP/1.1 204 No Content', [], 'hello'));
C('fr_204_chunked', 'S16', '204 with TE chunked', resp('HTTP/1.1 204 No Content', ['Transfer-Encoding: chunked']));
C('fr_304_with_cl', 'S16', '304 with CL and no body', resp('HTTP/1.1 304 Not Modified', ['Content-Length: 5']));
C('fr_304_with_body_bytes', 'S16', '304 followed by stray bytes', resp('HTTP/1.1 304 Not Modified', ['Content-Length: 5'], 'hello'));
C('fr_truncated_cl', 'C4', 'CL body cut short by close', resp('HTTP/1.1 200 OK', ['Content-Length: 10'], 'hello'));
C('fr_truncated_in_head', 'C4', 'close in the middle of the head', 'HTTP/1.1 200 OK\r\nContent-Len');
C('fr_truncated_after_status', 'C4', 'close right after the status line', 'HTTP/1.1 200 OK\r\n');
C('fr_truncated_chunk_size', 'C4', 'chunked: close inside the size line', chResp('5'));
C('fr_truncated_after_size', 'C4', 'chunked: close after the size line', chResp('5\r\n'));
C('fr_truncated_mid_data', 'C4', 'chunked: close inside chunk data', chResp('5\r\nhel'));
C('fr_truncated_after_data', 'C4', 'chunked: close after data, before CRLF', chResp('5\r\nhello'));
C('fr_truncated_after_data_cr', 'C4', 'chunked: close after data and CR', chResp('5\r\nhello\r'));
C('fr_truncated_before_last', 'C4', 'chunked: close before the last-chunk', chResp('5\r\nhello\r\n'));
C('fr_truncated_after_last', 'C4', 'chunked: close after 0 CRLF', chResp('5\r\nhello\r\n0\r\n'));
C('fr_truncated_in_trailers', 'C4', 'chunked: close inside the trailer section', chResp('5\r\nhello\r\n0\r\nX-T: 1\r\n'));
C('fr_nothing', 'C4', 'peer closes without answering', '');
C('fr_bytes_after_complete', 'framing', 'a second response in the same packet', OK_HI + OK_HI);
C('fr_garbage_after_complete', 'framing', 'garbage after a complete response in the same packet', OK_HI + 'XYZ');
C('fr_crlf_after_complete', 'framing', 'an extra CRLF after a complete response', OK_HI + '\r\n');
C('fr_cl_leading_zeros', SEC_RESP, 'CL with leading zeros', resp('HTTP/1.1 200 OK', ['Content-Length: 002'], 'hi'));
C('fr_cl_plus', SEC_RESP, 'CL +2', resp('HTTP/1.1 200 OK', ['Content-Length: +2'], 'hi'));
C('fr_cl_duplicate_equal', SEC_RESP, 'two equal CL lines', resp('HTTP/1.1 200 OK', ['Content-Length: 2', 'Content-Length: 2'], 'hi'));
C('fr_cl_duplicate_different', SEC_RESP, 'two different CL lines', resp('HTTP/1.1 200 OK', ['Content-Length: 2', 'Content-Length: 3'], 'hi!'));
C('fr_cl_list_equal', SEC_RESP, 'CL 2, 2', resp('HTTP/1.1 200 OK', ['Content-Length: 2, 2'], 'hi'));
C('fr_cl_invalid', SEC_RESP, 'non-numeric CL', resp('HTTP/1.1 200 OK', ['Content-Length: abc'], 'hi'));
C('fr_cl_overflow', SEC_RESP, 'CL of 2^64', resp('HTTP/1.1 200 OK', ['Content-Length: 18446744073709551616'], 'hi'));
C('fr_cl_trailing_tab', SEC_RESP, 'CL followed by a TAB', resp('HTTP/1.1 200 OK', ['Content-Length: 2\t'], 'hi'));
C('fr_chunk_17_digits', SEC_RESP, 'chunk size of 17 hex digits', chResp('10000000000000000\r\nhi\r\n0\r\n\r\n'));
C('fr_chunk_ext', SEC_RESP, 'chunk extensions are accepted', chResp('2;a=b;c="d e"\r\nhi\r\n0\r\n\r\n'));
C('fr_chunk_ext_overflow', SEC_RESP, 'chunk extension over 16 KiB', chResp(`2;${'a'.repeat(16385)}\r\nhi\r\n0\r\n\r\n`));
C('fr_chunk_data_no_crlf', SEC_RESP, 'chunk data not followed by CRLF', chResp('2\r\nhiX0\r\n\r\n'));
C('fr_chunk_bare_lf', SEC_RESP, 'chunk data followed by a bare LF', chResp('2\r\nhi\n0\r\n\r\n'));
C('fr_chunk_size_space', SEC_RESP, 'space after the chunk size', chResp('2 \r\nhi\r\n0\r\n\r\n'));

// --- 1xx
C('in_100_then_200', 'C5', '100 Continue then 200', 'HTTP/1.1 100 Continue\r\n\r\n' + OK_HI);
C('in_102_then_200', 'C5', '102 Processing then 200', 'HTTP/1.1 102 Processing\r\n\r\n' + OK_HI);
C('in_103_with_fields', 'C5', '103 Early Hints with Link fields then 200',
  resp('HTTP/1.1 103 Early Hints', ['Link: </a.css>; rel=preload', 'Link: </b.js>; rel=preload']) + OK_HI);
C('in_several', 'C5', '100, 102, 103 then 200', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n' + OK_HI);
C('in_199', 'C5', 'status 199 then 200', 'HTTP/1.1 199 Whatever\r\n\r\n' + OK_HI);
C('in_1xx_with_cl', 'C5', '103 carrying Content-Length (ignored for 1xx?)', resp('HTTP/1.1 103 Early Hints', ['Content-Length: 5']) + OK_HI);
C('in_101_unexpected', 'C6', '101 without an upgrade listener', resp('HTTP/1.1 101 Switching Protocols', ['Connection: upgrade', 'Upgrade: websocket']));
C('in_101_with_bytes', 'C6', '101 followed by tunnel bytes', resp('HTTP/1.1 101 Switching Protocols', ['Connection: upgrade', 'Upgrade: websocket'], 'tunnel'));
C('in_100_then_close', 'C5', '100 then close without a final response', 'HTTP/1.1 100 Continue\r\n\r\n');
C('in_100_for_expect_post', 'C5', 'POST with Expect: 100-continue, 100 then 201',
  'HTTP/1.1 100 Continue\r\n\r\n' + resp('HTTP/1.1 201 Created', ['Content-Length: 0']),
  { request: { method: 'POST', headers: [['Expect', '100-continue'], ['Content-Length', '5']], body: 'hello' } });

// --- response fields
C('hd_obs_fold', SEC_HEAD, 'obs-fold in a response field', resp('HTTP/1.1 200 OK', ['X-A: b', ' c', 'Content-Length: 2'], 'hi'));
C('hd_space_before_colon', SEC_HEAD, 'space before the colon', resp('HTTP/1.1 200 OK', ['X-A : b', 'Content-Length: 2'], 'hi'));
C('hd_bare_lf_field', SEC_HEAD, 'a field line ended by a bare LF', 'HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 2\r\n\r\nhi');
C('hd_bare_lf_all', SEC_HEAD, 'all line ends bare LF', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nhi');
C('hd_bare_cr_in_value', SEC_HEAD, 'CR inside a value', resp('HTTP/1.1 200 OK', ['X-A: b\rc', 'Content-Length: 2'], 'hi'));
C('hd_nul_in_value', SEC_HEAD, 'NUL inside a value', resp('HTTP/1.1 200 OK', ['X-A: b\x00c', 'Content-Length: 2'], 'hi'));
C('hd_utf8_value', 'head syntax', 'UTF-8 in a value', resp('HTTP/1.1 200 OK', ['X-A: caf\xc3\xa9', 'Content-Length: 2'], 'hi'));
C('hd_empty_name', SEC_HEAD, 'empty field name', resp('HTTP/1.1 200 OK', [': x', 'Content-Length: 2'], 'hi'));
C('hd_name_space', SEC_HEAD, 'space inside a name', resp('HTTP/1.1 200 OK', ['a b: c', 'Content-Length: 2'], 'hi'));
C('hd_ws_before_first_field', SEC_HEAD, 'whitespace before the first field line', resp('HTTP/1.1 200 OK', [' X-A: b', 'Content-Length: 2'], 'hi'));
C('hd_set_cookie_twice', 'S17', 'two Set-Cookie lines stay two raw pairs', resp('HTTP/1.1 200 OK', ['Set-Cookie: a=1', 'Set-Cookie: b=2', 'Content-Length: 2'], 'hi'));
C('hd_over_16k', SEC_LIMIT, 'a 17 KiB response field', resp('HTTP/1.1 200 OK', [`X-A: ${'v'.repeat(17408)}`, 'Content-Length: 2'], 'hi'));
C('hd_2500_fields', 'C8', '2500 response fields: raw pairs delivered', resp('HTTP/1.1 200 OK', [...manyFields(2500, (i) => `x: ${i % 10}`), 'Content-Length: 2'], 'hi'));

// --- trailers
C('tr_one', 'trailers', 'one trailer field', chResp('2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n'));
C('tr_several', 'trailers', 'three trailer fields', chResp('2\r\nhi\r\n0\r\nX-A: 1\r\nX-B: 2\r\nx-a: 3\r\n\r\n'));
C('tr_content_length', SEC_CHUNK, 'Content-Length in the trailer section', chResp('2\r\nhi\r\n0\r\nContent-Length: 2\r\n\r\n'));
C('tr_transfer_encoding', SEC_CHUNK, 'Transfer-Encoding in the trailer section', chResp('2\r\nhi\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n'));
C('tr_obs_fold', SEC_CHUNK, 'obs-fold in the trailer section', chResp('2\r\nhi\r\n0\r\nX-T: 1\r\n 2\r\n\r\n'));
C('tr_host', 'trailers', 'Host in the trailer section', chResp('2\r\nhi\r\n0\r\nHost: evil\r\n\r\n'));
C('tr_no_colon', SEC_CHUNK, 'trailer line without a colon', chResp('2\r\nhi\r\n0\r\nX\r\n\r\n'));

// --- found by scripts/differential.js (mutated inputs compared with Node)
C('diff_bodiless_204_cl_te', 'differential', '204 with Content-Length and Transfer-Encoding', "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
C('diff_bodiless_head_cl_te', 'differential', 'HEAD response with Content-Length and Transfer-Encoding', "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", HEAD_REQ);
C('diff_bodiless_103_cl_te', 'differential', '103 with Content-Length and Transfer-Encoding', "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
C('diff_response_te_chunked_tab', 'differential', 'a TAB after chunked on a response', "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\nhello");

// ---------------------------------------------------------------------------
// Parser instrumentation

const kTrace = Symbol('pier.vectors.trace');
const kInstrumented = Symbol('pier.vectors.instrumented');

function traceOf(parser) {
  return (parser && parser.socket && parser.socket[kTrace]) || null;
}

function pairs(flat) {
  const out = [];
  if (!flat) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

// Parsers come from a process-wide free list and are reused, so each parser
// object is wrapped once; the wrappers find the current trace via
// parser.socket.
function instrument(parser) {
  if (!parser || parser[kInstrumented]) return;
  parser[kInstrumented] = true;
  const P = parser.constructor;
  const onHeaders = parser[P.kOnHeaders];
  const onHeadersComplete = parser[P.kOnHeadersComplete];
  const onBody = parser[P.kOnBody];
  const onMessageComplete = parser[P.kOnMessageComplete];

  parser[P.kOnHeaders] = function (headers, url) {
    const t = traceOf(this);
    if (t && headers) t.pendingFields += headers.length / 2;
    return onHeaders.apply(this, arguments);
  };
  parser[P.kOnHeadersComplete] = function (versionMajor, versionMinor, headers, method, url,
    statusCode, statusMessage, upgrade, shouldKeepAlive) {
    const t = traceOf(this);
    let entry = null;
    if (t) {
      entry = {
        http_version: `${versionMajor}.${versionMinor}`,
        upgrade: !!upgrade,
        keep_alive: !!shouldKeepAlive,
        fields_seen: t.pendingFields + (headers ? headers.length / 2 : 0),
        body: [],
        complete: false,
        trailer_fields_seen: 0,
        raw_trailers: [],
        delivered: false,
      };
      t.pendingFields = 0;
      t.messages.push(entry);
      t.current = entry;
    }
    const ret = onHeadersComplete.apply(this, arguments);
    if (entry && this.incoming) {
      const inc = this.incoming;
      if (t.kind === 'server') {
        entry.method = inc.method;
        entry.url = inc.url;
      } else {
        entry.status = inc.statusCode;
        entry.status_message = inc.statusMessage;
      }
      entry.raw_headers = pairs(inc.rawHeaders);
    }
    return ret;
  };
  parser[P.kOnBody] = function (chunk) {
    const t = traceOf(this);
    if (t && t.current && chunk) t.current.body.push(Buffer.from(chunk));
    return onBody.apply(this, arguments);
  };
  parser[P.kOnMessageComplete] = function () {
    const t = traceOf(this);
    const entry = t && t.current;
    const inc = this.incoming;
    const trailerFields = t ? t.pendingFields : 0;
    if (t) t.pendingFields = 0;
    const ret = onMessageComplete.apply(this, arguments);
    if (entry) {
      entry.complete = true;
      entry.trailer_fields_seen = trailerFields;
      entry.raw_trailers = inc ? pairs(inc.rawTrailers) : [];
    }
    return ret;
  };
}

function newTrace(kind) {
  return { kind, messages: [], current: null, pendingFields: 0 };
}

function messageRecord(entry, kind) {
  const rec = {};
  if (kind === 'server') {
    rec.method = entry.method ?? null;
    rec.url = entry.url ?? null;
  } else {
    rec.status = entry.status ?? null;
    rec.status_message = entry.status_message ?? null;
  }
  rec.http_version = entry.http_version;
  rec.raw_headers = entry.raw_headers || [];
  rec.fields_seen = entry.fields_seen;
  rec.body_base64 = Buffer.concat(entry.body).toString('base64');
  rec.raw_trailers = entry.raw_trailers;
  rec.trailer_fields_seen = entry.trailer_fields_seen;
  rec.complete = entry.complete;
  rec.keep_alive = entry.keep_alive;
  rec.upgrade = entry.upgrade;
  if (kind === 'server') rec.delivered = entry.delivered;
  return rec;
}

function errorRecord(err) {
  if (!err) return null;
  return {
    code: err.code ?? null,
    bytes_parsed: typeof err.bytesParsed === 'number' ? err.bytesParsed : null,
    raw_packet_length: Buffer.isBuffer(err.rawPacket) ? err.rawPacket.length : null,
    message: String(err.message),
  };
}

// ---------------------------------------------------------------------------
// Server recorder

// What Node's default clientError handling writes (S8).
const DEFAULT_ERROR_RESPONSE = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

function extractStatuses(bytes) {
  const text = bytes.toString('latin1');
  const out = [];
  const re = /(?:^|\n)HTTP\/\d\.\d (\d{3})/g;
  let m;
  while ((m = re.exec(text)) !== null) out.push(Number(m[1]));
  return out;
}

function runServerCase(c) {
  return new Promise((resolve) => {
    const trace = newTrace('server');
    const clientErrors = [];
    const server = http.createServer();

    server.on('connection', (socket) => {
      socket[kTrace] = trace;
      instrument(socket.parser);
    });
    server.on('request', (req, res) => {
      // 'request' is emitted synchronously from inside kOnHeadersComplete.
      if (trace.current) trace.current.delivered = true;
      // An explicit Content-Length keeps HTTP/1.0 keep-alive connections open
      // (without it Node answers HTTP/1.0 close-delimited).
      req.on('end', () => {
        res.writeHead(200, { 'Content-Length': '3' });
        res.end('ok\n');
      });
      req.resume();
    });
    server.on('clientError', (err, socket) => {
      clientErrors.push(errorRecord(err));
      if (socket.writable && (!socket._httpMessage || !socket._httpMessage._headerSent)) {
        socket.write(DEFAULT_ERROR_RESPONSE[err.code] || BAD_REQUEST);
      }
      socket.destroy(err);
    });

    server.listen(0, '127.0.0.1', () => {
      const received = [];
      let closed = false;
      let reset = false;
      let done = false;
      let timer = null;
      const sock = net.connect(server.address().port, '127.0.0.1');

      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        server.closeAllConnections();
        server.close();
        const bytes = Buffer.concat(received);
        resolve({
          requests: trace.messages.map((e) => messageRecord(e, 'server')),
          client_error: clientErrors[0] || null,
          statuses: extractStatuses(bytes),
          closed,
          reset,
        });
      };
      const arm = (ms) => {
        clearTimeout(timer);
        timer = setTimeout(finish, ms);
      };
      const onClosed = () => {
        if (done) return;
        closed = true;
        arm(SETTLE_MS);
      };

      sock.on('connect', () => {
        sock.write(Buffer.from(c.input, 'latin1'));
        arm(SILENCE_MS);
      });
      sock.on('data', (d) => {
        received.push(d);
        if (!closed) arm(SILENCE_MS);
      });
      sock.on('end', onClosed);
      sock.on('error', (e) => {
        if (e.code === 'ECONNRESET') reset = true;
        onClosed();
      });
      sock.on('close', onClosed);
    });
  });
}

// ---------------------------------------------------------------------------
// Client recorder

function requestComplete(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const headText = buf.subarray(0, end).toString('latin1');
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
  const bodyLen = m ? Number(m[1]) : 0;
  return buf.length >= end + 4 + bodyLen;
}

function runClientCase(c) {
  return new Promise((resolve) => {
    const peers = new Set();
    const mock = net.createServer((peer) => {
      peers.add(peer);
      let buf = Buffer.alloc(0);
      let answered = false;
      peer.on('error', () => {});
      peer.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (answered || !requestComplete(buf)) return;
        answered = true;
        if (c.input.length) peer.write(Buffer.from(c.input, 'latin1'));
        if (!c.keep_open) peer.end();
      });
    });

    mock.listen(0, '127.0.0.1', () => {
      const trace = newTrace('client');
      const events = [];
      const responses = [];
      let final = null;
      let reqError = null;
      let settled = false;
      let done = false;
      let timer = null;
      const spec = c.request || {};
      const method = spec.method || 'GET';

      const req = http.request({
        host: '127.0.0.1',
        port: mock.address().port,
        method,
        path: '/',
        agent: false,
        headers: spec.headers ? Object.fromEntries(spec.headers) : undefined,
      });

      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.destroy();
        for (const p of peers) p.destroy();
        mock.close();
        if (final) {
          final.record.body_base64 = Buffer.concat(final.body).toString('base64');
          final.record.complete = final.res.complete;
          final.record.raw_trailers = pairs(final.res.rawTrailers);
        }
        resolve({
          responses,
          error: reqError,
          events,
          settled,
          messages: trace.messages.map((e) => messageRecord(e, 'client')),
        });
      };
      const arm = (ms) => {
        clearTimeout(timer);
        timer = setTimeout(finish, ms);
      };

      req.on('socket', (socket) => {
        events.push('req.socket');
        socket[kTrace] = trace;
        instrument(socket.parser);
      });
      req.on('continue', () => {
        events.push('req.continue');
        responses.push({ kind: 'continue' });
      });
      req.on('information', (info) => {
        events.push('req.information');
        responses.push({
          kind: 'information',
          status: info.statusCode,
          status_message: info.statusMessage,
          http_version: info.httpVersion,
          raw_headers: pairs(info.rawHeaders),
        });
      });
      req.on('response', (res) => {
        events.push('req.response');
        const record = {
          kind: 'final',
          status: res.statusCode,
          status_message: res.statusMessage,
          http_version: res.httpVersion,
          raw_headers: pairs(res.rawHeaders),
          body_base64: '',
          raw_trailers: [],
          complete: false,
          aborted: false,
          error: null,
        };
        responses.push(record);
        final = { res, record, body: [] };
        res.on('data', (d) => final.body.push(d));
        res.on('end', () => events.push('res.end'));
        res.on('aborted', () => {
          events.push('res.aborted');
          record.aborted = true;
        });
        res.on('error', (e) => {
          events.push('res.error');
          record.error = { code: e.code ?? null, message: String(e.message) };
        });
        res.on('close', () => events.push('res.close'));
      });
      req.on('error', (e) => {
        events.push('req.error');
        if (!reqError) reqError = errorRecord(e);
      });
      req.on('close', () => {
        events.push('req.close');
        settled = true;
        arm(SETTLE_MS);
      });

      arm(CLIENT_LIMIT_MS);
      req.end(spec.body !== undefined ? Buffer.from(spec.body, 'latin1') : undefined);
    });
  });
}

// ---------------------------------------------------------------------------
// Driver

async function runAll(cases, runner, concurrency = CONCURRENCY) {
  const results = new Array(cases.length);
  let next = 0;
  async function worker() {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runner(cases[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, cases.length) }, worker));
  return results;
}

function checkNames(cases) {
  const seen = new Set();
  for (const c of cases) {
    if (!/^[a-z0-9_]+$/.test(c.name)) throw new Error(`bad case name: ${c.name}`);
    if (seen.has(c.name)) throw new Error(`duplicate case name: ${c.name}`);
    seen.add(c.name);
    // The smuggling recorder's cases hold `parts` or no bytes, not `input`.
    if (c.input === undefined) continue;
    for (let i = 0; i < c.input.length; i++) {
      if (c.input.charCodeAt(i) > 0xff) throw new Error(`${c.name}: input is not latin1`);
    }
  }
}

function serverCaseJson(c, outcome) {
  return { name: c.name, rule: c.rule, why: c.why, input_latin1: c.input, ...outcome };
}

function clientCaseJson(c, outcome) {
  const spec = c.request || {};
  return {
    name: c.name,
    rule: c.rule,
    why: c.why,
    request: {
      method: spec.method || 'GET',
      headers: spec.headers || [],
      body_latin1: spec.body ?? null,
    },
    keep_open: !!c.keep_open,
    input_latin1: c.input,
    ...outcome,
  };
}

function writeVectors(file, cases, dir = OUT_DIR) {
  // One case per line keeps diffs readable.
  const text = `{"node": ${JSON.stringify(process.version)}, ` +
    `"llhttp": ${JSON.stringify(process.versions.llhttp)},\n "cases": [\n` +
    cases.map((c) => JSON.stringify(c)).join(',\n') + '\n]}\n';
  fs.writeFileSync(path.join(dir, file), text);
}

async function main() {
  const onlyIdx = process.argv.indexOf('--only');
  const only = onlyIdx >= 0 ? process.argv[onlyIdx + 1] : null;
  checkNames(serverCases);
  checkNames(clientCases);
  const pick = (list) => (only ? list.filter((c) => c.name.includes(only)) : list);
  const sCases = pick(serverCases);
  const cCases = pick(clientCases);

  const started = Date.now();
  const sOut = await runAll(sCases, runServerCase);
  const cOut = await runAll(cCases, runClientCase);
  const server = sCases.map((c, i) => serverCaseJson(c, sOut[i]));
  const client = cCases.map((c, i) => clientCaseJson(c, cOut[i]));

  // bytes_parsed is relative to the packet Node was parsing; the vectors are
  // only easy to replay when that packet is the whole input.
  for (const rec of [...server, ...client]) {
    const err = rec.client_error || rec.error;
    if (err && err.raw_packet_length !== null && err.raw_packet_length !== rec.input_latin1.length) {
      console.warn(`warning: ${rec.name}: error raised in a ${err.raw_packet_length}-byte packet ` +
        `of a ${rec.input_latin1.length}-byte input; bytes_parsed is relative to that packet`);
    }
  }

  if (only) {
    const trim = (s) => (s.length > 300 ? `${s.slice(0, 300)}...(${s.length} chars)` : s);
    for (const rec of [...server, ...client]) {
      console.log(JSON.stringify(rec, (k, v) => (typeof v === 'string' ? trim(v) : v)));
    }
  } else {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    writeVectors('node_server.json', server);
    writeVectors('node_client.json', client);
    console.log(`wrote ${server.length} server and ${client.length} client cases ` +
      `to ${path.relative(process.cwd(), OUT_DIR)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

// Other scripts reuse the recorders on their own inputs (scripts/differential.js)
// or the builders, timings and helpers (scripts/record-node-smuggling.js); only
// a direct run records the vector files.
module.exports = {
  runServerCase,
  runClientCase,
  runAll,
  serverCaseJson,
  clientCaseJson,
  writeVectors,
  serverCases,
  clientCases,
  message,
  CHUNKED_HELLO,
  CH_HI,
  chResp,
  checkNames,
  SECURITY_SECTIONS,
  SILENCE_MS,
  CLIENT_LIMIT_MS,
  SETTLE_MS,
};

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
