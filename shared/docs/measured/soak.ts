/**
 * `npm run bench:soak -- --save`: its rows have the benchmark's shape, so
 * `figure` and `bench-table` (results.ts) render them; this adds the part's
 * memory at each checkpoint of the run.
 *
 *   <!-- render: figure soak-part3 part3 added -->   what the part added to the mean, as the bench's figures
 *   <!-- render: soak-rss soak-part3 50% -->          the part's resident memory halfway, in MiB
 *   <!-- render: soak-minutes soak-part3 -->          how long both runs took, in minutes
 */
import { CHECKPOINTS, type SoakReport } from '../../bench/soak.ts';
import { readResults } from '../results.ts';

export const SOAK_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'soak-rss': ([name, at]) => {
    const i = CHECKPOINTS.findIndex((share) => `${share * 100}%` === at);
    if (i < 0) {
      const known = CHECKPOINTS.map((share) => `${share * 100}%`).join(', ');
      throw new Error(`soak-rss: no checkpoint ${at} (${known})`);
    }
    return (readResults<SoakReport>(name).rssKiB[i] / 1024).toFixed(1);
  },
  'soak-minutes': ([name]) => {
    const runs = Object.values(readResults<SoakReport>(name).runs).flat();
    return (runs.reduce((sum, run) => sum + run.seconds, 0) / 60).toFixed(0);
  },
};
