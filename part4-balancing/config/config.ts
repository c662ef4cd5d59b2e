/**
 * The configuration: where to listen, which pools of backends to balance over,
 * and the timeouts. It comes from a JSON file (`proxy.ts --config FILE`) or, in
 * quick-start form, from the command line (`proxy.ts 8000 host:port ...`).
 *
 *   {
 *     "listen": [{ "port": 8000, "pool": "web" }],
 *     "statusPort": 8081,
 *     "pools": {
 *       "web": {
 *         "strategy": "round-robin",
 *         "backends": [{ "address": "127.0.0.1:8881", "weight": 5 }, { "address": "127.0.0.1:8882" }],
 *         "healthCheck": { "intervalMs": 2000, "timeoutMs": 1000, "path": "/" }
 *       }
 *     }
 *   }
 *
 * Every field is described once, in the tables below (TOP, LISTENER, POOL,
 * BACKEND, HEALTH_CHECK, ROUTE_SOURCE): what it means, how it is checked, and its default.
 * The reader that walks a file, readObject(), takes nothing else. Everything is
 * checked when the file is loaded, so a mistake stops the proxy (or a reload)
 * before it serves anything, with one line that names the file and the field:
 * `example.config.json: pools.web.backends[1].weight: expected an integer from
 * 1 to 1000, got 0`. Unknown keys are errors too: they are usually typos
 * ("maxFail"), and a silently ignored setting is worse than a refusal.
 *
 * What it leaves out: settings that change while running (a reload rereads the
 * whole file), includes and environment variables, and the routes of fleet
 * mode, which live in Redis (routeSource says where).
 */
import { constants, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism, networkInterfaces } from 'node:os';
import { canonicalHost, readHostPort } from '../ip.ts';
import { printable } from '../log.ts';
import { STRATEGY_NAMES, type StrategyName } from '../pools/strategies/index.ts';
import { DEFAULT_MAX_HELLO_BYTES } from '../vhosts/client-hello.ts';
import { hostKeyProblem } from '../vhosts/hosts.ts';
import { DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_REQUEST_LINE_BYTES } from '../vhosts/http-head.ts';

// Longer than a day is a typo; setTimeout also misbehaves past 2^31 ms.
const MAX_MS = 86_400_000;

// --- The fields, each described once -------------------------------------------

const TOP = {
  listen: {
    about: 'the listening sockets: a port or address, a protocol, and how clients find their pool',
    required: true,
    check: list,
  },
  pools: {
    about: 'the pools of backends, by name',
    required: true,
    check: (at: Place, value: unknown) => object(at, value),
  },
  statusListen: {
    about: 'where the status endpoint listens: "host:port", or a port on 127.0.0.1; absent: none',
    check: (at: Place, value: unknown) => listenAddress(at, value, '127.0.0.1'),
  },
  statusPort: {
    about: 'the older spelling of statusListen with a port alone (on 127.0.0.1)',
    check: (at: Place, value: unknown) => ({ host: '127.0.0.1', port: port(0)(at, value) }),
  },
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
  routeSource: {
    about:
      'fleet mode: http and tls listeners with neither hosts nor pool take their routes from Redis',
    check: (at: Place, value: unknown) => routeSource(at, value),
  },
  workers: {
    about: 'worker processes sharing the ports (node:cluster); "auto": one per core',
    default: 1,
    check: (at: Place, value: unknown) =>
      value === 'auto' ? availableParallelism() : int(1, 64)(at, value),
  },
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
  shutdownTimeoutMs: {
    about: 'on SIGTERM, how long open connections get to finish',
    default: 10_000,
    check: int(0, MAX_MS),
  },
} satisfies Fields;

