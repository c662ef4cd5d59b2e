/**
 * npm run demo:balance, through its real command line, as short as the events
 * it shows allow: traffic leaves a killed backend and comes back. Each demo
 * has its own test file so that tap runs them beside other files: they mostly
 * wait (this one, for its proxy's fail timeout).
 */
import t from 'tap';
import { runProgram } from '../lib/programs.ts';

t.test('npm run demo:balance: traffic leaves a killed backend and comes back', async (t) => {
  // Each step waits for what it shows; the fail timeout (10 s) sets the length.
  const run = await runProgram('shared/demos/demo-balance.ts', ['--duration', '2'], 90_000);
  t.equal(run.code, 0, `exit 0: the restarted backend got traffic again\n${run.stderr}`);
  t.match(
    run.stdout,
    /^status page: http:\/\/127\.0\.0\.1:\d+\/ /m,
    "it gives the status page's URL",
  );
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
