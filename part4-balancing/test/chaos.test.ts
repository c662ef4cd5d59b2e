/**
 * The 20-second version of `npm run soak:chaos`, through its command line as a
 * reader runs it: part 4's tcp, http and tls listeners under traffic while
 * backends are killed, reloads arrive and Redis goes silent and down. Not one
 * answer may be truncated or wrong, no failure may go unexplained, and the
 * proxy's descriptors come back.
 *
 * The soak itself is shared/torture/chaos.ts; its test sits with part 4's,
 * whose behaviour it checks, and so that tap (which runs the files in name
 * order, three at a time) starts this long one early rather than last.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runProgram } from '../../shared/test/harness.ts';
import { type ChaosReport, parseChaosArgs, savedName } from '../../shared/torture/chaos.ts';

t.test('chaos soak: nothing truncated, wrong or unexplained, descriptors back', async (t) => {
  const json = path.join(t.testdir(), 'chaos.json');
  // 60 requests a second: enough for kills to land mid-answer (a relay that ends a
  // cut answer cleanly shows here), at a fifth of the full run's rate.
  const args = ['--seconds', '20', '--rate', '60', '--json', json];
  const run = await runProgram('shared/torture/chaos.ts', args, 90_000);
  t.comment(run.stdout);
  t.equal(run.code, 0, `exit 0: the goal met\n${run.stderr}`);
  const report = JSON.parse(readFileSync(json, 'utf8')) as ChaosReport;
  for (const stream of report.streams) {
    const which = `${stream.listener}, ${stream.keepAlive ? 'keep-alive' : 'a connection per request'}`;
    t.ok(stream.counts.ok > 0, `${which}: answered`);
    for (const cause of ['truncated', 'wrong bytes', 'unexplained'] as const) {
      t.equal(stream.counts[cause], 0, `${which}: ${cause}`);
    }
  }
  t.ok(report.kills > 0 && report.reloads > 0 && report.redisOutages > 0, 'the chaos happened');
  t.same(report.problems, [], 'the proxy is alive, with no stack trace and no descriptor leaked');
});

t.test('a bad command line is one line', async (t) => {
  t.throws(() => parseChaosArgs(['--seconds', '1']), { message: /--seconds/ });
  t.throws(() => parseChaosArgs(['--rate', 'lots']), { message: /--rate/ });
  t.throws(() => parseChaosArgs(['--save', '--json', 'x.json']), {
    message: /--json and --save: choose one/,
  });
  const run = await runProgram('shared/torture/chaos.ts', ['--seconds', 'x']);
  t.equal(run.code, 2, 'exit 2');
  t.match(run.stderr, /^chaos\.ts: --seconds/m, 'one line naming the option');
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
});

t.test('--save: the run is named after what differs from the defaults', async (t) => {
  t.equal(parseChaosArgs(['--save']).save, true);
  t.equal(savedName(parseChaosArgs([])), 'chaos');
  t.equal(savedName(parseChaosArgs(['--seconds', '20'])), 'chaos-20s');
  t.equal(savedName(parseChaosArgs(['--seconds', '20', '--rate', '60'])), 'chaos-20s-rate-60');
});
