/**
 * What the first-bytes parsers are fuzzed with, and what must hold for every
 * input. One module for the two runners: properties.unit.test.ts (a few thousand
 * cases in npm test) and fuzz.ts (npm run fuzz, 100,000 cases per parser).
 *
 * Each parser gets three kinds of input, mixed:
 *   valid     built from random parts, so the right answer is known
 *   mutated   a valid one with bytes flipped, set, inserted, deleted or cut off
 *   random    bytes, often after a plausible start ("GET ", 0x16 0x03, "PROXY ")
 * each delivered in random chunks (empty ones included). For every input:
 *   - push() never throws;
 *   - the answer does not depend on the chunking: pushing the chunks gives the
 *     answer one push of the whole gives, and a reader keeps its answer;
 *   - need-more only while under the limit, so memory stays bounded;
 *   - the offsets of a done answer lie inside the bytes;
 *   - a valid input gets its known answer.
 * The host table is the fourth "parser": random tables and names against the
 * reference router (reference-router.ts), and random Host values and addresses.
 *
 * Only the generators and the properties live here: the messages are built
 * by messages.ts, which the unit tests use too.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { type ConnectionAddresses, canonicalHost, isHostName } from '../ip.ts';
import { formatIPv6, isIPv4Mapped, parseIPv4, parseIPv6 } from '../ip-bytes.ts';
import {
  DEFAULT_MAX_V2_BYTES,
  encodeProxyV1,
  encodeProxyV2,
  type ProxyHeader,
  ProxyHeaderReader,
  type ProxyHeaderResult,
} from '../proxy-protocol/proxy-protocol.ts';
import {
  ClientHelloReader,
  type ClientHelloResult,
  DEFAULT_MAX_HELLO_BYTES,
} from '../vhosts/client-hello.ts';
import { HostTable, hostFromHeader } from '../vhosts/hosts.ts';
import {
  DEFAULT_MAX_HEAD_BYTES,
  HttpHeadReader,
  type HttpHeadResult,
} from '../vhosts/http-head.ts';
import {
  clientHello,
  httpHead,
  proxyV2,
  tlsRecords,
  tlv,
  V2_ADDRESS_BYTES,
  V2_SIGNATURE,
  v2Ends,
} from './messages.ts';
import { referenceRoute } from './reference-router.ts';

/** A property of one parser, run `numRuns` times (from `seed`, to replay a failure). */
export interface ParserProperty {
  name: string;
  run(numRuns: number, seed?: number): PropertyRun;
}

export interface PropertyRun {
  failed: boolean;
  /** Cases run, the failing one included. */
  numRuns: number;
  seed: number;
  /** fast-check's account of a failure: the counterexample, shrunk, and how to replay it. */
  report?: string;
}

// --- Shared: chunking and mutation -------------------------------------------

/** A first-bytes reader: http-head, client-hello and proxy-protocol all have this shape. */
interface Reader<R> {
  push(chunk: Buffer): R;
}

/** Where to cut an input into chunks: taken modulo its length, so any list fits any input. */
const cuts = fc.array(fc.nat(), { maxLength: 12 });

function split(bytes: Buffer, cutPoints: number[]): Buffer[] {
  const points = cutPoints.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/**
 * Pushes the chunks until the answer is not need-more, and checks that answer
 * against a one-shot read of the whole. Returns the one-shot answer.
 */
function sameAnswerWhateverTheChunking<R extends { state: string }>(
  newReader: () => Reader<R>,
  bytes: Buffer,
  cutPoints: number[],
): R {
  const whole = newReader().push(bytes);
  const reader = newReader();
  let answer: R | undefined;
  let pushed = 0;
  for (const chunk of split(bytes, cutPoints)) {
    answer = reader.push(chunk);
    pushed += chunk.length;
    if (answer.state !== 'need-more') break;
  }
  const chunked = answer as R;
  assert.deepEqual(
    withoutBytes(chunked),
    withoutBytes(whole),
    'chunked and one-shot answers differ',
  );
  if (chunked.state === 'done') {
    const { bytes: kept } = chunked as unknown as { bytes: Buffer };
    assert.ok(kept.equals(bytes.subarray(0, pushed)), 'done: bytes are not everything pushed');
  }
  if (chunked.state !== 'need-more') {
    assert.equal(reader.push(Buffer.from('x')), chunked, 'the reader changed its answer');
  }
  return whole;
}

function withoutBytes(result: object): object {
  const { bytes: _, ...rest } = result as { bytes?: Buffer };
  return rest;
}

interface Mutation {
  kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate';
  at: number;
  byte: number;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
});

