/**
 * Routes from Redis, against a real redis-server: the table loaded at start,
 * kept live by notifications (and how fast), kept through an outage or a
 * silent link, read again after it, and never a queue of commands waiting for
 * Redis. The cable, a fault relay (shared/test/fault-relay.ts), stands
 * between the table and Redis where a test must count reconnect attempts, or
 * cut the table off or silence its link while Redis runs on.
 *
 * Two servers for the whole file: one with CONFIG disabled, and one that the
 * other tests share, each in a database of its own (notifications come per
 * database), in an order that keeps each test's starting point: the first
 * test sees notifications as the server started, the outage comes last.
 *
 * With SAVE_RESULTS=1 the live test saves the delays it measured to
 * shared/results/redis-routes.json, where chapter 7's figures come from.
 */
import { EventEmitter } from 'node:events';
import t, { type Test } from 'tap';
import { saveTestResults, testProvenance } from '../../shared/lib/results.ts';
import { startFaultRelay } from '../../shared/test/fault-relay.ts';
import { deadPort, waitFor } from '../../shared/test/harness.ts';
import { type RedisServer, redisClient, startRedis } from '../../shared/test/redis.ts';
import { clientOptions, RedisRoutes, type RedisRoutesOptions } from '../fleet/redis-link.ts';
import type { Protocol, RouteMatch } from '../fleet/route-table.ts';

// The log lines, captured for the whole file (they are part of the behaviour).
const lines: string[] = [];
const consoleLog = console.log;
console.log = (line: string) => lines.push(line);
t.teardown(() => {
  console.log = consoleLog;
});

/** The lines logged from `mark` on that match `pattern`. */
function logged(mark: number, pattern: RegExp): string[] {
  return lines.slice(mark).filter((line) => pattern.test(line));
}

/** A table on `url`, stopped on teardown; `events` emits 'change' with each route onChange names. */
function routesOn(t: Test, url: string, options: Partial<RedisRoutesOptions> = {}) {
  const events = new EventEmitter();
  const changed: string[] = [];
  const routes = new RedisRoutes({
    url,
    retryMaxMs: 200,
    onChange: (route) => {
      changed.push(route);
      events.emit('change', route);
    },
    ...options,
  });
  t.teardown(() => routes.stop());
  const ids = (host: string, protocol: Protocol = 'http') =>
    routes.lookup(host, protocol)?.backends.map((backend) => backend.id);
  return { routes, events, changed, ids };
}

/** Resolves at the first onChange after which `accept()` holds. */
function untilChange(events: EventEmitter, accept: () => boolean, timeoutMs = 5000) {
  return new Promise<void>((resolve, reject) => {
    const onChange = () => {
      if (!accept()) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no such change within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      events.off('change', onChange);
    };
    events.on('change', onChange);
  });
}

const routeOf = (match: RouteMatch | undefined) => match?.route;

// Someone else's notification classes: they must survive ours.
const [redis, noConfig] = await Promise.all([
  startRedis(t, ['--notify-keyspace-events', 'E$']),
  startRedis(t, ['--rename-command', 'CONFIG', '']),
]);
/** The shared server, seen in database `n`. */
const database = (n: number): RedisServer => ({ ...redis, url: `${redis.url}/${n}` });

/**
 * A table on the shared server's database `n`, reached through a fault relay
 * (the cable), started once `keys` (host: member) are written.
 */
async function throughCable(
  t: Test,
  n: number,
  keys: Record<string, string>,
  options: Partial<RedisRoutesOptions> = {},
) {
  const cable = await startFaultRelay(t, redis.port);
  const client = await redisClient(t, database(n));
  for (const [host, member] of Object.entries(keys)) {
    await client.sAdd(`hostnames:${host}:backends`, member);
  }
  const table = routesOn(t, `redis://127.0.0.1:${cable.port}/${n}`, options);
  await table.routes.start();
  return { cable, client, ...table };
}

