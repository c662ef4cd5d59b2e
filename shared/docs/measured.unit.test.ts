/**
 * The renderers of measured.ts, one test each: what they render from the
 * committed results files (the figures themselves change with every run, so
 * these check the shape and that each figure is the file's), and how they
 * fail on a name the file does not have.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { chartLines } from '../demos/demo-backpressure.ts';
import { ROOT } from '../lib/programs.ts';
import { RENDERERS } from './docs.ts';

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

t.test('slow-readers: what the matrix row measured', async (t) => {
  const report = results('slow-readers-part2');
  t.equal(render('slow-readers slow-readers-part2 grew'), report.grewMiB.toFixed(1));
  t.equal(render('slow-readers slow-readers-part2 in-flight'), '144');
  t.throws(() => render('slow-readers slow-readers-part2 peak'), /no peak \(grew, /);
});
