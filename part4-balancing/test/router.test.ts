/**
 * Routing in code through the real command line, with real router files:
 * the examples of router/examples/ (TypeScript, checked by tsc against
 * router/types.ts: see the line that assigns one to a Router below), and
 * small routers written here, an .mjs and a .js, that do each thing a router
 * may do and each thing it may not.
 *
 * One balancer serves most tests, a listener per router. A second one, with
 * one small router, takes the reloads (a reload starts every router's thread
 * again, and a TypeScript router costs a quarter of a second of CPU to
 * load); two more are started only to fail at start.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { runProgram, startPart } from '../../shared/lib/programs.ts';
import {
  deadPort,
  httpGet,
  listenerPorts,
  parseResponse,
  readAll,
  serveBackend,
  waitFor,
} from '../../shared/test/harness.ts';
import { redisClient, redisServer } from '../../shared/test/redis.ts';
import byPath from '../router/examples/by-path.ts';
import { inCanary } from '../router/examples/canary.ts';
import type { RouteRequest, Router } from '../router/types.ts';
import { clientHello, tlsRecords } from './messages.ts';
import { PART, type Status, status, statusWhen, whoAnswered, writeConfig } from './support.ts';

// A router written in TypeScript is checked against the exported types (tsc, npm test).
const typed: Router = byPath;
void typed;

const [W, A, S, C] = await Promise.all(
  ['W', 'A', 'S', 'C'].map(async (name) => {
    const program = await serveBackend(t, { name });
    return { name, address: `127.0.0.1:${program.port}` };
  }),
);
const DEAD = `127.0.0.1:${await deadPort()}`;
const redis = await redisServer(t);
await redis.start();

/** One router written for these tests: every decision, and every way to fail. */
const RULES = `
import { appendFileSync } from 'node:fs';
export default function rules(request) {
  appendFileSync(new URL('./asked.jsonl', import.meta.url), JSON.stringify(request) + '\\n');
  switch (request.http?.path ?? request.name) {
    case '/throw': case 'throw.test': throw new TypeError('no rule for this');
    case '/malformed': return { pool: 'web', weight: 2 };
    case '/no-pool': return { pool: 'nowhere' };
    case '/reject': case 'reject.test': return { reject: 429 };
    case '/backend': return { backend: '${A.address}' };
    case '/dead-backend': return { backend: '${DEAD}' };
    case '/async': return new Promise((resolve) => setTimeout(() => resolve({ pool: 'api' }), 20));
    case '/never': return new Promise(() => {});
    case '/loop': for (;;) {}
  }
  return undefined;
}
`;
/** A .js router for a tcp listener behind a balancer: it sees the PROXY header's address. */
const BY_CLIENT = `
import { appendFileSync } from 'node:fs';
export default (request) => {
  appendFileSync(new URL('./clients.jsonl', import.meta.url), JSON.stringify(request) + '\\n');
  if (request.client.address === '203.0.113.9') return { reject: 403 };
  if (request.client.address === '203.0.113.66') throw new Error('a client of ill repute');
};
`;
const examples = path.resolve(import.meta.dirname, '../router/examples');
writeConfig(t, RULES, 'rules.mjs');
writeConfig(t, BY_CLIENT, 'by-client.js');
const sitesFile = writeConfig(t, { 'one.test': A.address }, 'sites.json');
const dir = path.dirname(sitesFile);

const LISTENERS = [
  { protocol: 'http', router: `${examples}/by-path.ts`, hosts: { 'api.test': 'api' }, pool: 'web' },
  { protocol: 'http', router: './rules.mjs', routerTimeoutMs: 300, pool: 'web' },
  { protocol: 'tls', router: './rules.mjs', pool: 'web' },
  {
    protocol: 'tcp',
    router: './by-client.js',
    acceptProxyProtocol: true,
    trustedProxies: ['127.0.0.1'],
    pool: 'web',
  },
  { protocol: 'tcp', router: `${examples}/canary.ts`, pool: 'web' },
  { protocol: 'http', router: `${examples}/sites.ts`, pool: 'web' },
  { protocol: 'http', router: `${examples}/redis.ts`, pool: 'web' },
];
const pools = {
  web: { backends: [{ address: W.address }] },
  api: { backends: [{ address: A.address }] },
  static: { backends: [{ address: S.address }] },
  canary: { backends: [{ address: C.address }] },
};
const file = writeConfig(t, {
  listen: LISTENERS.map((listener) => ({ port: 0, ...listener })),
  statusPort: 0,
  pools,
});
const proxy = await startPart(t, PART, ['--config', file], {
  env: { SITES_FILE: sitesFile, REDIS_URL: redis.url },
  timeoutMs: 30_000,
});
const [BY_PATH, RULED, TLS, BEHIND, CANARY, SITES, REDIS] = await listenerPorts(
  proxy,
  LISTENERS.length,
);
const statusPort = Number((await proxy.waitForOutput(/Status on port (\d+)/))[1]);

