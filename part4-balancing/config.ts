/**
 * The configuration: where to listen, which pools of backends to balance over,
 * and the timeouts. Chapter 1 builds it from the command line, in quick-start
 * form (`proxy.ts 8000 host:port ...`: configFromAddresses below).
//> 4.3
 * Chapter 3 reads it from a JSON file (config/), through the same tables:
 *
 *   {
 *     "listen": [{ "port": 8000, "pool": "web" }],
 *     "pools": {
 *       "web": {
 *         "strategy": "round-robin",
 *         "backends": [{ "address": "127.0.0.1:8881", "weight": 5 }, { "address": "127.0.0.1:8882" }],
 *         "healthCheck": { "intervalMs": 2000, "timeoutMs": 1000, "path": "/" }
 *       }
 *     }
 *   }
//< 4.3
 *
 * Every field is described once, in a table (fields.ts says how), beside the
 * code of the chapter that brings it: here TOP_SETTINGS (the top level) and
 * LISTENER, in pools/fields.ts a pool's settings and a backend's fields. A
 * chapter that brings fields adds a line to a table for them. The types of
 * the configuration come from the same tables, so a field added to a table is
 * in them at once.
 *
 * What it leaves out: reading a file, and settings that change while running.
 * A reload (SIGHUP) reads the whole file again. //> 4.3
 */
import { readFileSync } from 'node:fs'; //> 4.3
import {
  boolean,
  type Fields,
  hostPort,
  int,
  MAX_MS,
  Place,
  port,
  readObject,
  text,
  type Values,
} from './fields.ts';
import { listenAddress } from './fields.ts'; //> 4.3
import { FLEET_TOP } from './fleet/fields.ts'; //> 4.7
import { BACKEND, POOL_SETTINGS, type PoolConfig } from './pools/fields.ts';
import { PROXY_LISTENER } from './proxy-protocol/fields.ts'; //> 4.5
import { ROUTER_LISTENER } from './router/fields.ts'; //> 4.8
import { STATUS_TOP } from './status/fields.ts'; //> 4.6
import { VHOSTS_LISTENER } from './vhosts/fields.ts'; //> 4.4

// --- The fields, each described once -------------------------------------------

//> 4.3
// Chapter 3's, for a proxy run for real: the connection limits (the
// process's, a listener's, one client address's), how long a graceful stop
// waits, and a listener on one address rather than on every one.

const CONFIG_TOP = {
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

const CONFIG_LISTENER = {
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
  let soft = Number.NaN;
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
  } catch {
    // Not Linux: no /proc. maxConnectionsFor() falls back to a limit that fits the usual 1024.
  }
  return maxConnectionsFor(soft);
}

/** maxConnections for a soft limit of `openFiles` descriptors; unknown (NaN) or too few: 480. */
export function maxConnectionsFor(openFiles: number): number {
  const SPARE = 64;
  if (openFiles > SPARE + 2) return Math.min(100_000, Math.floor((openFiles - SPARE) / 2));
  return 480;
}
//< 4.3

/** The top level of the configuration: every setting but its listeners and pools. */
export const TOP_SETTINGS = {
  verbose: {
    about: 'log every connection error, not a count every 10 s',
    default: false,
    check: boolean,
  },
  idleTimeoutMs: {
    about: 'close a connection after this long without a byte either way; 0: never',
    default: 60_000,
    check: int(0, MAX_MS),
  },
  ...CONFIG_TOP, //> 4.3
  ...STATUS_TOP, //> 4.6
  ...FLEET_TOP, //> 4.7
} satisfies Fields;

export const LISTENER = {
  port: {
    about: 'the port to accept clients on, on every address; 0: any free one',
    check: port(0),
  },
  pool: {
    about: 'the pool its clients go to (http and tls: the pool for names not in hosts)',
    check: text,
  },
  ...CONFIG_LISTENER, //> 4.3
  ...VHOSTS_LISTENER, //> 4.4
  ...PROXY_LISTENER, //> 4.5
  ...ROUTER_LISTENER, //> 4.8
} satisfies Fields;

// --- What the proxy gets ---------------------------------------------------------

/** A file's `address` is read into `host` and `port`. */ //> 4.3
export type ListenerConfig = Omit<Values<typeof LISTENER>, 'address'> & {
  /** The port; with `host`, on that address only. */
  port: number;
  /** Absent: every address (as nginx's `listen 8000`). */
  host?: string;
};

export type Config = Values<typeof TOP_SETTINGS> & {
  //> 4.3
  /** The file path, or "command line": where to point the reader of an error. */
  source: string;
  //< 4.3
  listeners: ListenerConfig[];
  pools: Record<string, PoolConfig>;
};

/** Every top-level setting at its default: what quick start runs with. */
export const DEFAULTS = readObject(new Place('defaults', ''), {}, TOP_SETTINGS);

/** Quick start: one listener, one pool "default", every other setting at its default. */
export function configFromAddresses(listenPort: number, addresses: string[]): Config {
  const source = 'command line';
  const top = new Place(source, '');
  if (addresses.length === 0) top.at('backends').fail('none given (expected host:port)');
  const backendAt = (i: number) => top.at(`backend ${i + 1}`);
  const config: Config = {
    ...DEFAULTS,
    source, //> 4.3
    listeners: [quickListener(top, listenPort)],
    pools: {
      default: {
        ...readObject(top, {}, POOL_SETTINGS),
        name: 'default',
        backends: addresses.map((address, i) => ({
          ...hostPort(backendAt(i), address),
          weight: BACKEND.weight.default,
        })),
      },
    },
  };
  return config;
}

/** Quick start's one listener: plain TCP on every address, to the pool "default". */
function quickListener(top: Place, listenPort: number): ListenerConfig {
  const port = int(0, 65535)(top.at('listen-port'), listenPort);
  return { ...readObject(top, { port, pool: 'default' }, LISTENER), port };
}

/** Settings the command line may override: the top-level ones. */
export type Overrides = Partial<Values<typeof TOP_SETTINGS>>;

/**
 * A command-line option's text, checked by its field's own check, so an option
 * takes the values its field takes: `--idle-timeout 5` is `idleTimeoutMs: 5`.
 * Throws ConfigError naming the option.
 */
export function overrideFromText(
  option: string,
  field: keyof Overrides,
  text: string | boolean,
): Overrides {
  // Digits are a number; anything else is checked as the string it is.
  const value = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : text;
  return { [field]: TOP_SETTINGS[field].check(new Place('command line', option), value) };
}