const LISTENER = {
  port: {
    about: 'the port to accept clients on, on every address; 0: any free one',
    check: port(0),
  },
  address: {
    about: '"host:port" to accept clients on one address only (instead of port)',
    check: (at: Place, value: unknown) => listenAddress(at, value),
  },
  protocol: {
    about:
      'tcp: every client to `pool`; http: the pool by Host header; tls: by the SNI of the ClientHello',
    default: 'tcp' as 'tcp' | 'http' | 'tls',
    check: oneOf(['tcp', 'http', 'tls'] as const),
  },
  hosts: {
    about: 'http and tls: a pool per name ("www.example.org", "*.example.org")',
    check: hostRoutes,
  },
  pool: {
    about: 'tcp: the pool its clients go to; http and tls: the pool for names not in hosts',
    check: text,
  },
  maxConnections: {
    about: "clients served at once on this listener; absent: only the process's limit",
    check: int(1, 1_000_000),
  },
  headTimeoutMs: {
    about: 'http and tls: the request head or ClientHello must be complete within this long',
    default: 10_000,
    check: int(1, MAX_MS),
  },
  maxRequestLineBytes: {
    about: 'http: a longer request line is answered 414',
    default: DEFAULT_MAX_REQUEST_LINE_BYTES,
    check: int(64, 1024 * 1024),
  },
  maxHeadBytes: {
    about: 'http: a longer request head is answered 431',
    default: DEFAULT_MAX_HEAD_BYTES,
    check: int(256, 1024 * 1024),
  },
  maxHelloBytes: {
    about: 'tls: a longer ClientHello (with its record headers) is closed',
    default: DEFAULT_MAX_HELLO_BYTES,
    check: int(512, 1024 * 1024),
  },
  acceptProxyProtocol: {
    about: 'a PROXY protocol header (v1 or v2) is required first, from trustedProxies only',
    default: false,
    check: boolean,
  },
  trustedProxies: {
    about: 'with acceptProxyProtocol: the addresses ("10.0.0.0/8", "::1") allowed to send one',
    check: (at: Place, value: unknown) => list(at, value).map((item, i) => cidr(at.at(i), item)),
  },
} satisfies Fields;

/** Listener fields that mean something only for some protocols. */
const ONLY_FOR: Partial<Record<keyof typeof LISTENER, readonly string[]>> = {
  hosts: ['http', 'tls'],
  maxRequestLineBytes: ['http'],
  maxHeadBytes: ['http'],
  maxHelloBytes: ['tls'],
};

const POOL = {
  backends: {
    about: 'the backends, at least one',
    required: true,
    check: (at: Place, value: unknown) => list(at, value),
  },
  strategy: {
    about: `how a backend is picked: ${STRATEGY_NAMES.join(', ')}`,
    default: 'round-robin' as StrategyName,
    check: oneOf(STRATEGY_NAMES),
  },
  maxFails: {
    about:
      'failed connects (or unanswered requests) within failTimeoutMs that take a backend out...',
    default: 1,
    check: int(1, 1000),
  },
  failTimeoutMs: {
    about: '...for this long; then it is tried again',
    default: 10_000,
    check: int(1, MAX_MS),
  },
  connectTimeoutMs: {
    about: 'a connect not answered within this long counts as failed',
    default: 3000,
    check: int(1, MAX_MS),
  },
  firstByteTimeoutMs: {
    about:
      "a backend that sends no byte within this long of the client's last one, before its first, counts as failed; 0: no limit",
    default: 0,
    check: int(0, MAX_MS),
  },
  proxyProtocol: {
    about: "v1 or v2: send the client's address to each backend first (PROXY protocol); absent: no",
    check: oneOf(['v1', 'v2'] as const),
  },
  healthCheck: {
    about: 'active checks; absent: only the passive ones',
    check: (at: Place, value: unknown) => readObject(at, value, HEALTH_CHECK),
  },
} satisfies Fields;

const BACKEND = {
  address: { about: '"host:port" or "[ipv6]:port"', required: true, check: hostPort },
  weight: {
    about: "its share of the clients, against the pool's other backends",
    default: 1,
    check: int(1, 1000),
  },
} satisfies Fields;

const HEALTH_CHECK = {
  intervalMs: {
    about: 'time between two probes of a backend (each probe costs it a connection)',
    default: 2000,
    check: int(100, MAX_MS),
  },
  timeoutMs: {
    about: 'a probe not answered within this long fails',
    default: 1000,
    check: int(10, MAX_MS),
  },
  path: {
    about: 'set: an HTTP GET of this path, healthy on 2xx or 3xx; unset: a TCP connect',
    // It goes into a request line as it is: no spaces, no control characters.
    check: (at: Place, value: unknown) => {
      const path = text(at, value);
      if (!/^\/[\x21-\x7e]*$/.test(path))
        at.fail(`expected a path like "/health", got ${show(path)}`);
      return path;
    },
  },
} satisfies Fields;

// --- What the proxy gets ---------------------------------------------------------

/** Where to listen or connect: a host (a name or an IP, without brackets) and a port. */
export interface Address {
  host: string;
  port: number;
}