function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const { kind, at, byte } of mutations) {
    const i = at % (out.length + 1);
    if (kind === 'insert') {
      out = Buffer.concat([out.subarray(0, i), Buffer.from([byte]), out.subarray(i)]);
    } else if (kind === 'truncate') {
      out = out.subarray(0, i);
    } else if (i < out.length) {
      if (kind === 'flip') out[i] ^= 1 << (byte % 8);
      else if (kind === 'set') out[i] = byte;
      else out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)]);
    }
  }
  return out;
}

/**
 * A valid input, a mutated one, or random bytes: plain, or after a plausible
 * start, either from an alphabet of the format's own bytes or as one long line
 * of text (to reach the line limits).
 */
function inputs<E>(
  valid: fc.Arbitrary<{ bytes: Buffer; expected: E }>,
  plausibleStarts: string[],
  randomAlphabet: string,
): fc.Arbitrary<{ bytes: Buffer; expected?: E }> {
  const alphabet = Buffer.from(randomAlphabet, 'latin1');
  const fromAlphabet = fc
    .array(fc.oneof(fc.constantFrom(...alphabet), fc.integer({ min: 0, max: 255 })), {
      maxLength: 200,
    })
    .map((bytes) => Buffer.from(bytes));
  const longLine = fc
    .tuple(
      fc.integer({ min: 0, max: 300 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }),
    )
    .map(([length, text]) =>
      Buffer.from(`${text.repeat(Math.ceil(length / text.length)).slice(0, length)}\r\n`),
    );
  const randomBytes = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc
      .tuple(fc.constantFrom(...plausibleStarts), fc.oneof(fromAlphabet, longLine), fromAlphabet)
      .map(([start, middle, tail]) => Buffer.concat([Buffer.from(start, 'latin1'), middle, tail])),
  );
  return fc.oneof(
    valid,
    fc
      .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }))
      .map(([v, mutations]) => ({ bytes: mutate(v.bytes, mutations) })),
    randomBytes.map((bytes) => ({ bytes })),
  );
}

function property<T>(
  name: string,
  input: fc.Arbitrary<T>,
  check: (value: T) => void,
): ParserProperty {
  return {
    name,
    run(numRuns, seed) {
      const details = fc.check(fc.property(input, check), {
        numRuns,
        seed,
        includeErrorInReport: true,
      });
      const { failed, seed: usedSeed } = details;
      return {
        failed,
        numRuns: details.numRuns,
        seed: usedSeed,
        report: fc.defaultReportMessage(details),
      };
    },
  };
}

/** The default limits most of the time; small ones, to reach them often, the rest. */
function mostlyDefault<T>(small: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    { arbitrary: small, weight: 1 },
  );
}

// --- Names ---------------------------------------------------------------------

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9_-]{0,8}[a-z0-9])?$/);
const hostName = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const port = fc.integer({ min: 0, max: 65535 });

// --- HTTP request heads ----------------------------------------------------------

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,10}$/);
const hostValue = fc.oneof(
  fc.mixedCase(hostName),
  fc.tuple(hostName, port).map(([name, p]) => `${name}:${p}`),
  fc.tuple(fc.ipV6(), port).map(([address, p]) => `[${address}]:${p}`),
);

interface HttpExpected {
  host?: string;
  headLength?: number;
  status?: number;
}

