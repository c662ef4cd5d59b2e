/**
 * The renderers of measured.ts, one test each: what they render from the
 * committed results files (the figures themselves change with every run, so
 * these check the shape and that each figure is the file's), and how they
 * fail on a name the file does not have.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { callsTable, cpuRatio, cpuRatios, parseStraceSummary } from '../bench/cost.ts';
import { chartLines } from '../demos/demo-backpressure.ts';
import { ROOT } from '../lib/programs.ts';
import { RENDERERS } from './docs.ts';
import { kindKey } from './measured/profile.ts';

const render = (spec: string, from = 'README.md') => {
  const [name, ...args] = spec.split(' ');
  const renderer = RENDERERS[name];
  if (!renderer) throw new Error(`no renderer ${name}`);
  return renderer(args, from);
};
// biome-ignore lint/suspicious/noExplicitAny: a results file, read as it is
const results = (name: string): any =>
  JSON.parse(readFileSync(path.join(ROOT, 'shared/results', `${name}.json`), 'utf8'));
/** A block's first line names the run, with a link from the Markdown file to the results file. */
const RUN_LINE =
  /^Measured by `[^`]+` on \d{4}-\d\d-\d\d at \d\d:\d\d UTC: .+, Node v\d+[^;]*; \[`shared\/results\/[\w-]+\.json`\]\([^)]+\)\.$/;

t.test('run: any results file names its command, date and machine', async (t) => {
  const run = render('run torture-quick', 'shared/torture/README.md');
  t.match(run, RUN_LINE);
  t.match(
    run,
    /\(\.\.\/results\/torture-quick\.json\)/,
    'the link is relative to the Markdown file',
  );
  t.match(run, /load average \d+\.\d/, 'and the load the run began under');
});

t.test("torture-table and torture-count: the saved rows, in the torture's own table", async (t) => {
  const report = results('torture-quick');
  const [run, blank, header, rule, ...rows] = render('torture-table torture-quick').split('\n');
  t.match(run, RUN_LINE);
  t.equal(blank, '');
  t.match(
    header,
    /^\| attack +\| part +\| listener +\| verdict +\| result +\| fds +\| RSS MiB +\|$/,
  );
  t.match(rule, /^\| -+ \|/);
  t.equal(rows.length, report.rows.length, 'a line per row');
  const resets = report.rows.find(
    (row: { attack: string; part: string }) =>
      row.attack === 'resets' && row.part === 'part3-backpressure',
  );
  t.equal(
    render('torture-count torture-quick resets part3-backpressure tcp logLines'),
    String(resets.figures.logLines),
  );
  t.throws(
    () => render('torture-count torture-quick early-close part3-backpressure tcp logLines'),
    /early close: no count logLines \(it has none\)/,
  );
  t.throws(
    () => render('torture-count torture-quick resets part9 tcp logLines'),
    /has no row resets\/part9\/tcp \(it has garbage\/part3-backpressure\/tcp, /,
  );
});

t.test(
  "soak-rss: the part's memory at a checkpoint; the rest renders as the bench does",
  async (t) => {
    const report = results('soak-part3');
    t.equal(render('soak-rss soak-part3 50%'), (report.rssKiB[1] / 1024).toFixed(1));
    t.throws(() => render('soak-rss soak-part3 75%'), /no checkpoint 75% \(10%, 50%, 100%\)/);
    t.match(render('figure soak-part3 part3 added'), /^[+-]\d+\.\d\d$/);
  },
);

t.test('backpressure-chart: both curves, named where they end, and the peaks', async (t) => {
  const report = results('demo-backpressure');
  const lines = render('backpressure-chart demo-backpressure').split('\n');
  t.equal(lines[0], '```');
  t.equal(lines.at(-1), '```');
  t.match(lines[1], /^proxy RSS growth over its idle baseline \(MiB\), one sample every 250 ms$/);
  t.equal(lines.filter((line) => / {2}part2$/.test(line)).length, 1, 'part2 named once');
  t.equal(lines.filter((line) => / {2}part3$/.test(line)).length, 1, 'part3 named once');
  t.notOk(
    lines.some((line) => line.includes('\x1b')),
    'no terminal colours',
  );
  t.ok(
    lines.includes(
      `part2: peak +${render('backpressure demo-backpressure part2 peak')} MiB over a ${report.runs[0].baseMiB.toFixed(1)} MiB baseline (192 MiB requested in all)`,
    ),
  );
  t.equal(render('backpressure demo-backpressure all requested'), '192');
  t.throws(() => render('backpressure demo-backpressure part9 peak'), /parts: part2, part3/);
});

