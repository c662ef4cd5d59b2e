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
 * Everything is checked when the file is loaded, so a mistake stops the proxy
 * (or a reload) before it serves anything, with one line that names the file and
 * the field: `example.config.json: pools.web.backends[1].weight: expected an
 * integer from 1 to 1000, got 0`. Unknown keys are errors too: they are usually
 * typos ("maxFail"), and a silently ignored setting is worse than a refusal.
 * What is left out gets its default (DEFAULTS below).
 *
 * What it leaves out: routing by Host header or TLS SNI, the PROXY protocol, and
 * routes from Redis; a listener only names its pool.
 */
import { readFileSync } from 'node:fs';
import { STRATEGY_NAMES, type StrategyName } from './strategies/index.ts';

export interface BackendConfig {
  /** "host:port" as written, unique in its pool. */
  id: string;
  host: string;
  port: number;
  weight: number;
}

export interface HealthCheckConfig {
  intervalMs: number;
  timeoutMs: number;
  /** Set: an HTTP GET of this path, healthy on a 2xx or 3xx status. Unset: a TCP connect probe. */
  path?: string;
}

export interface PoolConfig {
  name: string;
  strategy: StrategyName;
  backends: BackendConfig[];
  /** Failed connects (refused or timed out) within failTimeoutMs that take a backend out... */
  maxFails: number;
  /** ...for this long; then it is tried again. */
  failTimeoutMs: number;
  connectTimeoutMs: number;
  /** Absent: no active checks, only the passive ones above. */
  healthCheck?: HealthCheckConfig;
}

export interface ListenerConfig {
  port: number;
  pool: string;
}

export interface Config {
  /** The file path, or "command line": where to point the reader of an error. */
  source: string;
  listeners: ListenerConfig[];
  pools: Record<string, PoolConfig>;
  statusPort?: number;
  idleTimeoutMs: number;
  shutdownTimeoutMs: number;
}

export const DEFAULTS = {
  idleTimeoutMs: 60_000,
  shutdownTimeoutMs: 10_000,
  strategy: 'round-robin' as StrategyName,
  weight: 1,
  maxFails: 1,
  failTimeoutMs: 10_000,
  connectTimeoutMs: 3000,
  healthCheck: { intervalMs: 2000, timeoutMs: 1000 },
};

/** A mistake in the configuration. The message is one line naming the file and the field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

// Longer than a day is a typo; setTimeout also misbehaves past 2^31 ms.
const MAX_MS = 86_400_000;
const MAX_WEIGHT = 1000;

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

/** Quick start: one listener, one pool "default", round robin, weight 1, default health settings. */
export function configFromAddresses(listenPort: number, addresses: string[]): Config {
  const source = 'command line';
  const port = integer(new Place(source, 'listen-port'), listenPort, 0, 65535);
  if (addresses.length === 0) new Place(source, 'backends').fail('none given (expected host:port)');
  const backends: BackendConfig[] = [];
  for (const [i, address] of addresses.entries()) {
    backends.push(
      backendAt(new Place(source, `backend ${i + 1}`), address, DEFAULTS.weight, backends),
    );
  }
  return {
    source,
    listeners: [{ port, pool: 'default' }],
    pools: { default: { ...poolDefaults('default'), backends } },
    idleTimeoutMs: DEFAULTS.idleTimeoutMs,
    shutdownTimeoutMs: DEFAULTS.shutdownTimeoutMs,
  };
}

/** Checks parsed JSON and fills in the defaults. Throws ConfigError. */
export function parseConfig(json: unknown, source: string): Config {
  const top = new Place(source, '');
  const fields = object(top, json, {
    required: ['listen', 'pools'],
    optional: ['statusPort', 'idleTimeoutMs', 'shutdownTimeoutMs'],
  });

  const pools: Record<string, PoolConfig> = {};
  const poolEntries = Object.entries(object(top.at('pools'), fields.pools));
  if (poolEntries.length === 0) top.at('pools').fail('expected at least one pool');
  for (const [name, value] of poolEntries) pools[name] = parsePool(top.at('pools').at(name), value);

  const listenAt = top.at('listen');
  const listeners = list(listenAt, fields.listen).map((value, i) =>
    parseListener(listenAt.at(i), value, pools),
  );

  const config: Config = {
    source,
    listeners,
    pools,
    idleTimeoutMs: integer(
      top.at('idleTimeoutMs'),
      fields.idleTimeoutMs,
      0, // 0 turns the idle timeout off, as --idle-timeout 0 does
      MAX_MS,
      DEFAULTS.idleTimeoutMs,
    ),
    shutdownTimeoutMs: integer(
      top.at('shutdownTimeoutMs'),
      fields.shutdownTimeoutMs,
      0,
      MAX_MS,
      DEFAULTS.shutdownTimeoutMs,
    ),
  };
  if (fields.statusPort !== undefined) {
    config.statusPort = integer(top.at('statusPort'), fields.statusPort, 0, 65535);
  }
  checkPortsDistinct(top, config);
  return config;
}

