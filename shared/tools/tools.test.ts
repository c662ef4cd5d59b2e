/**
 * The reader's tools, run through their real command lines: the diff between
 * neighbouring parts and between part 4's steps, a step of part 4 run on its
 * own, and the strace of part 2. Each checks what the tool claims to show, not
 * only that it exits. Two tests run at once (each only waits for its
 * programs), and each diff command line runs once, however many tests read it.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { type Finished, runProgram, startProgram } from '../lib/programs.ts';
import { PART } from '../lib/steps.ts';
import {
  listenUntilTeardown,
  openSocket,
  parseResponse,
  readAll,
  requestHead,
} from '../test/harness.ts';
import { yourChanges } from './exercise.ts';

t.jobs = 2;

const PARTS = ['part1-oneshot', 'part2-epoll-style', 'part3-backpressure', 'part4-balancing'];

const diffRuns = new Map<string, Promise<Finished>>();
/** `npm run diff -- ARGS`, run the first time it is asked for. */
function diff(...args: string[]): Promise<Finished> {
  const key = args.join(' ');
  let run = diffRuns.get(key);
  if (!run) {
    // A long deadline: on a busy machine the other test's program starts meanwhile.
    run = runProgram('shared/tools/diff.ts', args, 60_000);
    diffRuns.set(key, run);
  }
  return run;
}

