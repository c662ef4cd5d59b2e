/**
 * --workers through the real command line: clients spread over the workers,
 * the primary passes SIGHUP and SIGTERM on, restarts a worker that dies, and
 * answers the status for all of them (its figures added up, and the worst
 * link to Redis of any worker).
 */
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { listeningPorts, waitFor } from '../../shared/test/harness.ts';
import { addUp } from '../fleet/workers.ts';
import type { BackendStatus, RedisLink, Snapshot } from '../status/snapshot.ts';
import {
  onePool,
  startBackends,
  startBalancer,
  status,
  statusWhen,
  whoAnswered,
} from './support.ts';

const [A, B] = await startBackends(t, ['A', 'B']);

const workersOf = (report: Snapshot) => report.workers ?? [];

t.test(
  'two workers: both serve, SIGHUP and SIGTERM pass through, a dead one comes back',
  async (t) => {
    const { proxy, file, statusPort } = await startBalancer(
      t,
      onePool({ backends: [{ address: A.address }] }),
      ['--workers', '2'],
    );
    const port = statusPort as number;
    await waitFor(() => (proxy.output().match(/Listening on port/g) ?? []).length === 2, {
      what: 'both workers listening',
    });
    // Each worker accepts from the shared socket (workers.ts, SCHEDULING), and
    // the kernel picks which: no fixed split, so clients come in rounds of
    // eight at once until both workers have served some.
    let sent = 0;
    let report = await status(port);
    while (sent < 400 && !workersOf(report).every((worker) => worker.totalConnections > 0)) {
      await Promise.all(Array.from({ length: 8 }, () => whoAnswered(proxy.port)));
      sent += 8;
      report = await status(port);
    }
    const workers = workersOf(report);
    t.equal(workers.length, 2, 'the status lists both workers');
    for (const worker of workers) {
      t.ok(
        (await listeningPorts(worker.pid)).includes(proxy.port),
        `worker ${worker.pid} accepts from the listening socket itself (SCHED_NONE)`,
      );
    }
    t.ok(
      workers.every((worker) => worker.totalConnections > 0),
      `both served clients: ${workers.map((w) => w.totalConnections).join(' and ')}`,
    );
    t.equal(report.totals.totalConnections, sent, 'and adds their figures up');

    writeFileSync(file, JSON.stringify(onePool({ backends: [{ address: B.address }] })));
    proxy.child.kill('SIGHUP');
    await waitFor(() => (proxy.output().match(/Reloaded/g) ?? []).length === 2, {
      what: 'both workers reloaded',
    });
    for (let i = 0; i < 4; i++) t.equal(await whoAnswered(proxy.port), 'B', `client ${i + 1}: B`);

    const victim = workers[0].pid;
    process.kill(victim, 'SIGKILL');
    await proxy.waitForOutput(new RegExp(`Worker ${victim} killed by SIGKILL; starting another`));
    const after = await statusWhen(
      port,
      (r) => workersOf(r).length === 2 && !workersOf(r).some((w) => w.pid === victim),
      'a new worker in the status',
    );
    t.notOk(
      workersOf(after).some((w) => w.pid === victim),
      'the dead worker was replaced',
    );
    t.equal(await whoAnswered(proxy.port), 'B', 'and the port still serves');

    proxy.child.kill('SIGTERM');
    t.equal(await proxy.exited, 0, 'SIGTERM to the primary: every worker stops, exit 0');
    t.match(proxy.output(), /Stopped: every worker has exited\./);
  },
);

