/**
 * Fleet mode through the real command line and a real redis-server: routes
 * from Redis in the Go proxy's key layout for HTTP and TLS, wildcard and
 * default keys, a live add and remove, the link to Redis gone silent and
 * healed, Redis stopped under steady traffic and restarted, and Redis down at
 * start.
 *
 * One redis-server for the whole file, and one fleet proxy on its database 0,
 * started while Redis is still down, which the tests take in turn; it reaches
 * Redis through a fault relay (the link), which passes every byte until a
 * test makes it go silent. The workers test has its own proxy, on database 1.
 * The order keeps each test's starting point: Redis down at start first, the
 * removed host before the wildcard and default keys exist, the outage last.
 * With SAVE_RESULTS=1 the silent-link test saves the time from the heal to
 * fresh routes to shared/results/fleet-heal.json (chapter 7 quotes it).
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';
import t from 'tap';
import { saveTestResults, testProvenance } from '../../shared/lib/results.ts';
import { startFaultRelay } from '../../shared/test/fault-relay.ts';
import {
  httpGet,
  parseResponse,
  readAll,
  serveBackend,
  waitFor,
} from '../../shared/test/harness.ts';
import { type RedisServer, redisClient, redisServer } from '../../shared/test/redis.ts';
import { startFleet, status, whenOpen, whoServesHost } from './support.ts';

const [A, B, S] = await Promise.all([
  serveBackend(t, { name: 'A' }),
  serveBackend(t, { name: 'B' }),
  serveBackend(t, { name: 'S', tls: true }),
]);
const member = (program: { port: number }) => `127.0.0.1:${program.port}`;

/** A fleet proxy on `url` as these tests start it: with its status port, and --verbose. */
async function startVerboseFleet(url: string, extra: string[] = []) {
  const started = await startFleet(t, url, [...extra, '--status-port', '0', '--verbose']);
  return { ...started, statusPort: started.statusPort as number };
}

const redis = await redisServer(t);
/** The same server, database 1. */
const database1: RedisServer = { ...redis, url: `${redis.url}/1` };
const link = await startFaultRelay(t, redis.port);
const fleet = await startVerboseFleet(`redis://127.0.0.1:${link.port}`);
const { proxy, http } = fleet;

/**
 * Requests for `host` one after another, 10 ms apart, until stop(): how many
 * `expected` answered, and how many got anything else (a 404, a close,
 * another backend). Paced, not as fast as the machine goes: what matters is
 * that requests keep coming through an outage, and the cores are shared.
 */
function steadyTraffic(host: string, expected: string) {
  const counts = { answered: 0, failed: 0 };
  let done = false;
  const loop = (async () => {
    while (!done) {
      if ((await whoServesHost(http, host)) === expected) counts.answered++;
      else counts.failed++;
      await delay(10);
    }
  })();
  return {
    counts,
    /** Waits for `n` more answers than now. */
    more: (n: number) => {
      const from = counts.answered;
      return waitFor(() => counts.answered >= from + n, { what: `${n} more answers` });
    },
    stop: async () => {
      done = true;
      await loop;
      return counts;
    },
  };
}

t.test('Redis down at start: the proxy serves 404 until the routes arrive', async (t) => {
  t.equal(
    await whoServesHost(http, 'www.example.org'),
    '(No site is served here for www.example.org.)',
  );
  t.notMatch(proxy.output(), /\n\s+at /, 'no stack trace');
  await redis.start();
  const db = await redisClient(t, redis);
  await db.sAdd('hostnames:www.example.org:backends', member(A));
  await waitFor(async () => (await whoServesHost(http, 'www.example.org')) === 'A', {
    what: 'the routes once Redis is up',
  });
  t.pass('routes arrived once Redis came up');
});

t.test('two workers: each keeps its own table, and an update reaches every one', async (t) => {
  const db = await redisClient(t, database1);
  await db.sAdd('hostnames:www.example.org:backends', member(A));
  const { http, statusPort } = await startVerboseFleet(database1.url, ['--workers', '2']);
  const inWorkers = async () =>
    ((await status(statusPort)) as unknown as { workers: { pid: number; routes: number }[] })
      .workers;
  await waitFor(async () => (await inWorkers()).every((w) => w.routes === 1), {
    what: 'both workers loaded the route',
  });
  await db.sAdd('hostnames:new.example.net:backends', member(B));
  await waitFor(async () => (await inWorkers()).every((w) => w.routes === 2), {
    what: 'the new route in both workers',
  });
  const seen = await inWorkers();
  t.equal(seen.length, 2, `workers ${seen.map((w) => w.pid).join(' and ')} both have 2 routes`);
  for (let i = 0; i < 6; i++) {
    t.equal(
      await whoServesHost(http, 'new.example.net'),
      'B',
      `client ${i + 1}, whichever worker: B`,
    );
  }
});