t.test(
  'start: exact, wildcard and default routes load; bare members get 80 or 443; a bad member is skipped with one line',
  async (t) => {
    const client = await redisClient(t, redis);
    await client.sAdd('hostnames:www.example.org:backends', [
      '10.0.0.1',
      '10.0.0.2:8080',
      'bad member\n\x1b[2J',
    ]);
    await client.sAdd('hostnames:*.example.org:backends', '10.0.0.3');
    await client.sAdd('hostnames:*.b.example.org:backends', ['[::1]:9000', '2001:DB8:0:0::1']);
    await client.sAdd('hostnames:Shop.Example.NET.:backends', 'Backend.Internal:81');
    await client.sAdd('hostnames:httpDefault:backends', '10.0.0.9');
    await client.sAdd('hostnames:httpsDefault:backends', '10.0.0.10:8443');
    await client.set('hostnames:a-string.example.org:backends', '10.0.0.11');
    await client.sAdd('elsewhere:www.example.org:backends', '10.0.0.12');

    const mark = lines.length;
    const { routes, ids } = routesOn(t, redis.url);
    await routes.start();

    t.ok(routes.connected, 'connected once loaded');
    t.same(ids('www.example.org'), ['10.0.0.1:80', '10.0.0.2:8080'], 'bare: port 80 for HTTP');
    t.same(ids('www.example.org', 'tls'), ['10.0.0.1:443', '10.0.0.2:8080'], 'bare: 443 for TLS');
    t.same(
      ids('WWW.Example.ORG.'),
      ids('www.example.org'),
      'case and a trailing dot do not matter',
    );
    t.equal(routeOf(routes.lookup('a.example.org', 'http')), '*.example.org', 'wildcard');
    t.equal(
      routeOf(routes.lookup('x.y.b.example.org', 'tls')),
      '*.b.example.org',
      'the longest suffix first',
    );
    t.same(ids('c.b.example.org', 'tls'), ['[2001:db8::1]:443', '[::1]:9000'], 'IPv6 members');
    t.equal(
      routeOf(routes.lookup('example.org', 'http')),
      'httpDefault',
      '*.example.org is not example.org itself',
    );
    t.same(ids('shop.example.net'), ['backend.internal:81'], 'a key in capitals, with a dot');
    t.same(ids('nowhere.test'), ['10.0.0.9:80'], 'HTTP default');
    t.same(ids('nowhere.test', 'tls'), ['10.0.0.10:8443'], 'TLS default');
    t.equal(
      routeOf(routes.lookup('a-string.example.org', 'http')),
      '*.example.org',
      'a key that is not a set is no route',
    );
    t.same(
      routes.lookup('www.example.org', 'http'),
      routes.lookup('www.example.org', 'http'),
      'a lookup returns the same object until the route changes',
    );

    const skipped = logged(mark, /skipped member/);
    t.equal(skipped.length, 1, 'one line for the bad member');
    t.match(
      skipped[0],
      'hostnames:www.example.org:backends: skipped member "bad member\\x0a\\x1b[2J"',
    );
    t.same(logged(mark, /Routes from Redis at redis:\/\/127\.0\.0\.1:\d+: 6 loaded\.$/).length, 1);

    const { connected, routes: shown } = routes.snapshot();
    t.equal(connected, true);
    t.same(
      shown.map((route) => route.host),
      [
        '*.b.example.org',
        '*.example.org',
        'httpDefault',
        'httpsDefault',
        'shop.example.net',
        'www.example.org',
      ],
    );
    t.same(shown.at(-1), {
      host: 'www.example.org',
      backends: ['10.0.0.1', '10.0.0.2:8080'],
      source: 'redis',
    });

    const flags = (await client.configGet('notify-keyspace-events'))['notify-keyspace-events'];
    for (const flag of 'E$Kgsxe') t.ok(flags.includes(flag), `notify-keyspace-events has ${flag}`);
  },
);

