/**
 * `npm run bench:cost -- --save`: CPU time and system calls per request.
 *
 *   <!-- render: cost-cpu cost -->                               the run, then CPU time per request (medians)
 *   <!-- render: cost-calls cost keepalive -->                   the run, then the system calls of one mode
 *   <!-- render: cost cost cpu keepalive part3 user -->          one median, µs per request
 *   <!-- render: cost cost cpu-rounds keepalive part3 user -->   each round's, in round order
 *   <!-- render: cost cost ratio keepalive nginx part3 user -->  median of the rounds' ratios (user, system, both)
 *   <!-- render: cost cost ratio-range close part4 part3 both --> the lowest and highest of them: "1.13 to 1.21"
 *   <!-- render: cost cost calls close part3 epoll_ctl -->       calls per request (several: a+b)
 *   <!-- render: cost cost total close part3 -->                 every call per request
 *   <!-- render: cost cost rounds -->                            how many rounds
 */

import type { Mode } from '../../bench/bench-load.ts';
import {
  type CostReport,
  callsTable,
  cpuMedian,
  cpuRatio,
  cpuRatios,
  cpuTable,
} from '../../bench/cost.ts';
import { describeRun, readResults } from '../results.ts';

type Kind = 'user' | 'system';

/** The calls of one traced run, or an error naming what the file has. */
function callsOf(report: CostReport, mode: Mode, target: string) {
  const calls = report.calls[mode]?.[target];
  if (!calls) throw new Error(`no system calls of ${target} in ${mode} mode`);
  return calls.perRequest;
}

const FIGURES: Record<string, (report: CostReport, args: string[]) => string> = {
  cpu: (report, [mode, target, kind]) =>
    cpuMedian(report, mode as Mode, target, kind as Kind).toFixed(1),
  'cpu-rounds': (report, [mode, target, kind]) => {
    const runs = report.cpu[mode as Mode]?.[target];
    if (!runs) throw new Error(`no ${mode} rounds of ${target}`);
    return runs.map((run) => (kind === 'user' ? run.userUs : run.systemUs).toFixed(1)).join(', ');
  },
  ratio: (report, [mode, a, b, kind]) =>
    cpuRatio(report, mode as Mode, a, b, kind as Kind | 'both').toFixed(2),
  'ratio-range': (report, [mode, a, b, kind]) => {
    const ratios = cpuRatios(report, mode as Mode, a, b, kind as Kind | 'both');
    return `${Math.min(...ratios).toFixed(2)} to ${Math.max(...ratios).toFixed(2)}`;
  },
  calls: (report, [mode, target, names]) => {
    const perRequest = callsOf(report, mode as Mode, target);
    return names
      .split('+')
      .reduce((sum, call) => sum + (perRequest[call] ?? 0), 0)
      .toFixed(1);
  },
  total: (report, [mode, target]) =>
    Object.values(callsOf(report, mode as Mode, target))
      .reduce((sum, count) => sum + count, 0)
      .toFixed(1),
  rounds: (report) => String(report.options.rounds),
};

export const COST_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'cost-cpu': ([name], from) => {
    const report = readResults<CostReport>(name);
    return [describeRun(report, from, name), '', cpuTable(report)].join('\n');
  },
  'cost-calls': ([name, mode], from) => {
    const report = readResults<CostReport>(name);
    if (!report.calls[mode as Mode]) throw new Error(`${name} has no system calls in ${mode} mode`);
    return [describeRun(report, from, name), '', callsTable(report, mode as Mode)].join('\n');
  },
  cost: ([name, field, ...args]) => {
    const figure = FIGURES[field];
    if (!figure) throw new Error(`cost: no figure ${field} (${Object.keys(FIGURES).join(', ')})`);
    return figure(readResults<CostReport>(name), args);
  },
};
