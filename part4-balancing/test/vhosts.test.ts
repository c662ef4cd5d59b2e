/**
 * Virtual hosts through the real command line: HTTP listeners route by the
 * first request's Host, TLS listeners by the ClientHello's SNI (without ever
 * terminating TLS), with the head limits and their statuses; the PROXY
 * protocol out to backends (checked by the mock backend, which parses it with
 * proxy-protocol-js, not with the proxy's own parser) and in from a trusted
 * balancer.
 *
 * One balancer serves every test, each on listeners and pools of its own.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import {
  captureClientHello,
  listenUntilTeardown,
  parseResponse,
  readAll,
  serveBackend,
  waitFor,
} from '../../shared/test/harness.ts';
import { encodeProxyV1 } from '../proxy-protocol/proxy-protocol.ts';
import { clientHello, tlsRecords } from './messages.ts';
import { listenerPorts, type Status, startBalancer, statusWhen } from './support.ts';

/** A raw TCP backend that records what each connection sends and answers nothing. */
async function recorder() {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    const index = received.push(Buffer.alloc(0)) - 1;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received[index] = Buffer.concat([received[index], chunk]);
    });
  });
  return { address: `127.0.0.1:${await listenUntilTeardown(t, server)}`, received };
}

const [A, B, C, S1, S2, P1, P2, raw] = await Promise.all([
  serveBackend(t, { name: 'A' }),
  serveBackend(t, { name: 'B' }),
  serveBackend(t, { name: 'C' }),
  serveBackend(t, { name: 'S1', tls: true }),
  serveBackend(t, { name: 'S2', tls: true }),
  serveBackend(t, { name: 'P1', proxyProtocol: true }),
  serveBackend(t, { name: 'P2', proxyProtocol: true }),
  recorder(),
]);
const at = (program: { port: number }) => [{ address: `127.0.0.1:${program.port}` }];

// Listeners in this order; their ports come from the startup lines, in order.
const LISTENERS = [
  {
    protocol: 'http',
    hosts: {
      'www.example.org': 'a',
      '*.example.org': 'b',
      '::1': 'a',
      'pp1.test': 'pp1',
      'pp2.test': 'pp2',
    },
    pool: 'c',
  },
  { protocol: 'http', hosts: { 'only.example.org': 'a' }, headTimeoutMs: 500 },
  { protocol: 'tls', hosts: { 'secure.example.org': 's1', '*.example.org': 's2' } },
  { protocol: 'tls', hosts: { 'secure.example.org': 's1' }, pool: 's2' },
  { protocol: 'http', hosts: { 'raw.test': 'raw' } },
  { protocol: 'tls', hosts: { 'raw.test': 'raw' } },
  { protocol: 'tcp', pool: 'pp2', acceptProxyProtocol: true, trustedProxies: ['127.0.0.0/8'] },
  { protocol: 'tcp', pool: 'a', acceptProxyProtocol: true, trustedProxies: ['10.0.0.0/8'] },
];
// An IPv6 loopback listener too, where the machine has one.
const probe = net.createServer();
const hasIPv6 = await new Promise<boolean>((resolve) => {
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});
const IPV6_LISTENER = { address: '[::1]:0', protocol: 'http', hosts: { 'www.example.org': 'a' } };
// Health checks to a PROXY protocol backend: pools no listener uses.
const probed = (proxyProtocol: string) => ({
  backends: at(P1),
  proxyProtocol,
  healthCheck: { intervalMs: 100, timeoutMs: 1000, path: '/' },
});
const { proxy, statusPort } = await startBalancer(
  t,
  {
    listen: [
      ...LISTENERS.map((listener) => ({ port: 0, ...listener })),
      ...(hasIPv6 ? [IPV6_LISTENER] : []),
    ],
    statusPort: 0,
    pools: {
      a: { backends: at(A) },
      b: { backends: at(B) },
      c: { backends: at(C) },
      s1: { backends: at(S1) },
      s2: { backends: at(S2) },
      pp1: { backends: at(P1), proxyProtocol: 'v1' },
      pp2: { backends: at(P2), proxyProtocol: 'v2' },
      raw: { backends: [{ address: raw.address }] },
      'probed-v1': probed('v1'),
      'probed-v2': probed('v2'),
    },
  },
  ['--verbose'],
); // every refusal has its own log line
const [HTTP, HTTP_NO_DEFAULT, TLS, TLS_DEFAULT, HTTP_RAW, TLS_RAW, TRUSTING, UNTRUSTING, IPV6] =
  await listenerPorts(proxy, LISTENERS.length + (hasIPv6 ? 1 : 0));

/** Sends raw bytes, reads until the proxy (or the backend) closes. */
async function exchange(port: number, bytes: string | Buffer, timeoutMs = 5000) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(bytes);
  return readAll(socket, timeoutMs);
}