t.test(
  'names as the host table reads them: an address never matches a wildcard, IPv6 keys route, mapped members keep their IPv4 form',
  async (t) => {
    const redis = database(6);
    const client = await redisClient(t, redis);
    // "*.0.0.1" is a name like any other, but 10.0.0.1 is an address, not a name under it.
    await client.sAdd('hostnames:*.0.0.1:backends', '10.0.6.1');
    await client.sAdd('hostnames:httpDefault:backends', '10.0.6.9');
    // A config's hosts take these two; the Redis keys must mean the same.
    await client.sAdd('hostnames:0:0::1:backends', '10.0.6.2');
    await client.sAdd('hostnames:-edge.example.org:backends', '10.0.6.3');
    // RFC 5952 writes an IPv4-mapped address with its IPv4 tail, as a socket shows it.
    await client.sAdd('hostnames:mapped.example.org:backends', '[::FFFF:10.0.6.4]:8080');
    // Brackets hold an IPv6 address, as in a URL or a Host header, and nothing else.
    await client.sAdd('hostnames:brackets.example.org:backends', [
      '[10.0.6.5]:80',
      '[abc]',
      '10.0.6.6',
    ]);
    const { routes, ids } = routesOn(t, redis.url);
    await routes.start();

    t.equal(routeOf(routes.lookup('10.0.0.1', 'http')), 'httpDefault', 'an address: no wildcard');
    t.equal(routeOf(routes.lookup('a.0.0.1', 'http')), '*.0.0.1', 'a name under it: the wildcard');
    t.equal(routeOf(routes.lookup('::1', 'http')), '::1', 'an IPv6 route, canonical');
    t.same(ids('-edge.example.org'), ['10.0.6.3:80'], 'a label starting with "-"');
    t.same(ids('mapped.example.org'), ['[::ffff:10.0.6.4]:8080']);
    t.same(
      ids('brackets.example.org'),
      ['10.0.6.6:80'],
      'an IPv4 address or a name in brackets: skipped',
    );
  },
);

/** What the live test saves: the delay from each SADD to the changed table, sorted. */
export interface RouteDelays {
  delaysMs: number[];
  medianMs: number;
  maxMs: number;
}

