#!/usr/bin/env node
// Differential fuzzing: Pier's parser verdicts against Node's.
//
//   node scripts/differential.js [--seed N] [--count K] [--concurrency C]
//   node scripts/differential.js --replay target/differential/bugs.json
//   node scripts/differential.js --no-record   # replay the last recording through Pier again
//   node scripts/differential.js --check ...    # exit 1 on a disagreement that is unexplained
//                                               # or of a class already fixed (a regression)
//
// 1. Takes the inputs of crates/pier-proto/tests/vectors/node_{server,client}.json
//    as seeds.
// 2. Makes K mutants from them, deterministically from N (same N, same seeds:
//    same mutants): byte flips, CR/LF/SP/HTAB/NUL inserted or deleted,
//    obs-fold, header lines duplicated or removed, Content-Length,
//    Transfer-Encoding and chunk sizes changed, case changes, two inputs
//    spliced, truncation. One to three of them per mutant.
// 3. Records Node's verdict on each with the recorder's own functions
//    (scripts/record-node-vectors.js) into target/differential/node_{server,client}.json.
// 4. Replays them through Pier: `cargo test -p pier-proto --test node_vectors`
//    with PIER_VECTORS_DIR pointing there; the test writes Pier's verdict per
//    case into pier_{server,client}.json next to Node's.
// 5. Prints a summary: inputs, agreements, and the disagreements sorted into
//    the known classes of CLASSES below (fixed / deliberate / timing, each
//    explained in docs/reliability.md) or, when no class fits,
//    grouped by the two verdicts as "unexplained"; the shortest input of each
//    group is shown. Also written to summary.txt and summary.json.
//
// --replay FILE records and replays a JSON list of
// {name, side: "server"|"client", input_latin1, request?, keep_open?}
// (the format of target/differential/bugs.json) into target/differential/replay/.
//
// Plain Node, no packages. Inputs are latin1 strings: one char per byte.

'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const rec = require('./record-node-vectors.js');

const ROOT = path.join(__dirname, '..');
const VECTORS = path.join(ROOT, 'crates', 'pier-proto', 'tests', 'vectors');
const OUT = path.join(ROOT, 'target', 'differential');
// Inputs longer than this may reach Node's parser in more than one packet,
// which would make its verdict depend on the split.
const MAX_INPUT = 60000;

// ---------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const opts = { seed: 1, count: 2000, concurrency: 32, replay: null, record: true, check: false };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seed') opts.seed = Number(next());
    else if (a === '--count') opts.count = Number(next());
    else if (a === '--concurrency') opts.concurrency = Number(next());
    else if (a === '--replay') opts.replay = next();
    else if (a === '--no-record') opts.record = false;
    else if (a === '--check') opts.check = true;
    else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['seed', 'count', 'concurrency']) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0) throw new Error(`--${k} wants an integer`);
  }
  return opts;
}

// ---------------------------------------------------------------------------
// Deterministic randomness (mulberry32: small, fast, same stream everywhere)

function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    float: next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

// ---------------------------------------------------------------------------
// Where things are in an input

function headEnd(s) {
  const i = s.indexOf('\r\n\r\n');
  return i < 0 ? s.length : i + 2;
}

// Field lines of the head (after the start line): [{start, end}] where
// `end` is the offset of the line's CRLF.
function fieldLines(s) {
  const end = headEnd(s);
  const lines = [];
  let i = s.indexOf('\r\n');
  while (i >= 0 && i + 2 < end) {
    const start = i + 2;
    const stop = s.indexOf('\r\n', start);
    if (stop < 0 || stop >= end + 2) break;
    if (stop > start) lines.push({ start, end: stop });
    i = stop;
  }
  return lines;
}

function valueOf(s, name) {
  const re = new RegExp(`\\r\\n${name}[ \\t]*:([^\\r\\n]*)`, 'i');
  const m = re.exec(s.slice(0, headEnd(s) + 2));
  if (!m) return null;
  const start = m.index + m[0].length - m[1].length;
  return { start, end: start + m[1].length };
}

function positionsOf(s, chars) {
  const out = [];
  for (let i = 0; i < s.length; i++) if (chars.includes(s[i])) out.push(i);
  return out;
}

// Chunk-size lines of a chunked body: [{start, end}] of the size digits.
function chunkSizes(s) {
  const body = headEnd(s) + 2;
  const out = [];
  let i = body;
  while (i < s.length) {
    const m = /^([0-9a-fA-F]+)/.exec(s.slice(i, i + 20));
    if (!m) break;
    const size = parseInt(m[1], 16);
    out.push({ start: i, end: i + m[1].length });
    if (size === 0) break;
    const lineEnd = s.indexOf('\r\n', i);
    if (lineEnd < 0) break;
    i = lineEnd + 2 + size + 2;
  }
  return out;
}