export interface BackendConfig extends Address {
  /** "host:port" as written, unique in its pool. */
  id: string;
  weight: number;
}

export type HealthCheckConfig = Values<typeof HEALTH_CHECK>;

export type PoolConfig = Omit<Values<typeof POOL>, 'backends'> & {
  name: string;
  backends: BackendConfig[];
};

/** routeSource: the link to Redis, and every setting of the fleet's pools but name and backends. */
export type RouteSourceConfig = Omit<Values<typeof ROUTE_SOURCE>, 'pool'> & {
  pool: Omit<PoolConfig, 'name' | 'backends'>;
};

export type ListenerConfig = Omit<Values<typeof LISTENER>, 'address'> & {
  /** The port; with `host`, on that address only. */
  port: number;
  /** Absent: every address (as nginx's `listen 8000`). */
  host?: string;
};

export type Config = Omit<Values<typeof TOP>, 'listen' | 'pools' | 'statusPort'> & {
  /** The file path, or "command line": where to point the reader of an error. */
  source: string;
  listeners: ListenerConfig[];
  pools: Record<string, PoolConfig>;
};

export const DEFAULTS = {
  idleTimeoutMs: TOP.idleTimeoutMs.default,
  shutdownTimeoutMs: TOP.shutdownTimeoutMs.default,
  maxConnections: TOP.maxConnections.default,
  healthCheck: {
    intervalMs: HEALTH_CHECK.intervalMs.default,
    timeoutMs: HEALTH_CHECK.timeoutMs.default,
  },
};

/** A mistake in the configuration. The message is one line naming the file and the field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Larger than this, a configuration file is a mistake (or an attack): it is not read. */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads and checks a JSON config file. Rejects with ConfigError.
 *
 * Asynchronous, and only a regular file, and only so much of it: a reload runs
 * while clients are served, so a FIFO put in the file's place must not hang it
 * (O_NONBLOCK: opening a FIFO would wait for a writer, and every reload queued
 * behind this one with it), and /dev/zero must not fill the memory.
 */
export async function loadConfigFile(file: string): Promise<Config> {
  let bytes: Buffer;
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new ConfigError(`${file}: not a regular file`);
      if (stat.size > MAX_FILE_BYTES) throw tooLarge(file);
      bytes = Buffer.alloc(MAX_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
      if (bytesRead > MAX_FILE_BYTES) throw tooLarge(file);
      bytes = bytes.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // "ENOENT: no such file or directory, open 'x.json'": the file name is already in front.
    const reason = (err as Error).message.replace(/, \w+( '.*')?$/, '');
    throw new ConfigError(`${file}: cannot open: ${reason}`);
  }
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const { line, column } = lineAndColumn(text, jsonErrorOffset(text, message));
    const reason = message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*$/s, '');
    throw new ConfigError(`${file}: invalid JSON at line ${line} column ${column}: ${reason}`);
  }
  return parseConfig(json, file);
}

function tooLarge(file: string): ConfigError {
  return new ConfigError(`${file}: larger than ${MAX_FILE_BYTES} bytes, not read`);
}

/** Quick start: one listener, one pool "default", every other setting at its default. */
export function configFromAddresses(listenPort: number, addresses: string[]): Config {
  const source = 'command line';
  const top = new Place(source, '');
  if (addresses.length === 0) top.at('backends').fail('none given (expected host:port)');
  const config: Config = {
    ...readObject(top, {}, TOP_SETTINGS),
    source,
    listeners: [quickListener(top, listenPort)],
    pools: {
      default: {
        ...readObject(top, {}, POOL_SETTINGS),
        name: 'default',
        backends: uniqueBackends(
          addresses.map((address, i) => {
            const at = top.at(`backend ${i + 1}`);
            return { at, ...hostPort(at, address), weight: BACKEND.weight.default };
          }),
        ),
      },
    },
  };
  checkNoLoop(top, config);
  return config;
}

/**
 * Quick start in the Go proxy's shape: `--redis URL --http PORT --https PORT`,
 * an http and a tls listener (either may be left out) routed from Redis.
 */
