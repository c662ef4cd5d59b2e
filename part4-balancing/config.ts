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
 * BACKEND, HEALTH_CHECK): what it means, how it is checked, and its default.
 * The reader that walks a file, readObject(), takes nothing else. Everything is
 * checked when the file is loaded, so a mistake stops the proxy (or a reload)
 * before it serves anything, with one line that names the file and the field:
 * `example.config.json: pools.web.backends[1].weight: expected an integer from
 * 1 to 1000, got 0`. Unknown keys are errors too: they are usually typos
 * ("maxFail"), and a silently ignored setting is worse than a refusal.
 *
 * What it leaves out: routing by Host header or TLS SNI, the PROXY protocol, and
 * routes from Redis; a listener only names its pool.
 */
import { readFileSync } from 'node:fs';
import { STRATEGY_NAMES, type StrategyName } from './strategies/index.ts';

// Longer than a day is a typo; setTimeout also misbehaves past 2^31 ms.
const MAX_MS = 86_400_000;

// --- The fields, each described once -------------------------------------------

const TOP = {
  listen: {
    about: 'the listening ports, each naming the pool its clients go to',
    required: true,
    check: list,
  },
  pools: {
    about: 'the pools of backends, by name',
    required: true,
    check: (at: Place, value: unknown) => object(at, value),
  },
  statusPort: {
    about: 'a port for the JSON status endpoint; absent: none',
    check: int(0, 65535),
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
  port: { about: 'the port to accept clients on; 0: any free one', required: true, check: port(0) },
  pool: { about: 'the pool its clients go to', required: true, check: text },
} satisfies Fields;

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
    about: 'failed connects within failTimeoutMs that take a backend out...',
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
    about: 'time between two probes of a backend',
    default: 2000,
    check: int(1, MAX_MS),
  },
  timeoutMs: {
    about: 'a probe not answered within this long fails',
    default: 1000,
    check: int(1, MAX_MS),
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

export interface BackendConfig {
  /** "host:port" as written, unique in its pool. */
  id: string;
  host: string;
  port: number;
  weight: number;
}

export type HealthCheckConfig = Values<typeof HEALTH_CHECK>;

export type PoolConfig = Omit<Values<typeof POOL>, 'backends'> & {
  name: string;
  backends: BackendConfig[];
};

export type ListenerConfig = Values<typeof LISTENER>;

export type Config = Omit<Values<typeof TOP>, 'listen' | 'pools'> & {
  /** The file path, or "command line": where to point the reader of an error. */
  source: string;
  listeners: ListenerConfig[];
  pools: Record<string, PoolConfig>;
};

export const DEFAULTS = {
  idleTimeoutMs: TOP.idleTimeoutMs.default,
  shutdownTimeoutMs: TOP.shutdownTimeoutMs.default,
  healthCheck: {
    intervalMs: HEALTH_CHECK.intervalMs.default,
    timeoutMs: HEALTH_CHECK.timeoutMs.default,
  },
};

/** A mistake in the configuration. The message is one line naming the file and the field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and checks a JSON config file. Throws ConfigError. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // "ENOENT: no such file or directory, open 'x.json'": the file name is already in front.
    const reason = (err as Error).message.replace(/, \w+( '.*')?$/, '');
    throw new ConfigError(`${file}: cannot open: ${reason}`);
  }
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

/** Quick start: one listener, one pool "default", every other setting at its default. */
export function configFromAddresses(listenPort: number, addresses: string[]): Config {
  const source = 'command line';
  const top = new Place(source, '');
  if (addresses.length === 0) top.at('backends').fail('none given (expected host:port)');
  return {
    ...readObject(top, {}, TOP_SETTINGS),
    source,
    listeners: [{ port: port(0)(top.at('listen-port'), listenPort), pool: 'default' }],
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
}

/** Checks parsed JSON and fills in the defaults. Throws ConfigError. */
export function parseConfig(json: unknown, source: string): Config {
  const top = new Place(source, '');
  const { listen, pools: poolsJson, ...settings } = readObject(top, json, TOP);

  const pools: Record<string, PoolConfig> = {};
  const poolEntries = Object.entries(poolsJson);
  if (poolEntries.length === 0) top.at('pools').fail('expected at least one pool');
  for (const [name, value] of poolEntries) pools[name] = parsePool(top.at('pools').at(name), value);

  const listeners = listen.map((value, i) => {
    const at = top.at('listen').at(i);
    const listener = readObject(at, value, LISTENER);
    // hasOwn, not `in`: every object "has" a constructor, and "constructor" is no pool.
    if (!Object.hasOwn(pools, listener.pool)) {
      at.at('pool').fail(
        `no pool named ${show(listener.pool)} (pools: ${Object.keys(pools).join(', ')})`,
      );
    }
    return listener;
  });

  const config: Config = { ...settings, source, listeners, pools };
  checkPortsDistinct(top, config);
  return config;
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

/** The backends of one pool, refusing an address the pool already has. */
function uniqueBackends(read: (BackendConfig & { at: Place })[]): BackendConfig[] {
  return read.map(({ at, ...backend }, i) => {
    const twin = read.findIndex((other) => other.id === backend.id);
    if (twin < i) at.fail(`${show(backend.id)} is already backend ${twin + 1} of this pool`);
    return backend;
  });
}

/** Two listeners (or a listener and the status endpoint) cannot share a port; 0 means "any free one". */
function checkPortsDistinct(top: Place, config: Config): void {
  const seen = new Map<number, string>();
  const claim = (port: number | undefined, name: string) => {
    if (port === undefined || port === 0) return;
    const owner = seen.get(port);
    if (owner !== undefined) top.at(name).fail(`port ${port} is already used by ${owner}`);
    seen.set(port, name);
  };
  for (const [i, listener] of config.listeners.entries()) claim(listener.port, `listen[${i}].port`);
  claim(config.statusPort, 'statusPort');
}

/** Settings the command line may override: the top-level ones that are not lists. */
export type Overrides = Partial<Values<typeof TOP_SETTINGS>>;

/**
 * A command-line option's text, checked by its field's own check, so an option
 * and its field in the file take the same values: `--idle-timeout 5` is
 * `"idleTimeoutMs": 5`. Throws ConfigError naming the option.
 */
export function overrideFromText(
  option: string,
  field: keyof typeof TOP_SETTINGS,
  text: string,
): Overrides {
  // Digits are a number; anything else is checked as the string it is, and refused.
  const value = /^\d+$/.test(text) ? Number(text) : text;
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
    return new Place(this.source, this.path ? `${this.path}.${key}` : key, key);
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

/** An integer from min to max. */
function int(min: number, max: number) {
  return (at: Place, value: unknown): number => {
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      at.fail(`expected an integer from ${min} to ${max}, got ${show(value)}`);
    }
    return value as number;
  };
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
  const match =
    typeof value === 'string'
      ? /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value)
      : null;
  const number = Number(match?.[3]);
  if (!match || number < 1 || number > 65535) at.fail(`expected "host:port", got ${show(value)}`);
  return { id: value as string, host: match[1] ?? match[2], port: number };
}

/** A value as it would appear in the file, cut short so the message stays one line. */
function show(value: unknown): string {
  const shown =
    value === undefined
      ? 'nothing'
      : typeof value === 'number'
        ? String(value)
        : JSON.stringify(value);
  return shown.length > 40 ? `${shown.slice(0, 37)}...` : shown;
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