/** Sends raw bytes and reads until the proxy (or the backend) closes. */
async function exchange(port: number, bytes: string | Buffer, localAddress?: string) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  socket.write(bytes);
  return readAll(socket, 5000);
}

/** A GET with this path and Host: the status, and who answered (a backend's name). */
async function get(port: number, pathname = '/', host = 'x.test') {
  const head = `GET ${pathname} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  const response = parseResponse((await exchange(port, head)).data);
  const who = response.body.toString().match(/^Hello from backend (\S+)/)?.[1];
  return { status: response.status, who };
}

/** The requests a router wrote down, in order (its file, one JSON per line). */
function asked(name: string): RouteRequest[] {
  const text = readFileSync(path.join(dir, name), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

/** The log lines that match `pattern`. */
const lines = (pattern: RegExp) =>
  proxy
    .output()
    .split('\n')
    .filter((line) => pattern.test(line));

/** A listener's router in the status. */
const routerOf = (report: Status, port: number) =>
  report.listeners.find((listener) => listener.port === port)?.router;

t.test('what a router sees: once per client, after what its listener reads', async (t) => {
  const socket = net.connect(RULED, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  const clientPort = socket.localPort;
  // Two requests on one keep-alive connection: the router is asked about the first.
  socket.write(
    'GET /first?x=1 HTTP/1.1\r\nHost: Www.Ruled.TEST:8080\r\nX-Two: a\r\nX-Two: b\r\n\r\n',
  );
  socket.write('GET /second HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n');
  await readAll(socket, 5000);
  const [first, ...more] = asked('asked.jsonl');
  t.same(
    first,
    {
      listener: { port: RULED, protocol: 'http' },
      client: { address: '127.0.0.1', port: clientPort },
      name: 'www.ruled.test',
      http: {
        method: 'GET',
        path: '/first?x=1',
        headers: { host: 'Www.Ruled.TEST:8080', 'x-two': 'a, b' },
      },
    },
    'the listener, the client, the name as the host table has it, and the head',
  );
  t.same(more, [], 'asked once for the connection, not once per request');

  const hello = tlsRecords(clientHello({ sni: 'Hello.Test' }), []);
  await exchange(TLS, hello);
  const tlsAsked = asked('asked.jsonl').at(-1);
  t.same(tlsAsked?.name, 'hello.test', 'a tls listener: the SNI');
  t.same(tlsAsked?.http, undefined, '... and no http');

  // Behind a balancer: the address its PROXY header gives, not the balancer's.
  await exchange(BEHIND, 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\nGET / HTTP/1.1\r\n\r\n');
  t.same(
    asked('clients.jsonl').at(-1),
    {
      listener: { port: BEHIND, protocol: 'tcp' },
      client: { address: '198.51.100.7', port: 40000 },
    },
    'a tcp listener behind a balancer: the client from the PROXY header, no name',
  );
});

t.test('what a router decides: fall through, a pool, a backend, a rejection', async (t) => {
  t.same(await get(BY_PATH, '/api/users'), { status: 200, who: 'A' }, '/api/: pool api');
  t.same(await get(BY_PATH, '/static/a.css'), { status: 200, who: 'S' }, '/static/: pool static');
  t.same(
    await get(BY_PATH, '/', 'api.test'),
    { status: 200, who: 'A' },
    'undefined: the host table',
  );
  t.same(await get(BY_PATH, '/'), { status: 200, who: 'W' }, "undefined: then the listener's pool");
  t.same(await get(RULED, '/async'), { status: 200, who: 'A' }, 'a promise of a decision');
  t.same(await get(RULED, '/backend'), { status: 200, who: 'A' }, '{ backend }: that backend');
  t.same(
    await get(RULED, '/dead-backend'),
    { status: 502, who: undefined },
    '{ backend } that refuses: one try, a 502',
  );
  t.same(await get(RULED, '/reject'), { status: 429, who: undefined }, '{ reject } over http');
  // A ClientHello the mock backend cannot read: it closes at once, so count what reached it.
  const reachedWeb = async () => (await status(statusPort)).pools.web.backends[0].totalConnections;
  const before = await reachedWeb();
  const refused = await exchange(TLS, tlsRecords(clientHello({ sni: 'reject.test' }), []));
  t.equal(refused.data.length, 0, '{ reject } over tls: closed, not a byte');
  t.equal(await reachedWeb(), before, '... and no backend asked');
  await exchange(TLS, tlsRecords(clientHello({ sni: 'pass.test' }), []));
  t.equal(await reachedWeb(), before + 1, 'undefined over tls: on to the pool');
  const behind = (address: string) =>
    exchange(
      BEHIND,
      `PROXY TCP4 ${address} 127.0.0.1 40000 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
  t.equal((await behind('203.0.113.9')).data.length, 0, '{ reject } over tcp: closed');
  t.match(
    (await behind('198.51.100.8')).data.toString(),
    /Hello from backend W/,
    'the others pass',
  );
  t.match(
    lines(/Router .*rejected/)[0],
    /Router \S*rules\.mjs rejected 127\.0\.0\.1:\d+: answered 429\./,
  );
});

