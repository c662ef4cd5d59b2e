/**
 * npm run demo:backpressure, through its real command line: part 2 grows, part
 * 3 stays small, each checked from what the demo prints.
 */
import t from 'tap';
import { runProgram } from '../lib/programs.ts';

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
