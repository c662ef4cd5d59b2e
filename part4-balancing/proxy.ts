/**
 * part4-balancing: a load balancer. Part 3's proxy, with pools of backends in
 * front of its relay.
 *
 *   proxy.ts [listen-port] host:port [host:port ...]     round robin over these backends
 *   proxy.ts --config FILE                               listeners, pools, strategies, health //> 4.3
 *   proxy.ts --help                                      the options (cli.ts)
 *
 * The files, in the order a client meets them: the core at the top, and one
 * folder per chapter's idea.
 *
 *   proxy.ts       this file: start the proxy
 *                  reload it (SIGHUP), stop it gracefully (SIGTERM, SIGINT) //> 4.3
 *   cli.ts         the command line            state.ts    the running state
 *   config.ts      the configuration, and the quick start; fields.ts: how a field is read
 *   serve.ts       one client: accept, pick a backend, relay or refuse
 *   route.ts       which pool a client goes to
 *   relay.ts       part 3's relay              log.ts      the log line
 *   pools/         chapter 1: a pool's backends, and the strategies (strategies/)
 *   health/        chapter 2: passive and active checks, the first-byte timeout //> 4.2
 *   config/        chapter 3: the configuration file, checked //> 4.3
 *   vhosts/        chapter 4: a pool by Host or by SNI //> 4.4
 *   proxy-protocol/  chapter 5: the client's address, to backends and from a balancer //> 4.5
 *   status/        chapter 6: the status endpoint (JSON), page and metrics //> 4.6
 *                  (meters.ts: what the metrics count as it happens) //> 4.6
 *   fleet/         chapter 7: routes from Redis, and --workers N //> 4.7
 *   router/        chapter 8: a module of yours decides each client's route //> 4.8
 *
 * A folder's fields.ts holds the configuration's fields that its chapter adds.
 *
 * What it leaves out, on purpose: caching or rewriting anything: it balances
 * connections, not requests.
//> 4.4
 * Nor does it terminate TLS (routing by SNI needs no keys), or read HTTP past
 * the first request of a connection.
//< 4.4
 */

import cluster from 'node:cluster'; //> 4.7
import { type CommandLine, fail, readCommandLine } from './cli.ts';
import { loadConfigFile } from './config/load.ts'; //> 4.3
import type { Config, ListenerConfig } from './config.ts';
import type { Address } from './fields.ts'; //> 4.6
import { answerStatusRequests, runPrimary } from './fleet/workers.ts'; //> 4.7
import { joinHostPort } from './ip.ts'; //> 4.6
import { describe } from './log.ts'; //> 4.6
import { log } from './log.ts';
import { Pool } from './pools/pool.ts';
import { routingFor } from './route.ts';
import { startRouters } from './router/router.ts'; //> 4.8
import { listen } from './serve.ts';
import { listenerName } from './serve.ts'; //> 4.3
import { portOf } from './serve.ts'; //> 4.6
import { type Listener, RunningState } from './state.ts';
import { localMetrics, watchStatus } from './status/metrics.ts'; //> 4.6
import { type StatusSource, snapshot, startStatusServer } from './status/status.ts'; //> 4.6

/** Everything that changes while the balancer runs (state.ts). */
const running = new RunningState();

// Started as a program (not imported): read the command line and run.
if (import.meta.filename === process.argv[1]) await main(readCommandLine(process.argv.slice(2)));

/** Start: load the configuration, then open what it asks for. */
async function main(commandLine: CommandLine): Promise<void> {
  try {
    const config = await loadConfig(commandLine);
    //> 4.7
    // --workers N: this process only looks after N copies of itself (workers.ts).
    if (config.workers > 1 && cluster.isPrimary) {
      return await runPrimary(config.workers, config.statusListen);
    }
    //< 4.7
    await apply(config);
  } catch (err) {
    // A mistake in the configuration, or a port we cannot listen on.
    fail((err as Error).message, 1);
  }
  //> 4.3
  process.on('SIGHUP', () => void reload(commandLine));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  //< 4.3
  //> 4.7
  if (cluster.isWorker) {
    // The primary serves the status and passes signals on; Ctrl-C reaches the
    // whole process group, and the primary's SIGTERM is the one that counts.
    answerStatusRequests(() => snapshot(localStatus()));
    // Its metrics too: prom-client answers the primary's requests for them itself.
    if (running.config.statusListen !== undefined) watchStatus(() => snapshot(localStatus()));
    process.on('SIGINT', () => {});
    return;
  }
  //< 4.7
  if (running.config.statusListen !== undefined) await serveStatus(running.config.statusListen); //> 4.6
  //> 4.3
  // Ctrl-C too: stopping a proxy should never cut the responses in flight.
  process.on('SIGINT', () => shutdown('SIGINT'));
  // The pid to signal: `npm run part4` and tsx put wrapper processes in front of us.
  const reloads = commandLine.file === undefined ? '' : `SIGHUP reloads ${commandLine.file}, `;
  log(
    `Process ${process.pid}: ${reloads}SIGTERM or SIGINT stops gracefully, a second one at once.`,
  );
  //< 4.3
}

