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
 *  8. slow readers: how much of their responses the proxy holds in memory
 *  9. reset storm: clients that reset mid-request, a backend that dies mid-answer:
 *     no descriptor leaks, service goes on
 * 10. half-close: a request, then shutdown(SHUT_WR); does the whole response arrive?
 * 11. idle timeout: a client that connects and sends nothing; is it closed?
 *
 * Expectations left out default to the finished proxy's behaviour (part 3 on).
 */
import t, { type Test } from 'tap';
import { makeBody } from './backend.ts';
import {
  freePort,
  httpGet,
  openFds,
  openSocket,
  type Program,
  readAll,
  requestHead,
  rssKiB,
  runProgram,
  slowReaders,
  startBackend,
  startPart,
  waitFor,
} from './harness.ts';

const MiB = 1024 * 1024;
const NAME = 'matrix';
/** The delay row 3 asks the backend for, per request. */
export const SLOW_MS = 300;
/** Row 8: this many clients ask for SLOW_SIZE bytes each and read nothing. */
const SLOW_READERS = 3;
const SLOW_SIZE = 48 * MiB;
/** Row 8 thresholds, far apart: the bug holds most of the bytes in flight. */
const GROWN_MiB = 60;
const BOUNDED_MiB = 32;
/** Row 8, bounded: how long to watch the RSS. */
const WATCH_MS = 2500;
/** Row 10: the response a half-closed client asks for. */
const HALF_CLOSE_SIZE = 8 * MiB;
/** Row 11: the idle timeout the part is started with, and how long a part without one is watched. */
const IDLE_MS = 500;
const IDLE_WATCH_MS = 3 * IDLE_MS;
/** Row 9: how many clients reset, and how many extra descriptors are noise. */
const STORM = 200;
const FD_SLACK = 10;

export interface Expectations {
  /** Row 3: 'serial' = total at least 4 x the delay; 'parallel' = well under 2 x. */
  concurrency: 'serial' | 'parallel';
  /**
   * Row 8: 'bounded' = RSS grows by a few MiB at most (the finished proxy's
   * behaviour, the default); 'grows' = the proxy holds most of the bytes in flight.
   */
  slowReader?: 'bounded' | 'grows';
  /** Row 10: 'whole' (the default) or 'cut' = the response is lost or truncated. */
  halfClose?: 'whole' | 'cut';
  /** Row 11: true (the default) = the part takes --idle-timeout MS and closes idle clients. */
  idleTimeout?: boolean;
}

export interface PartUnderTest {
  /** The part's folder, e.g. 'part1-oneshot'. */
  part: string;
  /** Command-line arguments that make the part listen on a free port in front of one backend. */
  args?: (backendPort: number) => string[];
  /** Command lines that must be refused with exit 2 and a usage line. */
  badArgs?: string[][];
  /** Row 11: arguments with an idle timeout (default: args plus `--idle-timeout MS`). */
  idleArgs?: (backendPort: number, idleMs: number) => string[];
  expect: Expectations;
}

