/**
 * npm run demo:fleet, through its real command line: two proxies follow Redis,
 * and ride out its outage with no client error.
 */
import t from 'tap';
import { runProgram } from '../lib/programs.ts';

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
