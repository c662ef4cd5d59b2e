/**
 * Part 4 against hostile clients and careless operators: the status port's
 * guards, the connection limits, the proxy's own descriptor shortage (which
 * must never be blamed on a backend), reloads from files that are not files,
 * Ctrl-C, listeners on one address, and logs that a reset storm cannot flood.
 *
 * Two balancers: one with tight process-wide limits for the limits test, and
 * one that every other test takes in turn, in an order that keeps each
 * test's starting point: the descriptor shortage first (it counts the
 * descriptors of a fresh process), the reset storm before any other reset,
 * and Ctrl-C last, since it stops the balancer.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import t, { type Test } from 'tap';
import { parseResponse, readAll, requestHead, waitFor } from '../../shared/test/harness.ts';
import {
  backendStatus,
  listenerPorts,
  onePool,
  slowRequest,
  startBackends,
  startBalancer,
  status,
  statusWhen,
  whenOpen,
  whoAnswered,
} from './support.ts';

const [A, B] = await startBackends(t, ['A', 'B']);
const [limited, shared] = await Promise.all([
  startBalancer(
    t,
    onePool(
      { backends: [{ address: A.address }] },
      { maxConnections: 3, maxConnectionsPerClient: 2 },
    ),
  ),
  startBalancer(t, {
    listen: [
      { port: 0, pool: 'web' },
      { port: 0, pool: 'web', maxConnections: 1 },
      { address: '127.0.0.2:0', pool: 'b' },
    ],
    statusPort: 0,
    maxConnections: 1000,
    pools: {
      web: { backends: [{ address: A.address }] },
      b: { backends: [{ address: B.address }] },
    },
  }),
]);
const { proxy } = shared;
const statusPort = shared.statusPort as number;
const [PORT, ONE_AT_A_TIME, ON_127_0_0_2] = await listenerPorts(proxy, 3);

/** Waits until the shared balancer has no client open, nor a backend connection. */
const quiet = () =>
  statusWhen(
    statusPort,
    (r) => r.limits.open === 0 && r.totals.activeConnections === 0,
    'no connection open',
  );

