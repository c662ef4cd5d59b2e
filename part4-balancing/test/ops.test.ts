/**
 * Operations: SIGHUP reloads the configuration file (and refuses a broken one),
 * SIGTERM stops accepting and lets open connections finish, up to a deadline.
 *
 * Two balancers, started together: the one the reloads go to is then stopped
 * gracefully; the other, with a short shutdownTimeoutMs, is stopped at its
 * deadline.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import t from 'tap';
import { makeBody } from '../../shared/test/backend.ts';
import { type Program, parseResponse, waitFor } from '../../shared/test/harness.ts';
import {
  onePool,
  sequence,
  slowRequest,
  startBackends,
  startBalancer,
  whenOpen,
} from './support.ts';

const [A, B] = await startBackends(t, ['A', 'B']);
const poolOf = (backends: { address: string }[], extra: Record<string, unknown> = {}) =>
  onePool({ backends: backends.map(({ address }) => ({ address })) }, extra);

/** Waits until the program has printed `count` lines matching `pattern`; returns the last. */
async function nthLine(program: Program, pattern: RegExp, count: number): Promise<string> {
  const lines = () =>
    program
      .output()
      .split('\n')
      .filter((line) => pattern.test(line));
  await waitFor(() => lines().length >= count, { what: `line ${count} matching ${pattern}` });
  return lines()[count - 1];
}

const [reloaded, quick] = await Promise.all([
  startBalancer(t, poolOf([A])),
  startBalancer(t, poolOf([A], { shutdownTimeoutMs: 300 })),
]);

t.test('SIGHUP', async (t) => {
  const { proxy, file, statusPort } = reloaded;

  t.test('a broken file is refused with one line; the running pool keeps serving', async (t) => {
    writeFileSync(file, '{ "listen": [ }');
    proxy.child.kill('SIGHUP');
    const line = await nthLine(proxy, /Reload/, 1);
    t.match(line, /Reload refused.*invalid JSON at line 1 column 15/, line);
    t.same(await sequence(proxy.port, 3), ['A', 'A', 'A'], 'A still answers');
  });

  t.test('a changed pool: new clients go to it, an open connection is untouched', async (t) => {
    const inFlight = slowRequest(t, proxy.port, 2500);
    await whenOpen(statusPort as number, 1);
    writeFileSync(file, JSON.stringify(poolOf([B])));
    proxy.child.kill('SIGHUP');
    t.match(await nthLine(proxy, /Reload/, 2), /Reloaded/);
    t.same(await sequence(proxy.port, 3), ['B', 'B', 'B'], 'B answers new clients');
    const response = parseResponse((await inFlight).data);
    t.ok(response.body.equals(makeBody('A')), 'the request open during the reload finished on A');
  });

  t.test('a listener added, then removed', async (t) => {
    const twoPorts = {
      listen: [
        { port: 0, pool: 'web' },
        { port: 0, pool: 'other' },
      ],
      statusPort: 0,
      pools: {
        web: { backends: [{ address: B.address }] },
        other: { backends: [{ address: A.address }] },
      },
    };
    writeFileSync(file, JSON.stringify(twoPorts));
    proxy.child.kill('SIGHUP');
    t.match(await nthLine(proxy, /Reload/, 3), /Reloaded/);
    const added = Number((await nthLine(proxy, /Listening on port/, 2)).match(/port (\d+)/)?.[1]);
    t.same(await sequence(added, 2), ['A', 'A'], 'the new port serves its pool');
    t.same(await sequence(proxy.port, 2), ['B', 'B'], 'the old port kept its socket and pool');

    writeFileSync(file, JSON.stringify(poolOf([B])));
    proxy.child.kill('SIGHUP');
    t.match(await nthLine(proxy, /Reload/, 4), /Reloaded/);
    t.match(await nthLine(proxy, /Stopped listening/, 1), `Stopped listening on port ${added}.`);
    const late = net.connect(added, '127.0.0.1');
    const [error] = (await once(late, 'error')) as [NodeJS.ErrnoException];
    t.equal(error.code, 'ECONNREFUSED', 'the removed port refuses new clients');
  });
});

t.test('SIGTERM', async (t) => {
  t.test('a slow response in flight completes; new clients are refused; exit 0', async (t) => {
    // The balancer the reloads above went to: its pool is now B.
    const { proxy, statusPort } = reloaded;
    const inFlight = slowRequest(t, proxy.port, 1000);
    await whenOpen(statusPort as number, 1);
    proxy.child.kill('SIGTERM');
    await proxy.waitForOutput(/Shutting down/);

    const late = net.connect(proxy.port, '127.0.0.1');
    const [error] = (await once(late, 'error')) as [NodeJS.ErrnoException];
    t.equal(error.code, 'ECONNREFUSED', 'a new client is refused');

    const received = await inFlight;
    const response = parseResponse(received.data);
    t.equal(response.status, 200, 'the slow response completed');
    t.ok(response.body.equals(makeBody('B')), 'byte-exact');
    t.equal(await proxy.exited, 0, 'exit code 0');
  });

  t.test('a response slower than shutdownTimeoutMs is cut at the deadline; exit 0', async (t) => {
    const { proxy, statusPort } = quick;
    const inFlight = slowRequest(t, proxy.port, 30_000);
    await whenOpen(statusPort as number, 1);
    proxy.child.kill('SIGTERM');
    t.equal(await proxy.exited, 0, 'exit code 0');
    t.match(proxy.output(), /closed the 1 connection\(s\) still open at the deadline/);
    t.equal((await inFlight).data.length, 0, 'the client was closed without an answer');
  });
});