const httpRequest = fc
  .record({
    emptyLinesBefore: fc.integer({ min: 0, max: 2 }),
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'OPTIONS'), token),
    path: fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/),
    absolute: fc.option(hostValue, { nil: undefined }),
    version: fc.constantFrom('1.0', '1.1'),
    host: fc.option(hostValue, { nil: undefined }),
    hostAt: fc.nat(),
    spaces: fc.tuple(fc.constantFrom('', ' ', '  ', '\t'), fc.constantFrom('', ' ', '\t ')),
    headers: fc.array(
      fc.tuple(
        token.filter((name) => name.toLowerCase() !== 'host'),
        fc.stringMatching(/^([\x21-\x7e\x80-\xff]{1,8}( [\x21-\x7e]{1,8}){0,3})?$/),
      ),
      { maxLength: 8 },
    ),
    after: fc.uint8Array({ maxLength: 40 }),
  })
  .map((r) => {
    const target = r.absolute === undefined ? r.path : `http://${r.absolute}${r.path}`;
    const lines = r.headers.map(([name, value]) => `${name}: ${value}`);
    if (r.host !== undefined) {
      lines.splice(r.hostAt % (lines.length + 1), 0, `Host:${r.spaces[0]}${r.host}${r.spaces[1]}`);
    }
    const { method, version, emptyLinesBefore } = r;
    const head = httpHead({ emptyLinesBefore, method, target, version, lines });
    const expected: HttpExpected =
      r.version === '1.1' && r.host === undefined
        ? { status: 400 }
        : { host: r.absolute ?? r.host, headLength: Buffer.byteLength(head, 'latin1') };
    return { bytes: Buffer.concat([Buffer.from(head, 'latin1'), r.after]), expected };
  });

const httpLimits = mostlyDefault(
  fc.record({
    maxRequestLineBytes: fc.integer({ min: 1, max: 80 }),
    maxHeadBytes: fc.integer({ min: 1, max: 160 }),
  }),
);

const httpCase = fc
  .tuple(
    inputs(
      httpRequest,
      ['GET / HTTP/1.1\r\n', 'GET / HTTP/1.0\r\nHost: a\r\n', 'G'],
      'Host: \r\n\t\0:a[]\x80',
    ),
    httpLimits,
    cuts,
  )
  .map(([input, limits, cutPoints]) => ({
    ...input,
    // The known answers assume the default limits.
    limits: input.expected === undefined ? limits : undefined,
    cutPoints,
  }));

type HttpCase = typeof httpCase extends fc.Arbitrary<infer T> ? T : never;

function checkHttpHead(c: HttpCase): void {
  const answer = sameAnswerWhateverTheChunking<HttpHeadResult>(
    () => new HttpHeadReader(c.limits),
    c.bytes,
    c.cutPoints,
  );
  const maxHead = c.limits?.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
  if (answer.state === 'need-more') assert.ok(c.bytes.length < maxHead, 'need-more past the limit');
  if (answer.state === 'done') {
    assert.ok(answer.headLength <= Math.min(c.bytes.length, maxHead), 'head end out of range');
    assert.equal(c.bytes.toString('latin1', answer.headLength - 4, answer.headLength), '\r\n\r\n');
  }
  if (answer.state === 'error') assert.ok([400, 414, 431].includes(answer.status));
  if (c.expected?.status !== undefined) assert.equal(status(answer), c.expected.status);
  else if (c.expected !== undefined) {
    assert.equal(answer.state, 'done', `expected done, got ${JSON.stringify(answer)}`);
    if (answer.state !== 'done') return;
    assert.equal(answer.host, c.expected.host);
    assert.equal(answer.headLength, c.expected.headLength);
  }
}

function status(answer: HttpHeadResult): number | string {
  return answer.state === 'error' ? answer.status : answer.state;
}

// --- TLS ClientHellos ----------------------------------------------------------