t.test('a host removed from Redis: no new clients, its open connections finish', async (t) => {
  const db = await redisClient(t, redis);
  await db.sAdd('hostnames:gone.example.org:backends', member(A));
  // A request the backend answers after 1.5 s, open while the route goes.
  await waitFor(async () => (await whoServesHost(http, 'gone.example.org')) === 'A', {
    what: 'the route',
  });
  // The route goes only once the slow request has been routed and relayed:
  // nothing else open first, then exactly that one connection to a backend.
  await whenOpen(fleet.statusPort, 0);
  const slow = net.connect(http, '127.0.0.1');
  slow.on('error', () => {});
  slow.write('GET /?delay=1500 HTTP/1.1\r\nHost: gone.example.org\r\nConnection: close\r\n\r\n');
  const answer = readAll(slow, 10_000);
  await whenOpen(fleet.statusPort, 1);
  await db.del('hostnames:gone.example.org:backends');
  await waitFor(async () => (await whoServesHost(http, 'gone.example.org')) !== 'A', {
    what: 'new clients refused',
  });
  t.equal(
    await whoServesHost(http, 'gone.example.org'),
    '(No site is served here for gone.example.org.)',
    'a new client gets 404',
  );
  const body = parseResponse((await answer).data).body.toString();
  t.match(body, /^Hello from backend A/, 'the request open when the route went finished on A');
});

t.test(
  'routes from Redis: exact, wildcard and default keys, HTTP and TLS, live changes',
  async (t) => {
    const db = await redisClient(t, redis);
    await db.sAdd('hostnames:www.example.org:backends', member(A));
    await db.sAdd('hostnames:*.example.org:backends', member(B));
    await db.sAdd('hostnames:httpDefault:backends', member(A));
    await db.sAdd('hostnames:secure.example.org:backends', member(S));
    const { https, statusPort } = fleet;
    const written = ['www.example.org', '*.example.org', 'httpDefault', 'secure.example.org'];
    await waitFor(
      async () => {
        const { routes = [] } = await status(statusPort);
        return written.every((host) => routes.some((route) => route.host === host));
      },
      { what: 'the four routes in the table' },
    );

    t.equal(await whoServesHost(http, 'www.example.org'), 'A', 'exact key');
    t.equal(await whoServesHost(http, 'shop.example.org'), 'B', 'wildcard key');
    t.equal(await whoServesHost(http, 'other.net'), 'A', 'the httpDefault key');
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
    await waitFor(async () => (await whoServesHost(http, 'new.example.net')) === 'B', {
      what: 'the new route',
    });
    const delay = performance.now() - began;
    t.ok(delay < 1000, `an SADD reached new clients in ${delay.toFixed(0)} ms`);
    await db.sRem('hostnames:www.example.org:backends', member(A));
    await waitFor(async () => (await whoServesHost(http, 'www.example.org')) === 'B', {
      what: 'www to fall back on *.example.org',
    });
    t.pass('an SREM emptied the exact key: its clients go to the wildcard');

    const report = (await status(statusPort)) as unknown as {
      redis: { connected: boolean };
      routes: { host: string; pool: string; source: string }[];
    };
    t.equal(report.redis.connected, true, 'the status says Redis is connected');
    const metrics = (await httpGet(statusPort, '/metrics')).body.toString();
    t.match(metrics, /^rsp_redis_link_state\{state="up"\} 1$/m, '/metrics: the link is up');
    t.match(metrics, /^rsp_redis_resyncs_total [1-9]\d*$/m, '/metrics: the routes were read');
    t.same(
      report.routes.find((route) => route.host === 'new.example.net'),
      { host: 'new.example.net', pool: member(B), source: 'redis' },
      'and lists the routes, with where they came from',
    );
  },
);