t.test('live: SADD, SREM and DEL reach the table well within a second', async (t) => {
  const began = testProvenance(import.meta.url);
  const redis = database(1);
  const client = await redisClient(t, redis);
  const key = 'hostnames:live.example.org:backends';
  await client.sAdd(key, '10.0.1.1');
  const { routes, events, changed, ids } = routesOn(t, redis.url);
  await routes.start();
  const mark = lines.length;
  const has = (id: string) => ids('live.example.org')?.includes(id) ?? false;

  const delays: number[] = [];
  for (let i = 2; i <= 21; i++) {
    const seen = untilChange(events, () => has(`10.0.1.${i}:80`));
    const sent = performance.now();
    await client.sAdd(key, `10.0.1.${i}`);
    await seen;
    delays.push(performance.now() - sent);
  }
  delays.sort((a, b) => a - b);
  const median = (delays[9] + delays[10]) / 2;
  const max = delays[19];
  t.comment(
    `SADD to table change, 20 updates: median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
  );
  t.ok(max < 1000, `every update within a second (max ${max.toFixed(1)} ms)`);
  const saved: RouteDelays = { delaysMs: delays, medianMs: median, maxMs: max };
  saveTestResults('redis-routes', began, saved);
  t.equal(ids('live.example.org')?.length, 21);

  const removed = untilChange(events, () => !has('10.0.1.1:80'));
  await client.sRem(key, '10.0.1.1');
  await removed;
  t.pass('SREM: the member goes');

  const bad = untilChange(events, () => has('10.0.1.99:80'));
  await client.sAdd(key, ['not:a:member', '10.0.1.99']);
  await bad;
  const after = untilChange(events, () => has('10.0.1.100:80'));
  await client.sAdd(key, '10.0.1.100');
  await after;
  t.equal(logged(mark, /skipped member/).length, 1, 'a bad member is logged once, not per read');

  const gone = untilChange(events, () => routes.lookup('live.example.org', 'http') === undefined);
  await client.del(key);
  await gone;
  t.pass('DEL: the route goes');

  const lastKey = 'hostnames:*.live.example.org:backends';
  const added = untilChange(events, () => ids('x.live.example.org') !== undefined);
  await client.sAdd(lastKey, '10.0.1.200');
  await added;
  const emptied = untilChange(events, () => ids('x.live.example.org') === undefined);
  await client.sRem(lastKey, '10.0.1.200');
  await emptied;
  t.pass('SREM of the last member: the route goes');

  t.same(
    [...new Set(changed)],
    ['live.example.org', '*.live.example.org'],
    'onChange names the route that changed',
  );
  t.ok(routes.connected);
});

t.test(
  'cut off while Redis runs on: the changes made meanwhile are there after the reconnect',
  async (t) => {
    const { cable, client, routes, ids } = await throughCable(t, 2, {
      'a.example.org': '10.0.4.1',
      'b.example.org': '10.0.4.2',
    });
    const mark = lines.length;

    cable.set('cut');
    await waitFor(() => !routes.connected, { what: 'the table to notice the cut' });
    await client.del('hostnames:a.example.org:backends');
    await client.sAdd('hostnames:b.example.org:backends', '10.0.4.3');
    await client.sAdd('hostnames:c.example.org:backends', '10.0.4.4');
    t.same(
      ids('a.example.org'),
      ['10.0.4.1'].map((a) => `${a}:80`),
      'no notification got through',
    );

    cable.set('none');
    await waitFor(() => routes.connected, { what: 'the reconnect' });
    t.equal(ids('a.example.org'), undefined, 'deleted while away: gone');
    t.same(ids('b.example.org'), ['10.0.4.2:80', '10.0.4.3:80'], 'changed while away: changed');
    t.same(ids('c.example.org'), ['10.0.4.4:80'], 'added while away: there');
    t.equal(logged(mark, /unreachable/).length, 1);
    t.match(logged(mark, /is back/), [/2 route\(s\), 3 changed\.$/]);

    await client.sAdd('hostnames:c.example.org:backends', '10.0.4.5');
    await waitFor(() => ids('c.example.org')?.length === 2, { what: 'the next live change' });
    t.pass('live changes arrive again');
  },
);

t.test(
  'Redis down at start: an empty table and no crash; the routes appear when it comes up',
  async (t) => {
    // Down for the table: a cut cable closes each connection at once, as it
    // does in front of a stopped Redis (it accepts, and its upstream refuses).
    const cable = await startFaultRelay(t, redis.port);
    cable.set('cut');
    const mark = lines.length;
    const { routes, ids } = routesOn(t, `redis://127.0.0.1:${cable.port}/3`);
    await routes.start();
    t.equal(routes.connected, false, 'start() resolves without Redis');
    t.same(routes.snapshot().routes, [], 'an empty table');
    t.equal(routes.lookup('late.example.org', 'http'), undefined);
    await waitFor(() => cable.accepted >= 5, { what: 'five connection attempts' });
    t.match(logged(mark, /unreachable/), [/: no routes yet, retrying\.$/], 'one line');

    const client = await redisClient(t, database(3));
    await client.sAdd('hostnames:late.example.org:backends', '10.0.5.1');
    cable.set('none');
    await waitFor(() => ids('late.example.org'), { what: 'the routes after Redis came up' });
    t.same(ids('late.example.org'), ['10.0.5.1:80']);
    t.ok(routes.connected);
    t.equal(logged(mark, /: 1 loaded\.$/).length, 1, 'one line when they are loaded');
  },
);

t.test(
  'the link goes silent: the routes stay, one line however long; healed: everything read again',
  async (t) => {
    const { cable, client, routes, ids } = await throughCable(
      t,
      5,
      { 'quiet.example.org': '10.0.7.1' },
      { pingIntervalMs: 100, pingTimeoutMs: 500 },
    );
    const mark = lines.length;

    const pings = async () =>
      Number((await client.info('commandstats')).match(/cmdstat_ping:calls=(\d+)/)?.[1] ?? 0);
    const before = await pings();
    await waitFor(async () => (await pings()) >= before + 6, { what: 'three rounds of PINGs' });
    t.same(routes.link(), { connected: true, state: 'up' }, 'PINGs answered: up');

    cable.set('silence');
    await client.sAdd('hostnames:quiet.example.org:backends', '10.0.7.2');
    await waitFor(() => routes.link().state === 'silent', { what: 'the silence noticed' });
    // Each new pair of connections is held by the silence too, and dropped in turn.
    const accepted = cable.accepted;
    await waitFor(() => cable.accepted >= accepted + 4, { what: 'two more pairs of connections' });
    t.same(ids('quiet.example.org'), ['10.0.7.1:80'], 'the route known stays');
    const { silentForMs = 0 } = routes.link();
    t.ok(silentForMs >= 500, `silent for ${silentForMs} ms, from the PING that got no answer`);
    t.match(
      logged(mark, /silent/),
      [
        /Redis at redis:\/\/127\.0\.0\.1:\d+\/5 went silent \(no answer to PING within 500 ms\): keeping the 1 route\(s\) known, retrying\.$/,
      ],
      'one line, however many connections it held',
    );

    cable.set('none');
    await waitFor(() => routes.connected, { what: 'the reconnect after the heal' });
    t.same(
      ids('quiet.example.org'),
      ['10.0.7.1:80', '10.0.7.2:80'],
      'the change made during the silence',
    );
    t.match(logged(mark, /is back/), [/: 1 route\(s\), 1 changed\.$/], 'one line when read again');
    t.same(routes.link(), { connected: true, state: 'up' });
  },
);

t.test(
  'Redis stops: the routes stay, one line however many retries, and no command waits for it',
  async (t) => {
    const { cable, client, routes, ids } = await throughCable(t, 4, {
      'kept.example.org': '10.0.3.1',
    });
    const mark = lines.length;

    await redis.stop();
    const before = cable.accepted;
    await waitFor(() => cable.accepted >= before + 5, { what: 'five reconnect attempts' });
    t.equal(routes.connected, false, 'not connected');
    t.same(ids('kept.example.org'), ['10.0.3.1:80'], 'the route known stays');
    t.equal(routes.snapshot().connected, false, 'the snapshot says so');
    const down = logged(mark, /unreachable/);
    t.equal(down.length, 1, 'one line');
    t.match(
      down[0],
      /Redis at redis:\/\/127\.0\.0\.1:\d+\/4 unreachable \(.*\): keeping the 1 route\(s\) known, retrying\.$/,
    );
    t.equal(lines.length - mark, 1, 'and nothing per retry');

    // Queued commands would wait for Redis, forever here: every one settles.
    const refreshes = await Promise.allSettled(Array.from({ length: 100 }, () => routes.refresh()));
    t.ok(
      refreshes.every((result) => result.status === 'rejected'),
      'commands fail at once while Redis is away',
    );
    const options = clientOptions(`redis://127.0.0.1:${cable.port}/4`, 200);
    t.equal(options.disableOfflineQueue, true, 'no offline queue');
    t.ok(options.commandsQueueMaxLength <= 1024, 'the queue of commands in flight is bounded');

    // Restarted empty (nothing was saved): only a full read can drop the old route.
    await redis.start();
    await client.sAdd('hostnames:new.example.org:backends', '10.0.3.2');
    await waitFor(
      () => routes.connected && ids('kept.example.org') === undefined && ids('new.example.org'),
      { what: 'the table read again from the restarted Redis' },
    );
    t.same(ids('new.example.org'), ['10.0.3.2:80'], 'a route written to the restarted Redis');
    t.equal(logged(mark, /is back/).length, 1, 'one line when it is back');

    // The restarted Redis had no notifications on until we set them again.
    await client.sAdd('hostnames:new.example.org:backends', '10.0.3.3');
    await waitFor(() => ids('new.example.org')?.length === 2, { what: 'the next live change' });
    t.pass('live changes arrive again');
  },
);

t.test('CONFIG disabled: one line, and the routes are read again every pollMs', async (t) => {
  const redis = noConfig;
  const client = await redisClient(t, redis);
  await client.sAdd('hostnames:polled.example.org:backends', '10.0.6.1');
  const mark = lines.length;
  const { routes, ids } = routesOn(t, redis.url, { pollMs: 200 });
  await routes.start();
  t.same(ids('polled.example.org'), ['10.0.6.1:80']);

  for (const member of ['10.0.6.2', '10.0.6.3']) {
    await client.sAdd('hostnames:polled.example.org:backends', member);
    await waitFor(() => ids('polled.example.org')?.includes(`${member}:80`), {
      what: `${member} by polling`,
    });
  }
  const refused = logged(mark, /refused CONFIG/);
  t.equal(refused.length, 1, 'one line, not one per poll');
  t.match(
    refused[0],
    /notify-keyspace-events includes Kgsxe; routes are also re-read every 0\.2 s\.$/,
  );
});

t.test(
  'a URL that is not redis:// is refused in one line; a password never reaches the log',
  async (t) => {
    t.throws(
      () => new RedisRoutes({ url: 'http://127.0.0.1:6379' }),
      /^expected redis:\/\/host:port\[\/db\], got "http:\/\/127\.0\.0\.1:6379"$/,
    );
    t.throws(() => new RedisRoutes({ url: 'redis://127.0.0.1:6379/x' }), /expected redis:/);
    const port = await deadPort();
    const mark = lines.length;
    const { routes } = routesOn(t, `redis://user:secret@127.0.0.1:${port}/2`);
    await routes.start();
    t.match(logged(mark, /unreachable/), [`Redis at redis://127.0.0.1:${port}/2 unreachable`]);
    t.notOk(
      lines.slice(mark).some((line) => line.includes('secret')),
      'no password',
    );
  },
);