export function fleetConfig(redis: string, ports: { http?: number; https?: number }): Config {
  const listen = [
    ...(ports.http === undefined ? [] : [{ port: ports.http, protocol: 'http' }]),
    ...(ports.https === undefined ? [] : [{ port: ports.https, protocol: 'tls' }]),
  ];
  if (listen.length === 0)
    new Place('command line', '--redis').fail('needs --http PORT or --https PORT');
  const config = parseConfig({ listen, pools: {}, routeSource: { redis } }, 'command line');
  return config;
}

/** Checks parsed JSON and fills in the defaults. Throws ConfigError. */
export function parseConfig(json: unknown, source: string): Config {
  const top = new Place(source, '');
  try {
    return parseTop(top, json);
  } catch (err) {
    // 200,000 nested arrays: too deep for any reader, ours included. One line all the same.
    if (err instanceof RangeError) top.fail('nested too deeply');
    throw err;
  }
}

function parseTop(top: Place, json: unknown): Config {
  const { listen, pools: poolsJson, statusPort, ...settings } = readObject(top, json, TOP);
  if (statusPort !== undefined && settings.statusListen !== undefined) {
    top.at('statusPort').fail('give statusListen or statusPort, not both');
  }

  const pools: Record<string, PoolConfig> = {};
  const poolEntries = Object.entries(poolsJson);
  if (poolEntries.length === 0 && settings.routeSource === undefined) {
    top.at('pools').fail('expected at least one pool');
  }
  for (const [name, value] of poolEntries) pools[name] = parsePool(top.at('pools').at(name), value);

  const fleet = settings.routeSource !== undefined;
  const listeners = listen.map((value, i) =>
    parseListener(top.at('listen').at(i), value, pools, fleet),
  );

  const config: Config = { ...settings, source: top.source, listeners, pools };
  if (statusPort !== undefined) config.statusListen = statusPort;
  checkPortsDistinct(top, config, statusPort === undefined ? 'statusListen' : 'statusPort');
  checkNoLoop(top, config);
  return config;
}

/** Quick start's one listener: plain TCP on every address, to the pool "default". */
function quickListener(top: Place, listenPort: number): ListenerConfig {
  const port = int(0, 65535)(top.at('listen-port'), listenPort);
  const { address: _address, ...listener } = readObject(top, { port, pool: 'default' }, LISTENER);
  return { ...listener, port };
}

function parseListener(
  at: Place,
  value: unknown,
  pools: Record<string, PoolConfig>,
  fleet: boolean,
): ListenerConfig {
  const given = object(at, value);
  const { address, port, ...listener } = readObject(at, value, LISTENER);
  if ((address === undefined) === (port === undefined)) {
    at.fail('expected either "port" (every address) or "address" ("host:port")');
  }
  for (const [field, protocols] of Object.entries(ONLY_FOR)) {
    if (given[field] !== undefined && !protocols.includes(listener.protocol)) {
      at.at(field).fail(
        `only for protocol ${protocols.join(' or ')} (this listener: ${listener.protocol})`,
      );
    }
  }
  // hasOwn, not `in`: every object "has" a constructor, and "constructor" is no pool.
  const checkPool = (where: Place, name: string) => {
    if (!Object.hasOwn(pools, name)) {
      where.fail(`no pool named ${show(name)} (pools: ${Object.keys(pools).join(', ')})`);
    }
  };
  if (listener.pool !== undefined) checkPool(at.at('pool'), listener.pool);
  for (const [name, pool] of Object.entries(listener.hosts ?? {})) {
    checkPool(at.at('hosts').at(name), pool);
  }
  // In fleet mode an http or tls listener with neither takes its routes from Redis.
  const fromRedis = fleet && listener.protocol !== 'tcp';
  if (listener.pool === undefined && listener.hosts === undefined && !fromRedis) {
    at.at('pool').fail(listener.protocol === 'tcp' ? 'missing' : 'missing (or give hosts)');
  }
  if (listener.acceptProxyProtocol && listener.trustedProxies === undefined) {
    at.at('trustedProxies').fail('missing (acceptProxyProtocol takes headers from these only)');
  }
  return { ...listener, ...(address ?? { port: port as number }) };
}

function parsePool(at: Place, value: unknown): PoolConfig {
  const name = at.key;
  // Starting with a letter or digit also keeps out "__proto__", which no object can hold as a key.
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) {
    at.fail(
      'expected a name of letters, digits, "_", "." and "-", starting with a letter or digit',
    );
  }
  const { backends, ...settings } = readObject(at, value, POOL);
  const read = backends.map((item, i) => {
    const { address, weight } = readObject(at.at('backends').at(i), item, BACKEND);
    return { at: at.at('backends').at(i).at('address'), ...address, weight };
  });
  return { ...settings, name, backends: uniqueBackends(read) };
}

