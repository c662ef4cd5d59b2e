/**
 * part4-balancing: a load balancer. Part 3's proxy, with pools of backends in
 * front of its relay.
 *
 *   proxy.ts [listen-port] host:port [host:port ...]     round robin over these backends
 *   proxy.ts --config FILE                               listeners, pools, strategies, health
 *   options: --status-port N  --idle-timeout MS
 *
 * One client, top to bottom:
 *
 *   accept (paused: its bytes wait in the kernel)
 *     └─▶ the listener's pool connects to a backend   pool.ts (strategy, retry), health.ts
 *           ├─ one accepted ─▶ relay until both sides are done   relay.ts (part 3's relay)
 *           └─ none did ────▶ HTTP request: 502 Bad Gateway; anything else: a clean close
 *
 * Around it: SIGHUP reloads the configuration file (new clients see the new
 * pools, open connections keep theirs), SIGTERM stops accepting and lets open
 * connections finish, and a status port answers JSON (status.ts).
 *
 * What it leaves out, on purpose: choosing the pool by Host header or TLS SNI
 * (today a listener names its pool), telling backends the client's address
 * (the PROXY protocol), routes kept in Redis, and several worker processes.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { type Config, configFromAddresses, type ListenerConfig, loadConfigFile } from './config.ts';
import { describe, log } from './log.ts';
import { Pool } from './pool.ts';
import { relay } from './relay.ts';
import { startStatusServer } from './status.ts';

const USAGE = [
  'usage: proxy.ts [listen-port] host:port [host:port ...]',
  '       proxy.ts --config FILE',
  '  options: --status-port N  --idle-timeout MS',
].join('\n');

/** What the command line says: where the configuration comes from, and what overrides it. */
interface CommandLine {
  /** The configuration file; undefined in quick-start mode (nothing to reload). */
  file?: string;
  /** The quick-start configuration, built from the command line. */
  quickStart?: Config;
  statusPort?: number;
  idleTimeoutMs?: number;
}

interface Listener {
  config: ListenerConfig;
  pool: Pool;
  server: net.Server;
  port: number;
}

// The running state. A reload swaps `config` and `pools`; a client takes its
// pool when it is accepted and keeps it to the end.
const commandLine = parseCommandLine(process.argv.slice(2));
let config: Config;
let pools = new Map<string, Pool>();
let listeners: Listener[] = [];
/** Every client from accept until both its sockets are closed. */
const open = new Set<net.Socket>();
let noBackend = 0;
let stopping = false;
const startedAt = new Date();
let reloadedAt: Date | undefined;

await main();

/** Load the configuration, open the listeners and the status port; the signals do the rest. */
async function main(): Promise<void> {
  try {
    config = loadConfig();
    await apply(config);
  } catch (err) {
    // A broken configuration file, or a port we cannot listen on.
    fail((err as Error).message, 1);
  }
  if (config.statusPort !== undefined) await serveStatus(config.statusPort);
  process.on('SIGHUP', () => void reload());
  process.on('SIGTERM', shutdown);
  // The pid to signal: `npm run part4` and tsx put wrapper processes in front of us.
  const reloads = commandLine.file === undefined ? '' : `SIGHUP reloads ${commandLine.file}, `;
  log(`Process ${process.pid}: ${reloads}SIGTERM stops gracefully.`);
}

