/**
 * `npm run bench:start -- --save`: part 4's start and its memory at rest,
 * under tsx and built ahead of time, beside the pipe floor.
 *
 *   <!-- render: start-table start -->                        the run, then the medians
 *   <!-- render: start start part4 rss -->                    one median: ms, cpu, rss, tree-rss, processes
 *   <!-- render: start start less part4 part4-built tree-rss -->   the first minus the second
 *   <!-- render: start start rounds -->                       how many rounds
 *
 * Memory in MiB, times in ms. What it leaves out: running anything, as results.ts does.
 */
import {
  mib,
  type StartReport,
  type StartRun,
  startMedian,
  startTable,
} from '../../bench/start.ts';
import { describeRun, readResults } from '../results.ts';

/** A field as a region names it, and how its median reads. */
const FIELDS: Record<string, [keyof StartRun, (value: number) => string]> = {
  ms: ['startMs', (value) => String(Math.round(value))],
  cpu: ['cpuMs', (value) => String(Math.round(value))],
  rss: ['rssKiB', mib],
  'tree-rss': ['treeRssKiB', mib],
  processes: ['processes', String],
};

function field(name: string): [keyof StartRun, (value: number) => string] {
  const known = FIELDS[name];
  if (!known) throw new Error(`start: no field ${name} (${Object.keys(FIELDS).join(', ')})`);
  return known;
}

const FIGURES: Record<string, (report: StartReport, args: string[]) => string> = {
  less: (report, [a, b, name]) => {
    const [key, show] = field(name);
    return show(startMedian(report, a, key) - startMedian(report, b, key));
  },
  rounds: (report) => String(report.options.rounds),
};

export const START_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'start-table': ([name], from) => {
    const report = readResults<StartReport>(name);
    return [describeRun(report, from, name), '', startTable(report)].join('\n');
  },
  start: ([name, first, ...args]) => {
    const report = readResults<StartReport>(name);
    const figure = FIGURES[first];
    if (figure) return figure(report, args);
    const [key, show] = field(args[0]);
    return show(startMedian(report, first, key));
  },
};
