/**
 * Fleet mode through Sentinel, with real processes: a primary and a replica
 * (redis-server), three redis-sentinel watching them, and part 4 started by
 * its command line with --redis-sentinel. Under steady traffic the primary
 * is killed; Sentinel promotes the replica, the proxy follows it, and a
 * route added on the new primary reaches new clients. And the Sentinel set
 * unreachable at start, and a malformed list.
 *
 * With SAVE_RESULTS=1 the failover test saves its times (the kill to the
 * proxy following the new primary, a change there to the change served) to
 * shared/results/sentinel-failover.json (chapter 9 quotes them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { runProgram } from '../../shared/lib/programs.ts';
import { saveTestResults, testProvenance } from '../../shared/lib/results.ts';
import { deadPort, serveBackend, waitFor } from '../../shared/test/harness.ts';
import { redisClient, startRedis } from '../../shared/test/redis.ts';
import { startSentinels } from '../../shared/test/sentinel.ts';
import { parseConfig } from '../config/parse.ts';
import { PART, startFleet, status, whoServesHost } from './support.ts';

const MASTER = 'routes';
const [A, B] = await Promise.all([serveBackend(t, { name: 'A' }), serveBackend(t, { name: 'B' })]);
const member = (program: { port: number }) => `127.0.0.1:${program.port}`;

t.test('the Sentinel set unreachable at start: the proxy starts and serves nothing', async (t) => {
  const list = `127.0.0.1:${await deadPort()},127.0.0.1:${await deadPort()}`;
  const fleet = await startFleet(t, ['--redis-sentinel', list, '--redis-master', MASTER]);
  t.equal(
    await whoServesHost(fleet.http, 'www.example.org'),
    '(No site is served here for www.example.org.)',
  );
  await waitFor(() => /unreachable/.test(fleet.proxy.output()), { what: 'the outage line' });
  await delay(1500);
  t.equal(fleet.proxy.output().match(/unreachable/g)?.length, 1, 'one line, none per retry');
  t.match(fleet.proxy.output(), `Sentinel ${list} (master "${MASTER}")`, 'it names the set');
  t.notMatch(fleet.proxy.output(), /\n\s+at /, 'no stack trace');
});

t.test('routeSource through Sentinel: read and checked', async (t) => {
  const fleetConfig = (routeSource: Record<string, unknown>) =>
    parseConfig(
      { listen: [{ port: 8080, protocol: 'http' }], pools: {}, routeSource },
      'test.json',
    );
  const { routeSource } = fleetConfig({ sentinel: '10.0.0.1:26379,[::1]:26380', master: 'routes' });
  t.equal(routeSource?.sentinel, '10.0.0.1:26379,[::1]:26380');
  t.equal(routeSource?.master, 'routes');
  t.equal(routeSource?.redis, 'redis://primary', 'redis is optional: Sentinel names the host');
  const cases: [string, Record<string, unknown>, string][] = [
    ['no master', { sentinel: '10.0.0.1:26379' }, 'routeSource.master: missing'],
    [
      'a port out of range',
      { sentinel: '10.0.0.1:26379,10.0.0.2:70000', master: 'routes' },
      'routeSource.sentinel: expected HOST:PORT[,HOST:PORT...], got "10.0.0.1:26379,10.0.0.2:70000"',
    ],
    [
      'a master name with a space',
      { sentinel: '10.0.0.1:26379', master: 'my routes' },
      'routeSource.master: expected a master name, got "my routes"',
    ],
  ];
  for (const [what, source, expected] of cases) {
    t.throws(() => fleetConfig(source), { message: `test.json: ${expected}` }, what);
  }
});

t.test('a malformed Sentinel list: one line and exit code 2', async (t) => {
  const run = await runProgram(`${PART}/proxy.ts`, [
    '--redis-sentinel',
    '127.0.0.1',
    '--redis-master',
    'x',
    '--http',
    '0',
  ]);
  t.equal(run.code, 2);
  t.match(run.stderr, 'routeSource.sentinel: expected HOST:PORT[,HOST:PORT...], got "127.0.0.1"');
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
});

t.test(
  'the primary killed under traffic: Sentinel promotes the replica and the fleet follows',
  async (t) => {
    // Each in a folder of its own: a replica writes what it syncs to dump.rdb,
    // which any redis-server started in the shared temporary folder would load.
    const dir = () => {
      const made = mkdtempSync(path.join(tmpdir(), 'redis-'));
      t.teardown(() => rmSync(made, { recursive: true, force: true }));
      return ['--dir', made];
    };
    // No wait before the full sync (Redis 7 waits 5 s for more replicas by default).
    const primary = await startRedis(t, [...dir(), '--repl-diskless-sync-delay', '0']);
    const replica = await startRedis(t, [
      ...dir(),
      '--replicaof',
      '127.0.0.1',
      String(primary.port),
    ]);
    const db = await redisClient(t, primary);
    await db.sAdd('hostnames:www.example.org:backends', member(A));
    // The Sentinels learn of the replica from the primary: it must be in sync first.
    const onReplica = await redisClient(t, replica);
    await waitFor(
      async () => (await onReplica.info('replication')).includes('master_link_status:up'),
      {
        what: 'the replica in sync',
        intervalMs: 100,
      },
    );
    const sentinels = await startSentinels(t, primary.port, MASTER);
    const fleet = await startFleet(
      t,
      ['--redis-sentinel', sentinels.list, '--redis-master', MASTER],
      ['--status-port', '0'],
    );
    const statusPort = fleet.statusPort as number;
    // A name the Sentinels do not know: a state in one line, as for a Redis down.
    const unknown = await startFleet(t, [
      '--redis-sentinel',
      sentinels.list,
      '--redis-master',
      'nope',
    ]);
    await unknown.proxy.waitForOutput(/No such master with that name/);
    t.equal(
      await whoServesHost(unknown.http, 'www.example.org'),
      '(No site is served here for www.example.org.)',
    );
    t.notMatch(unknown.proxy.output(), /\n\s+at /, 'no stack trace');
    await unknown.proxy.kill();
    await waitFor(async () => (await whoServesHost(fleet.http, 'www.example.org')) === 'A', {
      what: 'the route from the primary',
    });
    t.equal((await status(statusPort)).redis?.primary, `127.0.0.1:${primary.port}`);

    // Paced requests, as in fleet.test.ts: a request every 20 ms through the failover.
    const counts = { answered: 0, failed: 0 };
    let done = false;
    const traffic = (async () => {
      while (!done) {
        if ((await whoServesHost(fleet.http, 'www.example.org')) === 'A') counts.answered++;
        else counts.failed++;
        await delay(20);
      }
    })();

    const began = testProvenance(import.meta.url);
    const mark = fleet.proxy.output().length;
    const killedAt = Date.now();
    await primary.stop();
    const promoted = `127.0.0.1:${replica.port}`;
    // Sentinel's own timing, not the proxy's: on a loaded machine a Sentinel that
    // sees its timers late enters TILT mode and acts on nothing for 30 s.
    await waitFor(async () => (await status(statusPort)).redis?.primary === promoted, {
      what: 'the proxy following the promoted replica',
      timeoutMs: 45_000,
      intervalMs: 100,
    });
    const followMs = Date.now() - killedAt;
    await waitFor(async () => (await status(statusPort)).redis?.state === 'up', {
      what: 'the link up on the new primary',
      intervalMs: 100,
    });
    const upMs = Date.now() - killedAt;

    const newPrimary = await redisClient(t, replica);
    const changedAt = Date.now();
    await newPrimary.sAdd('hostnames:new.example.org:backends', member(B));
    await waitFor(async () => (await whoServesHost(fleet.http, 'new.example.org')) === 'B', {
      what: 'the change made on the new primary',
      intervalMs: 20,
    });
    const changeMs = Date.now() - changedAt;
    done = true;
    await traffic;

    t.equal(counts.failed, 0, 'no request failed through the failover');
    t.ok(counts.answered > 20, `requests kept coming (${counts.answered})`);
    const logged = fleet.proxy.output().slice(mark);
    t.equal(logged.match(/moved the primary/g)?.length, 1, 'one line says the primary moved');
    t.match(logged, `Sentinel moved the primary from 127.0.0.1:${primary.port} to ${promoted}`);
    t.notMatch(fleet.proxy.output(), /\n\s+at /, 'no stack trace');
    t.comment(
      `followed after ${followMs} ms, up after ${upMs} ms, change served after ${changeMs} ms`,
    );
    saveTestResults('sentinel-failover', began, { followMs, upMs, changeMs });
  },
);