const splice = (s, at, del, ins) => s.slice(0, at) + ins + s.slice(at + del);

// ---------------------------------------------------------------------------
// Mutators: (input, r, other) -> [mutated input, description] or null when
// they do not apply. `other` is another seed of the same side, for splicing.

const INTERESTING = ['\r', '\n', ' ', '\t', '\0', ':', ';', ',', '=', '"', '0', '1', '9', 'a', 'f', 'g',
  'A', 'F', '-', '+', '/', '.', '\x7f', '\x80', '\xff', '\x0b', '\x0c'];
const WHITESPACE = ['\r', '\n', ' ', '\t', '\0'];
const CL_VALUES = (n) => [String(n + 1), String(Math.max(0, n - 1)), '0', `00${n}`, `+${n}`, `-${n}`,
  `${n}, ${n}`, `${n},${n + 1}`, '', ' ', `${n} `, `${n}\t`, `\t${n}`, `0x${n.toString(16)}`,
  '18446744073709551615', '18446744073709551616', `${n}${n}`, `${n}a`];
const TE_VALUES = ['chunked', 'CHUNKED', 'Chunked', 'gzip', 'gzip, chunked', 'chunked, gzip', '', ' ',
  ' chunked', 'chunked ', 'chunked\t', 'identity', 'identity, chunked', 'chunked;q=1', 'chunked,',
  ', chunked', 'chunked, chunked', 'xchunked', 'chunkedx', '"chunked"', 'chunked\x0b', 'gzip,chunked',
  'deflate', 'chunked , gzip'];
const CHUNK_SIZE_VALUES = (n) => [(n + 1).toString(16), Math.max(0, n - 1).toString(16), '0',
  `000${n.toString(16)}`, n.toString(16).toUpperCase(), `${n.toString(16)};a=b`, `${n.toString(16)} `,
  ` ${n.toString(16)}`, `${n.toString(16)}\t`, `${n.toString(16)};`, '', 'g', `-${n}`, `0x${n}`,
  '10000000000000000', '0000000000000000' + n.toString(16), 'ffffffffffffffff', `${n.toString(16)};a="b c"`];

const MUTATORS = {
  flip(s, r) {
    if (!s.length) return null;
    const at = r.int(s.length);
    const b = r.chance(0.5) ? r.pick(INTERESTING) : String.fromCharCode(s.charCodeAt(at) ^ (1 << r.int(8)));
    return [splice(s, at, 1, b), `flip @${at} to ${esc(b)}`];
  },
  insert(s, r) {
    const ws = r.pick(WHITESPACE);
    // Near a delimiter half the time: that is where parsers differ.
    const near = positionsOf(s, '\r\n: ;,/');
    const at = near.length && r.chance(0.5) ? near[r.int(near.length)] + r.int(2) : r.int(s.length + 1);
    return [splice(s, at, 0, ws), `insert ${esc(ws)} @${at}`];
  },
  remove(s, r) {
    const pos = positionsOf(s, WHITESPACE.join(''));
    if (!pos.length) return null;
    const at = r.pick(pos);
    return [splice(s, at, 1, ''), `delete ${esc(s[at])} @${at}`];
  },
  obsFold(s, r) {
    const lines = fieldLines(s);
    if (!lines.length) return null;
    const line = r.pick(lines);
    const ws = r.pick([' ', '\t', '  ']);
    if (r.chance(0.5)) {
      // The next line becomes a continuation of this one.
      return [splice(s, line.end + 2, 0, ws), `obs-fold after line @${line.start}`];
    }
    const at = line.start + r.int(line.end - line.start + 1);
    return [splice(s, at, 0, `\r\n${ws}`), `obs-fold inside line @${at}`];
  },
  duplicateLine(s, r) {
    const lines = fieldLines(s);
    if (!lines.length) return null;
    const line = r.pick(lines);
    const text = s.slice(line.start, line.end + 2);
    return [splice(s, line.end + 2, 0, text), `duplicate line ${esc(text.slice(0, 30))}`];
  },
  removeLine(s, r) {
    const lines = fieldLines(s);
    if (!lines.length) return null;
    const line = r.pick(lines);
    return [splice(s, line.start, line.end + 2 - line.start, ''),
      `remove line ${esc(s.slice(line.start, Math.min(line.end, line.start + 30)))}`];
  },
  contentLength(s, r) {
    const v = valueOf(s, 'content-length');
    if (!v || r.chance(0.25)) {
      // Add one (next to whatever framing is there).
      const end = headEnd(s);
      const body = Math.max(0, s.length - end - 2);
      const value = r.pick(CL_VALUES(body));
      return [splice(s, end, 0, `Content-Length: ${value}\r\n`), `add Content-Length: ${esc(value)}`];
    }
    const n = parseInt(s.slice(v.start, v.end).trim(), 10) || 0;
    const value = ' ' + r.pick(CL_VALUES(n));
    return [splice(s, v.start, v.end - v.start, value), `Content-Length:${esc(value)}`];
  },
  transferEncoding(s, r) {
    const v = valueOf(s, 'transfer-encoding');
    const value = r.pick(TE_VALUES);
    if (!v || r.chance(0.25)) {
      const end = headEnd(s);
      return [splice(s, end, 0, `Transfer-Encoding: ${value}\r\n`), `add Transfer-Encoding: ${esc(value)}`];
    }
    return [splice(s, v.start, v.end - v.start, ' ' + value), `Transfer-Encoding: ${esc(value)}`];
  },
  chunkSize(s, r) {
    const sizes = chunkSizes(s);
    if (!sizes.length) return null;
    const c = r.pick(sizes);
    const n = parseInt(s.slice(c.start, c.end), 16);
    const value = r.pick(CHUNK_SIZE_VALUES(n));
    return [splice(s, c.start, c.end - c.start, value), `chunk size ${esc(s.slice(c.start, c.end))} -> ${esc(value)}`];
  },
  caseChange(s, r) {
    const end = headEnd(s);
    if (!end) return null;
    const at = r.int(end);
    const len = 1 + r.int(12);
    const part = s.slice(at, at + len);
    const changed = r.chance(0.5) ? part.toUpperCase() : part.toLowerCase();
    if (changed === part) return null;
    return [splice(s, at, len, changed), `case @${at}+${len}`];
  },
  splice(s, r, other) {
    if (!other) return null;
    if (r.chance(0.4)) return [s + other, 'append another input'];
    const a = r.int(s.length + 1);
    const b = r.int(other.length + 1);
    return [s.slice(0, a) + other.slice(b), `splice @${a} with another input from @${b}`];
  },
  truncate(s, r) {
    if (s.length < 2) return null;
    const at = 1 + r.int(s.length - 1);
    return [s.slice(0, at), `truncate to ${at}`];
  },
};
const MUTATOR_NAMES = Object.keys(MUTATORS);