/**
 * The backends of one pool, refusing an address the pool already has, however
 * it is spelled: [::1] and [0:0:0:0:0:0:0:1], Example.COM and example.com.
 */
function uniqueBackends(read: (BackendConfig & { at: Place })[]): BackendConfig[] {
  const keys = read.map((backend) => `${canonicalHost(backend.host)}:${backend.port}`);
  return read.map(({ at, ...backend }, i) => {
    const twin = keys.indexOf(keys[i]);
    if (twin < i) {
      const same = read[twin].id === backend.id ? '' : ` (${read[twin].id})`;
      at.fail(`${show(backend.id)} is already backend ${twin + 1} of this pool${same}`);
    }
    return backend;
  });
}

/**
 * Two listeners (or a listener and the status endpoint) cannot share a port; 0
 * means "any free one". Listeners on different addresses may share one, but
 * not with a listener on every address.
 */
function checkPortsDistinct(top: Place, config: Config, statusField: string): void {
  const seen: { host?: string; port: number; name: string }[] = [];
  const claim = (where: { host?: string; port: number } | undefined, name: string) => {
    if (where === undefined || where.port === 0) return;
    const owner = seen.find(
      (other) =>
        other.port === where.port &&
        (other.host === undefined ||
          where.host === undefined ||
          canonicalHost(other.host) === canonicalHost(where.host)),
    );
    if (owner) top.at(name).fail(`port ${where.port} is already used by ${owner.name}`);
    seen.push({ ...where, name });
  };
  for (const [i, listener] of config.listeners.entries()) {
    claim(listener, `listen[${i}].${listener.host === undefined ? 'port' : 'address'}`);
  }
  claim(config.statusListen, statusField);
}

/**
 * A backend that is one of our own listeners would send every client round
 * the loop until the descriptors run out. Refuse a backend on a port we listen
 * on, at an address of this machine.
 */
function checkNoLoop(top: Place, config: Config): void {
  for (const [name, pool] of Object.entries(config.pools)) {
    for (const [i, backend] of pool.backends.entries()) {
      const host = canonicalHost(backend.host);
      const listener = config.listeners.find(
        (l) =>
          l.port === backend.port &&
          (isOwnAddress(host) || (l.host !== undefined && canonicalHost(l.host) === host)),
      );
      if (listener === undefined) continue;
      const at =
        config.source === 'command line'
          ? top.at(`backend ${i + 1}`)
          : top.at('pools').at(name).at('backends').at(i).at('address');
      at.fail(`${show(backend.id)} is this proxy's own listener: clients would loop`);
    }
  }
}

/** Is `host` (canonical) this machine: loopback, "any", or an interface's address? */
function isOwnAddress(host: string | undefined): boolean {
  if (host === undefined) return false;
  if (['localhost', '0.0.0.0', '::', '::1'].includes(host) || /^(::ffff:)?127\./.test(host)) {
    return true;
  }
  return Object.values(networkInterfaces()).some((entries) =>
    (entries ?? []).some((entry) => canonicalHost(entry.address) === host),
  );
}

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

/** Settings the command line may override: the top-level ones that are not lists. */
export type Overrides = Partial<Omit<Values<typeof TOP_SETTINGS>, 'statusPort'>>;

/**
 * A command-line option's text, checked by its field's own check, so an option
 * and its field in the file take the same values: `--idle-timeout 5` is
 * `"idleTimeoutMs": 5`. Throws ConfigError naming the option.
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

// The tables without their nested parts: what quick start fills in from defaults.
const { listen: _listen, pools: _pools, ...TOP_SETTINGS } = TOP;
const { backends: _backends, ...POOL_SETTINGS } = POOL;

// --- The table reader ----------------------------------------------------------

/** One field of a JSON object: what it means, how it is checked, and its default. */
interface Field<T> {
  about: string;
  check: (at: Place, value: unknown) => T;
  /** Absent from the file: an error. */
  required?: true;
  /** Absent from the file: this value. Neither required nor a default: left out. */
  default?: T;
}
type Fields = Record<string, Field<unknown>>;