t.test(
  'the link to Redis goes silent: the last routes serve on, the status says so; healed: fresh routes within 15 s',
  async (t) => {
    const began = testProvenance(import.meta.url);
    const db = await redisClient(t, redis);
    const key = 'hostnames:moved.example.org:backends';
    await db.sAdd(key, member(A));
    await waitFor(async () => (await whoServesHost(http, 'moved.example.org')) === 'A', {
      what: 'moved on A',
    });
    const mark = proxy.output().length;
    const logged = (pattern: RegExp) => proxy.output().slice(mark).match(pattern) ?? [];
    const linkState = async () => (await status(fleet.statusPort)).redis;

    const traffic = steadyTraffic('moved.example.org', 'A');
    // A failure below must not leave the link silent or the loop running for the next test.
    t.teardown(async () => {
      link.set('none');
      await traffic.stop();
    });
    link.set('silence');
    // Written to Redis itself, not through the link: only a full read after
    // the heal can bring it to the proxy.
    await db.multi().del(key).sAdd(key, member(B)).exec();
    const silent = await waitFor(
      async () => {
        const now = await linkState();
        return now?.state === 'silent' ? now : undefined;
      },
      { what: 'the status to say the link is silent' },
    );
    // Counted from the PING that got no answer, which had 2 s to get one.
    t.ok((silent?.silentForMs ?? 0) >= 2000, `silent for ${silent?.silentForMs} ms`);
    await traffic.more(20);
    const { answered, failed } = await traffic.stop();
    t.equal(failed, 0, `${answered} requests during the silence, all on the last routes`);

    // The connections made again during the silence are held by it too (a
    // partition drops their handshake as well): the heal comes just after a
    // new pair, the worst moment, since that pair is given up only at its
    // deadline.
    const held = link.accepted;
    await waitFor(() => link.accepted >= held + 2, { what: 'a new pair held by the silence' });
    link.set('none');
    const healed = performance.now();
    // Clients go on across the heal: each is answered, by the last route or
    // the fresh one, never refused while the table is read again.
    const answers = new Set<string>();
    await waitFor(
      async () => {
        const answer = await whoServesHost(http, 'moved.example.org');
        answers.add(answer);
        return answer === 'B';
      },
      { timeoutMs: 15_000, what: 'the fresh route after the heal' },
    );
    const took = performance.now() - healed;
    t.same(
      [...answers].filter((answer) => answer !== 'A' && answer !== 'B'),
      [],
      'every client across the heal answered, by the last route or the fresh one',
    );
    t.comment(`heal to fresh routes: ${(took / 1000).toFixed(1)} s`);
    t.ok(took < 15_000, `fresh routes ${(took / 1000).toFixed(1)} s after the heal`);
    saveTestResults('fleet-heal', began, { healMs: took });
    t.same(await linkState(), { connected: true, state: 'up' }, 'the status says the link is up');
    t.equal(logged(/went silent/g).length, 1, 'one line when it went silent, none per PING');
    t.equal(logged(/is back/g).length, 1, 'one line when the routes were read again');
  },
);

t.test(
  'Redis stopped under steady traffic: no client error; restarted: the next change arrives',
  async (t) => {
    const db = await redisClient(t, redis);
    await db.sAdd('hostnames:www.example.org:backends', member(A));
    await waitFor(async () => (await whoServesHost(http, 'www.example.org')) === 'A', {
      what: 'www on A',
    });
    // From here on, the log of this test alone.
    const mark = proxy.output().length;
    const logged = () => proxy.output().slice(mark);

    const traffic = steadyTraffic('www.example.org', 'A');
    await redis.stop();
    await waitFor(() => /unreachable/.test(logged()), { what: 'the outage in the log' });
    const during = traffic.counts.answered;
    await traffic.more(20);
    const { answered, failed } = await traffic.stop();
    t.equal(
      failed,
      0,
      `${answered} requests, ${answered - during} of them during the outage: none failed`,
    );
    await redis.start();
    const again = await redisClient(t, redis);
    await waitFor(async () => /is back/.test(logged()), { what: 'Redis back in the log' });
    // A restarted Redis is empty: the route comes back when it is written again.
    await again.sAdd('hostnames:www.example.org:backends', member(B));
    await waitFor(async () => (await whoServesHost(http, 'www.example.org')) === 'B', {
      what: 'the change made after the restart',
    });
    t.pass('the change made after the restart arrived');
    t.equal(logged().match(/unreachable/g)?.length, 1, 'the outage is one log line');
  },
);
