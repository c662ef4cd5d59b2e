/**
 * Figures from the results files: what `npm run bench -- --save` (and the
 * other measuring commands) wrote to `shared/results/`, rendered into the
 * chapters' tables and sentences. One run, every chapter agrees: a chapter
 * never types a measured figure, it names the run and the row.
 *
 *   <!-- render: bench-table bench-close rows=direct,part3,nginx -->   the table, under the run it came from
 *   <!-- render: bench-run bench-close -->                             the run alone: command, date, machine
 *   <!-- render: figure bench-close part3 rps -->                      one cell: rps, mean, p50, p99, added, share, rss
 *   <!-- render: ratio bench-close part3 pipe -->                      median of the rounds' ratios of requests/s
 *   <!-- render: rounds bench-keepalive direct rps -->                 each round's rps, mean, p50 or p99, in round order
 *   <!-- render: results-index -->                                     every results file, what wrote it, when
 *   <!-- render: ratio-table bench-keepalive bench-close part3/pipe -->  those ratios, a column per run
 *   <!-- render: bench-table bench-hold rows=pipe,part3 -->            a hold run's table (--mode hold)
 *   <!-- render: figure bench-hold part3 per-connection -->            one cell: per-connection, heap-per-connection, before, held-rss, held
 *   <!-- render: rounds bench-hold part3 per-connection -->            each round's KiB per connection
 *
 * What it leaves out: running anything. A missing results file or row is an
 * error that names it; `npm run bench -- --save` writes the file again.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchReport } from '../bench/bench.ts';
import {
  COLUMN,
  formatHoldTable,
  formatTable,
  HOLD_COLUMN,
  type HoldSummary,
  median,
  type RunResult,
  type TargetSummary,
  thousands,
} from '../bench/bench-stats.ts';
import { ROOT } from '../lib/programs.ts';
import type { Provenance } from '../lib/results.ts';
import { markdownTable } from '../lib/table.ts';

export const RESULTS_DIR = 'shared/results';

/** The results file NAME (without .json), parsed; its path in the error when it is missing. */
export function readResults<T = BenchReport>(name: string): T {
  const file = path.join(RESULTS_DIR, `${name}.json`);
  let text: string;
  try {
    text = readFileSync(path.join(ROOT, file), 'utf8');
  } catch {
    throw new Error(`no results file ${file}: run the command that saves it`);
  }
  return JSON.parse(text) as T;
}

/** A link from the Markdown file `from` to a results file, as Markdown. */
export function resultsLink(from: string, name: string): string {
  const file = path.join(RESULTS_DIR, `${name}.json`);
  return `[\`${file}\`](${path.relative(path.dirname(from), file)})`;
}

/**
 * When and where a run was measured, in one sentence: the command, the date
 * and time, the machine (and its load average as the run began, when the
 * results file has it).
 */
export function describeRun(report: Provenance, from: string, name: string): string {
  const { machine } = report;
  const when = `${report.date.slice(0, 10)} at ${report.date.slice(11, 16)} UTC`;
  const load =
    machine.loadAverage === undefined ? '' : `, load average ${machine.loadAverage} as it started`;
  return (
    `Measured by \`${report.command}\` on ${when}: ${machine.cpus} × ${machine.cpuModel}, ` +
    `${machine.platform}, Node ${machine.node}${load}; ${resultsLink(from, name)}.`
  );
}

/** One row of a saved run, or an error naming the rows it has. */
function row(report: BenchReport, name: string, target: string): TargetSummary {
  const summary = report.summaries.find((each) => each.name === target);
  if (!summary) {
    const known = report.summaries.map((each) => each.name).join(', ');
    throw new Error(`${name} has no row ${target} (it has ${known})`);
  }
  return summary;
}

/** One row of a saved hold run, or an error naming the rows it has. */
function holdRow(report: BenchReport, name: string, target: string): HoldSummary {
  const summaries = report.hold?.summaries ?? [];
  const summary = summaries.find((each) => each.name === target);
  if (!summary) {
    const known = summaries.map((each) => each.name).join(', ');
    throw new Error(`${name} has no row ${target} (it has ${known})`);
  }
  return summary;
}

/** What `figure` can show of a hold run's row. */
const HOLD_CELLS: Record<string, keyof typeof HOLD_COLUMN> = {
  'per-connection': 'perConnection',
  'heap-per-connection': 'heap',
  before: 'before',
  'held-rss': 'held',
  held: 'count',
};

/** The `rows=a,b,c` argument, if given. */
function rowsArgument(args: string[]): string[] | undefined {
  const given = args.find((arg) => arg.startsWith('rows='));
  return given?.slice('rows='.length).split(',');
}

