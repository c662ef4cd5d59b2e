/**
 * The reader's tools, run through their real command lines: the diff between
 * neighbouring parts and the strace of part 2. Each checks what the tool claims
 * to show, not only that it exits. Two tests run at once (each only waits for
 * its programs), and each diff command line runs once, however many tests read it.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { type Finished, runProgram } from '../lib/programs.ts';

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
    t.notMatch(run.stdout, /exercise\.test\.ts/, `diff ${n}: the exercise tests are left out`);
    t.notMatch(run.stdout, /\.test\.ts|test-support|\/test\//, `diff ${n}: the tests are left out`);
  }
  const bad = await diff('5');
  t.equal(bad.code, 2, 'N out of range: exit 2');
  t.match(bad.stderr, /^diff\.ts: N must be 2, 3 or 4, got "5"\nusage:/, 'one line and the usage');
});

t.test('npm run diff -- 4: code that moved shows as moved', async (t) => {
  const run = await diff('4');
  t.equal(run.code, 0);
  t.match(
    run.stdout,
    /^diff --git a\/part3-backpressure\/proxy\.ts b\/part4-balancing\/relay\.ts\nsimilarity index \d+%\n(copy|rename) from part3-backpressure\/proxy\.ts\n(copy|rename) to part4-balancing\/relay\.ts$/m,
    "relay.ts: part 3's proxy.ts, copied and changed",
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