t.test('npm run diff -- N: part N-1 against part N, code only, for N from 2 to 4', async (t) => {
  for (const n of [2, 3, 4]) {
    const run = await diff(String(n));
    const [before, after] = [PARTS[n - 2], PARTS[n - 1]];
    t.equal(run.code, 0, `diff ${n}: exit 0`);
    t.ok(run.stdout.includes(`--- a/${before}/proxy.ts`), `diff ${n}: from ${before}/proxy.ts`);
    t.ok(run.stdout.includes(`+++ b/${after}/proxy.ts`), `diff ${n}: to ${after}/proxy.ts`);
    t.notMatch(run.stdout, /^diff --git .*\.md$/m, `diff ${n}: the chapters are left out`);
    t.notMatch(
      run.stdout,
      /exercise\.(test\.ts|solution\.patch)/,
      `diff ${n}: the exercise tests and solutions are left out`,
    );
    t.notMatch(run.stdout, /\.test\.ts|test-support|\/test\//, `diff ${n}: the tests are left out`);
  }
  const bad = await diff('5');
  t.equal(bad.code, 2, 'N out of range: exit 2');
  t.match(
    bad.stderr,
    /^diff\.ts: N must be 2, 3 or 4, or 4\.1 to 4\.9 \(a step of part 4\), got "5"\nusage:/,
    'one line and the usage',
  );
});

/** The most lines a chapter of part 4 may add to the code before it (tests and prose left out). */
const MAX_CHAPTER_LINES = 1500;

t.test('npm run diff -- 4.N: part 4 chapter by chapter, from part 3 to step 4.9', async (t) => {
  // The reader's exercises in parts 3 and 4 change what the diffs show.
  const yours = yourChanges(PARTS[2], PART);
  const steps = [1, 2, 3, 4, 5, 6, 7, 8];
  const runs = await Promise.all(steps.map((n) => diff(`4.${n}`, '--stat')));
  for (const [i, run] of runs.entries()) {
    const n = steps[i];
    const before = n === 1 ? 'part3-backpressure' : `step-4.${n - 1}`;
    t.equal(run.code, 0, `diff 4.${n}: exit 0`);
    // A file in both, as git --stat names it: {before => after}/file.
    t.match(run.stdout, `{${before} => step-4.${n}}/`, `diff 4.${n}: ${before} -> step-4.${n}`);
    t.match(run.stdout, /^ \d+ files? changed/m, `diff 4.${n}: a summary`);
    t.notMatch(run.stdout, /\.md\b|\.png\b/, `diff 4.${n}: no prose, no picture`);
    t.notMatch(run.stdout, /\.test\.ts|-support\.ts|fuzz|\/test\//, `diff 4.${n}: no tests`);
    // One chapter, one idea: a chapter that needs more is two chapters.
    const added = Number(/(\d+) insertions?\(\+\)/.exec(run.stdout)?.[1]);
    const limit = `diff 4.${n}: adds ${added} lines, at most ${MAX_CHAPTER_LINES}`;
    // An exercise done in part 4 (a strategy, say) adds its lines to its chapter.
    t.ok(added <= MAX_CHAPTER_LINES, added <= MAX_CHAPTER_LINES ? limit : limit + yours);
  }
  t.match(
    runs[0].stdout,
    /part3-backpressure\/proxy\.ts => step-4\.1\/relay\.ts/,
    `4.1: relay.ts is part 3's proxy.ts, moved${yours}`,
  );
  t.match(runs[2].stdout, /=> step-4\.3\/config\/parse\.ts /, '4.3 adds config/');
  t.notMatch(runs[2].stdout, /vhosts/, "4.3 has nothing of chapter 4's");

  const [bad, tests] = await Promise.all([diff('4.10'), diff('4.2', '--tests')]);
  t.equal(bad.code, 2, 'a step out of range: exit 2');
  t.match(bad.stderr, /^diff\.ts: N must be .* got "4\.10"\nusage:/, 'one line and the usage');
  t.equal(tests.code, 2, '--tests with a step: exit 2');
  t.equal(tests.stderr, "diff.ts: --tests: steps have no tests (diff -- 4 --tests has part 4's)\n");
});

t.test('npm run diff -- 4: code that moved shows as moved', async (t) => {
  const run = await diff('4');
  t.equal(run.code, 0);
  t.match(
    run.stdout,
    /^diff --git a\/part3-backpressure\/proxy\.ts b\/part4-balancing\/relay\.ts\nsimilarity index \d+%\n(copy|rename) from part3-backpressure\/proxy\.ts\n(copy|rename) to part4-balancing\/relay\.ts$/m,
    `relay.ts: part 3's proxy.ts, copied and changed${yourChanges(PARTS[2], PART)}`,
  );

  const withTests = await diff('4', '--tests', '--name-status');
  t.equal(withTests.code, 0);
  t.match(
    withTests.stdout,
    /^R\d+\tpart3-backpressure\/proxy\.test\.ts\tpart4-balancing\/test\/relay\.test\.ts$/m,
    '--tests: the relay tests moved with the relay',
  );
  t.match(withTests.stdout, /^A\tpart4-balancing\/test\/support\.ts$/m, '--tests: new test files');
});

const STEP = 'shared/tools/step.ts';
/** The step that the run tests start: the one furthest from the whole of part 4. */
const RUNNABLE = '4.1';
/** The first step that stops gracefully on a signal (chapter 3). */
const STOPS_GRACEFULLY = '4.3';

t.test(
  "npm run step: a bad step is one line and the usage; a bad argument, part 4's own",
  async (t) => {
    const [badStep, badArgument] = await Promise.all([
      runProgram(STEP, ['5'], 60_000),
      runProgram(STEP, [RUNNABLE, '--no-such-option'], 60_000),
    ]);
    t.equal(badStep.code, 2, 'a bad step: exit 2');
    t.match(
      badStep.stderr,
      /^step\.ts: the step must be 4\.1 to 4\.9, got "5"\nusage: step\.ts 4\.N/,
    );
    t.equal(badArgument.code, 2, "a bad argument: part 4's exit code");
    t.match(
      badArgument.stderr,
      /^proxy\.ts: Unknown option '--no-such-option'.*\nusage: proxy\.ts /,
      "part 4's one line and its usage",
    );
  },
);

t.test(
  `npm run step -- ${STOPS_GRACEFULLY}: serves through a backend, and Ctrl-C reaches it once`,
  async (t) => {
    // A backend that answers when told to, so that a request is in flight when Ctrl-C comes.
    const backend = net.createServer();
    const connected = once(backend, 'connection') as Promise<[net.Socket]>;
    const backendPort = await listenUntilTeardown(t, backend);
    const step = await startProgram(t, STEP, [STOPS_GRACEFULLY, '0', `127.0.0.1:${backendPort}`], {
      timeoutMs: 60_000,
      detached: true,
    });
    // Last in, first out: before the harness's SIGKILL, which would leave the proxy running.
    t.teardown(() => step.kill('SIGTERM'));

    const client = await openSocket(t, step.port);
    client.write(requestHead());
    const response = readAll(client);
    const [toBackend] = await connected;
    // Ctrl-C: SIGINT to every process of the group, as a terminal sends it.
    process.kill(-step.pid, 'SIGINT');
    await step.waitForOutput(/Shutting down on SIGINT: not accepting; 1 open connection/);
    toBackend.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');

    const answer = parseResponse((await response).data);
    t.equal(answer.status, 200, 'the request in flight is answered');
    t.equal(answer.body.toString(), 'ok');
    t.equal(await step.exited, 0, "the proxy's exit code, 0 after a graceful stop");
    t.match(step.output(), /Stopped: every connection has finished/);
    t.notMatch(
      step.output(),
      /SIGINT again/,
      'one SIGINT, not one from the terminal and one from step.ts',
    );
  },
);

t.test('npm run trace:part2 without strace: one line saying how to install it', async (t) => {
  const run = await runProgram('shared/tools/trace.ts', [], 15_000, { PATH: '/nonexistent' });
  t.equal(run.code, 1);
  t.match(run.stderr, /^trace\.ts: strace is not installed \(.*apt-get install strace\)\n$/);
});

const hasStrace = !spawnSync('strace', ['-V']).error;
t.test(
  'npm run trace:part2: the event loop waits in epoll and accepts the clients',
  { skip: hasStrace ? false : 'strace is not installed' },
  async (t) => {
    const run = await runProgram('shared/tools/trace.ts', [], 60_000);
    t.equal(run.code, 0, run.stderr);
    t.match(run.stdout, /epoll_p?wait\(/, 'epoll_wait calls');
    t.match(run.stdout, /epoll_ctl\(\d+, EPOLL_CTL_ADD/, 'sockets added to the epoll set');
    t.match(run.stdout, /accept4\(/, 'accepted clients');
  },
);
