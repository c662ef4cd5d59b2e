/**
 * How fast a change in Redis reaches part 4, from three places: the route
 * table's own test (SAVE_RESULTS=1 npx tap
 * part4-balancing/test/redis-routes.test.ts), `npm run demo:fleet -- --save`,
 * the heal of a silent link in fleet.test.ts (SAVE_RESULTS=1), and a
 * Sentinel failover in sentinel.test.ts (SAVE_RESULTS=1).
 *
 *   <!-- render: route-delay redis-routes median -->       SADD to the changed table, ms (median, max, updates)
 *   <!-- render: demo-fleet demo-fleet the-change -->      both proxies following a change, ms (the-restart)
 *   <!-- render: fleet-heal fleet-heal -->                 the heal to fresh routes, s
 *   <!-- render: failover sentinel-failover follow -->     the kill to the new primary followed, s (up, change: ms)
 */
import type { RouteDelays } from '../../../part4-balancing/test/redis-routes.test.ts';
import type { FleetDemoReport } from '../../demos/demo-fleet.ts';
import { readResults } from '../results.ts';

const DELAYS: Record<string, (report: RouteDelays) => string> = {
  median: (report) => report.medianMs.toFixed(1),
  max: (report) => report.maxMs.toFixed(1),
  updates: (report) => String(report.delaysMs.length),
};

export const FLEET_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'route-delay': ([name, field]) => {
    const figure = DELAYS[field];
    if (!figure) throw new Error(`route-delay: no ${field} (${Object.keys(DELAYS).join(', ')})`);
    return figure(readResults<RouteDelays>(name));
  },
  'demo-fleet': ([name, change]) => {
    const followed = readResults<FleetDemoReport>(name).followedMs;
    const ms = followed[change.replaceAll('-', ' ')];
    if (ms === undefined) {
      const known = Object.keys(followed).map((what) => what.replaceAll(' ', '-'));
      throw new Error(`${name}: no change ${change} followed (${known.join(', ') || 'none'})`);
    }
    return String(ms);
  },
  'fleet-heal': ([name]) => (readResults<{ healMs: number }>(name).healMs / 1000).toFixed(1),
  failover: ([name, field]) => {
    const report = readResults<FailoverTimes>(name);
    const figure = FAILOVER[field];
    if (!figure) throw new Error(`failover: no ${field} (${Object.keys(FAILOVER).join(', ')})`);
    return figure(report);
  },
};

/** What sentinel.test.ts saves: from the primary killed to the proxy following the new one, and so on. */
interface FailoverTimes {
  followMs: number;
  upMs: number;
  changeMs: number;
}

const FAILOVER: Record<string, (report: FailoverTimes) => string> = {
  follow: (report) => (report.followMs / 1000).toFixed(1),
  up: (report) => (report.upMs / 1000).toFixed(1),
  change: (report) => String(report.changeMs),
};
