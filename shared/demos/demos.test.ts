/**
 * The demos, each through its real command line, only as long as the events it
 * shows take, each checked from what it prints:
 *
 * - npm run demo:backpressure: part 2 grows, part 3 stays small.
 * - npm run demo:balance: traffic leaves a killed backend and comes back.
 * - npm run demo:fleet: two proxies follow Redis, and ride out its outage
 *   with no client error.
 * - npm run demo:failover: Sentinel promotes the replica, part 4 follows it
 *   and a change made there, no client sees an error, Prometheus counts each
 *   backend, and nothing it started outlives it.
 * - npm run demo:sni: a real hello walked to the server name, part 4's reader
 *   agreeing, and both PROXY headers.
 *
 * One file for the five, their tests side by side: each mostly waits for its
 * demo (demo:balance, for its proxy's fail timeout), and a test file of its
 * own would cost each a tap process, about a second of CPU, to start.
 */
import t from 'tap';
import { runProgram } from '../lib/programs.ts';

// At most three at once, as tap ran them when each was a file of its own:
// the longest first, so that the short ones fill in beside them.
t.jobs = 3;

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
  // The phase moves on just before the kill: each of the demo's 4 workers
  // (WORKERS in demo-balance.ts) may have had an answer from B on its way then
  // (two were seen under load).
  t.ok(b[1] <= 4, `B served ${b[1]} while down (at most one answer per worker in flight)`);
  t.ok(a[1] > 0 && c[1] > 0, 'A and C took its share');
  t.ok(b[2] > 0, 'B served again once back');
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

t.test(
  'demo:sni walks a real ClientHello down to the name, and shows PROXY v1 and v2',
  async (t) => {
    // At once, each with a long deadline: both only wait for their program to exit.
    const [run, bad] = await Promise.all([
      runProgram('shared/demos/demo-sni.ts', ['--name', 'shop.example.org'], 60_000),
      runProgram('shared/demos/demo-sni.ts', ['--nme', 'x'], 60_000),
    ]);
    t.equal(run.code, 0, run.stderr);
    t.match(run.stdout, /record type 0x16 \(22 = handshake\)/);
    t.match(run.stdout, /extension 0 server_name, \d+ bytes: .*name 16: "shop\.example\.org"/);
    t.match(run.stdout, /Part 4's reader \(client-hello\.ts\): SNI "shop\.example\.org"/);
    t.match(run.stdout, /"PROXY TCP4 203\.0\.113\.7 192\.0\.2\.1 56324 443\\r\\n"/);
    t.match(
      run.stdout,
      /0000 {2}0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11/,
      'the v2 signature, PROXY, TCP4',
    );
    t.equal(bad.code, 2, 'a bad option: exit 2');
  },
);