/** The answer to a GET with this Host (or none), as text. */
async function get(port: number, host?: string, version = '1.1') {
  const head = `GET / HTTP/${version}\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`;
  const response = parseResponse((await exchange(port, head)).data);
  return { status: response.status, body: response.body.toString() };
}

t.test('HTTP: exact name, longest wildcard, default; case, dot, port, IPv6 literal', async (t) => {
  const who = async (host?: string, version?: string) =>
    (await get(HTTP, host, version)).body.match(/^Hello from backend (\S+)/)?.[1];
  t.equal(await who('www.example.org'), 'A', 'exact');
  t.equal(await who('api.example.org'), 'B', 'wildcard');
  t.equal(await who('a.b.example.org'), 'B', 'wildcard, two levels down');
  t.equal(await who('WWW.Example.ORG.:8080'), 'A', 'case, trailing dot and port ignored');
  t.equal(await who('[::1]:8080'), 'A', 'an IPv6 literal');
  t.equal(await who('example.org'), 'C', '*.example.org is not example.org: the default');
  t.equal(await who('other.net'), 'C', 'no match: the default pool');
  t.equal(await who(undefined, '1.0'), 'C', 'HTTP/1.0 without Host: the default pool');
});

t.test('HTTP: no match and no default is a 404 naming the host, and one log line', async (t) => {
  const answer = await get(HTTP_NO_DEFAULT, 'nope.example.org');
  t.equal(answer.status, 404);
  t.match(answer.body, /nope\.example\.org/, 'the body names the host');
  t.match(proxy.output(), /Answered 404: No route for nope\.example\.org from 127\.0\.0\.1:\d+/);
});

t.test('HTTP: the head and what follows it reach the backend byte for byte', async (t) => {
  const request =
    'POST /upload HTTP/1.1\r\nHost: raw.test\r\nContent-Length: 5\r\n\r\nhello' +
    'GET /next HTTP/1.1\r\nHost: anything\r\n\r\n';
  const socket = net.connect(HTTP_RAW, '127.0.0.1');
  t.teardown(() => socket.destroy());
  const before = raw.received.length;
  socket.write(request);
  await waitFor(() => raw.received[before]?.length === request.length, { what: 'the bytes' });
  t.equal(
    raw.received[before].toString(),
    request,
    'head, body and the pipelined request, as sent',
  );
});

t.test('HTTP head limits: 414, 431, 400, 408; none reaches a backend', async (t) => {
  const before = raw.received.length;
  const cases: [string, string, number][] = [
    ['request line over 8 KiB', `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: raw.test\r\n\r\n`, 414],
    [
      'head over 16 KiB',
      `GET / HTTP/1.1\r\nHost: raw.test\r\nX: ${'b'.repeat(17_000)}\r\n\r\n`,
      431,
    ],
    ['a malformed head', 'GET / HTTP/1.1\r\nHost raw.test\r\n\r\n', 400],
    ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: raw.test\r\nHost: other\r\n\r\n', 400],
  ];
  for (const [what, request, status] of cases) {
    const answer = parseResponse((await exchange(HTTP_RAW, request)).data);
    t.equal(answer.status, status, `${what}: ${status}`);
  }
  const slow = net.connect(HTTP_NO_DEFAULT, '127.0.0.1');
  slow.write('GET / HTTP/1.1\r\nHost: only.exa');
  const began = performance.now();
  const timedOut = parseResponse((await readAll(slow, 5000)).data);
  t.equal(
    timedOut.status,
    408,
    `no complete head within 500 ms: 408 (${(performance.now() - began).toFixed(0)} ms)`,
  );
  t.equal(raw.received.length, before, 'no connection reached the backend');
});

/** An HTTPS GET through a TLS listener; resolves with the body, or the error. */
async function httpsGet(port: number, servername?: string) {
  const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  socket.on('error', () => {});
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const received = await readAll(socket, 5000);
  return received.data.length === 0 ? '' : parseResponse(received.data).body.toString();
}

t.test('TLS: routed by SNI, never terminated: the backend does the handshake', async (t) => {
  const exact = await httpsGet(TLS, 'secure.example.org');
  t.match(exact, /^Hello from backend S1\n/, 'exact name: S1');
  t.match(exact, /TLS server name: secure\.example\.org/, 'S1 saw the SNI itself');
  t.match(await httpsGet(TLS, 'shop.example.org'), /^Hello from backend S2\n/, 'wildcard: S2');
  // Node sends no SNI when connecting to an IP address without servername.
  t.match(await httpsGet(TLS_DEFAULT), /^Hello from backend S2\n/, 'no SNI: the default pool');
  t.equal(await httpsGet(TLS), '', 'no SNI and no default: closed');
  t.equal(await httpsGet(TLS, 'elsewhere.net'), '', 'no route: closed');
  t.match(proxy.output(), /No route for elsewhere\.net from .*: closed\./, 'and logged');
});

