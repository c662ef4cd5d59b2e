import t from 'tap';
import {
  addedLatency,
  compareWithDirect,
  formatHoldTable,
  formatTable,
  type HoldRun,
  holdReading,
  median,
  percentile,
  type RunResult,
  reading,
  shareOfDirect,
  summariseHold,
  summariseLatencies,
  summariseRounds,
} from './bench-stats.ts';

const run = (rps: number, mean: number, extra: Partial<RunResult> = {}): RunResult => ({
  requests: rps * 5,
  seconds: 5,
  rps,
  latency: { mean, p50: mean - 0.5, p99: mean * 3 },
  errors: 0,
  timeouts: 0,
  non2xx: 0,
  connections: 100,
  clientsServed: 100,
  ...extra,
});

t.test('median: middle value, mean of the two middle ones, NaN when empty', async (t) => {
  t.equal(median([3, 1, 2]), 2, 'odd count, unsorted input');
  t.equal(median([4, 1, 3, 2]), 2.5, 'even count');
  t.equal(median([7]), 7);
  t.ok(Number.isNaN(median([])), 'empty');
  const values = [5, 1, 4];
  median(values);
  t.same(values, [5, 1, 4], 'the input is not sorted in place');
});

t.test('percentile: nearest rank', async (t) => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(sorted, 50), 50);
  t.equal(percentile(sorted, 99), 99);
  t.equal(percentile(sorted, 100), 100);
  t.equal(percentile([1, 2, 3], 50), 2);
  t.equal(percentile([4], 99), 4, 'one value is every percentile');
  t.ok(Number.isNaN(percentile([], 50)));
});

t.test('summariseLatencies: mean, p50 and p99 of unsorted latencies', async (t) => {
  const latencies = [...Array.from({ length: 98 }, () => 1), 50, 100];
  const summary = summariseLatencies(latencies.reverse());
  t.equal(summary.mean, (98 + 50 + 100) / 100);
  t.equal(summary.p50, 1);
  t.equal(summary.p99, 50, 'the 99th of 100 values');
  t.ok(Number.isNaN(summariseLatencies([]).mean), 'no answers: no mean');
});

t.test('added latency and share of direct', async (t) => {
  t.equal(
    addedLatency({ mean: 5.25, p50: 0, p99: 0 }, { mean: 5, p50: 0, p99: 0 }),
    0.25,
    'target mean minus direct mean',
  );
  t.equal(
    addedLatency({ mean: 4, p50: 0, p99: 0 }, { mean: 5, p50: 0, p99: 0 }),
    -1,
    'can be negative',
  );
  t.equal(shareOfDirect(7500, 10_000), 0.75);
  t.ok(Number.isNaN(shareOfDirect(100, 0)), 'no direct throughput: no share');
});

t.test('summariseRounds: medians of the rounds, sums of the errors', async (t) => {
  const summary = summariseRounds(
    'part2',
    'part',
    [
      run(1000, 9, { errors: 1, timeouts: 1 }),
      run(3000, 5, { non2xx: 2 }),
      run(2000, 7, { clientsServed: 40 }),
    ],
    12_345,
  );
  t.equal(summary.rps, 2000, 'median rps');
  t.equal(summary.latency.mean, 7, 'median mean latency');
  t.equal(summary.latency.p50, 6.5);
  t.equal(summary.latency.p99, 21);
  t.equal(summary.errors, 1);
  t.equal(summary.timeouts, 1);
  t.equal(summary.non2xx, 2);
  t.equal(summary.clientsServed, 40, 'the fewest clients served in any round');
  t.equal(summary.peakRssKiB, 12_345);
  t.equal(summary.rounds, 3);
});

t.test('compareWithDirect: added ms and share against the direct row', async (t) => {
  const [direct, part] = compareWithDirect([
    summariseRounds('direct', 'direct', [run(10_000, 4)], undefined),
    summariseRounds('part3', 'part', [run(8000, 4.5)], 50_000),
  ]);
  t.equal(direct.addedMs, 0);
  t.equal(direct.shareOfDirect, 1);
  t.equal(part.addedMs, 0.5);
  t.equal(part.shareOfDirect, 0.8);
  t.throws(
    () => compareWithDirect([summariseRounds('part3', 'part', [run(1, 1)], 1)]),
    /no direct row/,
  );
});

