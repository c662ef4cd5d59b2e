/**
 * Fleet mode's Redis found through Sentinel: the set of Sentinels is asked
 * which server is the primary of `master`, and says so again each time it
 * promotes a replica. The link (fleet/redis-link.ts) then follows: it drops
 * its two connections, makes them to the new primary, and reads every route
 * again, as after any outage. The table serves on meanwhile.
 *
 *   Sentinel set ─ MASTER_CHANGE (the first: where the primary is) ─▶ the link connects
 *        └─ MASTER_CHANGE (a replica promoted) ─▶ the link follows ─▶ a full read
 *
 * node-redis's own Sentinel client (createSentinel) does the asking: it
 * subscribes to +switch-master on one Sentinel, moves to another when that
 * one goes, and reports each new primary as a 'topology-change' event. Only
 * that is used of it; the reads and the notifications stay on the link's own
 * two connections, so every state of chapter 7 (down, silent, back) holds.
 *
 * What it leaves out: reading from replicas, passwords for the Sentinels, TLS.
 */
import { createSentinel } from 'redis';
import { parseSentinels, type SentinelNode } from './fields.ts';

export interface SentinelOptions {
  /** HOST:PORT[,HOST:PORT...] */
  sentinels: string;
  /** The name the Sentinels know the primary by. */
  master: string;
}

export interface PrimaryWatch {
  /** For log lines: the Sentinels and the master's name. */
  readonly where: string;
  /** `onPrimary` for each primary named (the first, then each promotion); `onTrouble` while none is. */
  start(onPrimary: (host: string, port: number) => void, onTrouble: (err: Error) => void): void;
  stop(): void;
}

/** Watches the Sentinel set for the primary of `master`. */
export function watchPrimary(options: SentinelOptions): PrimaryWatch {
  const nodes: SentinelNode[] | undefined = parseSentinels(options.sentinels);
  // The configuration and the command line refuse such a list before it gets here.
  if (nodes === undefined)
    throw new Error(`expected HOST:PORT[,HOST:PORT...], got "${options.sentinels}"`);
  const sentinel = createSentinel({
    name: options.master,
    sentinelRootNodes: nodes,
    // The one connection to the primary that createSentinel keeps: the link has its own.
    masterPoolSize: 1,
  });
  let known = false;
  return {
    where: `Sentinel ${options.sentinels} (master "${options.master}")`,
    start(onPrimary, onTrouble) {
      sentinel.on('topology-change', (event: { type: string; node?: SentinelNode }) => {
        if (event.type !== 'MASTER_CHANGE' || event.node === undefined) return;
        known = true;
        onPrimary(event.node.host, event.node.port);
      });
      // Every failed attempt is an 'error' (some are strings). Until a primary is
      // known they are the link's outage; after, the link's own connections say
      // more, and a Sentinel lost is node-redis's to replace.
      sentinel.on('error', (err: unknown) => {
        if (!known) onTrouble(new Error(String(err).replace(/^.*Error: /, '')));
      });
      // Settles only when a Sentinel answers (node-redis retries every second).
      sentinel.connect().catch(() => {});
    },
    stop() {
      sentinel.removeAllListeners();
      sentinel.on('error', () => {});
      sentinel.destroy().catch(() => {});
    },
  };
}
