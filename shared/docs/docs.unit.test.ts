/**
 * The chapters' rendered regions are what `npm run docs` renders: a measured
 * figure, a table or a sample that differs from its results file or its code
 * fails here, with the file and line to look at.
 */
import { readdirSync } from 'node:fs';
import t from 'tap';
import { ROOT } from '../lib/programs.ts';
import { yourChanges } from '../tools/exercise.ts';
import { firstDifference, renderAll, renderFile } from './docs.ts';
import { findRegions, renderRegions } from './regions.ts';
import { RESULT_RENDERERS, readResults, resultsLink } from './results.ts';

t.test('regions: a block and an inline region are found with their lines', async (t) => {
  const text = [
    'intro',
    '<!-- render: bench-table bench-close rows=direct,part3 -->',
    'old table',
    '<!-- /render -->',
    'part 3 made <!-- render: figure bench-close part3 rps -->1<!-- /render --> requests/s.',
  ].join('\n');
  t.same(
    findRegions(text).map(({ name, args, line, text, block }) => ({
      name,
      args,
      line,
      text,
      block,
    })),
    [
      {
        name: 'bench-table',
        args: ['bench-close', 'rows=direct,part3'],
        line: 2,
        text: 'old table',
        block: true,
      },
      { name: 'figure', args: ['bench-close', 'part3', 'rps'], line: 5, text: '1', block: false },
    ],
  );
  const rendered = renderRegions(text, (region) => (region.block ? 'a\nb' : '2,752'));
  t.equal(
    rendered,
    [
      'intro',
      '<!-- render: bench-table bench-close rows=direct,part3 -->',
      'a',
      'b',
      '<!-- /render -->',
      'part 3 made <!-- render: figure bench-close part3 rps -->2,752<!-- /render --> requests/s.',
    ].join('\n'),
  );
  t.equal(
    renderRegions(rendered, (region) => (region.block ? 'a\nb' : '2,752')),
    rendered,
    'rendering twice changes nothing',
  );
  t.throws(
    () => findRegions('a\n<!-- render: figure x y z -->\nb'),
    /line 2: a render comment without its/,
  );
  t.throws(
    () => renderRegions('x <!-- render: f -->1<!-- /render -->', () => 'two\nlines'),
    /line 1: f renders lines/,
  );
  t.throws(
    () => renderRegions('a sentence\n<!-- render: f -->1<!-- /render --> goes on', () => '2'),
    /line 2: f begins its line, where Markdown reads it as raw HTML/,
  );
  t.equal(firstDifference('a\nb\nc', 'a\nb\nd'), 3);
});

t.test('a region that cannot render keeps its text and names the line', async (t) => {
  const out = renderFile('README.md', 'x\n<!-- render: no-such-thing -->\nold\n<!-- /render -->\n');
  t.equal(out.after, out.before);
  t.match(out.errors[0], /^README\.md:2: no-such-thing: no such renderer/);
  const missing = renderFile(
    'README.md',
    'it made <!-- render: figure bench-nothing part3 rps -->1<!-- /render -->',
  );
  t.match(missing.errors[0], /no results file shared\/results\/bench-nothing\.json/);
});

/** The part folders, whose code the chapters render. */
const PARTS = readdirSync(ROOT).filter((name) => /^part\d-/.test(name));
/** The parts whose code a Markdown file renders: its own part's, or any (the top README). */
const partsOf = (file: string) =>
  PARTS.includes(file.split('/')[0]) ? [file.split('/')[0]] : PARTS;

t.test('every rendered region in the Markdown is what npm run docs renders', async (t) => {
  const all = renderAll();
  t.ok(all.length > 10, `read ${all.length} Markdown files`);
  for (const each of all) {
    for (const error of each.errors) t.fail(error);
    if (each.after !== each.before) {
      t.fail(
        `${each.file}:${firstDifference(each.before, each.after)}: differs from what it renders; ` +
          'npm run docs rewrites it (a results file or the code changed, or the text was edited by hand)' +
          // An exercise done in a part changes what its chapter renders: npm run docs would
          // write the reader's code into the chapter.
          yourChanges(...partsOf(each.file)),
      );
    }
  }
});

