/**
 * The command line: where the configuration comes from, and which settings the
 * command line overrides. Nothing here runs at import time; proxy.ts calls
 * readCommandLine() when it is started as a program.
 *
 *   proxy.ts [listen-port] host:port [host:port ...]     quick start: round robin over these
 *   proxy.ts --config FILE                               everything else //> 4.3
 *   proxy.ts --redis URL [--http PORT] [--https PORT]    fleet mode: routes from Redis //> 4.7
 *   proxy.ts --redis-sentinel HOST:PORT[,...] --redis-master NAME [--http PORT] ...   through Sentinel //> 4.9
 *   proxy.ts [listen-port] host:port ... --router FILE   quick start, a module routes each client //> 4.8
 *
 * An option that overrides a field of the configuration is checked by that
 * field's own check (config.ts), so `--idle-timeout` accepts what
 * `idleTimeoutMs` does and refuses the rest with the same words.
 *
 * What it leaves out: every other setting (the strategy, the weights, ...):
 * quick start takes their defaults.
 */
import { parseArgs } from 'node:util';
import { type Config, configFromAddresses, type Overrides, overrideFromText } from './config.ts';
import { checkQuickStart } from './config/checks.ts'; //> 4.3
import { parseConfig } from './config/parse.ts'; //> 4.7
import { Place } from './fields.ts'; //> 4.7
import { LISTENER } from './config.ts'; //> 4.8

export const USAGE = [
  'usage: proxy.ts [listen-port] host:port [host:port ...]',
  '       proxy.ts --config FILE', //> 4.3
  '       proxy.ts --redis redis://HOST:PORT [--http PORT] [--https PORT]', //> 4.7
  '       proxy.ts --redis-sentinel HOST:PORT[,HOST:PORT...] --redis-master NAME [--http PORT] [--https PORT]', //> 4.9
  '  options: --idle-timeout MS  --verbose',
  '           --max-connections N', //> 4.3
  '           --status-port [HOST:]PORT', //> 4.6
  '           --workers N|auto', //> 4.7
  '           --router FILE  (quick start: a module routes each client)', //> 4.8
].join('\n');

/** What the command line says. */
export interface CommandLine {
  //> 4.3
  /** The configuration file; undefined in quick-start mode (nothing to reload). */
  file?: string;
  //< 4.3
  /** The quick-start configuration, built from the command line. */
  quickStart?: Config;
  /** Settings given as options: they win over the configuration's. */
  overrides: Overrides;
}

/** Each option that overrides a field of the configuration, and that field. */
const OVERRIDES = {
  'status-port': 'statusListen', //> 4.6
  'idle-timeout': 'idleTimeoutMs',
  'max-connections': 'maxConnections', //> 4.3
  workers: 'workers', //> 4.7
} as const;

/** Reads argv (without node and the script). A mistake exits 2 with one line and the usage. */
export function readCommandLine(argv: string[]): CommandLine {
  try {
    return parseCommandLine(argv);
  } catch (err) {
    return fail((err as Error).message.split('\n')[0], 2);
  }
}

function parseCommandLine(argv: string[]): CommandLine {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' }, //> 4.3
      //> 4.7
      redis: { type: 'string' },
      http: { type: 'string' },
      https: { type: 'string' },
      //< 4.7
      'redis-sentinel': { type: 'string' }, //> 4.9
      'redis-master': { type: 'string' }, //> 4.9
      router: { type: 'string' }, //> 4.8
      help: { type: 'boolean', short: 'h' },
      verbose: { type: 'boolean' },
      ...Object.fromEntries(Object.keys(OVERRIDES).map((name) => [name, { type: 'string' }])),
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const overrides: Overrides = {};
  for (const [option, field] of Object.entries(OVERRIDES)) {
    const text = (values as Record<string, unknown>)[option];
    if (typeof text === 'string')
      Object.assign(overrides, overrideFromText(`--${option}`, field, text));
  }
  if (values.verbose) Object.assign(overrides, overrideFromText('--verbose', 'verbose', true));
  //> 4.8
  if (values.router !== undefined && (values.config !== undefined || values.redis !== undefined)) {
    throw new Error('--router goes with the quick start (in a file: a listener\'s "router")');
  }
  //< 4.8
  //> 4.7
  const port = (option: 'http' | 'https') => {
    const text = values[option];
    if (typeof text !== 'string') return undefined;
    if (!/^\d+$/.test(text) || Number(text) > 65535) {
      throw new Error(`--${option} must be a port from 0 to 65535, got "${text}"`);
    }
    return Number(text);
  };
  //> 4.9
  const sentinel = values['redis-sentinel'];
  const master = values['redis-master'];
  if (sentinel !== undefined || master !== undefined) {
    if (typeof sentinel !== 'string' || typeof master !== 'string')
      throw new Error('--redis-sentinel and --redis-master go together');
    if (values.redis !== undefined || values.router !== undefined)
      throw new Error('--redis-sentinel takes no --redis or --router');
    if (values.config !== undefined || positionals.length > 0)
      throw new Error('--redis-sentinel takes no --config, listen port or backends');
    const ports = { http: port('http'), https: port('https') };
    return { quickStart: fleetConfig({ sentinel, master }, ports, '--redis-sentinel'), overrides };
  }
  //< 4.9
  if (typeof values.redis === 'string') {
    if (values.config !== undefined || positionals.length > 0) {
      throw new Error('--redis takes no --config, listen port or backends');
    }
    return {
      quickStart: fleetConfig(
        { redis: values.redis },
        { http: port('http'), https: port('https') },
      ),
      overrides,
    };
  }
  if (values.http !== undefined || values.https !== undefined)
    throw new Error('--http and --https go with --redis');
  //< 4.7
  //> 4.3
  if (typeof values.config === 'string') {
    if (positionals.length > 0) throw new Error('--config takes no listen port or backends');
    return { file: values.config, overrides };
  }
  //< 4.3
  const listenPort = /^\d+$/.test(positionals[0] ?? '') ? Number(positionals.shift()) : 8000;
  if (positionals.length === 0) throw new Error('no backend given (host:port)');
  const quickStart = configFromAddresses(listenPort, positionals);
  checkQuickStart(quickStart); //> 4.3
  //> 4.8
  if (typeof values.router === 'string') {
    const at = new Place('command line', '--router');
    quickStart.listeners[0].router = LISTENER.router.check(at, values.router);
  }
  //< 4.8
  return { quickStart, overrides };
}

//> 4.7
/**
 * Fleet mode's quick start, in the Go proxy's shape: `--redis URL --http PORT
 * --https PORT`, an http and a tls listener (either may be left out) routed
 * from Redis, every other setting at its default.
 */
function fleetConfig(
  routeSource: Record<string, string>,
  ports: { http?: number; https?: number },
  option = '--redis',
): Config {
  const listen = [
    ...(ports.http === undefined ? [] : [{ port: ports.http, protocol: 'http' }]),
    ...(ports.https === undefined ? [] : [{ port: ports.https, protocol: 'tls' }]),
  ];
  if (listen.length === 0) {
    new Place('command line', option).fail('needs --http PORT or --https PORT');
  }
  return parseConfig({ listen, pools: {}, routeSource }, 'command line');
}
//< 4.7

/** One clear line (plus the usage for command-line errors) and an exit code. Never a stack trace. */
export function fail(message: string, code: number): never {
  console.error(`proxy.ts: ${message}`);
  if (code === 2) console.error(USAGE);
  process.exit(code);
}