t.test("chartLines: a label goes on the row of its curve's last sample", async (t) => {
  const base = { clients: 1, sizeMiB: 1, readEveryMs: 100, sampleMs: 250, totalMs: 1000 };
  const lines = chartLines(
    {
      ...base,
      options: { seconds: 2 },
      runs: [
        { name: 'part2', samples: [0, 16, 16], baseMiB: 70, ms: 2000 },
        { name: 'part3', samples: [0, 4, 8], baseMiB: 70, ms: 2000 },
      ],
    },
    false,
  );
  const row = (label: string) => lines.find((line) => line.endsWith(`  ${label}`)) ?? '';
  t.match(row('part2'), /^ +16 [┤┼]/, 'part2 ends at 16');
  t.match(row('part3'), /^ +8 [┤┼]/, 'part3 ends at 8');
});

t.test("profile-kinds and profile: the time by kind, a kind's or a function's share", async (t) => {
  const report = results('profile-part3-keepalive');
  const [run, , header, , ...rows] = render('profile-kinds profile-part3-keepalive').split('\n');
  t.match(run, RUN_LINE);
  t.match(header, /^\| by kind +\| ms +\| % +\|$/);
  t.equal(rows.length, report.kinds.length);
  t.equal(kindKey('idle (waiting in epoll)'), 'idle');
  t.equal(kindKey('Node sockets (net)'), 'node-sockets');
  const ours = report.kinds.find(([label]: [string]) => label === 'our code');
  t.equal(
    render('profile profile-part3-keepalive kind our-code'),
    ((ours[1] / report.totalMs) * 100).toFixed(1),
  );
  const close = results('profile-part4-close');
  const native = close.top.find(
    (f: { name: string; where: string }) => f.name === 'connect' && f.where === '',
  );
  t.equal(
    render('profile profile-part4-close frame connect@'),
    ((native.selfMs / close.totalMs) * 100).toFixed(1),
    'connect@: the binding alone',
  );
  t.throws(
    () => render('profile profile-part3-keepalive kind nothing'),
    /no kind nothing \(it has idle, /,
  );
  t.throws(
    () => render('profile profile-part3-keepalive frame noSuchFunction'),
    /no function noSuchFunction among its top/,
  );
});

t.test('cost-cpu, cost-calls and cost: CPU and system calls per request', async (t) => {
  const [run, , header, , ...rows] = render('cost-cpu cost').split('\n');
  t.match(run, RUN_LINE);
  t.match(
    header,
    /^\| mode +\| per request +\| pipe +\| part3 +\| part4 +\| part4-built +\| nginx +\|$/,
  );
  t.equal(rows.length, 4, 'user and system, in two modes');
  const calls = render('cost-calls cost close').split('\n');
  t.match(calls[2], /^\| call +\| pipe +\| part3 +\| part4 +\| part4-built +\| nginx +\|$/);
  t.match(calls.at(-1) as string, /^\| total +\|/);
  t.match(render('cost cost cpu keepalive part3 user'), /^\d+\.\d$/);
  t.match(render('cost cost ratio keepalive nginx part3 user'), /^\d+\.\d\d$/);
  t.match(render('cost cost ratio-range keepalive nginx part3 user'), /^\d+\.\d\d to \d+\.\d\d$/);
  t.match(render('cost cost calls close part3 epoll_ctl'), /^\d+\.\d$/);
  t.throws(() => render('cost cost nothing'), /no figure nothing \(cpu, /);
});

t.test("the cost arithmetic: strace's summary, ratios of rounds, the calls table", async (t) => {
  const summary = [
    '% time     seconds  usecs/call     calls    errors syscall',
    '------ ----------- ----------- --------- --------- ----------------',
    ' 60.00    0.000600           3       200           read',
    ' 40.00    0.000400           2       200        10 epoll_ctl',
    '------ ----------- ----------- --------- --------- ----------------',
    '100.00    0.001000                   400        10 total',
  ].join('\n');
  t.same(parseStraceSummary(summary), { read: 200, epoll_ctl: 200 });
  const cpu = {
    keepalive: {
      a: [1, 2, 3].map((userUs) => ({ requests: 1, userUs, systemUs: 1 })),
      b: [2, 2, 6].map((userUs) => ({ requests: 1, userUs, systemUs: 1 })),
    },
  };
  t.equal(cpuRatio({ cpu }, 'keepalive', 'a', 'b', 'user'), 0.5, 'the median of 0.5, 1 and 0.5');
  t.same(cpuRatios({ cpu }, 'keepalive', 'a', 'b', 'user'), [0.5, 1, 0.5], 'round by round');
  const table = callsTable(
    {
      calls: {
        close: {
          a: { requests: 10, perRequest: { read: 4, close: 2, futex: 0.01 } },
          b: { requests: 10, perRequest: { read: 3, close: 2 } },
        },
      },
    },
    'close',
  ).split('\n');
  t.same(
    table.map((line) => line.replace(/ +/g, ' ')),
    [
      '| call | a | b |',
      table[1].replace(/ +/g, ' '),
      '| `read` | 4.00 | 3.00 |',
      '| `close` | 2.00 | 2.00 |',
      '| 1 others | 0.01 | 0.00 |',
      '| total | 6.01 | 5.00 |',
    ],
  );
});

t.test("fuzz-lines: the fuzzer's lines, as it printed them", async (t) => {
  const report = results('fuzz');
  const lines = render('fuzz-lines fuzz').split('\n');
  t.match(lines[0], RUN_LINE);
  t.same(lines.slice(2, 3).concat(lines.slice(-1)), ['```', '```']);
  t.equal(lines.length, 4 + report.lines.length, 'the run, a blank line, the fenced lines');
  t.match(lines[3], /^http-head {7}\d+ cases, no failure \(seed -?\d+, \d+\.\d s\)$/);
});

t.test("faults-table and faults: chapter 2's table, and the proxy around it", async (t) => {
  const report = results('faults');
  const [run, , header, , ...rows] = render('faults-table faults').split('\n');
  t.match(run, /^Measured by `SAVE_RESULTS=1 npx tap part4-balancing\/test\/faults\.test\.ts` on /);
  t.match(header, /^\| fault +\| what the client sees +\|/);
  t.equal(rows.length, report.rows.length);
  t.equal(render('faults faults fds-before'), String(report.fds[0]));
  t.equal(render('faults faults rss-after'), (report.rssKiB[1] / 1024).toFixed(0));
  t.throws(() => render('faults faults fds'), /no figure fds \(fds-before, /);
});

t.test('slow-readers: what the matrix row measured', async (t) => {
  const report = results('slow-readers-part2');
  t.equal(render('slow-readers slow-readers-part2 grew'), report.grewMiB.toFixed(1));
  t.equal(render('slow-readers slow-readers-part2 in-flight'), '144');
  t.throws(() => render('slow-readers slow-readers-part2 peak'), /no peak \(grew, /);
});

t.test('route-delay, demo-fleet and fleet-heal: how fast Redis reaches part 4', async (t) => {
  const delays = results('redis-routes');
  t.equal(render('route-delay redis-routes median'), delays.medianMs.toFixed(1));
  t.equal(render('route-delay redis-routes updates'), '20');
  t.equal(
    render('demo-fleet demo-fleet the-change'),
    String(results('demo-fleet').followedMs['the change']),
  );
  t.throws(
    () => render('demo-fleet demo-fleet the-end'),
    /no change the-end followed \(the-change, /,
  );
  t.equal(render('fleet-heal fleet-heal'), (results('fleet-heal').healMs / 1000).toFixed(1));
  const failover = results('sentinel-failover');
  t.equal(render('failover sentinel-failover follow'), (failover.followMs / 1000).toFixed(1));
  t.equal(render('failover sentinel-failover change'), String(failover.changeMs));
  t.throws(() => render('failover sentinel-failover later'), /no later \(follow, up, change\)/);
});

t.test("chaos-table and chaos: the soak's table and its counts", async (t) => {
  const report = results('chaos');
  const [run, , header, , ...rows] = render('chaos-table chaos').split('\n');
  t.match(run, RUN_LINE);
  t.match(header, /^\| listener +\| connections +\| requests +\| ok +\|/);
  t.equal(rows.length, report.streams.length);
  t.equal(render('chaos chaos kills'), String(report.kills));
  t.equal(render('chaos chaos grew'), (report.rssMiB[1] - report.rssMiB[0]).toFixed(1));
  t.throws(() => render('chaos chaos nothing'), /no figure nothing \(seconds, /);
});

t.test('start-table and start: the start and the memory at rest, as medians', async (t) => {
  const report = results('start');
  const [run, , header, , ...rows] = render('start-table start').split('\n');
  t.match(run, RUN_LINE);
  t.match(header, /^\| target +\| command +\| processes +\| start, ms +\|/);
  t.same(
    rows.map((row) => row.split('|')[1].trim()),
    ['pipe', 'part4', 'part4-no-cache', 'part4-built', 'part4-w2', 'part4-built-w2'],
  );
  const rss = report.runs['part4-built'].map((each: { rssKiB: number }) => each.rssKiB);
  const sorted = [...rss].sort((a, b) => a - b);
  t.equal(
    render('start start part4-built rss'),
    (sorted[(sorted.length - 1) / 2] / 1024).toFixed(1),
    'the median of an odd number of rounds, in MiB',
  );
  t.match(render('start start less part4 part4-built tree-rss'), /^\d+\.\d$/);
  t.equal(render('start start rounds'), String(report.options.rounds));
  t.throws(() => render('start start part4 nothing'), /no field nothing \(ms, /);
  t.throws(() => render('start start nobody rss'), /no runs of nobody/);
});