/** Connects from `localAddress`; resolves with the socket once connected. */
async function connectFrom(t: Test, port: number, localAddress = '127.0.0.1') {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Lines of the program's output that match. */
const linesMatching = (output: string, pattern: RegExp) =>
  output.split('\n').filter((line) => pattern.test(line));

/** An address of this machine that is not loopback, if it has one. */
const outsideAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;

t.test('connection limits: process, listener, per client address', async (t) => {
  const { proxy } = limited;
  const port = limited.statusPort as number;
  // Two slow requests from 127.0.0.1: its per-address limit is reached.
  void slowRequest(t, proxy.port, 30_000);
  void slowRequest(t, proxy.port, 30_000);
  await whenOpen(port, 2);
  const third = await connectFrom(t, proxy.port);
  const refused = await readAll(third, 5000);
  t.equal(refused.data.length, 0, 'a third client from 127.0.0.1 is closed at once');
  // Another address still gets in, up to the process's limit of 3.
  t.equal(await whoAnswered(proxy.port, '/', '127.0.0.2'), 'A', '127.0.0.2 is served');
  // Its answer can arrive before the proxy has let go of it: wait until it has.
  await statusWhen(port, (r) => r.limits.open === 2, '127.0.0.2 let go');
  const other = await connectFrom(t, proxy.port, '127.0.0.3');
  other.write(requestHead('/?delay=30000'));
  await whenOpen(port, 3);
  const fourth = await connectFrom(t, proxy.port, '127.0.0.4');
  t.equal((await readAll(fourth, 5000)).data.length, 0, 'over the process limit: closed');

  const report = await status(port);
  const events = report.events;
  t.equal(events.clientLimit, 1, 'the status counts the per-address refusal');
  t.equal(events.processLimit, 1, 'and the process-limit refusal');
  t.equal(linesMatching(proxy.output(), /Refused .*maxConnectionsPerClient/).length, 1, 'logged');
});

t.test('out of descriptors: the backend is not blamed, and service comes back', async (t) => {
  // Room for three clients (two descriptors each) and one status request.
  // RLIMIT_NOFILE caps descriptor numbers, and a new one takes the lowest free
  // number: count from the first gap (libuv keeps a spare one far above).
  const used = new Set(readdirSync(`/proc/${proxy.pid}/fd`).map(Number));
  let base = 0;
  while (used.has(base)) base++;
  execFileSync('prlimit', [`--pid=${proxy.pid}`, `--nofile=${base + 7}:`]);
  // One at a time, so that each accept() finds a descriptor and the fourth
  // client's connect() to the backend is the call that runs out.
  for (let open = 1; open <= 3; open++) {
    void slowRequest(t, PORT, 30_000);
    await whenOpen(statusPort, open);
  }
  const fourth = net.connect(PORT, '127.0.0.1');
  fourth.on('error', () => {});
  fourth.write(requestHead());
  const answer = parseResponse((await readAll(fourth)).data);
  t.equal(answer.status, 502, 'the fourth client gets a 502');
  t.match(
    proxy.output(),
    /short of resources: connect failed with EMFILE \(not the backend's fault\)/,
    'the log names the proxy, not the backend',
  );
  const a = backendStatus(await status(statusPort), 'web', A.address);
  t.equal(a.failures, 0, 'no failure counted against the backend');
  t.equal(a.health, 'up', 'the backend stays up');
  execFileSync('prlimit', [`--pid=${proxy.pid}`, '--nofile=4096:']);
  t.equal(await whoAnswered(PORT), 'A', 'with descriptors back, the next client is served');
});

t.test('a reset storm is counted, not logged line by line', async (t) => {
  await quiet();
  const storm = 100;
  const sockets = await Promise.all(
    Array.from({ length: storm }, async () => {
      const socket = await connectFrom(t, PORT);
      socket.write(requestHead('/?delay=30000'));
      return socket;
    }),
  );
  await whenOpen(statusPort, storm);
  for (const socket of sockets) socket.resetAndDestroy();
  const report = await statusWhen(
    statusPort,
    (r) => r.events.reset >= storm,
    `${storm} resets counted`,
  );
  t.ok(report, 'the status counts every reset');
  const lines = linesMatching(proxy.output(), /Connection ended early/).length;
  t.equal(lines, 1, `${storm} resets, ${lines} log line (the first; the rest go in a summary)`);
});

t.test(
  'the status port: loopback only, capped, quick to drop the slow, HEAD and 405',
  async (t) => {
    const port = statusPort;
    t.match(proxy.output(), /Status on port \d+ \(127\.0\.0\.1\)/, 'it says where it listens');
    if (outsideAddress) {
      const outside = net.connect(port, outsideAddress);
      const [err] = await once(outside, 'error');
      t.equal(
        (err as NodeJS.ErrnoException).code,
        'ECONNREFUSED',
        `not reachable on ${outsideAddress}`,
      );
    }

    // 40 connections that never send a request: at most 16 are kept, and those
    // are dropped after the 2 s request timeout.
    const silent = await Promise.all(Array.from({ length: 40 }, () => connectFrom(t, port)));
    const ends = silent.map((socket) => readAll(socket, 8000).then(() => performance.now()));
    const began = performance.now();
    const closedAt = await Promise.all(ends);
    const quick = closedAt.filter((at) => at - began < 1000).length;
    t.ok(quick >= 24, `${quick} of 40 closed at once (over the cap of 16)`);
    t.ok(Math.max(...closedAt) - began < 6000, 'the rest within the request timeout');
    t.equal(await whoAnswered(PORT), 'A', 'the balanced port served throughout');

    const head = net.connect(port, '127.0.0.1');
    head.write('HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const headResponse = parseResponse((await readAll(head)).data);
    t.equal(headResponse.status, 200, 'HEAD: 200');
    t.ok(Number(headResponse.headers['content-length']) > 0, 'with the length of the JSON');
    t.equal(headResponse.body.length, 0, 'and no body');

    const post = net.connect(port, '127.0.0.1');
    post.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    t.equal(parseResponse((await readAll(post)).data).status, 405, 'POST: 405');
  },
);

t.test("a listener's own maxConnections", async (t) => {
  const openHere = (count: number) =>
    statusWhen(
      statusPort,
      (r) => r.listeners.find((l) => l.port === ONE_AT_A_TIME)?.open === count,
      `${count} open on the listener`,
    );
  void slowRequest(t, ONE_AT_A_TIME, 30_000);
  await openHere(1);
  const second = await connectFrom(t, ONE_AT_A_TIME);
  t.equal((await readAll(second, 5000)).data.length, 0, 'the second client is closed');
  t.match(
    proxy.output(),
    `Refused 127.0.0.1: over maxConnections 1 of port ${ONE_AT_A_TIME}`,
    'the refusal names the listener',
  );
  t.equal((await openHere(1)).events.listenerLimit, 1, 'and is counted');
});

t.test('a listener on one address is reachable there only', async (t) => {
  t.match(proxy.output(), `Listening on port ${ON_127_0_0_2} on 127.0.0.2`);
  const socket = net.connect(ON_127_0_0_2, '127.0.0.2');
  socket.write(requestHead());
  t.match(parseResponse((await readAll(socket)).data).body.toString(), /^Hello from backend B/);
  const elsewhere = net.connect(ON_127_0_0_2, '127.0.0.1');
  const [err] = await once(elsewhere, 'error');
  t.equal((err as NodeJS.ErrnoException).code, 'ECONNREFUSED', 'not on 127.0.0.1');
});

t.test('a reload from a FIFO or /dev/zero is refused at once; traffic goes on', async (t) => {
  const { file } = shared;
  for (const [what, make] of [
    ['a FIFO', () => execFileSync('mkfifo', [file])],
    ['/dev/zero', () => execFileSync('ln', ['-s', '/dev/zero', file])],
  ] as const) {
    rmSync(file);
    make();
    const before = linesMatching(proxy.output(), /Reload refused/).length;
    proxy.child.kill('SIGHUP');
    await waitFor(() => linesMatching(proxy.output(), /Reload refused/).length > before, {
      what: `the refusal of ${what}`,
    });
    t.match(proxy.output(), /Reload refused.*not a regular file/, `${what}: not a regular file`);
    t.equal(await whoAnswered(PORT), 'A', `${what}: the running configuration serves`);
  }
});

t.test('SIGINT stops gracefully; a second signal stops at once', async (t) => {
  await quiet();
  const inFlight = slowRequest(t, PORT, 1000);
  const stuck = slowRequest(t, PORT, 60_000);
  await whenOpen(statusPort, 2);
  proxy.child.kill('SIGINT');
  await proxy.waitForOutput(/Shutting down on SIGINT/);
  const answer = parseResponse((await inFlight).data);
  t.equal(answer.status, 200, 'the response in flight completed');
  // The client has the whole answer; wait until the proxy has closed that pair
  // too (the status port stays up while stopping), so one is left to cut.
  await whenOpen(statusPort, 1);
  proxy.child.kill('SIGTERM');
  t.equal(await proxy.exited, 0, 'the second signal: exit 0 at once');
  t.match(proxy.output(), /SIGTERM again: closed the 1 connection\(s\) still open at once/);
  t.equal((await stuck).data.length, 0, 'the stuck request was cut');
});