/** The configuration, with the command line's overrides. */
async function loadConfig(commandLine: CommandLine): Promise<Config> {
  let loaded = commandLine.quickStart as Config;
  if (commandLine.file !== undefined) loaded = await loadConfigFile(commandLine.file); //> 4.3
  const config = { ...loaded, ...commandLine.overrides };
  running.events.verbose = config.verbose;
  return config;
}

/**
 * Makes `next` the running configuration: its pools, then its listeners.
//> 4.3
 * On a reload, a pool keeps the state of its backends that stay, and a
 * listener whose port stays keeps its socket; a new port is opened first, so
 * a port we cannot open leaves the old configuration running untouched.
//< 4.3
 */
async function apply(next: Config): Promise<void> {
  //> 4.8
  // Every router loads before anything changes: one that fails refuses it all.
  const replaced = running.listeners.flatMap((l) => l.routing.router ?? []);
  const routers = await startRouters(next.listeners, next.source, replaced, running.events);
  //< 4.8
  await followRouteSource(next); //> 4.7
  const nextPools = new Map<string, Pool>();
  for (const poolConfig of Object.values(next.pools)) {
    nextPools.set(poolConfig.name, new Pool(poolConfig, running.pools.get(poolConfig.name)));
  }
  /** A listener's routing over the new pools. */
  const routingOf = (listenerConfig: ListenerConfig) => {
    const routing = routingFor(listenerConfig, nextPools);
    routing.fleet = running.fleet; //> 4.7
    routing.router = routers.get(listenerConfig); //> 4.8
    return routing;
  };

  const opened: Listener[] = [];
  //> 4.3
  const kept: [Listener, Listener['config']][] = [];
  const unmatched = [...running.listeners];
  //< 4.3
  try {
    for (const listenerConfig of next.listeners) {
      //> 4.3
      // The same port on the same address: the socket stays.
      const index = unmatched.findIndex(
        (l) => l.config.port === listenerConfig.port && l.config.host === listenerConfig.host,
      );
      if (index >= 0) {
        kept.push([unmatched.splice(index, 1)[0], listenerConfig]);
        continue;
      }
      //< 4.3
      opened.push(await listen(running, routingOf(listenerConfig), onClientFinished));
    }
  } catch (err) {
    for (const listener of opened) listener.server.close();
    //> 4.3
    const runningBackends = new Set([...running.pools.values()].flatMap((pool) => pool.backends));
    for (const pool of nextPools.values()) pool.close(runningBackends);
    //< 4.3
    for (const router of routers.values()) router.retire(); //> 4.8
    throw err;
  }
  //> 4.3

  for (const [listener, listenerConfig] of kept) {
    listener.config = listenerConfig;
    listener.routing = routingOf(listenerConfig);
  }
  for (const listener of unmatched) {
    listener.server.close();
    log(`Stopped listening on ${listenerName(listener.config, listener.port)}.`);
  }
  const staying = new Set([...nextPools.values()].flatMap((pool) => pool.backends));
  for (const pool of running.pools.values()) pool.close(staying);
  //< 4.3
  for (const listener of opened) {
    const on = listener.config.host === undefined ? '' : ` on ${listener.config.host}`;
    log(`Started.  Listening on port ${listener.port}${on}.`);
  }
  running.pools = nextPools;
  running.listeners = opened;
  running.listeners.unshift(...kept.map(([listener]) => listener)); //> 4.3
  running.config = next;
  //> 4.8
  // The routers replaced end once their clients have answers.
  for (const router of replaced) router.retire();
  //< 4.8
}
//> 4.7

/**
 * Fleet mode: connect to the routes in Redis at start, and again on a reload
 * that names another Redis or prefix. Resolves even while Redis is down: the
 * table fills when it answers, and clients meanwhile get 404 or a close.
 */
async function followRouteSource(next: Config): Promise<void> {
  const wanted = next.routeSource;
  const current = running.fleet?.source;
  if (JSON.stringify(wanted) === JSON.stringify(current)) return;
  const old = running.fleet;
  // Loaded only in fleet mode: the Redis client is a large module to carry for nothing.
  running.fleet =
    wanted === undefined ? undefined : new (await import('./fleet/fleet.ts')).FleetRoutes(wanted);
  await running.fleet?.start();
  await old?.stop();
}
//< 4.7
//> 4.3

