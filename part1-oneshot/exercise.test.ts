/**
 * The ready test of this chapter's first exercise: when a client is done, part 1
 * logs how many bytes went each way, in a line that ends
 * `78 bytes in, 1093 bytes out.` (the request, then the response).
 *
 * `npm test` leaves it out; `npm run exercise -- 1` runs it. It fails until the
 * exercise is done in proxy.ts. What it leaves out: the other exercises.
 */
import t from 'tap';
import {
  openSocket,
  readAll,
  requestHead,
  serveBackend,
  startPart,
} from '../shared/test/harness.ts';

const PART = 'part1-oneshot';
const skip = process.env.EXERCISE === '1' ? false : 'an exercise: npm run exercise -- 1';
const COUNTS = /(\d+) bytes in, (\d+) bytes out/g;

t.test('each client gets one log line with its own bytes in and out', { skip }, async (t) => {
  const backend = await serveBackend(t);
  const proxy = await startPart(t, PART, ['0', '127.0.0.1', String(backend.port)]);
  const expected: number[][] = [];
  for (const size of [1000, 100_000]) {
    const client = await openSocket(t, proxy.port);
    const request = requestHead(`/?size=${size}`);
    client.write(request);
    const response = await readAll(client, 10_000);
    expected.push([Buffer.byteLength(request), response.data.length]);
  }
  // The proxy logs once it has closed the client, about when we see the close.
  const logged = await proxy
    .waitForOutput(/bytes out[\s\S]*bytes out/, 5_000)
    .then(() => [...proxy.output().matchAll(COUNTS)].map((m) => [Number(m[1]), Number(m[2])]))
    .catch(() => []);
  t.same(logged, expected, `two clients: ${JSON.stringify(expected)} (in, out)`);
});
