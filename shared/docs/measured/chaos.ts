/**
 * `npm run soak:chaos -- --save`: the soak's table, and its counts.
 *
 *   <!-- render: chaos-table chaos -->     the run, then the table
 *   <!-- render: chaos chaos kills -->     one figure (below)
 *
 * Figures: `seconds`, `kills`, `reloads`, `redis-outages`, `no-backend`
 * (the longest time with no backend up, s), `fds-before`, `fds-after`,
 * `rss-before`, `rss-after` and `grew` (MiB), `requests` (in all).
 */
import { CAUSES, chaosTable, type SavedChaos } from '../../torture/chaos.ts';
import { describeRun, readResults } from '../results.ts';

const FIGURES: Record<string, (report: SavedChaos) => string> = {
  seconds: (report) => String(report.seconds),
  kills: (report) => String(report.kills),
  reloads: (report) => String(report.reloads),
  'redis-outages': (report) => String(report.redisOutages),
  'no-backend': (report) => (report.longestNoBackendMs / 1000).toFixed(1),
  'fds-before': (report) => String(report.fds[0]),
  'fds-after': (report) => String(report.fds[1]),
  'rss-before': (report) => report.rssMiB[0].toFixed(1),
  'rss-after': (report) => report.rssMiB[1].toFixed(1),
  grew: (report) => (report.rssMiB[1] - report.rssMiB[0]).toFixed(1),
  requests: (report) =>
    report.streams
      .reduce((sum, stream) => sum + CAUSES.reduce((n, cause) => n + stream.counts[cause], 0), 0)
      .toLocaleString('en-US'),
};

export const CHAOS_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'chaos-table': ([name], from) => {
    const report = readResults<SavedChaos>(name);
    return [describeRun(report, from, name), '', chaosTable(report)].join('\n');
  },
  chaos: ([name, field]) => {
    const figure = FIGURES[field];
    if (!figure) throw new Error(`chaos: no figure ${field} (${Object.keys(FIGURES).join(', ')})`);
    return figure(readResults<SavedChaos>(name));
  },
};
