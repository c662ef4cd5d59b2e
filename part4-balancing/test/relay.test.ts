/**
 * Part 3's relay still does what it did, now behind a pool: part 3's tests,
 * carried over with part 4's command line. A raw TCP backend reads until the
 * client's FIN, then answers how many bytes it got. Only a proxy that forwards
 * the FIN, and only after the data, lets it answer correctly. (The behaviour
 * matrix covers the rest: bounded memory, half-close against the HTTP backend,
 * the idle timeout of a silent client.)
 *
 * Two balancers, and the tests side by side: the idle-timeout test has one of
 * its own, started as in part 3 with a timeout and a backend; every other test
 * has a listener and a backend of its own on the other, which
 * `--idle-timeout 0` runs without a timeout.
 */
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import {
  listenUntilTeardown,
  openSocket,
  readAll,
  startPart,
  type Teardown,
  waitFor,
} from '../../shared/test/harness.ts';
import { resettingBackend } from '../../shared/test/resetting-backend.ts';
import { passOnReset } from '../relay.ts';
import { listenerPorts, PART, startBalancer } from './support.ts';

const quickStart = (backendPort: number) => ['0', `127.0.0.1:${backendPort}`];

/**
 * A backend that counts what it receives until end-of-stream, then replies
 * "got N bytes" in `replyChunks` pieces, `gapMs` apart, and ends.
 */
async function countingBackend(t: Teardown, replyChunks = 1, gapMs = 0): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, async (socket) => {
    socket.on('error', () => {});
    let count = 0;
    socket.on('data', (chunk: Buffer) => {
      count += chunk.length;
    });
    await once(socket, 'end');
    const reply = `got ${count} bytes\n`;
    const size = Math.ceil(reply.length / replyChunks);
    for (let i = 0; i < reply.length; i += size) {
      if (i > 0) await sleep(gapMs);
      socket.write(reply.slice(i, i + size));
    }
    socket.end();
  });
  return listenUntilTeardown(t, server);
}

// The idle-timeout test: a timeout of 500 ms, and gaps of 150 ms in the traffic.
const idleMs = 500;
const gapMs = 150;
const [counting, slowCounting, backendResets, clientResets, resetsBehind] = await Promise.all([
  countingBackend(t),
  countingBackend(t, 10, gapMs),
  resettingBackend(t),
  resettingBackend(t),
  resettingBackend(t),
]);
const [proxy, idleProxy] = await Promise.all([
  startBalancer(
    t,
    {
      listen: ['counting', 'backend-resets', 'client-resets', 'resets-behind'].map((pool) => ({
        port: 0,
        pool,
      })),
      pools: {
        counting: { backends: [{ address: `127.0.0.1:${counting}` }] },
        'backend-resets': { backends: [{ address: `127.0.0.1:${backendResets.port}` }] },
        'client-resets': { backends: [{ address: `127.0.0.1:${clientResets.port}` }] },
        'resets-behind': { backends: [{ address: `127.0.0.1:${resetsBehind.port}` }] },
      },
    },
    ['--idle-timeout', '0'],
  ).then((balancer) => balancer.proxy),
  startPart(t, PART, ['--idle-timeout', String(idleMs), ...quickStart(slowCounting)]),
]);
const [COUNTING, BACKEND_RESETS, CLIENT_RESETS, RESETS_BEHIND] = await listenerPorts(proxy, 4);

t.jobs = 6;

t.test('half-close: the client FIN reaches the backend after all 4 MiB of its data', async (t) => {
  const client = await openSocket(t, COUNTING);
  const size = 4 * 1024 * 1024;
  client.end(Buffer.alloc(size, 'x')); // the data, then shutdown(SHUT_WR)
  const received = await readAll(client, 20_000);
  t.equal(received.data.toString(), `got ${size} bytes\n`, 'the backend saw every byte, then EOF');
  t.equal(received.how, 'end', 'and the answer ended cleanly');
});

