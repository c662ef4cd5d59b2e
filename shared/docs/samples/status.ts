/**
 * The status JSON of chapter 6, from part 4's own snapshot(): a running state
 * built in this process from the example configuration, traffic sent through
 * the pool's strategy and probes' results given to each backend's health, with
 * a fixed clock and pid.
 *
 *   <!-- render: status-json example -->
 *   on <!-- render: status-paths --> only      the paths the endpoint answers, inline
 *
 * What it leaves out: the status server (snapshot() is what it answers), and
 * the probes and connects themselves, which would open sockets: their results
 * are given to the backends' health, as a probe gives them.
 */
import { maxConnectionsFor } from '../../../part4-balancing/config.ts';
import { describe } from '../../../part4-balancing/log.ts';
import { Pool } from '../../../part4-balancing/pools/pool.ts';
import { createStrategy } from '../../../part4-balancing/pools/strategies/index.ts';
import { RunningState } from '../../../part4-balancing/state.ts';
import type { Snapshot } from '../../../part4-balancing/status/snapshot.ts';
import { PATHS, type StatusSource, snapshot } from '../../../part4-balancing/status/status.ts';
import { capture, fenced } from './capture.ts';
import { exampleConfig, REFUSED } from './fixtures.ts';

/** Status samples by name. */
export const STATUS: Record<string, () => Snapshot> = {
  /**
   * The example configuration after twelve requests, then backend C (8883)
   * stopped, three more rounds of probes, and ten more requests; on a machine
   * with a descriptor limit of 20,000.
   */
  example: () => {
    const config = exampleConfig();
    const web = config.pools.web;
    // Built without its health check, which would start probing at once; the
    // snapshot reads the check from the configuration, so it is put back.
    const pool = new Pool({ ...web, healthCheck: undefined });
    pool.config.healthCheck = web.healthCheck;
    const [, , c] = pool.backends;
    const strategy = createStrategy(web.strategy);
    const requests = (n: number) => {
      for (let i = 0; i < n; i++) {
        const candidates = pool.backends.filter((b) => b.health.available);
        const picked = strategy.pick(candidates, '127.0.0.1');
        const backend = pool.backends.find((b) => b === picked);
        if (backend) backend.totalConnections++;
      }
    };
    const probes = (stopped: boolean) => {
      for (const b of pool.backends) {
        b.health.probed(stopped && b === c ? describe(REFUSED) : undefined);
      }
    };
    capture(() => {
      probes(false);
      requests(12);
      for (let round = 0; round < 3; round++) probes(true);
      requests(10);
    });
    const running = new RunningState();
    const source: StatusSource = {
      source: config.source,
      startedAt: new Date('2026-12-04T17:50:39.011Z'),
      listeners: () =>
        config.listeners.map((l) => ({
          host: l.host ?? '*',
          port: l.port,
          protocol: l.protocol,
          ...(l.pool === undefined ? {} : { pool: l.pool }),
          open: 0,
          // Every client of the sample reached a backend.
          accepted: pool.backends.reduce((n, backend) => n + backend.totalConnections, 0),
        })),
      pools: () => [pool],
      noBackend: () => 0,
      limits: () => ({
        maxConnections: maxConnectionsFor(20_000),
        maxConnectionsPerClient: config.maxConnectionsPerClient,
        open: 0,
      }),
      events: () => running.events.total,
    };
    return snapshot(source, { pid: 4151, uptimeMs: () => 7234 });
  },
};

export const STATUS_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'status-json': ([name]) => {
    const sample = STATUS[name];
    if (!sample)
      throw new Error(`no status sample ${name} (samples: ${Object.keys(STATUS).join(', ')})`);
    return fenced(JSON.stringify(sample(), null, 2), 'json');
  },
  'status-paths': () => {
    const paths = PATHS.map((p) => `\`${p}\``);
    return paths.length > 1 ? `${paths.slice(0, -1).join(', ')} and ${paths.at(-1)}` : paths[0];
  },
};
