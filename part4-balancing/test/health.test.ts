/**
 * Health: a dead backend stops getting clients, a recovered one gets them
 * again, through passive checks (real clients' failed connects) and active
 * probes (TCP connect, or an HTTP GET on a path).
 *
 * One balancer serves every test: a pool per test with backends of its own
 * (the tests kill backends), each behind a port of its own, so the tests run
 * side by side and each pool starts fresh.
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import { listenUntilTeardown, serveBackend, waitFor } from '../../shared/test/harness.ts';
import {
  backendStatus,
  listenerPorts,
  type Named,
  sequence,
  startBackends,
  startBalancer,
  status,
  unansweredPort,
  whoAnswered,
} from './support.ts';

interface Answer {
  startedAt: number;
  name?: string;
  error?: string;
}

/**
 * A server that accepts connections and answers every request with a 503;
 * `tcpOnly()` counts the connections that closed without a word (TCP probes).
 */
async function sickServer(t: Test) {
  let tcpOnly = 0;
  const sick = net.createServer((socket) => {
    let spoke = false;
    socket.on('data', () => {
      spoke = true;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('close', () => {
      if (!spoke) tcpOnly++;
    });
    socket.on('error', () => {});
  });
  return {
    address: `127.0.0.1:${await listenUntilTeardown(t, sick)}`,
    tcpOnly: () => tcpOnly,
  };
}

const [failover, [timeoutA], active, silent, sick] = await Promise.all([
  startBackends(t, ['A', 'B', 'C']),
  startBackends(t, ['A']),
  startBackends(t, ['A', 'B']),
  unansweredPort(t),
  sickServer(t),
]);
const addresses = (backends: Named[]) => backends.map(({ address }) => ({ address }));
const probe = { intervalMs: 100, timeoutMs: 500 };
// A listener per pool that takes clients, in this order; the probed pools need none.
const POOLS = {
  failover: { backends: addresses(failover), maxFails: 1, failTimeoutMs: 500 },
  timeout: {
    backends: [{ address: silent }, { address: timeoutA.address }],
    connectTimeoutMs: 300,
  },
  // Passive checks would also take B out; make them too lenient to matter.
  active: { backends: addresses(active), maxFails: 1000, healthCheck: probe },
  http: { backends: [{ address: sick.address }], healthCheck: { ...probe, path: '/health' } },
  tcp: { backends: [{ address: sick.address }], healthCheck: probe },
};
const listened = ['failover', 'timeout', 'active'];
const { proxy, statusPort } = await startBalancer(t, {
  listen: listened.map((pool) => ({ port: 0, pool })),
  statusPort: 0,
  pools: POOLS,
});
const ports = Object.fromEntries(
  (await listenerPorts(proxy, listened.length)).map((port, i) => [listened[i], port]),
);
const report = () => status(statusPort as number);

t.jobs = 4;

t.test('failover: kill one of three under steady traffic, then restart it', async (t) => {
  const [, B] = failover;
  // Steady traffic: two clients asking one request after another until told to stop.
  const answers: Answer[] = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      const startedAt = performance.now();
      try {
        answers.push({ startedAt, name: await whoAnswered(ports.failover) });
      } catch (err) {
        answers.push({ startedAt, error: String(err) });
      }
    }
  };
  const traffic = Promise.all([client(), client()]);
  const since = (time: number) => answers.filter((a) => a.startedAt > time);
  const answeredBy = (name: string, time: number) => since(time).some((a) => a.name === name);

  await waitFor(() => answeredBy('B', 0), { what: 'traffic on B' });
  await B.program.kill();
  const killedAt = performance.now();
  await proxy.waitForOutput(new RegExp(`Backend ${B.address} \\(pool failover\\) is down`));
  await waitFor(() => since(killedAt).length >= 40, { what: '40 answers after the kill' });
  const whileDown = since(killedAt);

  await serveBackend(t, { name: 'B', port: B.program.port });
  const restartedAt = performance.now();
  await waitFor(() => answeredBy('B', restartedAt), { what: 'B answering again' });
  stop = true;
  await traffic;

  t.same(
    since(killedAt).filter((a) => a.error),
    [],
    `no client saw an error after the kill (${since(killedAt).length} requests)`,
  );
  t.notOk(
    whileDown.some((a) => a.name === 'B'),
    'while B was dead, A and C answered everyone',
  );
  t.ok(answeredBy('B', restartedAt), 'restarted, B gets traffic again');
});

t.test(
  'a connect without an answer within connectTimeoutMs: the next backend serves',
  async (t) => {
    t.equal(await whoAnswered(ports.timeout), 'A', 'the client got an answer from A');
    t.match(
      proxy.output(),
      `Backend ${silent} (pool timeout) is down after a failed connect (no answer within 300 ms)`,
    );
  },
);

t.test('active health check: a dead backend is out until it passes a probe', async (t) => {
  const [, B] = active;
  await B.program.kill();
  await proxy.waitForOutput(
    new RegExp(`Backend ${B.address} \\(pool active\\) failed its health check \\(ECONNREFUSED\\)`),
  );
  t.equal(
    backendStatus(await report(), 'active', B.address).health,
    'down',
    'the status says down',
  );
  const failuresBefore = backendStatus(await report(), 'active', B.address).failures;
  t.same(new Set(await sequence(ports.active, 10)), new Set(['A']), 'A answers everyone');
  t.equal(
    backendStatus(await report(), 'active', B.address).failures,
    failuresBefore,
    'B was not even tried',
  );

  await serveBackend(t, { name: 'B', port: B.program.port });
  await proxy.waitForOutput(
    new RegExp(`Backend ${B.address} \\(pool active\\) passed its health check`),
  );
  t.ok(await waitFor(async () => (await whoAnswered(ports.active)) === 'B'), 'B is back');
});

t.test('an HTTP probe wants 2xx or 3xx, a TCP probe only a connect', async (t) => {
  // The same server behind both pools: it accepts connections and answers 503.
  await proxy.waitForOutput(/\(pool http\) failed its health check \(HTTP 503\)/);
  const before = sick.tcpOnly();
  await waitFor(() => sick.tcpOnly() >= before + 2, { what: 'two TCP probes' });
  const now = await report();
  t.equal(backendStatus(now, 'http', sick.address).health, 'down', 'GET /health -> 503: down');
  t.equal(backendStatus(now, 'tcp', sick.address).health, 'up', 'a TCP connect: up');
  t.notMatch(proxy.output(), /\(pool tcp\) failed/, 'the TCP probe never failed');
});