t.test('the benchmark renderers read the saved run, and name what is missing', async (t) => {
  const run = readResults('bench-close');
  const direct = run.summaries.find((each) => each.name === 'direct');
  if (!direct) throw new Error('bench-close has no direct row');
  const render = (spec: string) =>
    RESULT_RENDERERS[spec.split(' ')[0]](spec.split(' ').slice(1), 'README.md');
  t.equal(render('figure bench-close direct rps'), Math.round(direct.rps).toLocaleString('en-US'));
  t.equal(render('figure bench-close direct mean'), direct.latency.mean.toFixed(2));
  const table = render('bench-table bench-close rows=direct,part3');
  t.match(
    table,
    /^Measured by `npm run bench -- --mode close (--rounds \d+ )?--save` on \d{4}-\d\d-\d\d at \d\d:\d\d UTC: /,
  );
  t.match(table, /\[`shared\/results\/bench-close\.json`\]\(shared\/results\/bench-close\.json\)/);
  t.same(
    table
      .split('\n')
      .filter((line) => /^\| \w/.test(line))
      .map((line) => line.split('|')[1].trim()),
    ['target', 'direct', 'part3'],
    'the rows asked for, in that order',
  );
  const rps = (name: string) => run.runs[name].map((each) => each.rps);
  const ratios = rps('part3')
    .map((value, i) => value / rps('pipe')[i])
    .sort((a, b) => a - b);
  t.equal(render('ratio bench-close part3 pipe'), ratios[Math.floor(ratios.length / 2)].toFixed(2));
  t.match(
    render('ratio-table bench-close part3/pipe'),
    /\| ratio of requests\/s \| new connection per request \|\n.*\n\| part3 \/ pipe +\| \d\.\d\d/,
  );
  t.equal(
    render('rounds bench-close direct p50'),
    run.runs.direct.map((each) => each.latency.p50.toFixed(2)).join(', '),
  );
  t.match(
    render('results-index'),
    /\| \[`shared\/results\/bench-close\.json`\]\(shared\/results\/bench-close\.json\) +\| `npm run bench -- --mode close (--rounds \d+ )?--save` +\|/,
  );
  t.throws(
    () => render('figure bench-close squid rps'),
    /bench-close has no row squid \(it has direct, /,
  );
  t.throws(
    () => render('figure bench-close direct speed'),
    /figure: no field speed \(fields: rps, /,
  );
  t.throws(() => render('rounds bench-close direct speed'), /rounds: no field speed/);
  t.equal(
    resultsLink('part4-balancing/chapters/7-the-fleet.md', 'bench-close'),
    '[`shared/results/bench-close.json`](../../shared/results/bench-close.json)',
  );
});

t.test('the hold run renders its own table, cells and rounds', async (t) => {
  const run = readResults('bench-hold');
  const render = (spec: string) =>
    RESULT_RENDERERS[spec.split(' ')[0]](spec.split(' ').slice(1), 'README.md');
  const part3 = run.hold?.summaries.find((each) => each.name === 'part3');
  if (!part3) throw new Error('bench-hold has no part3 row');
  t.equal(render('figure bench-hold part3 per-connection'), part3.perConnectionKiB.toFixed(1));
  t.equal(render('figure bench-hold part3 held'), `${part3.held}/${part3.connections}`);
  const table = render('bench-table bench-hold rows=part3,pipe');
  t.match(table, /^Measured by `npm run bench -- --mode hold --save` on /);
  t.same(
    table
      .split('\n')
      .filter((line) => /^\| \w/.test(line))
      .map((line) => line.split('|')[1].trim()),
    ['target', 'part3', 'pipe'],
    'the rows asked for, in that order',
  );
  t.equal(
    render('rounds bench-hold part3 per-connection'),
    run.hold?.runs.part3.map((each) => each.perConnectionKiB.toFixed(1)).join(', '),
  );
  t.throws(() => render('figure bench-hold part3 rps'), /no field rps in a hold run/);
  t.throws(() => render('figure bench-hold direct per-connection'), /bench-hold has no row direct/);

  // A run with --heap: the heap's cells and rounds, blank where a row has none (nginx).
  const heap = readResults('bench-hold-heap');
  const part4 = heap.hold?.summaries.find((each) => each.name === 'part4');
  t.equal(
    render('figure bench-hold-heap part4 heap-per-connection'),
    part4?.heapPerConnectionKiB?.toFixed(1),
  );
  t.equal(render('figure bench-hold-heap nginx heap-per-connection'), '');
  t.equal(
    render('rounds bench-hold-heap part4 heap-per-connection'),
    heap.hold?.runs.part4.map((each) => each.heapPerConnectionKiB?.toFixed(1)).join(', '),
  );
  t.match(render('bench-table bench-hold-heap rows=part4,nginx'), /\| of it JS heap \|/);
});