const defaultArgs = (backendPort: number) => ['0', '127.0.0.1', String(backendPort)];
export const defaultBadArgs = [['not-a-port'], ['8000', '127.0.0.1', '8888', 'extra'], ['70000']];

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
        // readAll rejects if the connection is still open after 5 s.
        const received = await readAll(client, 5_000);
        const elapsed = performance.now() - began;
        t.ok(elapsed < 5_000, `closed after ${elapsed.toFixed(0)} ms (${received.how})`);
        t.notOk(received.data.includes('200 OK'), 'no success was made up');
        // One line that says the backend refused (not "ended early"); waitForOutput rejects after 5 s.
        const said = await proxy.waitForOutput(
          /(connect to backend \S+ |failed connect \()ECONNREFUSED/,
          5_000,
        );
        t.ok(said, `the proxy logged it: ${said[0]}`);

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

    const slowReader = expect.slowReader ?? 'bounded';
    const row8 =
      slowReader === 'grows'
        ? '8. slow readers: the proxy holds their responses in memory (known bug, asserted)'
        : '8. slow readers: the proxy memory stays bounded';
    t.test(row8, async (t) => {
      const proxy = await start(t);
      await httpGet(proxy.port); // load every module the relay uses before the baseline
      const base = await rssKiB(proxy.pid);
      // Clients that read nothing: the kernel's buffers fill, then the proxy's.
      const readers = await slowReaders(t, proxy.port, SLOW_READERS, `/?size=${SLOW_SIZE}`);
      await waitFor(() => readers.some((r) => r.readableLength > 0), {
        what: 'the first bytes of a response',
      });
      const growth = async () => ((await rssKiB(proxy.pid)) - base) / 1024;
      const inFlight = (SLOW_READERS * SLOW_SIZE) / MiB;
      if (slowReader === 'grows') {
        await waitFor(async () => (await growth()) > GROWN_MiB, {
          timeoutMs: 30_000,
          what: `RSS growth above ${GROWN_MiB} MiB`,
        });
        // For the figure in the chapter: keep reading until the backend is done
        // sending (two readings 300 ms apart within 1 MiB).
        let held = Number.NEGATIVE_INFINITY;
        await waitFor(
          async () => {
            const [before, now] = [held, await growth()];
            held = now;
            return Math.abs(now - before) < 1;
          },
          { timeoutMs: 15_000, intervalMs: 300, what: 'RSS to settle' },
        );
        t.ok(held > GROWN_MiB, `RSS grew by ${held.toFixed(1)} MiB (${inFlight} MiB in flight)`);
      } else {
        // Nothing signals "would have grown by now", so watch for a while: part 2
        // passes the bounded threshold in well under a second on the same machine.
        let peak = 0;
        const until = Date.now() + WATCH_MS;
        while (Date.now() < until) {
          peak = Math.max(peak, await growth());
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        t.ok(
          peak < BOUNDED_MiB,
          `RSS grew by ${peak.toFixed(1)} MiB at most (< ${BOUNDED_MiB}; ${inFlight} MiB in flight)`,
        );
      }
      // The stalled response is intact: once the reader reads, all of it arrives.
      const first = readers.find((r) => r.readableLength > 0) as (typeof readers)[number];
      const received = await readAll(first, 60_000);
      t.ok(
        received.data.length > SLOW_SIZE,
        `once it reads, the whole response arrives (${received.data.length} bytes)`,
      );
      t.ok(received.data.subarray(-SLOW_SIZE).equals(makeBody(NAME, SLOW_SIZE)), 'byte-exact');
      noStackTrace(t, proxy);
    });

    t.test('9. reset storm: no descriptor leaks, the proxy keeps serving', async (t) => {
      const proxy = await start(t);
      await httpGet(proxy.port);
      const base = await openFds(proxy.pid);
      // A third reset before sending anything (the backend then waits for a
      // request that will never come), a third as soon as the request is out,
      // a third at the first byte of the answer.
      await Promise.all(
        Array.from({ length: STORM }, async (_, i) => {
          const client = await openSocket(t, proxy.port);
          client.on('error', () => {});
          if (i % 3 > 0) client.write(requestHead(`/?size=${MiB}`));
          // (A client the proxy turned away gets 'close' without 'data'.)
          if (i % 3 === 2) await oneOf(client, ['data', 'close']);
          client.resetAndDestroy(); // SO_LINGER 0 + close(): an RST, not a FIN
        }),
      );
      const fds = await settledFds(proxy.pid, base);
      t.ok(fds <= base + FD_SLACK, `open fds: ${base} before, ${fds} after ${STORM} resets`);
      const response = await httpGet(proxy.port);
      t.equal(response.status, 200, 'a request afterwards is answered');
      noStackTrace(t, proxy);
    });

    t.test('9. a backend killed mid-answer: the client is closed, no leak', async (t) => {
      const doomed = await startBackend(t, { name: NAME });
      const proxy = await startPart(t, part, argsFor(doomed.port));
      await httpGet(proxy.port);
      const base = await openFds(proxy.pid);
      const client = await openSocket(t, proxy.port);
      client.write(requestHead(`/?size=${64 * MiB}`));
      await oneOf(client, ['readable', 'close']);
      await doomed.kill('SIGKILL');
      const received = await readAll(client, 15_000);
      t.ok(
        received.data.length < 64 * MiB,
        `the client was closed with ${received.data.length} bytes (${received.how})`,
      );
      const fds = await settledFds(proxy.pid, base);
      t.ok(fds <= base + FD_SLACK, `open fds: ${base} before, ${fds} after`);
      t.equal(proxy.child.exitCode, null, 'the proxy is still running');
      noStackTrace(t, proxy);
    });

    const halfClose = expect.halfClose ?? 'whole';
    const row10 =
      halfClose === 'whole'
        ? '10. half-close: request, then shutdown(SHUT_WR): the whole response arrives'
        : '10. half-close: request, then shutdown(SHUT_WR): the response is cut (known bug, asserted)';
    t.test(row10, async (t) => {
      const proxy = await start(t);
      const client = await openSocket(t, proxy.port);
      client.on('error', () => {});
      client.end(requestHead(`/?size=${HALF_CLOSE_SIZE}`)); // write, then FIN: shutdown(SHUT_WR)
      const received = await readAll(client, 30_000);
      const head = received.data.indexOf('\r\n\r\n');
      const body = head < 0 ? Buffer.alloc(0) : received.data.subarray(head + 4);
      const what = `${body.length} of ${HALF_CLOSE_SIZE} body bytes arrived (${received.how})`;
      if (halfClose === 'whole') {
        t.equal(body.length, HALF_CLOSE_SIZE, what);
        t.ok(body.equals(makeBody(NAME, HALF_CLOSE_SIZE)), 'byte-exact');
      } else {
        t.ok(body.length < HALF_CLOSE_SIZE, what);
      }
      noStackTrace(t, proxy);
    });

    const idleTimeout = expect.idleTimeout ?? true;
    const row11 = idleTimeout
      ? `11. idle timeout: a silent client is closed after --idle-timeout ${IDLE_MS}`
      : '11. idle timeout: none, a silent client is kept open (designed)';
    t.test(row11, async (t) => {
      const idleArgs =
        subject.idleArgs ??
        ((port: number, ms: number) => [...argsFor(port), '--idle-timeout', String(ms)]);
      const proxy = await startPart(
        t,
        part,
        idleTimeout ? idleArgs(backend.port, IDLE_MS) : argsFor(backend.port),
      );
      const client = await openSocket(t, proxy.port);
      const began = performance.now();
      if (idleTimeout) {
        await readAll(client, 20 * IDLE_MS);
        const after = performance.now() - began;
        // Timers never fire early; the upper bound only catches "never" on a busy machine.
        t.ok(after >= IDLE_MS * 0.9, `closed after ${after.toFixed(0)} ms (>= ${IDLE_MS})`);
        t.ok(after < 10 * IDLE_MS, `and not much later (< ${10 * IDLE_MS})`);
        t.match(proxy.output(), /idle/i, 'the proxy logged it');
      } else {
        const closed = readAll(client, IDLE_WATCH_MS).then(
          () => true,
          () => false,
        );
        t.notOk(await closed, `still open after ${IDLE_WATCH_MS} ms`);
      }
      noStackTrace(t, proxy);
    });
  });
}

type Tap = Test;

/** Waits (with a deadline) for a pid's open descriptors to fall back near `base`; returns the last count. */
async function settledFds(pid: number, base: number): Promise<number> {
  let count = await openFds(pid);
  const settled = async () => {
    count = await openFds(pid);
    return count <= base + FD_SLACK;
  };
  await waitFor(settled, { timeoutMs: 20_000 }).catch(() => {});
  return count;
}

/** Resolves on the first of `events` (once() would wait forever if another one came). */
function oneOf(emitter: NodeJS.EventEmitter, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of events) emitter.off(event, done);
      resolve();
    };
    for (const event of events) emitter.on(event, done);
  });
}