/** Serialised, so two quick SIGHUPs cannot interleave. */
let reloading = Promise.resolve();
function reload(commandLine: CommandLine): Promise<void> {
  reloading = reloading.then(async () => {
    if (running.stopping) return;
    if (commandLine.file === undefined) {
      log('SIGHUP: nothing to reload (started without --config).');
      return;
    }
    try {
      const next = await loadConfig(commandLine);
      await apply(next);
      running.reloadedAt = new Date();
      log(
        `Reloaded ${commandLine.file}: ${next.listeners.length} listener(s), ${running.pools.size} pool(s).`,
      );
    } catch (err) {
      log(`Reload refused, the running configuration stays: ${(err as Error).message}`);
    }
  });
  return reloading;
}

let shutdownTimer: NodeJS.Timeout | undefined;
/**
 * SIGTERM or SIGINT: stop accepting, let open connections finish up to the
 * deadline, exit 0. A second signal during the wait is the operator's way
 * out: every connection is closed at once.
 */
function shutdown(signal: string): void {
  if (running.stopping) {
    const left = running.clientSockets.size;
    for (const client of running.clientSockets) client.destroy();
    exitAfterShutdown(`${signal} again: closed the ${left} connection(s) still open at once`);
    return;
  }
  running.stopping = true;
  const open = running.clientSockets;
  for (const listener of running.listeners) listener.server.close();
  for (const pool of running.pools.values()) pool.close();
  void running.fleet?.stop(); //> 4.7
  log(
    `Shutting down on ${signal}: not accepting; ${open.size} open connection(s) get up to ` +
      `${running.config.shutdownTimeoutMs} ms to finish.`,
  );
  if (open.size === 0) {
    exitAfterShutdown('no connection was open');
    return;
  }
  shutdownTimer = setTimeout(() => {
    const left = open.size;
    for (const client of open) client.destroy();
    exitAfterShutdown(`closed the ${left} connection(s) still open at the deadline`);
  }, running.config.shutdownTimeoutMs);
}
//< 4.3

/**
 * A client is done.
 * A graceful stop waits for the last one. //> 4.3
 */
function onClientFinished(): void {
  //> 4.3
  if (running.stopping && running.clientSockets.size === 0) {
    exitAfterShutdown('every connection has finished');
  }
  //< 4.3
}
//> 4.3

function exitAfterShutdown(how: string): void {
  clearTimeout(shutdownTimer);
  running.events.flush();
  log(`Stopped: ${how}.`);
  process.exit(0);
}
//< 4.3
//> 4.6

/** The status endpoint, on a port of its own (status.ts). */
async function serveStatus(where: Address): Promise<void> {
  try {
    watchStatus(() => snapshot(localStatus()));
    const server = await startStatusServer(where, () => snapshot(localStatus()), localMetrics);
    log(`Status on port ${portOf(server)} (${where.host}).`);
  } catch (err) {
    fail(`cannot serve the status on ${joinHostPort(where.host, where.port)}: ${describe(err)}`, 1);
  }
}

/** What this process's status is made of (a worker sends it to the primary). */
function localStatus(): StatusSource {
  // The routes by name that the configuration file gives (chapter 4's hosts).
  const fileRoutes = () =>
    running.listeners.flatMap((l) =>
      Object.entries(l.config.hosts ?? {}).map(([host, pool]) => ({ host, pool, source: 'file' })),
    );
  const status: StatusSource = {
    source: running.config.source,
    startedAt: running.startedAt,
    get reloadedAt() {
      return running.reloadedAt;
    },
    listeners: () =>
      running.listeners.map((l) => ({
        host: l.config.host ?? '*',
        port: l.port,
        protocol: l.config.protocol,
        ...(l.config.pool === undefined ? {} : { pool: l.config.pool }),
        ...(l.config.hosts === undefined ? {} : { hosts: l.config.hosts }),
        ...(l.config.maxConnections === undefined
          ? {}
          : { maxConnections: l.config.maxConnections }),
        open: l.open,
        accepted: l.accepted,
        ...(l.routing.router ? { router: l.routing.router.status() } : {}), //> 4.8
      })),
    pools: () => [...running.pools.values()],
    // The same count as events.noBackend: every refusal is counted there.
    noBackend: () => running.events.total.noBackend ?? 0,
    limits: () => ({
      maxConnections: running.config.maxConnections,
      maxConnectionsPerClient: running.config.maxConnectionsPerClient,
      open: running.clientSockets.size,
    }),
    events: () => running.events.total,
    routes: fileRoutes,
  };
  //> 4.7
  // Fleet mode: the pools, the routes and the link that Redis brings.
  const fleet = running.fleet;
  if (fleet) {
    status.pools = () => [...running.pools.values(), ...fleet.activePools()];
    status.routes = () => [
      ...fileRoutes(),
      ...fleet.routes.snapshot().routes.map((route) => ({
        host: route.host,
        pool: route.backends.join(' '),
        source: 'redis',
      })),
    ];
    status.redis = () => fleet.routes.link();
  }
  //< 4.7
  return status;
}
//< 4.6
