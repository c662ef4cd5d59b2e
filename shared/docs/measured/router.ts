/**
 * `npm run bench:router -- --save`: what a router module costs part 4
 * (chapter 8). Its results file is a bench report as well, so `bench-table`,
 * `ratio` and `rounds` (results.ts) render its part4-http and part4-router
 * rows; these render the rest.
 *
 *   <!-- render: router-figure router-cost call-thread -->   one figure, by name (FIGURES below)
 *   <!-- render: router-reloads router-cost -->              the run, then memory along the reloads
 *
 * What it leaves out: running anything, as results.ts does.
 */
import { thousands } from '../../bench/bench-stats.ts';
import type { ReloadSample, RouterCostReport } from '../../bench/router-cost.ts';
import { markdownTable } from '../../lib/table.ts';
import { describeRun, readResults } from '../results.ts';

const kib = (value: number) => `${value.toFixed(1)} KiB`;
const mib = (valueKiB: number) => `${(valueKiB / 1024).toFixed(1)} MiB`;
const first = (samples: ReloadSample[]) => samples[0].rssKiB;
const last = (samples: ReloadSample[]) => samples[samples.length - 1].rssKiB;

/** The thread counts read along the reloads, the most frequent first. */
function threadCounts(samples: ReloadSample[]): number[] {
  const seen = new Map<number, number>();
  for (const { threads } of samples) {
    if (threads !== undefined) seen.set(threads, (seen.get(threads) ?? 0) + 1);
  }
  return [...seen.entries()].sort((a, b) => b[1] - a[1]).map(([threads]) => threads);
}

/** The heap the imports in one thread kept, from the first reading to the last, in KiB. */
const importedKiB = ({ reload }: RouterCostReport) =>
  reload.imported[reload.imported.length - 1].heapKiB - reload.imported[0].heapKiB;

const FIGURES: Record<string, (report: RouterCostReport) => string> = {
  /** µs per call through the router's thread, one at a time, and each with 100 under way. */
  'call-thread': ({ call }) => call.threadSerialUs.toFixed(1),
  'call-thread-concurrent': ({ call }) => call.threadConcurrentUs.toFixed(1),
  /** µs per call of the same function in the caller's own thread. */
  'call-in-thread': ({ call }) => call.inThreadUs.toFixed(2),
  calls: ({ call }) => thousands(call.calls),
  reloads: ({ reload }) => thousands(reload.reloads),
  /** What a listener's router adds to a started proxy's memory: an .mjs one, a TypeScript one. */
  'thread-mjs': ({ reload }) => mib(reload.startRssKiB.mjs - reload.startRssKiB.none),
  'thread-ts': ({ reload }) => mib(reload.startRssKiB.ts - reload.startRssKiB.none),
  'rss-first': ({ reload }) => mib(first(reload.withRouter)),
  'rss-last': ({ reload }) => mib(last(reload.withRouter)),
  'rss-first-without': ({ reload }) => mib(first(reload.withoutRouter)),
  'rss-last-without': ({ reload }) => mib(last(reload.withoutRouter)),
  /** From the first reading to the last, per reload. */
  'rss-growth': ({ reload }) =>
    kib((last(reload.withRouter) - first(reload.withRouter)) / reload.reloads),
  'rss-growth-without': ({ reload }) =>
    kib((last(reload.withoutRouter) - first(reload.withoutRouter)) / reload.reloads),
  /** The thread count read most often along the reloads, and the highest. */
  threads: ({ reload }) => String(threadCounts(reload.withRouter)[0]),
  'threads-max': ({ reload }) => String(Math.max(...threadCounts(reload.withRouter))),
  'import-growth': (report) => kib(importedKiB(report) / report.reload.reloads),
  'import-total': (report) => mib(importedKiB(report)),
};

export const ROUTER_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'router-figure': ([name, field]) => {
    const figure = FIGURES[field];
    if (!figure) {
      throw new Error(`router-figure: no figure ${field} (${Object.keys(FIGURES).join(', ')})`);
    }
    return figure(readResults<RouterCostReport>(name));
  },
  'router-reloads': ([name], from) => {
    const report = readResults<RouterCostReport>(name);
    const { withRouter, withoutRouter, imported } = report.reload;
    const header = ['reloads', 'RSS, a router', 'its threads', 'RSS, no router', 'heap, imports'];
    return [
      describeRun(report, from, name),
      '',
      markdownTable(
        header,
        withRouter.map((sample, i) => [
          thousands(sample.reloads),
          mib(sample.rssKiB),
          String(sample.threads ?? '-'),
          mib(withoutRouter[i]?.rssKiB ?? Number.NaN),
          mib(imported[i]?.heapKiB ?? Number.NaN),
        ]),
      ),
    ].join('\n');
  },
};