function parseListener(
  at: Place,
  value: unknown,
  pools: Record<string, PoolConfig>,
): ListenerConfig {
  const fields = object(at, value, { required: ['port', 'pool'] });
  const pool = text(at.at('pool'), fields.pool);
  // hasOwn, not `in`: every object "has" a constructor, and "constructor" is no pool.
  if (!Object.hasOwn(pools, pool)) {
    at.at('pool').fail(`no pool named ${show(pool)} (pools: ${Object.keys(pools).join(', ')})`);
  }
  return { port: integer(at.at('port'), fields.port, 0, 65535), pool };
}

function parsePool(at: Place, value: unknown): PoolConfig {
  const name = at.key;
  // Starting with a letter or digit also keeps out "__proto__", which no object can hold as a key.
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) {
    at.fail(
      'expected a name of letters, digits, "_", "." and "-", starting with a letter or digit',
    );
  }
  const fields = object(at, value, {
    required: ['backends'],
    optional: ['strategy', 'maxFails', 'failTimeoutMs', 'connectTimeoutMs', 'healthCheck'],
  });
  const defaults = poolDefaults(name);
  const strategy = fields.strategy ?? defaults.strategy;
  if (!STRATEGY_NAMES.includes(strategy as StrategyName)) {
    at.at('strategy').fail(`expected one of ${STRATEGY_NAMES.join(', ')}, got ${show(strategy)}`);
  }

  const backends: BackendConfig[] = [];
  const backendsAt = at.at('backends');
  list(backendsAt, fields.backends).forEach((item, i) => {
    const entry = object(backendsAt.at(i), item, { required: ['address'], optional: ['weight'] });
    const weight = integer(
      backendsAt.at(i).at('weight'),
      entry.weight,
      1,
      MAX_WEIGHT,
      DEFAULTS.weight,
    );
    backends.push(backendAt(backendsAt.at(i).at('address'), entry.address, weight, backends));
  });

  const pool: PoolConfig = {
    name,
    strategy: strategy as StrategyName,
    backends,
    maxFails: integer(at.at('maxFails'), fields.maxFails, 1, 1000, defaults.maxFails),
    failTimeoutMs: integer(
      at.at('failTimeoutMs'),
      fields.failTimeoutMs,
      1,
      MAX_MS,
      defaults.failTimeoutMs,
    ),
    connectTimeoutMs: integer(
      at.at('connectTimeoutMs'),
      fields.connectTimeoutMs,
      1,
      MAX_MS,
      defaults.connectTimeoutMs,
    ),
  };
  if (fields.healthCheck !== undefined) {
    pool.healthCheck = parseHealthCheck(at.at('healthCheck'), fields.healthCheck);
  }
  return pool;
}

function parseHealthCheck(at: Place, value: unknown): HealthCheckConfig {
  const fields = object(at, value, { optional: ['intervalMs', 'timeoutMs', 'path'] });
  const check: HealthCheckConfig = {
    intervalMs: integer(
      at.at('intervalMs'),
      fields.intervalMs,
      1,
      MAX_MS,
      DEFAULTS.healthCheck.intervalMs,
    ),
    timeoutMs: integer(
      at.at('timeoutMs'),
      fields.timeoutMs,
      1,
      MAX_MS,
      DEFAULTS.healthCheck.timeoutMs,
    ),
  };
  if (fields.path !== undefined) {
    // It goes into a request line as it is: no spaces, no control characters.
    const path = text(at.at('path'), fields.path);
    if (!/^\/[\x21-\x7e]*$/.test(path))
      at.at('path').fail(`expected a path like "/health", got ${show(path)}`);
    check.path = path;
  }
  return check;
}

function poolDefaults(name: string): Omit<PoolConfig, 'backends'> {
  const { strategy, maxFails, failTimeoutMs, connectTimeoutMs } = DEFAULTS;
  return { name, strategy, maxFails, failTimeoutMs, connectTimeoutMs };
}

/** "host:port" or "[ipv6]:port" into a backend, refusing an address the pool already has. */
function backendAt(
  at: Place,
  value: unknown,
  weight: number,
  others: BackendConfig[],
): BackendConfig {
  const match =
    typeof value === 'string'
      ? /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value)
      : null;
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) at.fail(`expected "host:port", got ${show(value)}`);
  const id = value as string;
  const twin = others.findIndex((other) => other.id === id);
  if (twin >= 0) at.fail(`${show(id)} is already backend ${twin + 1} of this pool`);
  return { id, host: match[1] ?? match[2], port, weight };
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

/** A JSON object whose keys are all known and whose required keys are all there. */
function object(
  at: Place,
  value: unknown,
  keys?: { required?: string[]; optional?: string[] },
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    at.fail(`expected an object, got ${show(value)}`);
  }
  const fields = value as Record<string, unknown>;
  if (keys === undefined) return fields;
  const known = [...(keys.required ?? []), ...(keys.optional ?? [])];
  for (const key of Object.keys(fields)) {
    if (!known.includes(key)) at.at(key).fail(`unknown key (expected ${known.join(', ')})`);
  }
  for (const key of keys.required ?? []) {
    if (fields[key] === undefined) at.at(key).fail('missing');
  }
  return fields;
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

/** An integer from min to max; `fallback` when the key is absent. */
function integer(at: Place, value: unknown, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    at.fail(`expected an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value as number;
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
