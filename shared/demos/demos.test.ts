/**
 * The demos, run through their real command lines for a few seconds each:
 * each checks what the demo claims to show, not only that it exits.
 */
import t from 'tap';
import { runProgram } from '../test/harness.ts';

t.test('npm run demo:backpressure: part 2 grows, part 3 stays small', async (t) => {
  const run = await runProgram('shared/demos/demo-backpressure.ts', ['--seconds', '2'], 90_000);
  t.equal(run.code, 0, run.stderr);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the chart colours the names
  const plain = run.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  const peak = (part: string) =>
    Number(plain.match(new RegExp(`${part}: peak \\+([\\d.]+) MiB`))?.[1]);
  t.ok(peak('part2') > 60, `part2 peak +${peak('part2')} MiB`);
  t.ok(peak('part3') < 40, `part3 peak +${peak('part3')} MiB`);
});

t.test('npm run demo:balance: traffic leaves a killed backend and comes back', async (t) => {
  const run = await runProgram('shared/demos/demo-balance.ts', ['--duration', '4'], 90_000);
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

t.test('npm run demo:fleet: two proxies follow Redis, and ride out its outage', async (t) => {
  const run = await runProgram('shared/demos/demo-fleet.ts', ['--duration', '8'], 90_000);
  t.equal(run.code, 0, `exit 0: both followed, no client error\n${run.stderr}`);
  t.match(run.stdout, /both proxies now send www\.example\.org to C \(\d+ ms after the change\)/);
  t.match(run.stdout, /Redis stopped: the proxies keep the routes they know\./);
  t.match(run.stdout, /both proxies now send www\.example\.org to A \(\d+ ms after the restart\)/);
  t.match(run.stdout, /^errors \(any proxy\): 0$/m, 'no client saw an error');
  t.match(run.stdout, /^status pages: http:\/\/127\.0\.0\.1:\d+\/ {2}http/m, 'the status pages');
});