function mutate(seedCase, sameSide, r) {
  let s = seedCase.input_latin1;
  const steps = [];
  const rounds = 1 + r.int(3);
  for (let k = 0, tries = 0; k < rounds && tries < 20; tries++) {
    const name = r.pick(MUTATOR_NAMES);
    const other = r.pick(sameSide).input_latin1;
    const out = MUTATORS[name](s, r, other);
    if (!out || out[0] === s) continue;
    [s] = out;
    steps.push(`${name}: ${out[1]}`);
    k++;
  }
  return { input: s, steps };
}

// ---------------------------------------------------------------------------
// Escaping, for the summary and the docs: printable ASCII as is, the rest \xNN.

function esc(s) {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '\r') out += '\\r';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\\') out += '\\\\';
    else if (c < 0x20 || c >= 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

function short(s, max = 240) {
  const e = esc(s);
  return e.length > max ? `${e.slice(0, max)}… (${s.length} bytes)` : e;
}

// ---------------------------------------------------------------------------
// Node, then Pier

function loadSeeds(file) {
  return JSON.parse(fs.readFileSync(path.join(VECTORS, file), 'utf8')).cases;
}

function asServerCase(name, why, input) {
  return { name, rule: 'differential', why, input };
}

function asClientCase(name, why, input, seed) {
  const request = seed.request || {};
  return {
    name,
    rule: 'differential',
    why,
    input,
    keep_open: !!seed.keep_open,
    request: {
      method: request.method || 'GET',
      headers: request.headers || [],
      body: request.body_latin1 ?? undefined,
    },
  };
}

async function recordNode(dir, serverCases, clientCases, concurrency) {
  fs.mkdirSync(dir, { recursive: true });
  const sOut = await rec.runAll(serverCases, rec.runServerCase, concurrency);
  const cOut = await rec.runAll(clientCases, rec.runClientCase, concurrency);
  const server = serverCases.map((c, i) => rec.serverCaseJson(c, sOut[i]));
  const client = clientCases.map((c, i) => rec.clientCaseJson(c, cOut[i]));
  rec.writeVectors('node_server.json', server, dir);
  rec.writeVectors('node_client.json', client, dir);
  return { server, client };
}

function runPier(dir) {
  for (const f of ['pier_server.json', 'pier_client.json']) fs.rmSync(path.join(dir, f), { force: true });
  const res = spawnSync('flock', ['/tmp/pier-cargo.lock', 'cargo', 'test', '-p', 'pier-proto',
    '--test', 'node_vectors'], {
    cwd: ROOT,
    env: { ...process.env, PIER_VECTORS_DIR: dir },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  fs.writeFileSync(path.join(dir, 'cargo.log'), `${res.stdout || ''}\n${res.stderr || ''}`);
  const read = (f) => {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) {
      throw new Error(`cargo test did not write ${p} (exit ${res.status}); see ${path.join(dir, 'cargo.log')}`);
    }
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  };
  return { server: read('pier_server.json'), client: read('pier_client.json') };
}

// ---------------------------------------------------------------------------
// Known disagreement classes (docs/reliability-differential.md explains each).
// A disagreement is put in the first class whose test matches; the rest are
// grouped by verdict pair and printed as unexplained, so a new root cause
// stands out. `status`: "bug" (Pier should change), "deliberate" (Pier differs
// on purpose), "timing" (same verdict once the input is complete).

const lower = (s) => s.toLowerCase();
const nodeErrorOf = (c) => c.client_error || c.error;
const nodeMessagesOf = (c) => c.requests || c.messages || [];

// Heads in a response stream: [{status, fields: [[name, value]]}], best effort.
function responseHeads(input) {
  const out = [];
  const re = /(?:^|\n)HTTP\/\d\.\d (\d{3})[^\r\n]*\r\n((?:[^\r\n]*\r\n)*?)\r\n/g;
  let m;
  while ((m = re.exec(input)) !== null) {
    const fields = m[2].split('\r\n').filter(Boolean).map((l) => {
      const i = l.indexOf(':');
      return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, '')];
    });
    out.push({ status: Number(m[1]), fields });
  }
  return out;
}