t.test('the status of the workers shows the worst link to Redis of any of them', async (t) => {
  const report = (redis?: RedisLink): Snapshot => ({
    config: 'test.json',
    pid: 1,
    startedAt: '2026-11-27T08:00:00.000Z',
    uptimeMs: 1000,
    listeners: [],
    limits: { maxConnections: 1, maxConnectionsPerClient: 0, open: 0 },
    pools: {},
    totals: { activeConnections: 0, totalConnections: 0, failures: 0, noBackend: 0 },
    events: {},
    routes: [],
    ...(redis ? { redis } : {}),
  });
  const up = { connected: true, state: 'up' } as const;
  const down = { connected: false, state: 'down' } as const;
  const silent = (silentForMs: number) =>
    ({ connected: false, state: 'silent', silentForMs }) as const;
  t.same(addUp([report(up), report(up)]).redis, up, 'all up: up');
  t.same(addUp([report(up), report(down)]).redis, down, 'one down: down');
  t.same(
    addUp([report(down), report(silent(3000)), report(silent(5000)), report(up)]).redis,
    silent(5000),
    'silent beats down, and the longest silence is shown',
  );
  t.equal(addUp([report(undefined)]).redis, undefined, 'no Redis: no link');
});

t.test('the workers added up: counters per backend, down if any sees it down', async (t) => {
  const backend = (id: string, totalConnections: number): BackendStatus => ({
    id,
    weight: 1,
    health: 'up',
    activeConnections: 1,
    totalConnections,
    failures: 0,
    bytesSent: totalConnections * 100,
    bytesReceived: totalConnections * 1000,
  });
  const worker = (pid: number, b: BackendStatus, events: Record<string, number>): Snapshot => ({
    config: 'test.json',
    pid,
    startedAt: '2026-11-27T08:00:00.000Z',
    uptimeMs: 1000,
    listeners: [{ host: '*', port: 8000, protocol: 'tcp', pool: 'web', open: 1, accepted: pid }],
    limits: { maxConnections: 100, maxConnectionsPerClient: 0, open: 1 },
    pools: {
      web: { strategy: 'round-robin', healthCheck: 'off', backends: [backend('a:1', 3), b] },
    },
    totals: {
      activeConnections: 2,
      totalConnections: 3 + b.totalConnections,
      failures: 0,
      noBackend: 0,
    },
    events,
  });
  const down: BackendStatus = {
    ...backend('b:1', 4),
    health: 'down',
    down: 'failed connects; tried again in 900 ms',
    retryInMs: 900,
    failures: 2,
  };
  const reports = [worker(11, backend('b:1', 5), { reset: 1 }), worker(12, down, { idle: 2 })];
  const before = structuredClone(reports);
  const sum = addUp(reports);
  t.same(sum.pools.web.backends, [
    { ...backend('a:1', 6), activeConnections: 2 },
    {
      ...down,
      activeConnections: 2,
      totalConnections: 9,
      failures: 2,
      bytesSent: 900,
      bytesReceived: 9000,
    },
  ]);
  t.same(sum.totals, { activeConnections: 4, totalConnections: 15, failures: 0, noBackend: 0 });
  t.same(sum.events, { reset: 1, idle: 2 }, 'every kind of event, from whichever worker');
  t.equal(sum.listeners[0].open, 2, "a listener's clients in every worker");
  t.equal(sum.listeners[0].accepted, 11 + 12, "and every worker's clients since start");
  t.equal(sum.limits.open, 2);
  t.equal(sum.pid, process.pid, 'the pid to signal is the primary');
  t.same(sum.workers, [
    { pid: 11, activeConnections: 2, totalConnections: 8 },
    { pid: 12, activeConnections: 2, totalConnections: 7 },
  ]);
  t.same(reports, before, "no worker's report was changed");

  // Timings: counts added per bound; a worker without any adds nothing.
  const timed = (connect: number[], firstByte: number[]): BackendStatus => ({
    ...backend('b:1', 1),
    timings: { connect, firstByte, connectSumMs: 1.5, firstByteSumMs: 10 },
  });
  const both = addUp([
    worker(11, timed([1, 0, 2], [0, 1, 0]), {}),
    worker(12, timed([0, 3, 1], [1, 1, 1]), {}),
    worker(13, backend('b:1', 0), {}),
  ]);
  t.same(
    both.pools.web.backends[1].timings,
    { connect: [1, 3, 3], firstByte: [1, 2, 1], connectSumMs: 3, firstByteSumMs: 20 },
    "each backend's timings, added up over the workers",
  );
});