t.test('idle timeout: slow traffic either way is not idle', async (t) => {
  // The backend stays silent while the client trickles its request, then the
  // client stays silent while the backend trickles its answer: ~3 s in all.
  const client = await openSocket(t, idleProxy.port);
  const answer = readAll(client, 20_000);
  for (let i = 0; i < 10; i++) {
    client.write('0123456789');
    await sleep(gapMs);
  }
  client.end();
  const received = await answer;
  t.equal(received.data.toString(), 'got 100 bytes\n', 'the whole exchange went through');
  t.notMatch(idleProxy.output(), /idle/i, 'no idle timeout was logged');
});

t.test('--idle-timeout 0 turns the timeout off', async (t) => {
  const client = await openSocket(t, COUNTING);
  const closed = readAll(client, 1500).then(
    () => true,
    () => false,
  );
  t.notOk(await closed, 'a silent client is still connected after 1.5 s');
});

/**
 * Sends a request through `port` to a resetting backend and waits for the
 * start of its response; resolves with what the client will have read by the close.
 */
async function startOfResponse(t: Teardown, port: number, options?: { allowHalfOpen: boolean }) {
  const client = await openSocket(t, port, options);
  let got = 0;
  client.on('data', (chunk: Buffer) => {
    got += chunk.length;
  });
  const received = readAll(client);
  client.write('GET / HTTP/1.0\r\n\r\n');
  await waitFor(() => got >= 1000, { what: 'the start of the response' });
  return { received }; // in an object: an async function would wait for a promise it returns
}

// A reset that arrives in the same wakeup as the last bytes before it is
// reported to Node as a clean end (libuv takes the hang-up for EOF after a
// partial read). The next two tests let the bytes through first, then reset;
// the one after them sends both at once.

t.test(
  'a backend that resets mid-response: the client sees a reset, not a clean end',
  async (t) => {
    const backend = backendResets;
    const { received } = await startOfResponse(t, BACKEND_RESETS);
    backend.reset();
    // A FIN here would make a truncated, close-delimited response look complete.
    t.equal((await received).how, 'reset', 'the client got part of the response, then a reset');
  },
);

t.test('a client that resets mid-request: the backend sees a reset, not a clean end', async (t) => {
  const backend = clientResets;
  const client = await openSocket(t, CLIENT_RESETS);
  const head = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npart of a body';
  client.write(head);
  await waitFor(() => backend.received() === head.length, { what: 'the request at the backend' });
  client.resetAndDestroy();
  await waitFor(() => backend.ended() !== 'open', { what: 'the backend connection to end' });
  t.equal(backend.ended(), 'reset', 'the backend saw ECONNRESET');
});

t.test(
  'a reset right behind the last bytes (reported to Node as an end): still a reset for the client',
  async (t) => {
    const backend = resetsBehind;
    // allowHalfOpen: the client is Node too, and sees the same 'end' (see readAll).
    const { received } = await startOfResponse(t, RESETS_BEHIND, { allowHalfOpen: true });
    // The proxy stopped, the last bytes and the reset wait in its kernel
    // together, and it finds them in one wakeup when it runs again.
    process.kill(proxy.pid, 'SIGSTOP');
    try {
      await backend.reset('y'.repeat(500));
    } finally {
      process.kill(proxy.pid, 'SIGCONT');
    }
    const { how, data } = await received;
    t.equal(how, 'reset', `the client got ${data.length} bytes, then a reset, not a clean end`);
  },
);

t.test('a reset passed on while a FIN is being sent still closes the socket', async (t) => {
  // Node 20 refuses to reset a socket whose FIN is on its way (EINVAL) and
  // then never closes it: passOnReset lets the FIN finish instead.
  const server = net.createServer((peer) => peer.on('error', () => {}).resume());
  const socket = await openSocket(t, await listenUntilTeardown(t, server));
  const errors: string[] = [];
  socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
  const closed = once(socket, 'close');
  socket.end('the last bytes');
  passOnReset(socket); // in the same tick: the FIN is being sent
  await Promise.race([closed, sleep(5000).then(() => Promise.reject(new Error('never closed')))]);
  t.same(errors, [], 'no EINVAL');
});