const has = (fields, name) => fields.some(([n]) => lower(n) === name);
const valuesOf = (fields, name) => fields.filter(([n]) => lower(n) === name).map(([, v]) => v);
const RTSP_NO_VERSION = new RegExp('^[\\r\\n]*(?:DESCRIBE|ANNOUNCE|SETUP|PLAY|PAUSE|TEARDOWN|GET_PARAMETER|' +
  'SET_PARAMETER|REDIRECT|RECORD|FLUSH) +[^ \\r\\n]+\\r');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$/;

const CLASSES = [
  // ----- timing first: an unfinished head says nothing about the rules
  {
    id: 'pier-waits-for-head-end', side: 'any', status: 'timing',
    text: 'an unfinished head with a bad byte Pier only judges once its line ends (some request lines; field lines are refused at the byte): Node refuses at the byte, Pier when the line is complete (or at 4 × 16 KiB / the headers timeout)',
    // Pending: a head is in, the message is not over (trailers unfinished).
    test: ({ c, v }) => v.node_error && v.node_error !== 'HPE_CLOSED_CONNECTION' && !v.pier_error &&
      (!v.pier_pending || !c.input_latin1.slice(nodeErrorOf(c).bytes_parsed).includes('\r\n\r\n')) &&
      !v.difference && v.node_messages.length === v.pier_messages.length,
  },
  {
    id: 'pier-refuses-sooner', side: 'server', status: 'timing',
    text: 'an unfinished PRI or ICE/ request line: Pier refuses at once, Node waits but refuses every continuation',
    test: ({ c, v }) => !v.node_error && v.pier_error && v.node_messages.length === v.pier_messages.length &&
      (/(?:^|\n)PRI /.test(c.input_latin1) || /(?:^|\n)[A-Z_]+ +\S+ +I/.test(c.input_latin1) ||
        // a bare start of the HTTP/2 preface (`PRI`, cut short)
        'PRI * HTTP/2.0'.startsWith(c.input_latin1.replace(/^[\r\n]+/, ''))),
  },
  // ----- server
  {
    id: 'closed-then-crlf', side: 'server', status: 'fixed',
    text: 'CR/LF after a request that closes the connection: Node skips them, Pier answers 400 and drops the owed response',
    test: ({ c, v }) => v.pier_error === 'HPE_CLOSED_CONNECTION' && !v.node_error &&
      /^[\r\n]+$/.test(c.input_latin1.slice(Number(v.pier_offset))),
  },
  {
    id: 'keep-alive-by-version', side: 'server', status: 'fixed',
    text: 'HTTP/2.0 (and 0.9) keep-alive: llhttp gives 1.1 semantics only to major > 0 && minor > 0, Pier to every version but 0.9/1.0',
    test: ({ c, v }) => {
      const done = nodeMessagesOf(c).filter((m) => m.complete);
      return (v.node_error === 'HPE_CLOSED_CONNECTION' && !v.pier_error &&
          done.some((m) => m.http_version === '2.0' && !m.keep_alive)) ||
        (v.pier_error === 'HPE_CLOSED_CONNECTION' && !v.node_error &&
          done.some((m) => m.http_version === '0.9' && m.keep_alive));
    },
  },
  {
    id: 'space-then-no-version', side: 'server', status: 'fixed',
    text: 'a request line with spaces after the target and no version: Node refuses (Expected HTTP/), Pier reads it as HTTP/0.9',
    test: ({ c, v }) => v.node_error === 'HPE_INVALID_CONSTANT' && !v.pier_error &&
      /^[\r\n]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+ +[^ \r\n]+ +\r?\n/.test(c.input_latin1),
  },
  {
    id: 'absolute-form-chars', side: 'server', status: 'fixed',
    text: 'absolute-form targets: llhttp allows only letters in the scheme and only URL characters in the authority (no " { | \\ < ^ ` #), Pier any visible byte',
    test: ({ c, v }) => v.node_error === 'HPE_INVALID_URL' && !v.pier_error &&
      /^[\r\n]*[A-Z_-]+ +[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(c.input_latin1),
  },
  {
    id: 'header-size-trailing-ows', side: 'server', status: 'fixed',
    text: 'header-size limit: llhttp counts a value\'s trailing whitespace, Pier does not, so a head Node answers 431 can pass',
    test: ({ c, v }) => v.node_error === 'HPE_HEADER_OVERFLOW' && !v.pier_error &&
      (v.pier_pending || v.pier_messages.length > v.node_messages.length) &&
      /[^ \t:][ \t]+\r\n/.test(c.input_latin1.slice(0, headEnd(c.input_latin1.slice(0, 70000)))),
  },
  {
    id: 'upgrade-stops-parsing', side: 'server', status: 'deliberate',
    text: 'after an upgrade request without listener Node never parses the bytes that follow; Pier parses them as the next request (node-compat.md)',
    // The upgrade request itself may be unfinished in Node's trace: with a
    // chunked body llhttp pauses before reading it.
    test: ({ c, v }) => !v.node_error &&
      nodeMessagesOf(c).some((m) => m.upgrade && m.method !== 'CONNECT') &&
      (v.pier_error || v.pier_messages.length > v.node_messages.length),
  },
  {
    id: 'trailer-connection-close', side: 'server', status: 'deliberate',
    text: 'Connection: close in a trailer section: llhttp honours it, Pier ignores it (RFC 9110 §6.5.1: trailers never control the connection)',
    test: ({ c, v }) => v.node_error === 'HPE_CLOSED_CONNECTION' && !v.pier_error &&
      nodeMessagesOf(c).some((m) => m.raw_trailers.some(([n, val]) => lower(n) === 'connection' && /close/i.test(val))),
  },
  {
    id: 'odd-http09-line', side: 'server', status: 'deliberate',
    text: 'request lines without a version that Node reads as HTTP/0.9 but Pier refuses: ended by a bare LF, an empty target, an RTSP-only method',
    test: ({ c, v }) => v.pier_error && (
      // The message Pier refused is one Node read as HTTP/0.9 (whatever
      // Node made of the bytes after it).
      (v.pier_messages.length < v.node_messages.length &&
        (nodeMessagesOf(c)[v.pier_messages.length] || {}).http_version === '0.9') ||
      // Still unfinished, so Node has no message yet.
      (!v.node_error && (RTSP_NO_VERSION.test(c.input_latin1) ||
        /^[\r\n]*[A-Z_-]+ +[^ \r\n]*\r?\n/.test(c.input_latin1))) ||
      // A later request's version-less line ended by a bare LF, unfinished.
      (!v.node_error && v.pier_error === 'HPE_LF_EXPECTED' &&
        /\r\n\r\n[\r\n]*[A-Z_-]+ +[^ \r\n]*\n/.test(c.input_latin1))),
  },
  {
    id: 'empty-te-with-cl', side: 'server', status: 'deliberate',
    text: 'an empty Transfer-Encoding line before Content-Length: Node frames by the length, Pier refuses the pair in either order',
    test: ({ c, v }) => v.pier_error === 'HPE_UNEXPECTED_CONTENT_LENGTH' &&
      /\r\ntransfer-encoding:[ \t]*\r\n/i.test(c.input_latin1) &&
      (!v.node_error || v.node_messages.length > v.pier_messages.length),
  },
  {
    id: 'te-checked-without-body', side: 'server', status: 'deliberate',
    text: 'an invalid Transfer-Encoding on CONNECT or an upgrade request: llhttp skips the check (no body is read), Pier refuses it',
    test: ({ c, v }) => v.pier_error === 'HPE_INVALID_TRANSFER_ENCODING' && !v.node_error &&
      nodeMessagesOf(c).some((m) => m.upgrade),
  },
  {
    id: 'te-non-token', side: 'server', status: 'deliberate',
    text: 'a Transfer-Encoding coding that is not a bare token (obs-text, quotes, inner TAB, `;param`) before a final chunked: Node accepts, Pier refuses',
    test: ({ c, v }) => v.pier_error === 'HPE_INVALID_TRANSFER_ENCODING' &&
      (!v.node_error || v.node_messages.length > v.pier_messages.length) &&
      // (The line end is looked ahead at, not taken: it starts the next line.)
      [...c.input_latin1.matchAll(/\r\ntransfer-encoding:([^\r\n]*)(?=\r\n)/gi)].some((m) =>
        m[1].split(',').some((item) => !TOKEN.test(item.replace(/^[ \t]+|[ \t]+$/g, '')))),
  },
  {
    id: 'te-chunked-twice-across-lines', side: 'server', status: 'fixed',
    text: 'a Transfer-Encoding line ending in `chunked,` followed by another line naming chunked: Node refuses chunked applied twice, Pier accepts',
    test: ({ c, v }) => v.node_error === 'HPE_INVALID_TRANSFER_ENCODING' && !v.pier_error &&
      /\r\ntransfer-encoding:[^\r\n]*chunked[ \t]*,[ \t,]*\r\n(?:[^\r\n]+\r\n)*?transfer-encoding:[^\r\n]*chunked/i
        .test(c.input_latin1),
  },
  {
    id: 'te-trailing-tab', side: 'any', status: 'fixed',
    text: 'a TAB ending a Transfer-Encoding line: llhttp reads `chunked<TAB>` as another coding (request refused, response read until close) and ignores it after other codings; Pier refuses every such request line and de-chunks such responses',
    // (Bytes after a keep-alive or a closing response are their own,
    // deliberate classes, whatever those bytes hold.)
    test: ({ c, v }) => v.pier_error !== 'HPE_CLOSED_CONNECTION' &&
      v.node_error !== 'HPE_CLOSED_CONNECTION' &&
      /\r\ntransfer-encoding:[^\r\n]*\t[ \t]*\r\n/i.test(c.input_latin1),
  },
  {
    id: 'chunk-ext-empty-name', side: 'any', status: 'deliberate',
    text: 'an empty chunk-extension name followed by more (`5;;a`, `5;=b`): llhttp accepts it, Pier refuses every empty name',
    test: ({ c, v }) => v.pier_error === 'HPE_INVALID_CHUNK_EXTENSIONS' && !v.node_error &&
      /(?:^|\n)[0-9a-fA-F]+(?:;[^\r\n]*)?;[;=]/.test(c.input_latin1.slice(headEnd(c.input_latin1))),
  },
  // ----- client
  {
    id: 'bytes-after-keep-alive-response', side: 'client', status: 'deliberate',
    text: 'bytes after a complete keep-alive response that nobody asked for: Node parses them as another response, Pier refuses (node-compat.md)',
    test: ({ v }) => v.pier_error === 'HPE_CLOSED_CONNECTION' && v.pier_messages.length <= v.node_messages.length &&
      v.pier_messages.every((m, i) => m === v.node_messages[i]),
  },
  {
    id: 'bytes-after-closing-response', side: 'client', status: 'deliberate',
    text: 'bytes after a response that closes the connection: Node reports HPE_CLOSED_CONNECTION, Pier drops them (the response is complete)',
    test: ({ v }) => v.node_error === 'HPE_CLOSED_CONNECTION' && !v.pier_error && !v.difference,
  },
  {
    id: 'bodiless-response-cl-te', side: 'client', status: 'fixed',
    text: 'Content-Length with a non-empty Transfer-Encoding on a 1xx/204/304/HEAD response: Node refuses, Pier accepts',
    test: ({ c, v }) => !v.pier_error && /can't be present/.test((nodeErrorOf(c) || {}).message || '') &&
      responseHeads(c.input_latin1).some((h) => has(h.fields, 'content-length') &&
        valuesOf(h.fields, 'transfer-encoding').some((t) => t !== '') &&
        (h.status < 200 || h.status === 204 || h.status === 304 || c.request.method === 'HEAD')),
  },
  {
    id: 'response-empty-te-with-cl', side: 'client', status: 'deliberate',
    text: 'Content-Length then an empty Transfer-Encoding on a response: Node refuses in this order only, Pier ignores the empty TE in either order',
    test: ({ c, v }) => !v.pier_error && /can't be present/.test((nodeErrorOf(c) || {}).message || '') &&
      responseHeads(c.input_latin1).some((h) => has(h.fields, 'content-length') &&
        valuesOf(h.fields, 'transfer-encoding').every((t) => t === '')),
  },
  {
    id: 'status-line-cr-cr', side: 'client', status: 'deliberate',
    text: 'a status line ended by CR CR: llhttp skips the extra CR, Pier refuses a bare CR',
    test: ({ c, v }) => v.pier_error === 'HPE_LF_EXPECTED' &&
      (!v.node_error || v.node_messages.length > v.pier_messages.length) &&
      /(?:^|\n)HTTP\/\d\.\d [^\r\n]*\r\r/.test(c.input_latin1),
  },
];

// The group of a disagreement no class explains: side, what differs, both verdicts.
function groupKey(side, v) {
  if (v.kind === 'panic') return `${side}: pier panicked: ${v.panic}`;
  const node = v.node_error || 'accepted';
  const pier = v.pier_error || 'accepted';
  const what = v.kind === 'messages' ? ` (${(v.difference || '').replace(/^message \d+: /, '')} differ)` : '';
  return `${side}: node ${node} / pier ${pier}${what}`;
}

function summarise(node, pier) {
  const classes = new Map(CLASSES.map((k) => [k.id, { cls: k, items: [] }]));
  const groups = new Map();
  let total = 0;
  let agree = 0;
  for (const side of ['server', 'client']) {
    const byName = new Map(node[side].map((c) => [c.name, c]));
    for (const v of pier[side]) {
      total++;
      if (v.agree) {
        agree++;
        continue;
      }
      const item = { side, verdict: v, case: byName.get(v.name) };
      const k = v.kind !== 'panic' &&
        CLASSES.find((k) => (k.side === side || k.side === 'any') && k.test({ c: item.case, v }));
      if (k) {
        classes.get(k.id).items.push(item);
        continue;
      }
      const key = groupKey(side, v);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(item);
    }
  }
  const explained = [...classes.values()].filter((k) => k.items.length);
  const unexplained = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
  return { total, agree, explained, unexplained };
}

function example(items) {
  // The shortest input of a group is the easiest to read.
  const best = items.reduce((a, b) => (b.case.input_latin1.length < a.case.input_latin1.length ? b : a));
  const v = best.verdict;
  const ne = nodeErrorOf(best.case);
  return [
    `    e.g. ${best.case.name} (${best.case.why})`,
    `    input: "${short(best.case.input_latin1)}"`,
    `    node: ${ne ? `${ne.code} @${ne.bytes_parsed}` : 'no error'} ${JSON.stringify(v.node_messages || [])}`,
    `    pier: ${v.kind === 'panic' ? `panic: ${v.panic}` : `${v.pier_error || 'no error'}` +
      `${v.pier_offset != null ? ` @${v.pier_offset}` : ''} ${JSON.stringify(v.pier_messages)}` +
      `${v.difference ? ` (${v.difference})` : ''}`}`,
  ];
}

function printSummary(s, out) {
  const lines = [];
  const nUnexplained = s.unexplained.reduce((n, [, items]) => n + items.length, 0);
  lines.push(`inputs: ${s.total}, agreements: ${s.agree}, disagreements: ${s.total - s.agree} ` +
    `(${s.total - s.agree - nUnexplained} in ${s.explained.length} known classes, ${nUnexplained} unexplained)`);
  for (const { cls, items } of s.explained) {
    lines.push('');
    lines.push(`${items.length} × [${cls.status}] ${cls.side} ${cls.id}: ${cls.text}`);
    lines.push(...example(items));
  }
  for (const [key, items] of s.unexplained) {
    lines.push('');
    lines.push(`${items.length} × [unexplained] ${key}`);
    lines.push(...example(items));
  }
  const text = lines.join('\n');
  console.log(text);
  fs.writeFileSync(path.join(out, 'summary.txt'), text + '\n');
  const caseList = (items) => items.map((i) => ({
    side: i.side, name: i.case.name, why: i.case.why, input_latin1: i.case.input_latin1,
  })).sort((a, b) => a.input_latin1.length - b.input_latin1.length);
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify({
    inputs: s.total,
    agreements: s.agree,
    classes: s.explained.map(({ cls, items }) => ({
      id: cls.id, side: cls.side, status: cls.status, text: cls.text, count: items.length, cases: caseList(items),
    })),
    unexplained: s.unexplained.map(([key, items]) => ({ key, count: items.length, cases: caseList(items) })),
  }, null, 1));
}