/** The values a table of fields reads into. */
type Values<F extends Fields> = {
  -readonly [K in keyof F as F[K] extends { required: true } | { default: unknown }
    ? K
    : never]: ReturnType<F[K]['check']>;
} & {
  -readonly [K in keyof F as F[K] extends { required: true } | { default: unknown }
    ? never
    : K]?: ReturnType<F[K]['check']>;
};

/**
 * A JSON object read through its table: unknown keys and missing required ones
 * are errors, each present value is checked, absent ones get their default.
 */
function readObject<F extends Fields>(at: Place, value: unknown, fields: F): Values<F> {
  const json = object(at, value);
  const known = Object.keys(fields);
  for (const key of Object.keys(json)) {
    if (!known.includes(key)) at.at(key).fail(`unknown key (expected ${known.join(', ')})`);
  }
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    if (json[key] !== undefined) result[key] = field.check(at.at(key), json[key]);
    else if (field.required) at.at(key).fail('missing');
    else if (field.default !== undefined) result[key] = field.default;
  }
  return result as Values<F>;
}

// --- Small checks, each failing with the place it was asked about -------------

/** Where a value sits: the file and a path like pools.web.backends[1].weight. */
class Place {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly key = '',
  ) {}

  at(key: string | number): Place {
    if (typeof key === 'number') return new Place(this.source, `${this.path}[${key}]`, String(key));
    // A key comes from the file: escaped, so a newline or a terminal escape in it cannot forge a log line.
    const shown = printable(key, 40);
    return new Place(this.source, this.path ? `${this.path}.${shown}` : shown, key);
  }

  fail(problem: string): never {
    throw new ConfigError(`${this.source}: ${this.path || 'top level'}: ${problem}`);
  }
}

/** A JSON object (not an array, not null). */
function object(at: Place, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    at.fail(`expected an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A non-empty JSON array. */
function list(at: Place, value: unknown): unknown[] {
  if (!Array.isArray(value) || value.length === 0)
    at.fail(`expected a list of at least one, got ${show(value)}`);
  return value;
}

function text(at: Place, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    at.fail(`expected a non-empty string, got ${show(value)}`);
  return value;
}

/** An integer from min to max. (-0 is not 0: JSON can spell it, and it is a typo.) */
function int(min: number, max: number) {
  return (at: Place, value: unknown): number => {
    if (
      !Number.isInteger(value) ||
      Object.is(value, -0) ||
      (value as number) < min ||
      (value as number) > max
    ) {
      at.fail(`expected an integer from ${min} to ${max}, got ${show(value)}`);
    }
    return value as number;
  };
}

/** routeSource: where the fleet's routes are, and the settings of the pools built from them. */
function routeSource(at: Place, value: unknown): RouteSourceConfig {
  const { pool, ...link } = readObject(at, value, ROUTE_SOURCE);
  return { ...link, pool: readObject(at.at('pool'), pool ?? {}, POOL_SETTINGS) };
}

const ROUTE_SOURCE = {
  redis: {
    about: 'redis://[user:password@]host:port[/db]',
    required: true,
    // The route table's own reading of it (redis-routes.ts), so what passes here works there.
    check: (at: Place, value: unknown) => {
      const url = text(at, value);
      if (parseRedisUrl(url) === undefined)
        at.fail(`expected redis://host:port[/db], got ${show(url)}`);
      return url;
    },
  },
  keyPrefix: {
    about: 'keys are <keyPrefix><host>:backends, as the Go proxy had them',
    default: 'hostnames:',
    check: text,
  },
  pingIntervalMs: {
    about: 'how often each connection to Redis sends PING, to notice a link that went silent',
    default: 2000,
    check: int(100, MAX_MS),
  },
  pingTimeoutMs: {
    about: 'a PING unanswered this long: the link is silent, and its connections are made again',
    default: 2000,
    check: int(100, MAX_MS),
  },
  pool: {
    about: 'the settings of every pool built from Redis (strategy, health, PROXY protocol...)',
    check: (at: Place, value: unknown) => object(at, value),
  },
} satisfies Fields;

/** A host-to-pool table: names checked by the host table's own rule (hosts.ts). */
function hostRoutes(at: Place, value: unknown): Record<string, string> {
  const routes: Record<string, string> = {};
  const entries = Object.entries(object(at, value));
  if (entries.length === 0) at.fail('expected at least one name');
  for (const [name, pool] of entries) {
    const problem = hostKeyProblem(name);
    if (problem !== undefined) at.at(name).fail(problem);
    routes[name] = text(at.at(name), pool);
  }
  return routes;
}

