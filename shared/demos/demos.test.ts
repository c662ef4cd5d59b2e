/**
 * The demos, run through their real command lines, each as short as the
 * events it shows allow: each checks what the demo claims to show, not only
 * that it exits. demo:balance runs beside the other two, one after the other:
 * it mostly waits for its proxy's fail timeout, and no demo measures time.
 * (All three at once start a dozen processes together, which on a busy
 * machine can take longer than a program's deadline to say it listens.)
 */
import t from 'tap';
import { runProgram } from '../test/harness.ts';

t.jobs = 2;

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

t.test('npm run demo:backpressure: part 2 grows, part 3 stays small', async (t) => {
  // Part 2 runs until it has grown 80 MiB (a fixed time can end before the
  // backend has sent anything on a busy machine), and part 3 then gets as long:
  // a part 3 that buffered as part 2 does would grow past 40 MiB in that time.
  const run = await runProgram(
    'shared/demos/demo-backpressure.ts',
    ['--seconds', '40', '--until-mib', '80'],
    90_000,
  );
  t.equal(run.code, 0, run.stderr);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the chart colours the names
  const plain = run.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  const peak = (part: string) =>
    Number(plain.match(new RegExp(`${part}: peak ([+-][\\d.]+) MiB`))?.[1]);
  t.ok(peak('part2') >= 80, `part2 peak ${peak('part2')} MiB`);
  const timed = plain.match(/part2 passed \+80 MiB after ([\d.]+) s; part3 had ([\d.]+) s\./);
  t.ok(timed, 'the demo says when part 2 passed 80 MiB');
  t.ok(Number(timed?.[2]) >= Number(timed?.[1]), 'part 3 ran at least as long as part 2');
  t.ok(peak('part3') < 40, `part3 peak ${peak('part3')} MiB`);
});

t.test('npm run demo:fleet: two proxies follow Redis, and ride out its outage', async (t) => {
  // Each step waits for what it shows, so two seconds of pacing are enough.
  const run = await runProgram('shared/demos/demo-fleet.ts', ['--duration', '2'], 90_000);
  t.equal(run.code, 0, `exit 0: both followed, no client error\n${run.stderr}`);
  t.match(run.stdout, /both proxies now send www\.example\.org to C \(\d+ ms after the change\)/);
  t.match(run.stdout, /Redis stopped: the proxies keep the routes they know\./);
  t.match(run.stdout, /both proxies answered 20\+ more requests from C with Redis down/);
  t.match(run.stdout, /both proxies now send www\.example\.org to A \(\d+ ms after the restart\)/);
  t.match(run.stdout, /^errors \(any proxy\): 0$/m, 'no client saw an error');
  t.match(run.stdout, /^status pages: http:\/\/127\.0\.0\.1:\d+\/ {2}http/m, 'the status pages');
});
