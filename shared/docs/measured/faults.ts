/**
 * `SAVE_RESULTS=1 npx tap part4-balancing/test/faults.test.ts`: chapter 2's
 * table of what each fault does, and the proxy's state around it.
 *
 *   <!-- render: faults-table faults -->           the run, then the table
 *   <!-- render: faults faults fds-before -->      descriptors before (fds-after), MiB (rss-before, rss-after)
 */
import type { FaultTable } from '../../../part4-balancing/test/faults.test.ts';
import type { Provenance } from '../../lib/results.ts';
import { markdownTable } from '../../lib/table.ts';
import { describeRun, readResults } from '../results.ts';

type FaultReport = Provenance & FaultTable;

const FIGURES: Record<string, (report: FaultReport) => string> = {
  'fds-before': (report) => String(report.fds[0]),
  'fds-after': (report) => String(report.fds[1]),
  'rss-before': (report) => (report.rssKiB[0] / 1024).toFixed(0),
  'rss-after': (report) => (report.rssKiB[1] / 1024).toFixed(0),
};

export const FAULTS_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'faults-table': ([name], from) => {
    const report = readResults<FaultReport>(name);
    return [describeRun(report, from, name), '', markdownTable(report.header, report.rows)].join(
      '\n',
    );
  },
  faults: ([name, field]) => {
    const figure = FIGURES[field];
    if (!figure) throw new Error(`faults: no figure ${field} (${Object.keys(FIGURES).join(', ')})`);
    return figure(readResults<FaultReport>(name));
  },
};