/** "10.0.0.0/8", "::1/128", or an address alone (all of its bits). */
function cidr(at: Place, value: unknown): string {
  const match = typeof value === 'string' ? /^([^/]+)(?:\/(\d{1,3}))?$/.exec(value) : null;
  const family = match ? isIP(match[1]) : 0;
  const bits = match?.[2] === undefined ? (family === 6 ? 128 : 32) : Number(match[2]);
  if (!match || family === 0 || bits > (family === 6 ? 128 : 32)) {
    at.fail(`expected an address or "address/bits", got ${show(value)}`);
  }
  return `${match[1]}/${bits}`;
}

function boolean(at: Place, value: unknown): boolean {
  if (typeof value !== 'boolean') at.fail(`expected true or false, got ${show(value)}`);
  return value;
}

/**
 * Where to listen: "host:port", "[ipv6]:port", or (with a default host) a port
 * alone, as a number or as digits. Port 0: any free one.
 */
function listenAddress(at: Place, value: unknown, defaultHost?: string): Address {
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

/**
 * "host:port" or "[ipv6]:port" into its parts, the host as written, as every
 * address is read (ip.ts readHostPort); here the port is required.
 */
function hostAndPort(text: string): Address | undefined {
  const read = readHostPort(text);
  return read?.port === undefined ? undefined : { host: read.host, port: read.port };
}

/** A port number; `min` is 0 where 0 means "any free one". */
function port(min: 0 | 1) {
  return int(min, 65535);
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (at: Place, value: unknown): T => {
    if (!choices.includes(value as T)) {
      at.fail(`expected one of ${choices.join(', ')}, got ${show(value)}`);
    }
    return value as T;
  };
}

/** "host:port" or "[ipv6]:port". */
function hostPort(at: Place, value: unknown): Omit<BackendConfig, 'weight'> {
  const parsed = typeof value === 'string' ? hostAndPort(value) : undefined;
  if (!parsed || parsed.port < 1 || parsed.port > 65535) {
    at.fail(`expected "host:port", got ${show(value)}`);
  }
  return { id: value as string, ...parsed };
}

/** A value as it would appear in the file, cut short so the message stays one line. */
function show(value: unknown): string {
  let shown: string;
  try {
    shown =
      value === undefined
        ? 'nothing'
        : typeof value === 'number'
          ? Object.is(value, -0)
            ? '-0'
            : String(value)
          : JSON.stringify(value);
  } catch {
    shown = Array.isArray(value) ? '[...]' : '{...}'; // too deep to write out
  }
  return printable(shown.length > 40 ? `${shown.slice(0, 37)}...` : shown);
}

// --- Where a JSON syntax error is -------------------------------------------

/**
 * The offset of a JSON.parse error. Node 20 gives "at position N" for most
 * errors, but for an unexpected token it quotes the text instead. Then we look
 * for the shortest prefix of the text that already fails for a reason other
 * than running out of input: its last character is the culprit.
 */
function jsonErrorOffset(text: string, message: string): number {
  const at = /at position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  if (message.includes('Unexpected end of JSON input')) return text.length;
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (brokenBeforeEnd(text.slice(0, middle))) high = middle;
    else low = middle + 1;
  }
  return high - 1;
}

function brokenBeforeEnd(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return false;
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    if (at) return Number(at[1]) < prefix.length;
    return !message.includes('Unexpected end of JSON input');
  }
}

/** 1-based line and column of an offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

/**
 * The parts of a Redis URL the route table (redis-routes.ts) needs: the URL
 * without its credentials, for log lines, and the database number, for the
 * notification channels.
 * undefined when it is not redis://[user:password@]host:port[/db] (rediss://
 * too). routeSource.redis is checked with this, so a URL that passes here is
 * one the table can use. (Here, not in redis-routes.ts: reading a
 * configuration does not load the Redis client.)
 */
export function parseRedisUrl(url: string): { shown: string; database: number } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const database = parsed.pathname.replace(/^\//, '');
  if (
    (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') ||
    !/^\d{0,5}$/.test(database)
  ) {
    return undefined;
  }
  // Never the password: this goes into log lines.
  const shown = `${parsed.protocol}//${parsed.host}${database === '' ? '' : `/${database}`}`;
  return { shown, database: Number(database || 0) };
}