t.test('formatTable and reading: every row, notes, the two-line verdict', async (t) => {
  const summaries = compareWithDirect([
    summariseRounds('direct', 'direct', [run(10_000, 4)], undefined),
    {
      ...summariseRounds('part1', 'part', [run(3000, 0.1, { clientsServed: 1 })], 40_000),
      serial: true,
      note: 'serial by design',
    },
    summariseRounds('part2', 'part', [run(8000, 4.5)], 50_000),
    summariseRounds('part3', 'part', [run(7000, 5)], 45_000),
    summariseRounds('nginx', 'peer', [run(9000, 4.2)], 12_000),
  ]);
  const table = formatTable(summaries);
  const lines = table.split('\n');
  t.match(
    lines[0],
    /\| target +\| +req\/s \| mean ms \| p50 ms \| p99 ms \| added ms \| of direct \| peak RSS \| errors \| non-2xx \| +served \|/,
  );
  t.match(table, /\| part2 +\| +8,000 \| +4\.50 \| .*\| +\+0\.50 \| +80% \| +48\.8 MiB \|/);
  t.match(table, /\| direct +\| +10,000 \| .*\| +\| +100% \| +- \|/, 'direct: no added ms, no RSS');
  t.match(
    table,
    /\| part1 \* \|.*\| +1\/100 \|$/m,
    'a row with a note is starred; served 1 of 100',
  );
  t.match(table, /\\\* part1: serial by design/, 'and the note is under the table');
  t.equal(new Set(lines.slice(0, 7).map((line) => line.length)).size, 1, 'columns are aligned');

  const verdict = reading(summaries).split('\n');
  t.equal(verdict.length, 2, 'two lines');
  t.match(
    verdict[0],
    /Best of our parts: part2, at 80% of direct's requests per second, adding \+0\.50 ms/,
  );
  t.match(verdict[1], /nginx 90% \(\+0\.20 ms\)/);
  t.match(verdict[1], /part1 served one client at a time/);
  t.match(
    reading(summaries.filter((summary) => summary.kind !== 'peer')),
    /install them to compare/,
    'no peers: says how to get them',
  );
});

t.test('compareWithDirect: each row against its own baseline, mean and p99', async (t) => {
  const summaries = compareWithDirect([
    summariseRounds('direct', 'direct', [run(10_000, 4)], undefined),
    summariseRounds('part4', 'part', [run(8000, 5)], 50_000),
    summariseRounds('direct-tls', 'direct', [run(5000, 8)], undefined),
    summariseRounds('part4-tls', 'part', [run(4000, 10)], 50_000, 'direct-tls'),
  ]);
  t.same(
    summaries.map((summary) => [summary.name, summary.baseline]),
    [
      ['direct', 'direct'],
      ['part4', 'direct'],
      ['direct-tls', 'direct-tls'],
      ['part4-tls', 'direct-tls'],
    ],
    'a direct row is its own baseline',
  );
  const [, part4, directTls, part4Tls] = summaries;
  t.equal(part4.addedMs, 1);
  t.equal(part4.addedP99Ms, 15 - 12, 'p99 minus the baseline p99');
  t.equal(directTls.addedMs, 0);
  t.equal(directTls.shareOfDirect, 1);
  t.equal(part4Tls.addedMs, 2, 'against direct-tls, not direct');
  t.equal(part4Tls.shareOfDirect, 0.8);
  t.throws(
    () => compareWithDirect([summariseRounds('part4-tls', 'part', [run(1, 1)], 1, 'direct-tls')]),
    /no direct-tls row to compare part4-tls with/,
  );
});

t.test('formatTable and reading at a fixed rate: latency added, mean and p99', async (t) => {
  const summaries = compareWithDirect([
    summariseRounds('direct', 'direct', [run(2000, 1)], undefined),
    summariseRounds('pipe', 'floor', [run(2000, 1.1)], 40_000),
    summariseRounds('part3', 'part', [run(2000, 1.2)], 45_000),
    { ...summariseRounds('part4', 'part', [run(2000, 1.25)], 50_000), note: 'fell behind' },
    { ...summariseRounds('part4-http', 'part', [run(2000, 1.3)], 50_000), over: 'part4' },
    summariseRounds('direct-tls', 'direct', [run(2000, 2)], undefined),
    summariseRounds('part4-tcp-tls', 'part', [run(2000, 2.1)], 50_000, 'direct-tls'),
    {
      ...summariseRounds('part4-tls', 'part', [run(2000, 2.25)], 50_000, 'direct-tls'),
      over: 'part4-tcp-tls',
    },
  ]);
  const table = formatTable(summaries, true);
  const lines = table.split('\n');
  t.match(
    lines[0],
    /\| target +\| req\/s \| mean ms \| p50 ms \| p99 ms \| added mean \| added p99 \| peak RSS \| errors \| non-2xx \|$/,
    'no share of direct, no served: the added p99 instead',
  );
  t.match(table, /\| part3 +\| 2,000 \| +1\.20 \| .*\| +\+0\.20 \| +\+0\.60 \| +43\.9 MiB \|/);
  t.match(table, /\| direct-tls +\| .*\| +\| +\| +- \|/, 'a baseline adds nothing');
  t.match(table, /\| part4-tls +\| .*\| +\+0\.25 \| +\+0\.75 \|/, 'against direct-tls');
  t.equal(new Set(lines.slice(0, 10).map((line) => line.length)).size, 1, 'columns are aligned');
  t.match(table, /\\\* part4: fell behind/);
  t.match(table, /^part4-tcp-tls, part4-tls: compared with direct-tls, not with direct\.$/m);
  t.match(
    formatTable(summaries),
    /^part4-tcp-tls, part4-tls: compared with direct-tls \(added ms, of direct\), not with direct\.$/m,
    'at saturation the note names the two columns',
  );

  const verdict = reading(summaries, true).split('\n');
  t.equal(verdict.length, 3, 'three lines: best part, comparison, one feature at a time');
  t.match(
    verdict[0],
    /^Best of our parts: part3, adding \+0\.20 ms to the mean request and \+0\.60 ms to the p99\.$/,
    'the least added latency wins; the TLS rows are not in the running',
  );
  t.match(verdict[1], /^For comparison: pipe \+0\.10 ms mean, \+0\.30 ms p99\. No nginx/);
  t.match(
    verdict[2],
    /^One feature at a time: part4-http adds \+0\.05 ms to part4's mean; part4-tls adds \+0\.15 ms to part4-tcp-tls's mean\.$/,
  );
  t.match(
    reading(summaries),
    /part4-http adds \+0\.05 ms to part4's mean, 100% of its requests\/s/,
    'at saturation, the share of requests too',
  );
});

