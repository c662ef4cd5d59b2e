/**
 * The behaviour matrix's slow-readers row, saved by `SAVE_RESULTS=1 npx tap
 * partN-.../matrix.test.ts` to slow-readers-partN.json: how much the proxy
 * grew while clients read nothing.
 *
 *   <!-- render: slow-readers slow-readers-part2 grew -->   MiB (in-flight, threshold, clients, size)
 */
import { readResults } from '../results.ts';

/** What the slow-readers row saves: how much the proxy grew, and the test's threshold. */
export interface SlowReadersGrowth {
  part: string;
  clients: number;
  sizeMiB: number;
  /** Held once the backend was done sending (a part that grows); the peak over the watch (one that does not). */
  grewMiB: number;
  /** More than this for a part that grows, less for one that does not. */
  thresholdMiB: number;
}

const FIGURES: Record<string, (report: SlowReadersGrowth) => string> = {
  grew: (report) => report.grewMiB.toFixed(1),
  'in-flight': (report) => String(report.clients * report.sizeMiB),
  threshold: (report) => String(report.thresholdMiB),
  clients: (report) => String(report.clients),
  size: (report) => String(report.sizeMiB),
};

export const SLOW_READERS_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'slow-readers': ([name, field]) => {
    const figure = FIGURES[field];
    if (!figure) throw new Error(`slow-readers: no ${field} (${Object.keys(FIGURES).join(', ')})`);
    return figure(readResults<SlowReadersGrowth>(name));
  },
};