// A replayed list is short: show every verdict, agreeing or not.
function printEach(node, pier) {
  for (const side of ['server', 'client']) {
    pier[side].forEach((v, i) => {
      const c = node[side][i];
      const ne = c.client_error || c.error;
      console.log(`${v.agree ? 'agree ' : 'DIFFER'} ${side} ${c.name}: "${short(c.input_latin1, 100)}"`);
      console.log(`    node: ${ne ? `${ne.code} @${ne.bytes_parsed}` : 'no error'} ${JSON.stringify(v.node_messages || [])}`);
      console.log(`    pier: ${v.kind === 'panic' ? `panic: ${v.panic}` : `${v.pier_error || 'no error'}` +
        `${v.pier_offset != null ? ` @${v.pier_offset}` : ''} ${JSON.stringify(v.pier_messages)}`}`);
    });
  }
  console.log('');
}

// ---------------------------------------------------------------------------
// Main

function makeMutants(opts) {
  const server = loadSeeds('node_server.json');
  const client = loadSeeds('node_client.json');
  const all = [...server.map((c) => ['server', c]), ...client.map((c) => ['client', c])];
  const r = rng(opts.seed);
  const seen = new Set(all.map(([side, c]) => `${side}\0${c.input_latin1}`));
  const sCases = [];
  const cCases = [];
  let attempts = 0;
  while (sCases.length + cCases.length < opts.count && attempts < opts.count * 20) {
    attempts++;
    const [side, seed] = r.pick(all);
    const { input, steps } = mutate(seed, side === 'server' ? server : client, r);
    const key = `${side}\0${input}`;
    if (!steps.length || input.length > MAX_INPUT || seen.has(key)) continue;
    seen.add(key);
    const n = sCases.length + cCases.length;
    const name = `d${opts.seed}_${String(n).padStart(5, '0')}`;
    const why = `${seed.name} | ${steps.join(' | ')}`;
    if (side === 'server') sCases.push(asServerCase(name, why, input));
    else cCases.push(asClientCase(name, why, input, seed));
  }
  return { sCases, cCases };
}