const holdRun = (before: number, held: number, extra: Partial<HoldRun> = {}): HoldRun => ({
  connections: 1000,
  held: 1000,
  errors: 0,
  non2xx: 0,
  beforeKiB: before,
  heldKiB: held,
  perConnectionKiB: (held - before) / 1000,
  settled: true,
  ...extra,
});

t.test('summariseHold: medians of the memory, the fewest held, summed errors', async (t) => {
  const summary = summariseHold('part3', 'part', [
    holdRun(70_000, 80_000),
    holdRun(72_000, 84_000, { held: 990, errors: 10, settled: false }),
    holdRun(71_000, 80_000),
  ]);
  t.equal(summary.perConnectionKiB, 10, 'median of 10, 12 and 9 KiB');
  t.equal(summary.beforeKiB, 71_000);
  t.equal(summary.heldKiB, 80_000);
  t.equal(summary.held, 990, 'the fewest held in a round');
  t.equal(summary.errors, 10);
  t.equal(summary.unsettled, 1);
  t.equal(summary.rounds, 3);
});

t.test(
  'formatHoldTable and holdReading: KiB per connection, parts first, then the rest',
  async (t) => {
    const part3 = summariseHold('part3', 'part', [holdRun(70_000, 80_000)]);
    const pipe = summariseHold('pipe', 'floor', [holdRun(70_000, 82_500)]);
    const nginx = {
      ...summariseHold('nginx', 'peer', [holdRun(12_000, 22_000, { held: 900 })]),
      note: 'only 900 of 1000 connections held in a round',
    };
    const table = formatHoldTable([pipe, part3, nginx]);
    t.match(
      table,
      /^\| target +\| KiB per connection \| RSS before \| RSS held \| errors \| +held \|/,
    );
    t.match(table, /\| part3 +\| +10\.0 \| +68\.4 MiB \| +78\.1 MiB \| +0 \| 1000\/1000 \|/);
    t.match(table, /\| nginx \* +\|.*\| +900\/1000 \|/, 'a row with a note is starred');
    t.match(
      table,
      /\\\* nginx: only 900 of 1000 connections held in a round$/,
      'and the note follows',
    );
    t.equal(
      holdReading([pipe, part3, nginx]),
      'KiB per held connection, our parts: part3 10.0.\nFor comparison: pipe 12.5, nginx 10.0.',
    );
    t.equal(holdReading([]), 'No proxy was measured.');
  },
);

t.test('--heap: the JavaScript heap per connection, a column only when a row has it', async (t) => {
  const heap = (perConnection: number) => ({ heapPerConnectionKiB: perConnection });
  const part3 = summariseHold('part3', 'part', [
    holdRun(70_000, 80_000, heap(4)),
    holdRun(70_000, 80_000, heap(3)),
    holdRun(70_000, 80_000, heap(5)),
  ]);
  t.equal(part3.heapPerConnectionKiB, 4, 'the median of the rounds');
  const nginx = summariseHold('nginx', 'peer', [holdRun(12_000, 22_000)]);
  t.equal(nginx.heapPerConnectionKiB, undefined, 'no Node process, no heap');
  const table = formatHoldTable([part3, nginx]);
  t.match(table, /^\| target +\| KiB per connection \| of it JS heap \| RSS before \|/);
  t.match(table, /\| part3 +\| +10\.0 \| +4\.0 \| +68\.4 MiB \|/);
  t.match(table, /\| nginx +\| +10\.0 \| +\| +11\.7 MiB \|/, 'blank for nginx');
  t.notMatch(formatHoldTable([nginx]), /JS heap/, 'no column without a reading');
});