/** socket() + bind() + listen() for one listener. */
async function listen(listenerConfig: ListenerConfig, pool: Pool): Promise<Listener> {
  // allowHalfOpen: a client's FIN is ours to forward, not for Node to answer at once.
  // pauseOnConnect: a client's bytes stay in the kernel until a backend has
  // accepted, so a failed connect can be retried elsewhere with nothing lost.
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  const listener: Listener = { config: listenerConfig, pool, server, port: 0 };
  server.on('connection', (client) => {
    open.add(client);
    // The pool of the moment: a reload changes listener.pool, not this client's.
    void serve(client, listener.pool).finally(() => {
      open.delete(client);
      if (stopping && open.size === 0) exitAfterShutdown('every connection has finished');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot listen on port ${listenerConfig.port}: ${describe(err)}`)),
    );
    server.listen(listenerConfig.port, () => resolve());
  });
  // An accept() that fails (out of descriptors, say) is logged, not fatal.
  server.on('error', (err) => log(`accept failed on port ${listener.port}: ${describe(err)}`));
  listener.port = portOf(server);
  return listener;
}

/** Serves one client from accept to close. Never throws. */
async function serve(client: net.Socket, pool: Pool): Promise<void> {
  // Until the relay takes over, a reset from the client only needs to end this.
  client.on('error', () => {});
  const connection = await pool.connect(clientIp(client));
  if (!connection) return refuse(client, pool);
  if (client.destroyed) {
    connection.socket.destroy();
    return;
  }
  await relay(client, connection.socket, { idleTimeoutMs: config.idleTimeoutMs });
}

/** A method token and a space: the start of an HTTP request line. */
const HTTP_REQUEST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;
const BAD_GATEWAY_BODY = 'No backend is available.\n';
const BAD_GATEWAY =
  'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n' +
  `Content-Length: ${BAD_GATEWAY_BODY.length}\r\nConnection: close\r\n\r\n${BAD_GATEWAY_BODY}`;
/** How long a refused client may take to show its first bytes, and then to leave. */
const REFUSE_WAIT_MS = 2000;

/**
 * No backend accepted. A client speaking HTTP gets a 502 that a browser or curl
 * can show; anything else (TLS, say) gets a clean close, since a reply in the
 * wrong protocol would only confuse it.
 */
async function refuse(client: net.Socket, pool: Pool): Promise<void> {
  noBackend++;
  const first = await firstBytes(client, REFUSE_WAIT_MS);
  const http = first !== undefined && HTTP_REQUEST.test(first.toString('latin1', 0, 32));
  log(
    `No backend of pool ${pool.name} accepted ${clientIp(client)}:${client.remotePort}: ` +
      (http ? 'answered 502.' : 'closed.'),
  );
  // Read and drop the rest until the client closes: closing a socket with
  // unread bytes makes the kernel send a reset, which can destroy the 502
  // before the client has read it.
  client.on('data', () => {});
  client.setTimeout(REFUSE_WAIT_MS, () => client.destroy());
  if (http) client.end(BAD_GATEWAY);
  else client.end();
  client.resume();
  if (!client.closed) await new Promise((resolve) => client.once('close', resolve));
}

/** The client's first chunk, or undefined if it closes or stays silent for timeoutMs. */
function firstBytes(client: net.Socket, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (chunk?: Buffer) => {
      clearTimeout(timer);
      client.off('data', done).off('end', onEnd).off('close', onEnd).pause();
      resolve(chunk);
    };
    const onEnd = () => done();
    const timer = setTimeout(done, timeoutMs);
    client.once('data', done).once('end', onEnd).once('close', onEnd).resume();
  });
}

function clientIp(client: net.Socket): string {
  // A listener on "::" sees IPv4 clients as ::ffff:a.b.c.d; hash the address itself.
  return (client.remoteAddress ?? '').replace(/^::ffff:/, '');
}

// --- Operations: apply a configuration, reload, stop, status ------------------

/**
 * Makes `next` the running configuration: new pools (keeping the state of
 * backends that stay), then the listeners. A listener whose port stays keeps
 * its socket; a new port is opened first, so a port we cannot open leaves the
 * old configuration running untouched.
 */
async function apply(next: Config): Promise<void> {
  const nextPools = new Map<string, Pool>();
  for (const poolConfig of Object.values(next.pools)) {
    nextPools.set(poolConfig.name, new Pool(poolConfig, pools.get(poolConfig.name)));
  }
  const poolOf = (listenerConfig: ListenerConfig) => nextPools.get(listenerConfig.pool) as Pool;

  const kept: [Listener, ListenerConfig][] = [];
  const opened: Listener[] = [];
  const unmatched = [...listeners];
  try {
    for (const listenerConfig of next.listeners) {
      const index = unmatched.findIndex((l) => l.config.port === listenerConfig.port);
      if (index >= 0) kept.push([unmatched.splice(index, 1)[0], listenerConfig]);
      else opened.push(await listen(listenerConfig, poolOf(listenerConfig)));
    }
  } catch (err) {
    for (const listener of opened) listener.server.close();
    const running = new Set([...pools.values()].flatMap((pool) => pool.backends));
    for (const pool of nextPools.values()) pool.close(running);
    throw err;
  }

  for (const [listener, listenerConfig] of kept) {
    listener.config = listenerConfig;
    listener.pool = poolOf(listenerConfig);
  }
  for (const listener of unmatched) {
    listener.server.close();
    log(`Stopped listening on port ${listener.port}.`);
  }
  const staying = new Set([...nextPools.values()].flatMap((pool) => pool.backends));
  for (const pool of pools.values()) pool.close(staying);
  pools = nextPools;
  listeners = [...kept.map(([listener]) => listener), ...opened];
  config = next;
  for (const listener of opened) log(`Started.  Listening on port ${listener.port}.`);
}

/** Serialised, so two quick SIGHUPs cannot interleave. */
let reloading = Promise.resolve();
function reload(): Promise<void> {
  reloading = reloading.then(async () => {
    if (stopping) return;
    if (commandLine.file === undefined) {
      log('SIGHUP: nothing to reload (started without --config).');
      return;
    }
    try {
      const next = loadConfig();
      await apply(next);
      reloadedAt = new Date();
      log(
        `Reloaded ${commandLine.file}: ${next.listeners.length} listener(s), ${pools.size} pool(s).`,
      );
    } catch (err) {
      log(`Reload refused, the running configuration stays: ${(err as Error).message}`);
    }
  });
  return reloading;
}

let shutdownTimer: NodeJS.Timeout | undefined;
/** SIGTERM: stop accepting, let open connections finish up to the deadline, exit 0. */
function shutdown(): void {
  if (stopping) return;
  stopping = true;
  for (const listener of listeners) listener.server.close();
  for (const pool of pools.values()) pool.close();
  log(
    `Shutting down: not accepting; ${open.size} open connection(s) get up to ` +
      `${config.shutdownTimeoutMs} ms to finish.`,
  );
  if (open.size === 0) {
    exitAfterShutdown('no connection was open');
    return;
  }
  shutdownTimer = setTimeout(() => {
    const left = open.size;
    for (const client of open) client.destroy();
    exitAfterShutdown(`closed the ${left} connection(s) still open at the deadline`);
  }, config.shutdownTimeoutMs);
}

function exitAfterShutdown(how: string): void {
  clearTimeout(shutdownTimer);
  log(`Stopped: ${how}.`);
  process.exit(0);
}

/** The status endpoint, on a port of its own (status.ts). */
async function serveStatus(port: number): Promise<void> {
  try {
    const server = await startStatusServer(port, {
      source: config.source,
      startedAt,
      get reloadedAt() {
        return reloadedAt;
      },
      listeners: () => listeners.map((l) => ({ port: l.port, pool: l.config.pool })),
      pools: () => pools.values(),
      noBackend: () => noBackend,
    });
    log(`Status on port ${portOf(server)}.`);
  } catch (err) {
    fail(`cannot serve the status on port ${port}: ${describe(err)}`, 1);
  }
}

// --- The command line ---------------------------------------------------------

/** The configuration file (or the quick-start one) with the command line's overrides. */
function loadConfig(): Config {
  const loaded =
    commandLine.file === undefined ? commandLine.quickStart : loadConfigFile(commandLine.file);
  const next = { ...(loaded as Config) };
  if (commandLine.statusPort !== undefined) next.statusPort = commandLine.statusPort;
  if (commandLine.idleTimeoutMs !== undefined) next.idleTimeoutMs = commandLine.idleTimeoutMs;
  return next;
}

function parseCommandLine(argv: string[]): CommandLine {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    return fail((err as Error).message.split('\n')[0], 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const result: CommandLine = {};
  if (values['status-port'] !== undefined) {
    result.statusPort = integer('--status-port', values['status-port'], 0, 65535);
  }
  if (values['idle-timeout'] !== undefined) {
    result.idleTimeoutMs = integer('--idle-timeout', values['idle-timeout'], 0, 86_400_000);
  }
  if (values.config !== undefined) {
    if (positionals.length > 0) fail('--config takes no listen port or backends', 2);
    result.file = values.config;
    return result;
  }

  const listenPort = /^\d+$/.test(positionals[0] ?? '')
    ? integer('listen-port', positionals.shift() as string, 0, 65535)
    : 8000;
  if (positionals.length === 0) fail('no backend given (host:port)', 2);
  try {
    result.quickStart = configFromAddresses(listenPort, positionals);
  } catch (err) {
    fail((err as Error).message, 2);
  }
  return result;
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'status-port': { type: 'string' },
      'idle-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
}

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max}, got "${text}"`, 2);
  }
  return value;
}

/** One clear line (plus the usage for command-line errors) and an exit code. Never a stack trace. */
function fail(message: string, code: number): never {
  console.error(`proxy.ts: ${message}`);
  if (code === 2) console.error(USAGE);
  process.exit(code);
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}