const helloRecords = fc
  .record({
    sni: fc.option(fc.mixedCase(hostName), { nil: undefined }),
    sessionId: fc.uint8Array({ maxLength: 32 }),
    cipherSuites: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 40 }),
    extensions: fc.uniqueArray(
      fc.record({
        type: fc.integer({ min: 1, max: 0xffff }),
        data: fc.uint8Array({ maxLength: 40 }),
      }),
      { selector: (e) => e.type, maxLength: 8 },
    ),
    // A post-quantum key share makes a hello of well over a TCP segment.
    bigKeyShare: fc.option(fc.integer({ min: 1000, max: 1600 }), { nil: undefined }),
    sniAt: fc.nat(),
    withoutExtensions: fc.boolean(),
    fragmentSizes: fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 6 }),
    version: fc.constantFrom(0x0301, 0x0303),
    after: fc.uint8Array({ maxLength: 32 }),
  })
  .map((r) => {
    const extensions = r.extensions.filter((e) => e.type !== 51);
    if (r.bigKeyShare !== undefined)
      extensions.push({ type: 51, data: Buffer.alloc(r.bigKeyShare, 0x2a) });
    const records = tlsRecords(clientHello({ ...r, extensions }), r.fragmentSizes, r.version);
    const expected: Partial<ClientHelloResult> =
      records.length > DEFAULT_MAX_HELLO_BYTES
        ? { state: 'error', error: 'too-long' }
        : { state: 'done', sni: r.sni, helloLength: records.length };
    return { bytes: Buffer.concat([records, r.after]), expected };
  });

const helloCase = fc
  .tuple(
    inputs(
      helloRecords,
      ['\x16\x03\x01', '\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03'],
      '\x16\x03\x01\x00',
    ),
    mostlyDefault(fc.integer({ min: 1, max: 3000 })),
    cuts,
  )
  .map(([input, maxBytes, cutPoints]) => ({
    ...input,
    maxBytes: input.expected === undefined ? maxBytes : undefined,
    cutPoints,
  }));

type HelloCase = typeof helloCase extends fc.Arbitrary<infer T> ? T : never;

function checkClientHello(c: HelloCase): void {
  const answer = sameAnswerWhateverTheChunking<ClientHelloResult>(
    () => new ClientHelloReader({ maxBytes: c.maxBytes }),
    c.bytes,
    c.cutPoints,
  );
  const maxBytes = c.maxBytes ?? DEFAULT_MAX_HELLO_BYTES;
  if (answer.state === 'need-more')
    assert.ok(c.bytes.length < maxBytes, 'need-more past the limit');
  if (answer.state === 'done') {
    assert.ok(answer.helloLength <= Math.min(c.bytes.length, maxBytes), 'hello end out of range');
    if (answer.sni !== undefined)
      assert.ok(isHostName(answer.sni.replace(/\.$/, '')), 'a bad SNI let through');
  }
  if (c.expected !== undefined) {
    assert.deepEqual(pick(answer, Object.keys(c.expected)), c.expected);
  }
}

function pick(object: object, keys: string[]): object {
  return Object.fromEntries(keys.map((key) => [key, (object as Record<string, unknown>)[key]]));
}

// --- PROXY protocol headers -------------------------------------------------------

/** Two addresses of one family, with the text the decoder must give back for each. */
const addressPair = fc.oneof(
  fc.tuple(fc.ipV4(), fc.ipV4()).map(([s, d]) => ({ sent: [s, d], decoded: [s, d] })),
  fc
    .tuple(fc.ipV4(), fc.ipV4())
    .map(([s, d]) => ({ sent: [`::ffff:${s}`, `::ffff:${d}`], decoded: [s, d] })),
  fc
    .tuple(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
    )
    .filter(([s, d]) => !isIPv4Mapped(s) && !isIPv4Mapped(d))
    .map(([s, d]) => {
      const text = [formatIPv6(s), formatIPv6(d)];
      return { sent: text, decoded: text };
    }),
);

