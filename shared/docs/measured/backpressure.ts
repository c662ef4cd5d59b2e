/**
 * `npm run demo:backpressure -- --save`: the chart the demo draws, and its
 * figures.
 *
 *   <!-- render: backpressure-chart demo-backpressure -->       the chart and its peaks, in a code block
 *   <!-- render: backpressure demo-backpressure part2 peak -->  one figure of one part's run
 *
 * A part's figures: `peak` and `base` (MiB: its highest growth over its idle
 * baseline, and that baseline), `rise` (seconds until it first reached nine
 * tenths of its peak); `requested` (MiB asked for in all) and `seconds` (the
 * whole demo) take `all` for the part.
 */
import {
  type BackpressureReport,
  chartLines,
  peakOf,
  type Run,
} from '../../demos/demo-backpressure.ts';
import { readResults } from '../results.ts';

const PART_FIGURES: Record<string, (run: Run, report: BackpressureReport) => string> = {
  peak: (run) => peakOf(run).toFixed(1),
  base: (run) => run.baseMiB.toFixed(1),
  rise: (run, report) => {
    const at = run.samples.findIndex((sample) => sample >= 0.9 * peakOf(run));
    return (((at + 1) * report.sampleMs) / 1000).toFixed(1);
  },
};

const RUN_FIGURES: Record<string, (report: BackpressureReport) => string> = {
  requested: (report) => String(report.clients * report.sizeMiB),
  seconds: (report) => (report.totalMs / 1000).toFixed(0),
};

export const BACKPRESSURE_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'backpressure-chart': ([name]) =>
    ['```', ...chartLines(readResults<BackpressureReport>(name), false), '```'].join('\n'),
  backpressure: ([name, part, field]) => {
    const report = readResults<BackpressureReport>(name);
    if (part === 'all' && RUN_FIGURES[field]) return RUN_FIGURES[field](report);
    const run = report.runs.find((each) => each.name === part);
    const figure = PART_FIGURES[field];
    if (!run || !figure) {
      const parts = report.runs.map((each) => each.name).join(', ');
      const fields = [
        ...Object.keys(PART_FIGURES),
        ...Object.keys(RUN_FIGURES).map((f) => `all ${f}`),
      ];
      throw new Error(
        `backpressure: no ${part} ${field} (parts: ${parts}; figures: ${fields.join(', ')})`,
      );
    }
    return figure(run, report);
  },
};