function replayCases(file) {
  const list = JSON.parse(fs.readFileSync(file, 'utf8'));
  const sCases = [];
  const cCases = [];
  list.forEach((b, i) => {
    const name = b.name || `replay_${i}`;
    if (b.side === 'client') {
      const seed = { request: b.request, keep_open: b.keep_open };
      cCases.push(asClientCase(name, b.note || 'replay', b.input_latin1, seed));
    } else {
      sCases.push(asServerCase(name, b.note || 'replay', b.input_latin1));
    }
  });
  return { sCases, cCases };
}

async function main() {
  const opts = parseArgs(process.argv);
  const dir = opts.replay ? path.join(OUT, 'replay') : OUT;
  const t0 = Date.now();
  let node;
  if (opts.record) {
    const { sCases, cCases } = opts.replay ? replayCases(opts.replay) : makeMutants(opts);
    console.log(`recording ${sCases.length} server and ${cCases.length} client inputs with Node ${process.version} ` +
      `(llhttp ${process.versions.llhttp})…`);
    node = await recordNode(dir, sCases, cCases, opts.concurrency);
    // Node's verdict is only comparable when the input reached it in one packet.
    const split = [...node.server, ...node.client].filter((c) => {
      const e = nodeErrorOf(c);
      return e && e.raw_packet_length !== null && e.raw_packet_length !== c.input_latin1.length;
    });
    if (split.length) console.warn(`warning: ${split.length} inputs reached Node in several packets`);
  } else {
    // Pier changed, Node did not: reuse what was recorded.
    const load = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).cases;
    node = { server: load('node_server.json'), client: load('node_client.json') };
    console.log(`reusing ${node.server.length} server and ${node.client.length} client inputs recorded in ${dir}`);
  }
  const t1 = Date.now();
  console.log(`  ${((t1 - t0) / 1000).toFixed(1)} s; replaying through Pier (cargo test)…`);
  const pier = runPier(dir);
  const t2 = Date.now();
  console.log(`  ${((t2 - t1) / 1000).toFixed(1)} s\n`);
  if (opts.replay) printEach(node, pier);
  const summary = summarise(node, pier);
  printSummary(summary, dir);
  if (opts.check) {
    // A fixed class seen again is a regression; an unexplained one is new.
    const fixed = summary.explained.filter((k) => k.cls.status === 'fixed');
    const bad = fixed.reduce((n, k) => n + k.items.length, 0) +
      summary.unexplained.reduce((n, [, items]) => n + items.length, 0);
    if (bad > 0) {
      console.error(`\ncheck failed: ${bad} disagreements in fixed or unexplained classes`);
      process.exitCode = 1;
    }
  }
  console.log(`\nfiles in ${path.relative(process.cwd(), dir) || '.'}: node_*.json (Node), pier_*.json (Pier), ` +
    'summary.txt, summary.json, cargo.log');
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
