/**
 * The fields chapter 3 adds, for a proxy run for real: the connection limits
 * (the process's, a listener's, one client address's), how long a graceful
 * stop waits, and a listener on one address rather than on every one, with
 * the check of such an address (listenAddress, which the status endpoint's
 * field uses too).
 */
import { readFileSync } from 'node:fs';
import {
  type Address,
  type Fields,
  hostAndPort,
  int,
  MAX_MS,
  type Place,
  port,
  show,
} from '../fields.ts';

export const CONFIG_TOP = {
  maxConnections: {
    about: 'clients served at once by the process; more are closed at accept',
    default: defaultMaxConnections(),
    check: int(1, 1_000_000),
  },
  maxConnectionsPerClient: {
    about: 'clients served at once from one address (nginx: limit_conn); 0: no limit',
    default: 0,
    check: int(0, 1_000_000),
  },
  shutdownTimeoutMs: {
    about: 'on SIGTERM, how long open connections get to finish',
    default: 10_000,
    check: int(0, MAX_MS),
  },
} satisfies Fields;

export const CONFIG_LISTENER = {
  address: {
    about: '"host:port" to accept clients on one address only (instead of port)',
    check: (at: Place, value: unknown) => listenAddress(at, value),
  },
  maxConnections: {
    about: "clients served at once on this listener; absent: only the process's limit",
    check: int(1, 1_000_000),
  },
} satisfies Fields;

/**
 * The default for maxConnections: what the descriptor limit allows. Each client
 * costs two descriptors (its socket and its backend's); some are kept for the
 * listeners, the status endpoint, probes and the files a reload reads.
 */
function defaultMaxConnections(): number {
  const SPARE = 64;
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
    if (soft > SPARE + 2) return Math.min(100_000, Math.floor((soft - SPARE) / 2));
  } catch {
    // Not Linux: no /proc. Fall through to a limit that fits the usual 1024.
  }
  return 480;
}

/**
 * Where to listen: "host:port", "[ipv6]:port", or (with a default host) a port
 * alone, as a number or as digits. Port 0: any free one.
 */
export function listenAddress(at: Place, value: unknown, defaultHost?: string): Address {
  if (defaultHost !== undefined) {
    if (typeof value === 'number') return { host: defaultHost, port: port(0)(at, value) };
    if (typeof value === 'string' && /^\d+$/.test(value)) {
      return { host: defaultHost, port: port(0)(at, Number(value)) };
    }
  }
  const parsed = typeof value === 'string' ? hostAndPort(value) : undefined;
  if (!parsed || parsed.port > 65535) at.fail(`expected "host:port", got ${show(value)}`);
  return parsed;
}
