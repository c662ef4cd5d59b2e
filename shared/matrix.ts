/**
 * The behaviour matrix: the same checks against every part, each part asserting
 * its *designed* outcome, including the failures that a later part fixes. A part
 * joins with one file, `<part>/matrix.test.ts`, that calls behaviourMatrix() with
 * how to start it and what it is expected to do.
 *
 * Rows (numbered as in the chapters):
 *  1. a GET twice in a row: 200, body byte-exact
 *  2. an 11 MiB response arrives byte-exact
 *  3. four simultaneous slow requests: served one after another, or all at once
 *  4. a client that reads 1 KiB of a large response and leaves: the next request works
 *  5. backend not listening: the client is closed promptly; once it is up, requests work
 *  6. the startup line: `[YYYY-MM-DD HH:MM:SS] Started.  Listening on port N.`
 *  7. bad arguments: exit 2, usage on stderr, no stack trace
 */
import t, { type Test } from 'tap';
import { makeBody } from './backend.ts';
import {
  freePort,
  httpGet,
  openSocket,
  type Program,
  readAll,
  requestHead,
  runProgram,
  startBackend,
  startPart,
} from './harness.ts';

const MiB = 1024 * 1024;
const NAME = 'matrix';
/** The delay row 3 asks the backend for, per request. */
export const SLOW_MS = 300;

export interface Expectations {
  /** Row 3: 'serial' = total at least 4 x the delay; 'parallel' = well under 2 x. */
  concurrency: 'serial' | 'parallel';
}

export interface PartUnderTest {
  /** The part's folder, e.g. 'part1-oneshot'. */
  part: string;
  /** Command-line arguments that make the part listen on a free port in front of one backend. */
  args?: (backendPort: number) => string[];
  /** Command lines that must be refused with exit 2 and a usage line. */
  badArgs?: string[][];
  expect: Expectations;
}

const defaultArgs = (backendPort: number) => ['0', '127.0.0.1', String(backendPort)];
const defaultBadArgs = [['not-a-port'], ['8000', '127.0.0.1', '8888', 'extra'], ['70000']];

/** A stack trace looks like "    at fn (file:line:col)". */
const STACK_TRACE = /^\s+at .+\(?.+:\d+:\d+\)?$/m;

export function behaviourMatrix(subject: PartUnderTest): void {
  const { part, expect } = subject;
  const argsFor = subject.args ?? defaultArgs;

  t.test(`${part}: behaviour matrix`, async (t) => {
    const backend = await startBackend(t, { name: NAME });
    const start = (tt: Parameters<typeof startPart>[0]) =>
      startPart(tt, part, argsFor(backend.port));
    const noStackTrace = (tt: Tap, proxy: Program) =>
      tt.notMatch(proxy.output(), STACK_TRACE, 'the proxy printed no stack trace');

    t.test('1. a GET twice in a row: status 200, body byte-exact', async (t) => {
      const proxy = await start(t);
      for (const attempt of [1, 2]) {
        const response = await httpGet(proxy.port);
        t.equal(response.status, 200, `request ${attempt}: status 200`);
        t.ok(response.body.equals(makeBody(NAME)), `request ${attempt}: body byte-exact`);
      }
    });

    t.test('2. an 11 MiB response arrives byte-exact', async (t) => {
      const proxy = await start(t);
      const size = 11 * MiB;
      const response = await httpGet(proxy.port, `/?size=${size}`, 60_000);
      t.equal(response.status, 200);
      t.equal(response.body.length, size, 'all 11 MiB arrived');
      t.ok(response.body.equals(makeBody(NAME, size)), 'body byte-exact');
    });

    const row3 =
      expect.concurrency === 'serial'
        ? '3. four simultaneous slow requests are served one after another (designed)'
        : '3. four simultaneous slow requests are served at the same time';
    t.test(row3, async (t) => {
      const proxy = await start(t);
      const began = performance.now();
      const responses = await Promise.all(
        [1, 2, 3, 4].map(() => httpGet(proxy.port, `/?delay=${SLOW_MS}`, 30_000)),
      );
      const elapsed = performance.now() - began;
      t.same(
        responses.map((r) => r.status),
        [200, 200, 200, 200],
        'all four answered',
      );
      if (expect.concurrency === 'serial') {
        // setTimeout never fires early, so four in a row take at least 4 x the delay.
        t.ok(elapsed >= 4 * SLOW_MS, `took ${elapsed.toFixed(0)} ms >= ${4 * SLOW_MS} ms`);
      } else {
        t.ok(elapsed < 2 * SLOW_MS, `took ${elapsed.toFixed(0)} ms < ${2 * SLOW_MS} ms`);
      }
    });

    t.test(
      '4. a client that reads 1 KiB of a large response and leaves: the next request works',
      async (t) => {
        const proxy = await start(t);
        const quitter = await openSocket(t, proxy.port);
        quitter.write(requestHead(`/?size=${32 * MiB}`));
        let got = 0;
        await new Promise<void>((resolve) => {
          quitter.on('data', (chunk: Buffer) => {
            got += chunk.length;
            if (got >= 1024) {
              quitter.destroy();
              resolve();
            }
          });
        });
        const response = await httpGet(proxy.port, '/', 15_000);
        t.equal(response.status, 200, 'the next request got 200');
        t.ok(response.body.equals(makeBody(NAME)), 'and the right body');
        noStackTrace(t, proxy);
      },
    );

    t.test(
      '5. backend not listening: the client is closed promptly, then service resumes',
      async (t) => {
        const port = await freePort();
        const proxy = await startPart(t, part, argsFor(port));
        const client = await openSocket(t, proxy.port);
        client.write(requestHead());
        const began = performance.now();
        const received = await readAll(client, 5_000);
        t.ok(true, `closed after ${(performance.now() - began).toFixed(0)} ms (${received.how})`);

        await startBackend(t, { name: NAME, port });
        const response = await httpGet(proxy.port);
        t.equal(response.status, 200, 'once the backend is up, a request succeeds');
        t.ok(response.body.equals(makeBody(NAME)), 'with its body');
        noStackTrace(t, proxy);
      },
    );

    t.test('6. the startup line: timestamp, "Started.  Listening on port N."', async (t) => {
      const proxy = await start(t);
      const line = proxy
        .output()
        .split('\n')
        .find((l) => l.includes('Listening on port'));
      const match = line?.match(
        /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\] Started\. {2}Listening on port (\d+)\.$/,
      );
      t.ok(match, `line has the format: ${JSON.stringify(line)}`);
      if (!match) return;
      const stamp = new Date(`${match[1]}T${match[2]}`).getTime();
      t.ok(Math.abs(Date.now() - stamp) < 60_000, 'the timestamp is the local time now');
      t.equal(Number(match[3]), proxy.port, 'the port is the real one');
      t.not(proxy.port, 0, 'port 0 was replaced by the port the kernel picked');
    });

    t.test('7. bad arguments: exit 2, usage on stderr, no stack trace', async (t) => {
      for (const args of subject.badArgs ?? defaultBadArgs) {
        const run = await runProgram(`${part}/proxy.ts`, args);
        const what = JSON.stringify(args);
        t.equal(run.code, 2, `${what}: exit code 2`);
        t.match(run.stderr, /usage/i, `${what}: usage on stderr`);
        t.notMatch(run.stderr, STACK_TRACE, `${what}: no stack trace`);
      }
    });
  });
}

type Tap = Test;
