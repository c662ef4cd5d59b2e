/**
 * The load generators and the benchmark's peers, each against a mock backend
 * served in this process (the benchmark itself starts it as a program: see
 * bench.test.ts). No figure is asserted, only that every one is counted.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { makeBody } from '../test/backend.ts';
import { freePort, httpGet, rssKiB, serveBackend, waitFor } from '../test/harness.ts';
import {
  closeLoad,
  descendants,
  holdConnections,
  keepAliveLoad,
  nodeProcesses,
  pacedLoad,
  settledRss,
  treeRssKiB,
} from './bench-load.ts';
import {
  HTTP_PROXY_ROWS,
  PEERS,
  ROUTED_NAME,
  startBenchBackend,
  TLS_ROWS,
} from './bench-targets.ts';

t.test('closeLoad: a new connection per request, every answer counted once', async (t) => {
  const backend = await serveBackend(t);
  const accepted: number[] = [];
  const counter = net.createServer((client) =>
    client.pipe(net.connect(backend.port, '127.0.0.1')).pipe(client),
  );
  counter.on('connection', () => accepted.push(1));
  counter.listen(0, '127.0.0.1');
  await once(counter, 'listening');
  t.teardown(() => counter.close());

  const answers: number[] = [];
  const result = await closeLoad({
    port: (counter.address() as net.AddressInfo).port,
    connections: 5,
    amount: 60,
    onAnswer: (answered) => answers.push(answered),
  });
  t.equal(result.requests, 60, 'stops after the amount');
  t.equal(accepted.length, 60, 'one connection per request');
  t.same(
    answers,
    Array.from({ length: 60 }, (_, i) => i + 1),
    'onAnswer counts up by one',
  );
  t.equal(result.errors, 0);
  t.equal(result.non2xx, 0);
  t.equal(result.clientsServed, 5);
  t.ok(result.latency.mean > 0 && result.latency.p50 <= result.latency.p99, 'latencies measured');
});

t.test(
  'closeLoad: a refused or silent target counts errors and timeouts, no answers',
  async (t) => {
    const refused = await closeLoad({ port: await freePort(), connections: 2, seconds: 1 });
    t.equal(refused.requests, 0);
    t.ok(refused.errors > 0, 'refused connections are errors');
    t.equal(refused.clientsServed, 0);

    const silent = net.createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    t.teardown(() => silent.close());
    const result = await closeLoad({
      port: (silent.address() as net.AddressInfo).port,
      connections: 2,
      seconds: 2,
      timeoutSeconds: 0.5,
    });
    t.equal(result.requests, 0);
    t.ok(result.timeouts >= 2, 'a target that never answers gives timeouts');
    t.equal(result.errors, result.timeouts, 'a timeout is an error too');
  },
);

t.test('keepAliveLoad: autocannon with exact latencies and clients served', async (t) => {
  const backend = await serveBackend(t);
  const result = await keepAliveLoad({ port: backend.port, connections: 4, seconds: 1 });
  t.ok(result.requests > 0);
  t.equal(result.clientsServed, 4);
  t.equal(result.non2xx, 0);
  t.ok(result.latency.mean > 0);
  t.ok(result.latency.p50 % 1 !== 0 || result.latency.p99 % 1 !== 0, 'not rounded to whole ms');
});

t.test('pacedLoad: rate x seconds requests, spread over the run, not sent at once', async (t) => {
  const backend = await serveBackend(t);
  const began = performance.now();
  const answeredAt: number[] = [];
  const result = await pacedLoad('keepalive', {
    port: backend.port,
    connections: 10,
    seconds: 1,
    rate: 100,
    onAnswer: () => answeredAt.push(performance.now() - began),
  });
  t.equal(result.requests, 100, 'every request of the schedule answered');
  t.equal(result.errors, 0);
  t.equal(result.non2xx, 0);
  t.ok(result.latency.mean > 0 && result.latency.p50 <= result.latency.p99, 'latencies measured');
  t.ok(result.clientsServed <= 10, 'never more connections than allowed');
  // Request i is due at i/100 s: at most 51 can have been sent, so answered,
  // in the first half second, however slow the machine. A burst sends all 100.
  const early = answeredAt.filter((ms) => ms < 500).length;
  t.ok(early <= 51, `${early} of 100 answered in the first half second`);
});

t.test('holdConnections: every client answered, then held open until closed', async (t) => {
  const backend = await serveBackend(t);
  const held = await holdConnections({ port: backend.port, connections: 30, concurrency: 7 });
  t.equal(held.answered, 30, 'every client read its answer');
  t.equal(held.errors, 0);
  t.equal(held.non2xx, 0);
  t.equal(held.open(), 30, 'and holds its connection');
  await held.close();
  t.equal(held.open(), 0, 'close() closes them all');

  const refused = await holdConnections({ port: await freePort(), connections: 3 });
  t.same([refused.answered, refused.errors, refused.open()], [0, 3, 0], 'refused: three errors');
});

t.test('holdConnections: a server that closes idle connections shows in open()', async (t) => {
  // The mock backend's --keep-alive: after 200 ms idle, it closes each held connection.
  const backend = await serveBackend(t, { keepAliveMs: 200 });
  const held = await holdConnections({ port: backend.port, connections: 5 });
  t.equal(held.answered, 5);
  await waitFor(() => held.open() === 0, { what: 'the backend to close its idle connections' });
  t.pass('all five closed by the server');
});

t.test('settledRss: readings of a quiet process agree, and it says so', async (t) => {
  const child = spawn(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  const settled = await settledRss(child.pid as number, { intervalMs: 20, readings: 3 });
  t.equal(settled.settled, true, `settled after ${settled.readings.length} readings`);
  t.ok(settled.readings.length >= 3, 'at least the readings asked for');
  t.ok(settled.kib > 1024, `${settled.kib} KiB, a Node process`);
  const late = await settledRss(child.pid as number, {
    intervalMs: 20,
    readings: 3,
    toleranceKiB: -1,
    deadlineMs: 100,
  });
  t.equal(late.settled, false, 'readings that can never agree: not settled at the deadline...');
  t.ok(late.kib > 1024, '...and a figure all the same');
});

t.test('TLS: part 4 routes the load by its server name, and closes other names', async (t) => {
  const backend = await serveBackend(t, { tls: true });
  const part4Tls = TLS_ROWS.find((target) => target.name === 'part4-tls');
  const running = await part4Tls?.start(t, backend.port);
  if (!running) throw new Error('no part4-tls target');
  t.equal(running.tls, true);
  const routed = await keepAliveLoad({
    port: running.port,
    connections: 4,
    seconds: 1,
    tls: true,
    name: ROUTED_NAME,
  });
  t.ok(routed.requests > 0, `${routed.requests} answers over TLS through part 4`);
  t.equal(routed.errors, 0, 'none closed: the name was routed');
  const other = await pacedLoad('close', {
    port: running.port,
    connections: 4,
    seconds: 1,
    rate: 10,
    tls: true,
    name: 'other.example.org',
  });
  t.equal(other.requests, 0, 'a name the host table does not know gets no answer...');
  t.equal(other.errors, 10, '...but a closed connection, every time');
});

t.test('treeRssKiB: a process and its children', async (t) => {
  // A plain Node process weighs some 40 MiB and starts in a fraction of the
  // time of one that loads TypeScript.
  const child = spawn(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  t.ok((await descendants(process.pid)).includes(child.pid as number), 'the child is found');
  const before = await rssKiB(process.pid);
  const childKiB = await rssKiB(child.pid as number);
  const treeKiB = await treeRssKiB(process.pid);
  const after = await rssKiB(process.pid);
  // Our own RSS moves a little between readings; the child weighs tens of MiB.
  t.ok(
    treeKiB >= Math.min(before, after) + childKiB * 0.8,
    `the tree (${treeKiB} KiB) is this process (${before}..${after} KiB) plus the child (${childKiB} KiB)`,
  );
  // What bench:cost traces and bench --heap asks: the Node processes, not a sleep (or esbuild).
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => other.kill('SIGKILL'));
  t.same(
    await nodeProcesses([child.pid as number, other.pid as number]),
    [child.pid],
    'nodeProcesses: the Node child alone',
  );
});

for (const peer of PEERS) {
  const missing = peer.missing();
  t.test(
    `${peer.name}: relays to the backend from a generated config`,
    { skip: missing },
    async (t) => {
      const backend = await serveBackend(t, { name: 'peer' });
      const running = await peer.start(t, backend.port);
      const response = await httpGet(running.port);
      t.equal(response.status, 200);
      t.ok(response.body.equals(makeBody('peer')), 'the backend answered through it');
      t.ok((await treeRssKiB(running.pid as number)) > 0, 'its memory can be read');
    },
  );
}

t.test(
  'http-proxy: relays over one kept-alive connection; without an agent, closes it',
  async (t) => {
    const backend = await serveBackend(t, { name: 'hp' });
    const [withAgent, noAgent] = await Promise.all(
      HTTP_PROXY_ROWS.map((row) => row.start(t, backend.port)),
    );
    const kept = await holdConnections({ port: withAgent.port, connections: 3, name: ROUTED_NAME });
    t.same([kept.answered, kept.errors, kept.non2xx], [3, 0, 0], 'answered through http-proxy');
    t.equal(kept.open(), 3, 'with a keep-alive agent, the client connections stay open');
    await kept.close();
    const closed = await holdConnections({ port: noAgent.port, connections: 3, name: ROUTED_NAME });
    await waitFor(() => closed.open() === 0, { what: 'http-proxy-noagent to close its clients' });
    t.pass("without an agent, the backend's Connection: close reaches the client, which is closed");
    const response = await httpGet(noAgent.port);
    t.ok(response.body.equals(makeBody('hp')), 'the answer arrives whole all the same');
  },
);

t.test('--backend nginx: a fixed body', { skip: PEERS[0].missing() }, async (t) => {
  const backend = await startBenchBackend(t, 'nginx');
  const response = await httpGet(backend.port);
  t.equal(response.status, 200);
  t.equal(response.body.toString(), 'Hello from backend nginx\n');
});