t.test(
  'a router that fails: a 500 or a close, logged once, counted; the proxy lives',
  async (t) => {
    for (const failing of ['/throw', '/malformed', '/no-pool', '/throw']) {
      t.same(await get(RULED, failing), { status: 500, who: undefined }, `${failing}: 500`);
    }
    const failed = lines(/Router \S*rules\.mjs failed/);
    t.equal(failed.length, 1, 'one line for the first failure; the rest are counted');
    t.match(
      failed[0],
      /Router \S*rules\.mjs failed for 127\.0\.0\.1:\d+: TypeError: no rule for this \(at \S*rules\.mjs:6:\d+\): answered 500\./,
      'the file, the client, the message and where',
    );
    const closed = await exchange(TLS, tlsRecords(clientHello({ sni: 'throw.test' }), []));
    t.equal(closed.data.length, 0, 'over tls: a close');
    const behind = await exchange(BEHIND, 'PROXY TCP4 203.0.113.66 127.0.0.1 40000 80\r\n');
    t.equal(behind.data.length, 0, 'over tcp: a close');
    t.match(lines(/Router \S*by-client\.js failed/)[0], /Error: a client of ill repute \(at /);
    t.same(await get(RULED, '/'), { status: 200, who: 'W' }, 'the next client is served');
    const report = await status(statusPort);
    t.equal(routerOf(report, RULED)?.errors, 4, 'counted: the throws, the malformed, the no-pool');
    t.ok(report.events.routerError >= 6, 'and in the events, with the others');
  },
);

t.test('a router that does not decide in time: a 500, "timed out"', async (t) => {
  const began = performance.now();
  t.same(await get(RULED, '/never'), { status: 500, who: undefined });
  const waited = performance.now() - began;
  t.ok(
    waited >= 290 && waited < 5000,
    `after its listener's routerTimeoutMs, 300 (${waited.toFixed(0)} ms)`,
  );
  t.match(
    lines(/Router \S*rules\.mjs timed out/)[0],
    /timed out for 127\.0\.0\.1:\d+: no decision within 300 ms: answered 500\./,
  );
  t.equal(routerOf(await status(statusPort), RULED)?.timeouts, 1, 'counted');
});

t.test('a router that never returns: its thread is stopped and started again', async (t) => {
  const stuck = get(RULED, '/loop');
  // Meanwhile the proxy's own thread relays on.
  t.same(await get(BY_PATH, '/api/'), { status: 200, who: 'A' }, 'another listener meanwhile');
  t.same(await stuck, { status: 500, who: undefined }, 'the client it was stuck on: a 500');
  const [line] = await proxy.waitForOutput(/Router \S*rules\.mjs: its thread.*/);
  t.match(
    line,
    /its thread was never idle for 300 ms \(a loop that does not end\?\): stopped and started again; 1 waiting client\(s\) failed\./,
  );
  // The new thread loads its module first; a client asked meanwhile may time
  // out (300 ms is short on a busy machine), and that restarts nothing.
  const next = await waitFor(
    async () => {
      const answer = await get(RULED, '/async');
      return answer.status === 200 ? answer : undefined;
    },
    { timeoutMs: 10_000, what: 'an answer from the new thread' },
  );
  t.same(next, { status: 200, who: 'A' }, 'a new thread answers the next');
  const router = routerOf(await status(statusPort), RULED);
  t.equal(router?.restarts, 1, 'one restart in the status');
});

t.test('the status: calls, failures, time', async (t) => {
  const report = await statusWhen(
    statusPort,
    (report) => (routerOf(report, BY_PATH)?.calls ?? 0) >= 5,
    'calls to by-path.ts',
  );
  const router = routerOf(report, BY_PATH);
  t.match(router, {
    file: /router\/examples\/by-path\.ts$/,
    errors: 0,
    timeouts: 0,
    restarts: 0,
  });
  t.ok(router && router.meanMs > 0 && router.meanMs < 1000, `mean ${router?.meanMs} ms a call`);
  t.ok(router && router.busyShare >= 0 && router.busyShare <= 1, `busy ${router?.busyShare}`);
  // The same calls at /metrics, per listener (status/metrics.ts).
  const metrics = (await httpGet(statusPort, '/metrics')).body.toString();
  const calls = metrics
    .split('\n')
    .filter((line) => line.startsWith('rsp_router_calls_total{listener='))
    .map((line) => Number(line.split(' ')[1]));
  t.ok(
    calls.some((n) => n >= (router?.calls ?? Number.POSITIVE_INFINITY)),
    `/metrics counts the router's calls too (${calls.join(', ')})`,
  );
});

t.test('examples: a canary of a tenth of the clients, stable by address', async (t) => {
  const addresses = Array.from({ length: 40 }, (_, i) => `127.0.0.${i + 10}`);
  const rounds = [];
  for (let round = 0; round < 2; round++) {
    rounds.push(await Promise.all(addresses.map((address) => whoAnswered(CANARY, '/', address))));
  }
  t.same(rounds[0], rounds[1], 'each address keeps its side');
  t.same(
    rounds[0],
    addresses.map((address) => (inCanary(address) ? 'C' : 'W')),
    'the canary is the addresses inCanary() picks',
  );
  const share = rounds[0].filter((who) => who === 'C').length;
  t.ok(share > 0 && share < 12, `${share} of 40 to the canary`);
});

t.test('examples: sites from a JSON file, read again when it changes', async (t) => {
  t.same(await get(SITES, '/', 'one.test'), { status: 200, who: 'A' }, 'one.test: its backend');
  t.same(
    await get(SITES, '/', 'two.test'),
    { status: 200, who: 'W' },
    'a site not listed: the pool',
  );
  writeFileSync(sitesFile, JSON.stringify({ 'one.test': S.address, 'two.test': C.address }));
  await waitFor(async () => (await get(SITES, '/', 'two.test')).who === 'C', {
    what: 'the changed table',
  });
  t.same(await get(SITES, '/', 'one.test'), { status: 200, who: 'S' }, 'one.test moved');
});

t.test("examples: the Go proxy's Redis lookup, on every client", async (t) => {
  const db = await redisClient(t, redis);
  t.same(await get(REDIS, '/', 'r.test'), { status: 200, who: 'W' }, 'no key: the pool');
  await db.sAdd('hostnames:r.test:backends', A.address);
  await db.sAdd('hostnames:httpDefault:backends', S.address);
  t.same(await get(REDIS, '/', 'r.test'), { status: 200, who: 'A' }, 'its key, at once');
  t.same(await get(REDIS, '/', 'other.test'), { status: 200, who: 'S' }, 'httpDefault');
  await redis.stop();
  await waitFor(async () => (await get(REDIS, '/', 'r.test')).status === 500, {
    what: 'a 500 with Redis away',
  });
  t.pass('Redis away: every client fails (fleet mode would serve its last routes)');
});

t.test(
  'SIGHUP: a changed router takes effect; a broken one is refused, the old serves',
  async (t) => {
    const router = (body: string) => writeConfig(t, body, 'reloaded.mjs');
    router(`export default () => ({ pool: 'web' });\n`);
    const reloaded = writeConfig(
      t,
      {
        listen: [{ port: 0, protocol: 'http', router: './reloaded.mjs' }],
        statusPort: 0,
        pools,
      },
      'reloaded.json',
    );
    const balancer = await startPart(t, PART, ['--config', reloaded]);
    const port = balancer.port;
    const reloads = async (count: number) => {
      balancer.child.kill('SIGHUP');
      await waitFor(() => (balancer.output().match(/Reload/g) ?? []).length >= count, {
        what: `reload ${count}`,
      });
      return (
        balancer
          .output()
          .split('\n')
          .filter((line) => /Reload/.test(line))
          .at(-1) ?? ''
      );
    };
    t.same(await get(port), { status: 200, who: 'W' }, 'the first router');

    router(`export default () => ({ pool: 'api' });\n`);
    t.match(await reloads(1), /Reloaded/);
    t.same(await get(port), { status: 200, who: 'A' }, 'the changed file, after SIGHUP');

    const broken: [string, string, RegExp][] = [
      [
        'a syntax error',
        `export default () => {\n  return { pool: 'web' } }};\n`,
        /reloaded\.mjs:2:\d+: SyntaxError: Unexpected token '}'$/,
      ],
      [
        'no default export',
        `export const route = () => undefined;\n`,
        /reloaded\.mjs: no default export/,
      ],
      [
        'a throw while loading',
        `const table = {};\n\nthrow new Error('no table yet');\nexport default () => undefined;\n`,
        /reloaded\.mjs:3:7: Error: no table yet$/,
      ],
    ];
    for (const [i, [what, body, said]] of broken.entries()) {
      router(body);
      const line = await reloads(i + 2);
      t.match(
        line,
        /Reload refused, the running configuration stays: \S+reloaded\.json: listen\[0\]\.router: /,
        what,
      );
      t.match(line, said, `${what}: the file, where, and what`);
      t.same(await get(port), { status: 200, who: 'A' }, `${what}: the old router serves on`);
    }
    t.notMatch(balancer.output(), /^\s+at /m, 'no stack trace');
  },
);

t.test('at start, a broken router is one line naming the file and where, and exit 1', async (t) => {
  const broken = writeConfig(
    t,
    `import type { RouteRequest } from '../types.ts';\nexport default (r: RouteRequest) => {\n`,
    'broken.ts',
  );
  const run = await runProgram(`${PART}/proxy.ts`, ['0', W.address, '--router', broken]);
  t.equal(run.code, 1, 'exit 1');
  t.match(
    run.stderr,
    /^proxy\.ts: command line: --router: \S+broken\.ts:3:1: SyntaxError: Unexpected end of file\n$/,
    'one line: where the router was named, then the file and where in it; no stack trace',
  );
});

t.test('--router outside the quick start, or naming no file: one line each', async (t) => {
  const [withConfig, missing] = await Promise.all([
    runProgram(`${PART}/proxy.ts`, ['--config', 'x.json', '--router', 'r.ts']),
    runProgram(`${PART}/proxy.ts`, ['0', W.address, '--router', '/nonexistent/router.ts']),
  ]);
  t.equal(withConfig.code, 2, 'with --config: exit 2');
  t.match(
    withConfig.stderr,
    /^proxy\.ts: --router goes with the quick start \(in a file: a listener's "router"\)\nusage: /,
    'with --config: the line says where a router goes instead, then the usage',
  );
  t.equal(missing.code, 1, 'no such file: exit 1');
  t.equal(
    missing.stderr,
    'proxy.ts: command line: --router: /nonexistent/router.ts: no such file\n',
  );
});