const CELLS: Record<string, keyof typeof COLUMN> = {
  rps: 'rps',
  mean: 'mean',
  p50: 'p50',
  p99: 'p99',
  added: 'added',
  'added-p99': 'addedP99',
  share: 'share',
  rss: 'rss',
  errors: 'errors',
  served: 'served',
};

/** What `rounds` can list of each round: requests/s, or a latency in ms. */
const ROUND_FIELDS: Record<string, (run: RunResult) => string> = {
  rps: (run) => thousands(run.rps),
  mean: (run) => run.latency.mean.toFixed(2),
  p50: (run) => run.latency.p50.toFixed(2),
  p99: (run) => run.latency.p99.toFixed(2),
};

/** The renderers of this file, by name: each takes the region's arguments and the Markdown file's path. */
export const RESULT_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'bench-run': ([name], from) => describeRun(readResults(name), from, name),
  'bench-table': ([name, ...rest], from) => {
    const report = readResults(name);
    const rows = rowsArgument(rest);
    if (report.hold) {
      const held = rows
        ? rows.map((target) => holdRow(report, name, target))
        : report.hold.summaries;
      return [describeRun(report, from, name), '', formatHoldTable(held)].join('\n');
    }
    const summaries = rows ? rows.map((target) => row(report, name, target)) : report.summaries;
    const paced = report.options.rate !== undefined;
    return [describeRun(report, from, name), '', formatTable(summaries, paced)].join('\n');
  },
  figure: ([name, target, field]) => {
    const report = readResults(name);
    if (report.hold) {
      const cell = HOLD_CELLS[field];
      if (!cell) {
        throw new Error(
          `figure: no field ${field} in a hold run (fields: ${Object.keys(HOLD_CELLS).join(', ')})`,
        );
      }
      return HOLD_COLUMN[cell].cell(holdRow(report, name, target)).trim();
    }
    const cell = CELLS[field];
    if (!cell)
      throw new Error(`figure: no field ${field} (fields: ${Object.keys(CELLS).join(', ')})`);
    return COLUMN[cell].cell(row(report, name, target)).trim();
  },
  ratio: ([name, a, b]) => roundRatio(readResults(name), a, b).toFixed(2),
  'ratio-table': (args) => {
    const names = args.filter((arg) => !arg.includes('/'));
    const pairs = args.filter((arg) => arg.includes('/')).map((arg) => arg.split('/'));
    const reports = names.map((name) => readResults(name));
    return markdownTable(
      ['ratio of requests/s', ...reports.map(describeLoad)],
      pairs.map(([a, b]) => [`${a} / ${b}`, ...reports.map((r) => roundRatio(r, a, b).toFixed(2))]),
    );
  },
  'results-index': (_args, from) => {
    const names = readdirSync(path.join(ROOT, RESULTS_DIR))
      .filter((file) => file.endsWith('.json'))
      .map((file) => file.slice(0, -'.json'.length))
      .sort();
    return markdownTable(
      ['file', 'written by', 'on'],
      names.map((name) => {
        const { command, date } = readResults<{ command?: string; date?: string }>(name);
        return [
          resultsLink(from, name),
          command ? `\`${command}\`` : '-',
          date?.slice(0, 10) ?? '-',
        ];
      }),
    );
  },
  rounds: ([name, target, field]) => {
    const report = readResults(name);
    if (report.hold) {
      const runs = report.hold.runs[target];
      if (!runs) throw new Error(`${name} has no runs of ${target}`);
      if (field === 'heap-per-connection')
        return runs.map((run) => run.heapPerConnectionKiB?.toFixed(1) ?? '-').join(', ');
      if (field !== 'per-connection')
        throw new Error('rounds: a hold run has per-connection and heap-per-connection');
      return runs.map((run) => run.perConnectionKiB.toFixed(1)).join(', ');
    }
    const pick = ROUND_FIELDS[field];
    if (!pick)
      throw new Error(
        `rounds: no field ${field} (fields: ${Object.keys(ROUND_FIELDS).join(', ')})`,
      );
    const runs = report.runs[target];
    if (!runs) throw new Error(`${name} has no runs of ${target}`);
    return runs.map(pick).join(', ');
  },
};

/** A run's load in a few words, for a column's title. */
function describeLoad(report: BenchReport): string {
  const mode = report.options.mode === 'close' ? 'new connection per request' : 'keep-alive';
  return report.options.rate === undefined
    ? mode
    : `${mode}, ${thousands(report.options.rate)} requests/s`;
}

/** The median over the rounds of a's requests/s divided by b's in the same round. */
export function roundRatio(report: BenchReport, a: string, b: string): number {
  const [ra, rb] = [a, b].map((target) => {
    const runs = report.runs[target];
    if (!runs) throw new Error(`no runs of ${target}`);
    return runs;
  });
  return median(ra.map((run, i) => run.rps / rb[i].rps));
}
