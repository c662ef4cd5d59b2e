/**
 * npm run demo:failover, through its real command line: Sentinel promotes the
 * replica, part 4 follows it and a change made there, no client sees an
 * error, Prometheus counts each backend, and nothing it started outlives it.
 */
import t from 'tap';
import { runProgram } from '../lib/programs.ts';

/** Whether a process with this pid still exists (a zombie would too). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

t.test(
  'npm run demo:failover: part 4 follows the failover and a change on the new primary',
  async (t) => {
    // Each step waits for what it shows, so two seconds of pacing are enough.
    const run = await runProgram('shared/demos/demo-failover.ts', ['--duration', '2'], 90_000);
    t.equal(run.code, 0, `exit 0: every step happened, no client error\n${run.stderr}`);
    t.match(
      run.stdout,
      /^Prometheus, requests per second per backend: http:\/\/127\.0\.0\.1:\d+\/graph\?g0\.expr=sum%20by%20\(backend\)%20\(rate\(rsp_backend_connections_total%5B5s%5D\)\)&/m,
      'the Prometheus graph, its query encoded',
    );
    t.match(run.stdout, /^part 4's status page: http:\/\/127\.0\.0\.1:\d+\/$/m);
    t.match(run.stdout, /Prometheus has scraped both\./);
    t.match(run.stdout, /Sentinel promoted the replica 127\.0\.0\.1:\d+ \(\d+ ms after the kill\)/);
    t.match(
      run.stdout,
      /part 4 follows the new primary 127\.0\.0\.1:\d+ \(\d+ ms after the kill\)/,
    );
    t.match(run.stdout, /C takes www\.example\.org's traffic \(\d+ ms after the change\)/);
    t.match(run.stdout, /Prometheus counted, per backend: A \d+, B \d+, C \d+/);
    t.match(run.stdout, /^errors: 0$/m, 'no client saw an error');
    const pids = (run.stdout.match(/^processes started: ([\d ]+) \(/m)?.[1] ?? '')
      .split(' ')
      .map(Number);
    t.equal(pids.length, 7, 'two Redis servers, three Sentinels, part 4 and Prometheus');
    t.same(pids.filter(alive), [], 'none of them outlives the demo');
  },
);