/** Headers our own encoder writes, read back: the round trip, against the addresses given. */
const encodedHeader = fc
  .record({
    pair: addressPair,
    ports: fc.tuple(port, port),
    version: fc.constantFrom(1, 2),
    authority: fc.option(hostName, { nil: undefined }),
  })
  .map((r): { bytes: Buffer; expected: ProxyHeader } => {
    const addresses: ConnectionAddresses = {
      sourceAddress: r.pair.sent[0],
      sourcePort: r.ports[0],
      destinationAddress: r.pair.sent[1],
      destinationPort: r.ports[1],
    };
    const source = { address: r.pair.decoded[0], port: r.ports[0] };
    const destination = { address: r.pair.decoded[1], port: r.ports[1] };
    if (r.version === 1) {
      return {
        bytes: encodeProxyV1(addresses),
        expected: { version: 1, source, destination, tlvs: [] },
      };
    }
    const expected: ProxyHeader = { version: 2, source, destination, tlvs: [] };
    if (r.authority !== undefined) {
      expected.tlvs.push({ type: 2, value: Buffer.from(r.authority) });
      expected.authority = r.authority;
    }
    return { bytes: encodeProxyV2(addresses, r.authority), expected };
  });

/**
 * Version 2 headers built by hand: every family, LOCAL, and TLVs of every
 * kind, with the answer read back by messages.ts's own copy of the format
 * (not by the encoder above, nor anything else in proxy-protocol.ts).
 */
const builtV2Header = fc
  .record({
    local: fc.boolean(),
    family: fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32),
    addressBlock: fc.uint8Array({ minLength: 216, maxLength: 216 }),
    tlvs: fc.array(
      fc.record({
        type: fc.integer({ min: 0, max: 255 }).filter((type) => type !== 2),
        value: fc.uint8Array({ maxLength: 20 }),
      }),
      { maxLength: 4 },
    ),
    authority: fc.option(fc.tuple(hostName, fc.nat()), { nil: undefined }),
  })
  .map((r): { bytes: Buffer; expected: ProxyHeader } => {
    const block = Buffer.from(r.addressBlock.subarray(0, V2_ADDRESS_BYTES[r.family]));
    const tlvs = r.tlvs.map(({ type, value }) => ({ type, value: Buffer.from(value) }));
    if (r.authority !== undefined) {
      tlvs.splice(r.authority[1] % (tlvs.length + 1), 0, {
        type: 2,
        value: Buffer.from(r.authority[0]),
      });
    }
    const body = Buffer.concat([block, ...tlvs.map(({ type, value }) => tlv(type, value))]);
    const bytes = proxyV2(r.local ? 0x20 : 0x21, r.family, body);
    if (r.local) return { bytes, expected: { version: 2, tlvs: [] } };
    const expected: ProxyHeader = { version: 2, tlvs, ...v2Ends(r.family, block) };
    if (r.authority !== undefined) expected.authority = r.authority[0];
    return { bytes, expected };
  });

const unknownV1 = fc.stringMatching(/^( [ -~]{0,80})?$/).map((tail) => ({
  bytes: Buffer.from(`PROXY UNKNOWN${tail}\r\n`),
  expected: { version: 1, tlvs: [] } as ProxyHeader,
}));

const proxyHeader = fc
  .tuple(fc.oneof(encodedHeader, builtV2Header, unknownV1), fc.uint8Array({ maxLength: 40 }))
  .map(([header, after]) => ({
    bytes: Buffer.concat([header.bytes, after]),
    expected: { header: header.expected, headerLength: header.bytes.length },
  }));

const proxyCase = fc
  .tuple(
    inputs(
      proxyHeader,
      [
        'PROXY ',
        'PROXY TCP4 ',
        'PROXY TCP6 ',
        `${V2_SIGNATURE.toString('latin1')}\x21\x11\x00\x0c`,
      ],
      'TCP46UNKOWN 0123456789abcdef.:\r\n\x00\x21\x11',
    ),
    mostlyDefault(fc.integer({ min: 16, max: 300 })),
    cuts,
  )
  .map(([input, maxV2Bytes, cutPoints]) => ({
    ...input,
    maxV2Bytes: input.expected === undefined ? maxV2Bytes : undefined,
    cutPoints,
  }));

type ProxyCase = typeof proxyCase extends fc.Arbitrary<infer T> ? T : never;

