/**
 * How a field of the configuration is described, checked and defaulted, and
 * the one reader that walks a JSON object through a table of fields. Every
 * table is made of these: config.ts's top level and listener, pools/fields.ts's
 * pool and backend, and the fields a later chapter adds beside its code.
 *
 *   weight: {
 *     about: "its share of the clients, against the pool's other backends",
 *     default: 1,
 *     check: int(1, 1000),
 *   },
 *
 * A check fails through the Place it was asked about, so every mistake is one
 * line that names where it was made and the field: `command line: backend 2:
 * expected "host:port", got "127.0.0.1"`.
//> 4.3
 * In a file: `example.config.json: pools.web.backends[1].weight: expected an
 * integer from 1 to 1000, got 0`.
//< 4.3
 * The small checks the tables share are here too: integers in a range, text,
 * one of a few words, a backend's address ("host:port").
 *
 * What it leaves out: the tables themselves, and what no single field can check.
 * That is config/parse.ts's (a listener's pool must exist) and config/checks.ts's. //> 4.3
 */
import { readHostPort } from './ip.ts';
import { printable } from './log.ts';

// Longer than a day is a typo; setTimeout also misbehaves past 2^31 ms.
export const MAX_MS = 86_400_000;

/** Where to listen or connect: a host (a name or an IP, without brackets) and a port. */
export interface Address {
  host: string;
  port: number;
}

/** A mistake in the configuration. The message is one line naming where it is and the field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

// --- The table reader ----------------------------------------------------------

/** One field of a JSON object: what it means, how it is checked, and its default. */
interface Field<T> {
  about: string;
  check: (at: Place, value: unknown) => T;
  /** Absent: an error. */
  required?: true;
  /** Absent: this value. Neither required nor a default: left out. */
  default?: T;
}
export type Fields = Record<string, Field<unknown>>;

/** The values a table of fields reads into. */
export type Values<F extends Fields> = {
  -readonly [K in keyof F as F[K] extends { required: true } | { default: unknown }
    ? K
    : never]: ReturnType<F[K]['check']>;
} & {
  -readonly [K in keyof F as F[K] extends { required: true } | { default: unknown }
    ? never
    : K]?: ReturnType<F[K]['check']>;
};

/**
 * A JSON object read through its table: each present value is checked, absent
 * ones get their default, and a missing required one is an error.
 * So is an unknown key: in a file, it is usually a typo. //> 4.3
 */
export function readObject<F extends Fields>(at: Place, value: unknown, fields: F): Values<F> {
  const json = object(at, value);
  //> 4.3
  const known = Object.keys(fields);
  for (const key of Object.keys(json)) {
    if (!known.includes(key)) at.at(key).fail(`unknown key (expected ${known.join(', ')})`);
  }
  //< 4.3
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    if (json[key] !== undefined) result[key] = field.check(at.at(key), json[key]);
    else if (field.required) at.at(key).fail('missing');
    else if (field.default !== undefined) result[key] = field.default;
  }
  return result as Values<F>;
}

// --- Small checks, each failing with the place it was asked about -------------

/** Where a value sits: its source, and its path there, for the one line of an error. */
export class Place {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly key = '',
  ) {}

  at(key: string | number): Place {
    if (typeof key === 'number') return new Place(this.source, `${this.path}[${key}]`, String(key));
    // A key may come from a file: escaped, so a newline or a terminal escape in it cannot forge a log line.
    const shown = printable(key, 40);
    return new Place(this.source, this.path ? `${this.path}.${shown}` : shown, key);
  }

  fail(problem: string): never {
    throw new ConfigError(`${this.source}: ${this.path || 'top level'}: ${problem}`);
  }
}

/** A JSON object (not an array, not null). */
export function object(at: Place, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    at.fail(`expected an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}
//> 4.3

/** A non-empty JSON array. */
export function list(at: Place, value: unknown): unknown[] {
  if (!Array.isArray(value) || value.length === 0)
    at.fail(`expected a list of at least one, got ${show(value)}`);
  return value;
}
//< 4.3

export function text(at: Place, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    at.fail(`expected a non-empty string, got ${show(value)}`);
  return value;
}

/** An integer from min to max. (-0 is not 0: JSON can spell it, and it is a typo.) */
export function int(min: number, max: number) {
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

export function boolean(at: Place, value: unknown): boolean {
  if (typeof value !== 'boolean') at.fail(`expected true or false, got ${show(value)}`);
  return value;
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (at: Place, value: unknown): T => {
    if (!choices.includes(value as T)) {
      at.fail(`expected one of ${choices.join(', ')}, got ${show(value)}`);
    }
    return value as T;
  };
}

/** A port number; `min` is 0 where 0 means "any free one". */
export function port(min: 0 | 1) {
  return int(min, 65535);
}

/** A backend's "host:port" or "[ipv6]:port"; `id` is the address as written. */
export function hostPort(at: Place, value: unknown): Address & { id: string } {
  const parsed = typeof value === 'string' ? hostAndPort(value) : undefined;
  if (!parsed || parsed.port < 1 || parsed.port > 65535) {
    at.fail(`expected "host:port", got ${show(value)}`);
  }
  return { id: value as string, ...parsed };
}

/**
 * "host:port" or "[ipv6]:port" into its parts, the host as written, as every
 * address is read (ip.ts readHostPort); here the port is required.
 */
function hostAndPort(text: string): Address | undefined {
  const read = readHostPort(text);
  return read?.port === undefined ? undefined : { host: read.host, port: read.port };
}

/** A value as JSON would write it, cut short so the message stays one line. */
export function show(value: unknown): string {
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

//> 4.3
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
//< 4.3
