/**
 * The reader's tools, run through their real command lines: the diff between
 * neighbouring parts, the strace of part 2, and the two demos. Each checks what
 * the tool claims to show, not only that it exits.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { runProgram } from './harness.ts';

const PARTS = ['part1-oneshot', 'part2-epoll-style', 'part3-backpressure', 'part4-balancing'];

t.test('npm run diff -- N: part N-1 against part N, code only, for N from 2 to 4', async (t) => {
  for (const n of [2, 3, 4]) {
    const run = await runProgram('shared/diff.ts', [String(n)]);
    const [before, after] = [PARTS[n - 2], PARTS[n - 1]];
    t.equal(run.code, 0, `diff ${n}: exit 0`);
    t.ok(run.stdout.includes(`--- a/${before}/proxy.ts`), `diff ${n}: from ${before}/proxy.ts`);
    t.ok(run.stdout.includes(`+++ b/${after}/proxy.ts`), `diff ${n}: to ${after}/proxy.ts`);
    t.notMatch(run.stdout, /README\.md/, `diff ${n}: the chapters are left out`);
    t.notMatch(run.stdout, /exercise\.test\.ts/, `diff ${n}: the exercise tests are left out`);
  }
  const bad = await runProgram('shared/diff.ts', ['5']);
  t.equal(bad.code, 2, 'N out of range: exit 2');
  t.match(bad.stderr, /^diff\.ts: N must be 2, 3 or 4, got "5"\nusage:/, 'one line and the usage');
});

t.test('npm run trace:part2 without strace: one line saying how to install it', async (t) => {
  const run = await runProgram('shared/trace.ts', [], 15_000, { PATH: '/nonexistent' });
  t.equal(run.code, 1);
  t.match(run.stderr, /^trace\.ts: strace is not installed \(.*apt-get install strace\)\n$/);
});

const hasStrace = !spawnSync('strace', ['-V']).error;
t.test(
  'npm run trace:part2: the event loop waits in epoll and accepts the clients',
  { skip: hasStrace ? false : 'strace is not installed' },
  async (t) => {
    const run = await runProgram('shared/trace.ts', [], 60_000);
    t.equal(run.code, 0, run.stderr);
    t.match(run.stdout, /epoll_p?wait\(/, 'epoll_wait calls');
    t.match(run.stdout, /epoll_ctl\(\d+, EPOLL_CTL_ADD/, 'sockets added to the epoll set');
    t.match(run.stdout, /accept4\(/, 'accepted clients');
  },
);

t.test('npm run demo:backpressure: part 2 grows, part 3 stays small', async (t) => {
  const run = await runProgram('shared/demo-backpressure.ts', ['--seconds', '2'], 90_000);
  t.equal(run.code, 0, run.stderr);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the chart colours the names
  const plain = run.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  const peak = (part: string) =>
    Number(plain.match(new RegExp(`${part}: peak \\+([\\d.]+) MiB`))?.[1]);
  t.ok(peak('part2') > 60, `part2 peak +${peak('part2')} MiB`);
  t.ok(peak('part3') < 40, `part3 peak +${peak('part3')} MiB`);
});

t.test('npm run demo:balance: traffic leaves a killed backend and comes back', async (t) => {
  const run = await runProgram('shared/demo-balance.ts', ['--duration', '4'], 90_000);
  t.equal(run.code, 0, `exit 0: the restarted backend got traffic again\n${run.stderr}`);
  // The closing table: "backend A   all-up   B-down   B-back".
  const row = (name: string) =>
    run.stdout
      .match(new RegExp(`^backend ${name}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, 'm'))
      ?.slice(1)
      .map(Number) ?? [];
  const [a, b, c] = [row('A'), row('B'), row('C')];
  t.equal(a.length, 3, 'the table has a row for A');
  t.ok(b[0] > 0 && a[0] > 0 && c[0] > 0, 'all three served while up');
  t.ok(b[1] <= 1, `B served ${b[1]} while down (at most one answer already in flight)`);
  t.ok(a[1] > 0 && c[1] > 0, 'A and C took its share');
  t.ok(b[2] > 0, 'B served again once back');
});
