/**
 * The status endpoint: after known traffic, the JSON and the metrics say what happened.
 */
import t from 'tap';
import { deadPort, httpGet } from '../../shared/test/harness.ts';
import {
  backendStatus,
  sequence,
  slowRequest,
  startBackends,
  startBalancer,
  whenOpen,
} from './support.ts';

t.test('status after six requests over two live backends and a dead one', async (t) => {
  const [A, B] = await startBackends(t, ['A', 'B']);
  const dead = `127.0.0.1:${await deadPort()}`;
  const { proxy, statusPort } = await startBalancer(
    t,
    {
      listen: [{ port: 0, pool: 'web' }],
      pools: {
        web: {
          backends: [{ address: A.address, weight: 2 }, { address: B.address }, { address: dead }],
        },
      },
    },
    ['--status-port', '0'], // the command line's status port
  );
  const names = await sequence(proxy.port, 6);
  t.equal(names.length, 6, `answered by ${names.join('')}`);
  // Far longer than the test: it is still open at the end, and closed on teardown.
  void slowRequest(t, proxy.port, 60_000);

  const report = await whenOpen(statusPort as number, 1);
  t.equal(report.pid, proxy.pid, 'the pid to signal');
  t.ok(report.uptimeMs > 0, `up for ${report.uptimeMs} ms`);
  t.same(
    report.listeners,
    [{ host: '*', port: proxy.port, protocol: 'tcp', pool: 'web', open: 1, accepted: 7 }],
    'the listener, its real port, its open clients, every client since start',
  );
  t.equal(report.pools.web.strategy, 'round-robin');
  const a = backendStatus(report, 'web', A.address);
  const b = backendStatus(report, 'web', B.address);
  const d = backendStatus(report, 'web', dead);
  t.equal(a.weight, 2, 'weights as configured');
  t.equal(
    a.totalConnections,
    names.filter((n) => n === 'A').length + (a.activeConnections ? 1 : 0),
    "A's total counts what A answered (and the slow one if it is A's)",
  );
  t.equal(
    b.totalConnections,
    names.filter((n) => n === 'B').length + (b.activeConnections ? 1 : 0),
    "B's too",
  );
  t.equal(a.activeConnections + b.activeConnections, 1, 'the slow request is the one active');
  t.equal(d.failures, 1, 'the dead backend failed once ...');
  t.equal(d.health, 'down', '... which took it out (maxFails 1)');
  t.match(d.down, /failed connects/);
  t.ok(
    (d.retryInMs ?? 0) > 0 && (d.retryInMs ?? 0) <= 10_000,
    `tried again in ${d.retryInMs} ms (within failTimeoutMs)`,
  );
  t.equal(d.probeFailure, undefined, 'no health check to fail');
  t.equal(a.retryInMs, undefined, 'a live backend has no retry time');
  t.equal(d.totalConnections, 0);
  t.same(
    { ...report.totals },
    { activeConnections: 1, totalConnections: 7, failures: 1, noBackend: 0 },
    'totals',
  );

  // Each connect and first byte timed, counted per bound (meters.ts), for the page's percentiles.
  const counted = (counts: number[] = []) => counts.reduce((x, y) => x + y, 0);
  t.equal(report.timingBoundsMs?.length, 13, 'the bounds of the timings, in ms');
  t.equal(a.timings?.connect.length, 14, 'a count per bound, and one for longer');
  t.equal(counted(a.timings?.connect), a.totalConnections, "A's connects, each timed");
  t.equal(counted(b.timings?.connect), b.totalConnections, "B's too");
  t.equal(
    counted(a.timings?.firstByte) + counted(b.timings?.firstByte),
    6,
    'a first byte timed for each answered request',
  );
  t.equal(d.timings, undefined, 'none for a backend that never accepted');

  // The same figures at /metrics, for Prometheus (metrics.ts).
  const metrics = (await httpGet(statusPort as number, '/metrics')).body.toString();
  const line = (name: string, labels: string) =>
    Number(
      metrics
        .split('\n')
        .find((l) => l.startsWith(`${name}{${labels}} `))
        ?.split(' ')[1],
    );
  const web = (address: string) => `pool="web",backend="${address}"`;
  t.equal(line('rsp_backend_connections_total', web(A.address)), a.totalConnections, '/metrics: A');
  t.equal(line('rsp_backend_connections_total', web(B.address)), b.totalConnections, 'B');
  t.equal(
    line('rsp_backend_failures_total', `${web(dead)},kind="ECONNREFUSED"`),
    1,
    'the dead one',
  );
  t.equal(line('rsp_backend_state', `${web(dead)},state="retrying"`), 1, 'retrying');
  t.equal(line('rsp_clients_open', `listener="*:${proxy.port}"`), 1, 'the slow one open');
  t.equal(line('rsp_clients_accepted_total', `listener="*:${proxy.port}"`), 7, 'seven accepted');
  // Bytes each way per backend, added as each of its connections closes.
  for (const [name, backend] of [
    ['A', a],
    ['B', b],
  ] as const) {
    t.ok(backend.bytesSent > 0 && backend.bytesReceived > 0, `${name} relayed bytes each way`);
    const bytes = (direction: string) =>
      line('rsp_backend_bytes_total', `${web(backend.id)},direction="${direction}"`);
    t.same([bytes('sent'), bytes('received')], [backend.bytesSent, backend.bytesReceived], name);
  }
  t.same([d.bytesSent, d.bytesReceived], [0, 0], 'none through the dead one');
  // The histograms, made from the same timings at the scrape.
  const connects = (suffix: string, more = '') =>
    line(`rsp_backend_connect_seconds_${suffix}`, `${web(A.address)}${more}`);
  t.equal(connects('count'), a.totalConnections, "A's connects in its histogram");
  t.equal(connects('bucket', ',le="+Inf"'), a.totalConnections, 'all of them under +Inf');
  t.ok(
    Math.abs(connects('sum') - (a.timings?.connectSumMs ?? 0) / 1000) < 1e-9,
    `their sum in seconds: ${connects('sum')}`,
  );

  const notFound = await httpGet(statusPort as number, '/elsewhere');
  t.equal(notFound.status, 404, 'only GET / is there');
});
