/**
 * npm run trace:part2: watch part2's event loop talk to the kernel.
 *
 * It starts a mock backend, then part2-epoll-style under
 *   strace -f -e trace=epoll_wait,epoll_pwait,epoll_ctl,accept4,connect
 * sends it two requests at the same time (each answered after 200 ms), stops it,
 * and prints the system calls the event-loop thread made from the moment the
 * proxy was listening. That is the reactor of the C series, done by libuv: an
 * epoll set, descriptors added to it with epoll_ctl, one loop around epoll_wait.
 * (Node's libuv calls epoll_pwait, the same call with a signal mask; both are traced.)
 *
 * What it leaves out: the other threads (libuv's thread pool, V8's helpers, the
 * TypeScript loader). They never touch a socket; their lines are only counted.
 * Without strace it says how to install it and exits 1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Cleanup } from '../lib/cleanup.ts';
import { exitWith, failWith } from '../lib/cli.ts';
import { LISTENING, partArgs, ROOT, startBackend } from '../lib/programs.ts';
import { httpGet, waitFor } from '../test/harness.ts';

const SCRIPT = 'trace.ts';
const PART = 'part2-epoll-style';
const CALLS = 'epoll_wait,epoll_pwait,epoll_ctl,accept4,connect';
const DELAY_MS = 200;
/** Wide enough for an epoll_pwait with two events on one line. */
const WIDTH = 180;

async function main(): Promise<void> {
  if (spawnSync('strace', ['-V']).error) {
    exitWith(SCRIPT, 'strace is not installed (Debian/Ubuntu: sudo apt-get install strace)', 1);
  }
  const cleanup = new Cleanup();
  cleanup.onSignals();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsp-trace-'));
  cleanup.teardown(() => rm(dir, { recursive: true, force: true }));
  const traceFile = path.join(dir, 'strace.out');
  try {
    const backend = await startBackend(cleanup, { name: 'traced' });
    const strace = spawn(
      'strace',
      ['-f', '-e', `trace=${CALLS}`, '-o', traceFile, process.execPath, '--import', 'tsx'].concat([
        `${PART}/proxy.ts`,
        ...partArgs(PART, [backend.port]),
      ]),
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanup.teardown(() => strace.kill('SIGKILL'));
    const port = await listeningPort(strace);
    const startedAt = (await readFile(traceFile, 'utf8')).split('\n').length - 1;

    console.log(`part2 listens on ${port}; two clients ask for a ${DELAY_MS} ms answer at once.\n`);
    await Promise.all([1, 2].map(() => httpGet(port, `/?delay=${DELAY_MS}`)));

    // The proxy is strace's child; its main thread (tid = pid) runs the event loop.
    const loopThread = (await readFile(`/proc/${strace.pid}/task/${strace.pid}/children`, 'utf8'))
      .trim()
      .split(' ')[0];
    await stopTracee(strace, loopThread);
    // strace -o starts every line with the id of the thread that made the call.
    const lines = (await readFile(traceFile, 'utf8')).split('\n').filter(Boolean);
    const after = lines.slice(startedAt);
    const mine = after.filter((line) => line.split(' ')[0] === loopThread);
    for (const line of mine) console.log(line.length > WIDTH ? `${line.slice(0, WIDTH)}...` : line);
    console.log(
      `\n${mine.length} calls by the event-loop thread (${loopThread}); ` +
        `${after.length - mine.length} by other threads, not shown.`,
    );
  } catch (err) {
    failWith(SCRIPT, err);
  } finally {
    await cleanup.run();
  }
}

/** Reads the proxy's stdout (passed through strace) until its Listening line. */
async function listeningPort(strace: ChildProcess): Promise<number> {
  let text = '';
  strace.stdout?.on('data', (chunk: Buffer) => {
    text += chunk;
  });
  const port = await waitFor(() => text.match(LISTENING)?.[1], {
    timeoutMs: 30_000,
    what: 'the proxy to listen under strace',
  });
  return Number(port);
}

/** Ends the traced proxy (not strace, which would only detach) and lets strace finish. */
async function stopTracee(strace: ChildProcess, pid: string | undefined): Promise<void> {
  if (pid) process.kill(Number(pid), 'SIGTERM');
  else strace.kill('SIGTERM');
  await once(strace, 'exit');
}

await main();