function checkProxyHeader(c: ProxyCase): void {
  const answer = sameAnswerWhateverTheChunking<ProxyHeaderResult>(
    () => new ProxyHeaderReader({ maxV2Bytes: c.maxV2Bytes }),
    c.bytes,
    c.cutPoints,
  );
  const maxV2 = c.maxV2Bytes ?? DEFAULT_MAX_V2_BYTES;
  if (answer.state === 'need-more') {
    assert.ok(c.bytes.length < Math.max(107, 16, maxV2), 'need-more past the limit');
  }
  if (answer.state === 'done') {
    const { header, headerLength } = answer;
    assert.ok(headerLength <= c.bytes.length, 'header end out of range');
    assert.ok(headerLength <= (header.version === 1 ? 107 : maxV2), 'header over its limit');
    assert.equal(header.source === undefined, header.destination === undefined);
    for (const end of [header.source, header.destination]) {
      if (end) assert.ok(net.isIP(end.address) && end.port >= 0 && end.port <= 65535);
    }
  }
  if (c.expected !== undefined) {
    assert.equal(answer.state, 'done', `expected done, got ${JSON.stringify(answer)}`);
    if (answer.state !== 'done') return;
    assert.deepEqual(answer.header, c.expected.header);
    assert.equal(answer.headerLength, c.expected.headerLength);
  }
}

// --- The host table, Host values and addresses ------------------------------------

// Few labels, so that tables and names meet often.
const nearbyName = fc
  .array(fc.constantFrom('a', 'b', 'example', 'org', 'dev', 'x-y', '10', '0'), {
    minLength: 1,
    maxLength: 4,
  })
  .map((labels) => labels.join('.'));

const hostsCase = fc.record({
  keys: fc.uniqueArray(
    // An address after "*." is no key: it has no names under it.
    fc
      .tuple(fc.boolean(), nearbyName)
      .map(([wild, name]) => (wild && !net.isIP(name) ? `*.${name}` : name)),
    { maxLength: 8 },
  ),
  defaultPool: fc.option(fc.constant('default'), { nil: undefined }),
  query: fc.tuple(fc.mixedCase(nearbyName), fc.boolean()),
  headerName: fc.tuple(fc.mixedCase(hostName), fc.option(port, { nil: undefined })),
  anyValue: fc.string({
    unit: fc.constantFrom(...'[]:.0123456789abcdefABCDEFgxyz-_% '),
    maxLength: 40,
  }),
  addressBytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});

type HostsCase = typeof hostsCase extends fc.Arbitrary<infer T> ? T : never;

function checkHosts(c: HostsCase): void {
  const routes = c.keys.map((key, i): [string, string] => [key, `pool${i}`]);
  const table = new HostTable(Object.fromEntries(routes), c.defaultPool);
  const [queryName, trailingDot] = c.query;
  const name = trailingDot ? `${queryName}.` : queryName;
  assert.equal(table.route(name), referenceRoute(routes, c.defaultPool, name), `route(${name})`);

  const [headerName, headerPort] = c.headerName;
  const header = headerPort === undefined ? headerName : `${headerName}:${headerPort}`;
  assert.equal(hostFromHeader(header), headerName.toLowerCase());

  const host = hostFromHeader(c.anyValue);
  if (host !== undefined) assert.equal(canonicalHost(host), host, 'not canonical');
  // Our IPv6 reading agrees with Node's on which strings are addresses.
  const candidate = c.anyValue.replace(/[^0-9a-fA-F:.]/g, '');
  assert.equal(parseIPv6(candidate) !== undefined, net.isIPv6(candidate), `isIPv6(${candidate})`);
  assert.equal(parseIPv4(candidate) !== undefined, net.isIPv4(candidate), `isIPv4(${candidate})`);
  // And text out reads back as the same bytes.
  const text = formatIPv6(c.addressBytes);
  assert.deepEqual(parseIPv6(text), c.addressBytes, text);
  assert.ok(net.isIPv6(text));
}

// --- The list the runners go through -----------------------------------------------

export const PARSER_PROPERTIES: ParserProperty[] = [
  property('http-head', httpCase, checkHttpHead),
  property('client-hello', helloCase, checkClientHello),
  property('proxy-protocol', proxyCase, checkProxyHeader),
  property('hosts', hostsCase, checkHosts),
];