t.test(
  'TLS: a ClientHello a byte at a time, over 2 KiB, in split records, reaches the backend unchanged',
  async (t) => {
    const alpn = Array.from({ length: 200 }, (_, i) => `protocol-${i}`);
    const big = await captureClientHello({ servername: 'raw.test', ALPNProtocols: alpn });
    t.ok(big.length > 2048, `a real node:tls hello of ${big.length} bytes`);
    const before = raw.received.length;
    const socket = net.connect(TLS_RAW, '127.0.0.1');
    t.teardown(() => socket.destroy());
    await once(socket, 'connect');
    for (const byte of big) {
      socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => raw.received[before]?.length === big.length, { what: 'the hello' });
    t.ok(raw.received[before].equals(big), 'byte at a time: the backend got it byte for byte');

    const message = clientHello({ sni: 'raw.test' });
    const split = tlsRecords(message, [7, 100, 3]);
    const second = net.connect(TLS_RAW, '127.0.0.1');
    t.teardown(() => second.destroy());
    second.write(split);
    await waitFor(() => raw.received[before + 1]?.length === split.length, {
      what: 'split records',
    });
    t.ok(
      raw.received[before + 1].equals(split),
      'a hello across several TLS records: routed, unchanged',
    );
  },
);

t.test('TLS: a client that does not speak TLS is closed, with a log line', async (t) => {
  const answer = await exchange(TLS, 'GET / HTTP/1.1\r\nHost: secure.example.org\r\n\r\n');
  t.equal(answer.data.length, 0, 'closed without a byte');
  t.match(proxy.output(), /Closed 127\.0\.0\.1:\d+: .*not.*TLS/i);
});

t.test('PROXY protocol to the backend: v1, and v2 with the routed name', async (t) => {
  const socket = net.connect(HTTP, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nHost: pp1.test\r\nConnection: close\r\n\r\n');
  await once(socket, 'connect');
  const port = socket.localPort;
  const v1 = parseResponse((await readAll(socket)).data).body.toString();
  t.match(v1, `Client address: 127.0.0.1:${port} (PROXY v1)`, 'P1 was told the client address');
  const v2 = (await get(HTTP, 'pp2.test')).body;
  t.match(v2, /Client address: 127\.0\.0\.1:\d+ \(PROXY v2\)/, 'P2 too, in v2');
  t.match(v2, /Routed for: pp2\.test/, 'with the AUTHORITY TLV');
});

t.test('PROXY protocol in: trusted, untrusted, missing', async (t) => {
  const header = encodeProxyV1({
    sourceAddress: '203.0.113.9',
    sourcePort: 40_000,
    destinationAddress: '192.0.2.1',
    destinationPort: 80,
  });
  const request = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const trusted = await exchange(TRUSTING, Buffer.concat([header, Buffer.from(request)]));
  t.match(
    parseResponse(trusted.data).body.toString(),
    'Client address: 203.0.113.9:40000 (PROXY v2)',
    'the address from the header is passed on',
  );
  const missing = await exchange(TRUSTING, request);
  t.equal(missing.data.length, 0, 'no header where one is required: closed');
  const untrusted = await exchange(UNTRUSTING, Buffer.concat([header, Buffer.from(request)]));
  t.equal(untrusted.data.length, 0, 'a header from outside trustedProxies: closed');
  t.match(proxy.output(), /not in trustedProxies/);
});

t.test('IPv6: an HTTP listener on [::1]', async (t) => {
  if (!hasIPv6) {
    t.comment('skipped: no IPv6 loopback on this machine');
    return;
  }
  const socket = net.connect(IPV6, '::1');
  socket.write('GET / HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n');
  t.match(parseResponse((await readAll(socket)).data).body.toString(), /^Hello from backend A/);
});

t.test(
  'a health check to a PROXY protocol backend says it is a probe (v1 UNKNOWN, v2 LOCAL)',
  async (t) => {
    // Three probes each: one without a header would be closed by P1, and fail.
    const probes = (r: Status, version: string) =>
      r.pools[`probed-${version}`].backends[0].probes ?? { passed: 0, failed: 0 };
    const report = await statusWhen(
      statusPort as number,
      (r) =>
        ['v1', 'v2'].every((version) => probes(r, version).passed + probes(r, version).failed >= 3),
      'three probes of each',
    );
    for (const version of ['v1', 'v2']) {
      t.equal(probes(report, version).failed, 0, `${version}: no probe failed`);
    }
    t.notMatch(proxy.output(), /failed its health check/, 'nothing logged');
  },
);
