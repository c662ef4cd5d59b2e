/**
 * Fleet mode through the real command line and a real redis-server: routes
 * from Redis in the Go proxy's key layout for HTTP and TLS, wildcard and
 * default keys, a live add and remove, Redis stopped under steady traffic and
 * restarted, and Redis down at start.
 */
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import {
  parseResponse,
  readAll,
  serveBackend,
  startPart,
  waitFor,
} from '../shared/test/harness.ts';
import { redisClient, redisServer, startRedis } from '../shared/test/redis.ts';
import { status } from './test-support.ts';

const [A, B, S] = await Promise.all([
  serveBackend(t, { name: 'A' }),
  serveBackend(t, { name: 'B' }),
  serveBackend(t, { name: 'S', tls: true }),
]);
const member = (program: { port: number }) => `127.0.0.1:${program.port}`;

/** Which backend answers a GET with this Host ('' when the proxy answers 404 or closes). */
async function who(port: number, host: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const received = await readAll(socket, 5000);
  if (received.data.length === 0) return '';
  const body = parseResponse(received.data).body.toString();
  return body.match(/^Hello from backend (\S+)/)?.[1] ?? `(${body.trim()})`;
}

/** The fleet proxy: --redis URL --http 0 --https 0; the two ports from its startup lines, in order. */
async function startFleet(url: string, extra: string[] = []) {
  const proxy = await startPart(t, 'part4-balancing', [
    ...extra,
    '--redis',
    url,
    '--http',
    '0',
    '--https',
    '0',
    '--status-port',
    '0',
    '--verbose',
  ]);
  const listeners =
    2 * (extra.includes('--workers') ? Number(extra[extra.indexOf('--workers') + 1]) : 1);
  await waitFor(
    () => [...proxy.output().matchAll(/Listening on port (\d+)/g)].length === listeners,
  );
  const ports = [...proxy.output().matchAll(/Listening on port (\d+)/g)].map((m) => Number(m[1]));
  const [http, https] = [...new Set(ports)];
  const statusPort = Number((await proxy.waitForOutput(/Status on port (\d+)/))[1]);
  return { proxy, http, https, statusPort };
}

t.test(
  'routes from Redis: exact, wildcard and default keys, HTTP and TLS, live changes',
  async (t) => {
    const redis = await startRedis(t);
    const db = await redisClient(t, redis);
    await db.sAdd('hostnames:www.example.org:backends', member(A));
    await db.sAdd('hostnames:*.example.org:backends', member(B));
    await db.sAdd('hostnames:httpDefault:backends', member(A));
    await db.sAdd('hostnames:secure.example.org:backends', member(S));
    const { http, https, statusPort } = await startFleet(redis.url);

    t.equal(await who(http, 'www.example.org'), 'A', 'exact key');
    t.equal(await who(http, 'shop.example.org'), 'B', 'wildcard key');
    t.equal(await who(http, 'other.net'), 'A', 'the httpDefault key');

    const secure = tls.connect({
      host: '127.0.0.1',
      port: https,
      servername: 'secure.example.org',
      rejectUnauthorized: false,
    });
    secure.on('error', () => {});
    secure.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const body = parseResponse((await readAll(secure)).data).body.toString();
    t.match(body, /^Hello from backend S\n/, 'TLS by SNI, from Redis');

    // A live change: SADD to a new host, then SREM of the exact key's only member.
    const began = performance.now();
    await db.sAdd('hostnames:new.example.net:backends', member(B));
    await waitFor(async () => (await who(http, 'new.example.net')) === 'B', {
      what: 'the new route',
    });
    const delay = performance.now() - began;
    t.ok(delay < 1000, `an SADD reached new clients in ${delay.toFixed(0)} ms`);
    await db.sRem('hostnames:www.example.org:backends', member(A));
    await waitFor(async () => (await who(http, 'www.example.org')) === 'B', {
      what: 'www to fall back on *.example.org',
    });
    t.pass('an SREM emptied the exact key: its clients go to the wildcard');

    const report = (await status(statusPort)) as unknown as {
      redis: { connected: boolean };
      routes: { host: string; pool: string; source: string }[];
    };
    t.equal(report.redis.connected, true, 'the status says Redis is connected');
    t.same(
      report.routes.find((route) => route.host === 'new.example.net'),
      { host: 'new.example.net', pool: member(B), source: 'redis' },
      'and lists the routes, with where they came from',
    );
  },
);

