/**
 * The 20-second version of `npm run soak:chaos`: part 4's tcp, http and tls
 * listeners under traffic while backends are killed, reloads arrive and Redis
 * goes silent and down. Not one answer may be truncated or wrong, no failure
 * may go unexplained, and the proxy's descriptors come back.
 *
 * The soak itself is shared/torture/chaos.ts; its test sits with part 4's,
 * whose behaviour it checks, and so that tap (which runs the files in name
 * order, three at a time) starts this long one early rather than last.
 */
import t from 'tap';
import { Cleanup } from '../shared/lib/cleanup.ts';
import { chaos, formatReport, parseChaosArgs } from '../shared/torture/chaos.ts';

t.test('chaos soak: nothing truncated, wrong or unexplained, descriptors back', async (t) => {
  const cleanup = new Cleanup();
  t.teardown(() => cleanup.run());
  const report = await chaos(parseChaosArgs(['--seconds', '20', '--rate', '120']), cleanup);
  t.comment(formatReport(report));
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
});
