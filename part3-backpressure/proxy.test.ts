/**
 * What part 3 adds, seen from a backend that is not HTTP: a raw TCP server that
 * reads until the client's FIN, then answers how many bytes it got. Only a proxy
 * that forwards the FIN, and only after the data, lets it answer correctly.
 * (The behaviour matrix covers the rest: bounded memory, half-close against the
 * HTTP backend, the idle timeout of a silent client.)
 */
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { openSocket, readAll, startPart, type Teardown, waitFor } from '../shared/test/harness.ts';
import { resettingBackend } from '../shared/test/resetting-backend.ts';

const PART = 'part3-backpressure';

// Each test has a backend and a proxy of its own and spends most of its time
// waiting (the idle tests on purpose): all at once.
t.jobs = 5;

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
    // replyChunks pieces of nearly equal length (14 bytes in ten: ones and twos).
    for (let k = 0; k < replyChunks; k++) {
      if (k > 0) await sleep(gapMs);
      const [from, to] = [k, k + 1].map((n) => Math.round((n * reply.length) / replyChunks));
      socket.write(reply.slice(from, to));
    }
    socket.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

t.test('half-close: the client FIN reaches the backend after all 4 MiB of its data', async (t) => {
  const backendPort = await countingBackend(t);
  const proxy = await startPart(t, PART, ['0', '127.0.0.1', String(backendPort)]);
  const client = await openSocket(t, proxy.port);
  const size = 4 * 1024 * 1024;
  client.end(Buffer.alloc(size, 'x')); // the data, then shutdown(SHUT_WR)
  const received = await readAll(client, 20_000);
  t.equal(received.data.toString(), `got ${size} bytes\n`, 'the backend saw every byte, then EOF');
  t.equal(received.how, 'end', 'and the answer ended cleanly');
});

t.test('idle timeout: slow traffic either way is not idle', async (t) => {
  const idleMs = 500;
  const gapMs = 150;
  // The backend stays silent while the client trickles its request (ten pieces,
  // 1.5 s), then the client stays silent while the backend trickles its answer
  // (ten pieces, 1.35 s): about 3 s in all, six times the timeout.
  const backendPort = await countingBackend(t, 10, gapMs);
  const proxy = await startPart(t, PART, [
    '--idle-timeout',
    String(idleMs),
    '0',
    '127.0.0.1',
    String(backendPort),
  ]);
  const client = await openSocket(t, proxy.port);
  const answer = readAll(client, 20_000);
  for (let i = 0; i < 10; i++) {
    client.write('0123456789');
    await sleep(gapMs);
  }
  client.end();
  const received = await answer;
  t.equal(received.data.toString(), 'got 100 bytes\n', 'the whole exchange went through');
  t.notMatch(proxy.output(), /idle/i, 'no idle timeout was logged');
});

t.test('--idle-timeout 0 turns the timeout off', async (t) => {
  const backendPort = await countingBackend(t);
  const proxy = await startPart(t, PART, [
    '--idle-timeout',
    '0',
    '0',
    '127.0.0.1',
    String(backendPort),
  ]);
  const client = await openSocket(t, proxy.port);
  const closed = readAll(client, 1500).then(
    () => true,
    () => false,
  );
  t.notOk(await closed, 'a silent client is still connected after 1.5 s');
});

// A reset that arrives in the same wakeup as the last bytes before it is
// reported to Node as a clean end (libuv takes the hang-up for EOF after a
// partial read), so each test lets the bytes through first, then resets.

t.test(
  'a backend that resets mid-response: the client sees a reset, not a clean end',
  async (t) => {
    const backend = await resettingBackend(t);
    const proxy = await startPart(t, PART, ['0', '127.0.0.1', String(backend.port)]);
    const client = await openSocket(t, proxy.port);
    let got = 0;
    client.on('data', (chunk: Buffer) => {
      got += chunk.length;
    });
    const received = readAll(client);
    client.write('GET / HTTP/1.0\r\n\r\n');
    await waitFor(() => got >= 1000, { what: 'the start of the response' });
    backend.reset();
    // A FIN here would make a truncated, close-delimited response look complete.
    t.equal((await received).how, 'reset', 'the client got part of the response, then a reset');
  },
);

t.test('a client that resets mid-request: the backend sees a reset, not a clean end', async (t) => {
  const backend = await resettingBackend(t);
  const proxy = await startPart(t, PART, ['0', '127.0.0.1', String(backend.port)]);
  const client = await openSocket(t, proxy.port);
  const head = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npart of a body';
  client.write(head);
  await waitFor(() => backend.received() === head.length, { what: 'the request at the backend' });
  client.resetAndDestroy();
  await waitFor(() => backend.ended() !== 'open', { what: 'the backend connection to end' });
  t.equal(backend.ended(), 'reset', 'the backend saw ECONNRESET');
});