t.test(
  'Redis stopped under steady traffic: no client error; restarted: the next change arrives',
  async (t) => {
    const redis = await startRedis(t);
    const db = await redisClient(t, redis);
    await db.sAdd('hostnames:www.example.org:backends', member(A));
    const { proxy, http } = await startFleet(redis.url);
    t.equal(await who(http, 'www.example.org'), 'A');

    let answered = 0;
    let failed = 0;
    let done = false;
    const traffic = (async () => {
      while (!done) {
        if ((await who(http, 'www.example.org')) === 'A') answered++;
        else failed++;
      }
    })();
    await redis.stop();
    await waitFor(() => /unreachable/.test(proxy.output()), { what: 'the outage in the log' });
    const during = answered;
    await waitFor(() => answered > during + 20, { what: 'traffic during the outage' });
    done = true;
    await traffic;
    t.equal(
      failed,
      0,
      `${answered} requests, ${answered - during} of them during the outage: none failed`,
    );
    await redis.start();
    const again = await redisClient(t, redis);
    await waitFor(async () => /is back/.test(proxy.output()), { what: 'Redis back in the log' });
    // A restarted Redis is empty: the route comes back when it is written again.
    await again.sAdd('hostnames:www.example.org:backends', member(B));
    await waitFor(async () => (await who(http, 'www.example.org')) === 'B', {
      what: 'the change made after the restart',
    });
    t.pass('the change made after the restart arrived');
    t.equal(proxy.output().match(/unreachable/g)?.length, 1, 'the outage is one log line');
  },
);

t.test('Redis down at start: the proxy serves 404 until the routes arrive', async (t) => {
  const redis = await redisServer(t);
  const { proxy, http } = await startFleet(redis.url);
  t.equal(await who(http, 'www.example.org'), '(No site is served here for www.example.org.)');
  t.notMatch(proxy.output(), /\n\s+at /, 'no stack trace');
  await redis.start();
  const db = await redisClient(t, redis);
  await db.sAdd('hostnames:www.example.org:backends', member(A));
  await waitFor(async () => (await who(http, 'www.example.org')) === 'A', {
    what: 'the routes once Redis is up',
  });
  t.pass('routes arrived once Redis came up');
});

t.test('two workers: each keeps its own table, and an update reaches every one', async (t) => {
  const redis = await startRedis(t);
  const db = await redisClient(t, redis);
  await db.sAdd('hostnames:www.example.org:backends', member(A));
  const { http, statusPort } = await startFleet(redis.url, ['--workers', '2']);
  const workers = async () =>
    ((await status(statusPort)) as unknown as { workers: { pid: number; routes: number }[] })
      .workers;
  await waitFor(async () => (await workers()).every((w) => w.routes === 1), {
    what: 'both workers loaded the route',
  });
  await db.sAdd('hostnames:new.example.net:backends', member(B));
  await waitFor(async () => (await workers()).every((w) => w.routes === 2), {
    what: 'the new route in both workers',
  });
  const seen = await workers();
  t.equal(seen.length, 2, `workers ${seen.map((w) => w.pid).join(' and ')} both have 2 routes`);
  for (let i = 0; i < 6; i++) {
    t.equal(await who(http, 'new.example.net'), 'B', `client ${i + 1}, whichever worker: B`);
  }
});

t.test('a host removed from Redis: no new clients, its open connections finish', async (t) => {
  const redis = await startRedis(t);
  const db = await redisClient(t, redis);
  await db.sAdd('hostnames:gone.example.org:backends', member(A));
  const { http } = await startFleet(redis.url);
  // A request the backend answers after 1.5 s, open while the route goes.
  const slow = net.connect(http, '127.0.0.1');
  slow.on('error', () => {});
  slow.write('GET /?delay=1500 HTTP/1.1\r\nHost: gone.example.org\r\nConnection: close\r\n\r\n');
  const answer = readAll(slow, 10_000);
  await waitFor(async () => (await who(http, 'gone.example.org')) === 'A', { what: 'the route' });
  await db.del('hostnames:gone.example.org:backends');
  await waitFor(async () => (await who(http, 'gone.example.org')) !== 'A', {
    what: 'new clients refused',
  });
  t.equal(
    await who(http, 'gone.example.org'),
    '(No site is served here for gone.example.org.)',
    'a new client gets 404',
  );
  const body = parseResponse((await answer).data).body.toString();
  t.match(body, /^Hello from backend A/, 'the request open when the route went finished on A');
});
