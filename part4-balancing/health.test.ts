/**
 * Health: a dead backend stops getting clients, a recovered one gets them
 * again, through passive checks (real clients' failed connects) and active
 * probes (TCP connect, or an HTTP GET on a path).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import t, { type Test } from 'tap';
import { serveBackend, waitFor } from '../shared/test/harness.ts';
import {
  backendStatus,
  onePool,
  sequence,
  startBackends,
  startBalancer,
  status,
  whoAnswered,
} from './test-support.ts';

interface Answer {
  startedAt: number;
  name?: string;
  error?: string;
}

t.test('failover: kill one of three under steady traffic, then restart it', async (t) => {
  const [A, B, C] = await startBackends(t, ['A', 'B', 'C']);
  const { proxy } = await startBalancer(
    t,
    onePool({
      backends: [A, B, C].map(({ address }) => ({ address })),
      maxFails: 1,
      failTimeoutMs: 500,
    }),
  );

  // Steady traffic: two clients asking one request after another until told to stop.
  const answers: Answer[] = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      const startedAt = performance.now();
      try {
        answers.push({ startedAt, name: await whoAnswered(proxy.port) });
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
  await proxy.waitForOutput(new RegExp(`Backend ${B.address} \\(pool web\\) is down`));
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

/**
 * A port that never answers a connect: a child process listens with a backlog
 * of 1, then blocks its event loop so it never accepts. Once two connections
 * fill its accept queue, the kernel drops every further SYN, and a connect
 * hangs as it would against a host that has gone away.
 */
async function blackhole(t: Test): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const server = require('node:net').createServer();
       server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         console.log(server.address().port);
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  const [line] = await once(child.stdout as NodeJS.ReadableStream, 'data');
  const port = Number(String(line).trim());
  for (let i = 0; i < 2; i++) {
    const filler = net.connect(port, '127.0.0.1');
    t.teardown(() => filler.destroy());
    await once(filler, 'connect');
  }
  return `127.0.0.1:${port}`;
}

t.test(
  'a connect without an answer within connectTimeoutMs: the next backend serves',
  async (t) => {
    const silent = await blackhole(t);
    const [A] = await startBackends(t, ['A']);
    const { proxy } = await startBalancer(
      t,
      onePool({ backends: [{ address: silent }, { address: A.address }], connectTimeoutMs: 300 }),
    );
    t.equal(await whoAnswered(proxy.port), 'A', 'the client got an answer from A');
    t.match(
      proxy.output(),
      `Backend ${silent} (pool web) is down after a failed connect (no answer within 300 ms)`,
    );
  },
);

t.test('active health check: a dead backend is out until it passes a probe', async (t) => {
  const [A, B] = await startBackends(t, ['A', 'B']);
  const balancer = await startBalancer(
    t,
    onePool({
      backends: [A, B].map(({ address }) => ({ address })),
      // Passive checks would also take B out; make them too lenient to matter.
      maxFails: 1000,
      healthCheck: { intervalMs: 100, timeoutMs: 500 },
    }),
  );
  const report = () => status(balancer.statusPort as number);
  const { proxy } = balancer;

  await B.program.kill();
  await proxy.waitForOutput(
    new RegExp(`Backend ${B.address} \\(pool web\\) failed its health check \\(ECONNREFUSED\\)`),
  );
  t.equal(backendStatus(await report(), 'web', B.address).health, 'down', 'the status says down');
  const failuresBefore = backendStatus(await report(), 'web', B.address).failures;
  t.same(new Set(await sequence(proxy.port, 10)), new Set(['A']), 'A answers everyone');
  t.equal(
    backendStatus(await report(), 'web', B.address).failures,
    failuresBefore,
    'B was not even tried',
  );

  await serveBackend(t, { name: 'B', port: B.program.port });
  await proxy.waitForOutput(
    new RegExp(`Backend ${B.address} \\(pool web\\) passed its health check`),
  );
  t.ok(await waitFor(async () => (await whoAnswered(proxy.port)) === 'B'), 'B is back');
});

t.test('an HTTP probe wants 2xx or 3xx, a TCP probe only a connect', async (t) => {
  // A server that accepts connections and answers every request with a 503.
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
  await new Promise<void>((resolve) => sick.listen(0, '127.0.0.1', resolve));
  t.teardown(() => sick.close());
  const address = `127.0.0.1:${(sick.address() as net.AddressInfo).port}`;
  const probe = { intervalMs: 100, timeoutMs: 500 };

  const balancer = await startBalancer(t, {
    listen: [{ port: 0, pool: 'http' }],
    statusPort: 0,
    pools: {
      http: { backends: [{ address }], healthCheck: { ...probe, path: '/health' } },
      tcp: { backends: [{ address }], healthCheck: probe },
    },
  });
  await balancer.proxy.waitForOutput(/\(pool http\) failed its health check \(HTTP 503\)/);
  await waitFor(() => tcpOnly >= 2, { what: 'two TCP probes' });
  const report = await status(balancer.statusPort as number);
  t.equal(backendStatus(report, 'http', address).health, 'down', 'GET /health -> 503: down');
  t.equal(backendStatus(report, 'tcp', address).health, 'up', 'a TCP connect: up');
  t.notMatch(balancer.proxy.output(), /\(pool tcp\) failed/, 'the TCP probe never failed');
});
