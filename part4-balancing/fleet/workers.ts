/**
 * `--workers N`: N processes on the same ports, so the balancer uses N cores.
 * The primary forks the workers (node:cluster); each runs the whole proxy
 * with its own pools, health checks and, in fleet mode, its own table and
 * Redis subscription. Their listening sockets are shared: the primary opens
 * each one and every worker accepts clients from it (see SCHEDULING).
 *
 *   primary: no clients; signals, restarts, the status port
 *     ├─ worker 1: listeners, pools, health, Redis subscription
 *     └─ worker 2: the same, on the same ports
 *
 * Each worker subscribes to Redis itself because a worker's table is in its
 * own memory: a change must reach every one, and the primary relaying it
 * would be one more thing to lose on a restart.
 *
 * The primary forwards SIGHUP (every worker reloads) and SIGTERM/SIGINT
 * (every worker stops gracefully; a second signal, passed on, stops them at
 * once), restarts a worker that dies, with a growing delay, and answers the
 * status port with every worker's figures, asked for over the IPC channel.
 *
 * What it leaves out: a worker per listener, sticky sessions across workers
 * (ip-hash holds within a worker: each keeps its own strategy state), and a
 * rolling restart of the workers on reload.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Address } from '../fields.ts';
import { log } from '../log.ts';
import type { BackendStatus, PoolStatus, Snapshot, Totals } from '../status/snapshot.ts';
import type { RouterStatus } from '../status/snapshot.ts'; //> 4.8
import { everyWorkersMetrics } from '../status/metrics.ts';
import { startStatusServer } from '../status/status.ts';
import type { RedisLink } from './redis-link.ts';

/**
 * Who accepts a new client. node:cluster's default on Linux (SCHED_RR) is the
 * primary: it accepts every connection and passes it to a worker in turn,
 * over that worker's IPC pipe, so every client costs the primary an accept()
 * and a sendmsg() and the worker a recvmsg() before either reads a byte, and
 * the primary is a single process every client goes through. With SCHED_NONE
 * each worker accepts from the shared listening socket itself, and the
 * kernel wakes one of those that are waiting: nothing between the client and
 * its worker. The price is balance: a busy worker waits in epoll less often,
 * so the idler ones take more of the new clients, which is the right way
 * round for throughput but not an even split (on a machine with many cores
 * and short connections the split can be uneven enough to matter; then
 * NODE_CLUSTER_SCHED_POLICY=rr, Node's own switch, brings the primary back).
 */
const SCHEDULING =
  process.env.NODE_CLUSTER_SCHED_POLICY === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;

/** A worker that lives this long has its restart delay reset. */
const STABLE_MS = 30_000;
const MAX_RESTART_DELAY_MS = 10_000;
/** How long the primary waits for a worker's status before answering without it. */
const STATUS_WAIT_MS = 1000;

interface StatusRequest {
  type: 'status';
  id: number;
}
interface StatusReply {
  type: 'status';
  id: number;
  report: Snapshot;
}

/** Runs the primary: forks `count` workers and looks after them. Never returns. */
export async function runPrimary(count: number, statusListen: Address | undefined): Promise<void> {
  cluster.schedulingPolicy = SCHEDULING; // before the first fork
  let stopping = false;
  let restartDelayMs = 100;
  const bornAt = new Map<Worker, number>();

  const fork = () => {
    const worker = cluster.fork();
    bornAt.set(worker, Date.now());
    worker.on('error', () => {}); // a worker gone mid-message: its 'exit' follows
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (bornAt.get(worker) ?? Date.now());
    bornAt.delete(worker);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log('Stopped: every worker has exited.');
        process.exit(0);
      }
      return;
    }
    if (lived > STABLE_MS) restartDelayMs = 100;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    log(`Worker ${worker.process.pid} ${how}; starting another in ${restartDelayMs} ms.`);
    setTimeout(fork, restartDelayMs);
    restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, restartDelayMs * 2);
  });

  const forward = (signal: NodeJS.Signals) => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGHUP', () => {
    log('SIGHUP: every worker reloads.');
    forward('SIGHUP');
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log(`${signal}: ${stopping ? 'again, ' : ''}passed on to every worker.`);
      stopping = true;
      forward(signal);
    });
  }

  log(`Primary ${process.pid}: starting ${count} workers; signal this pid.`);
  for (let i = 0; i < count; i++) fork();

  if (statusListen !== undefined) {
    const server = await startStatusServer(
      statusListen,
      () => everyWorkersStatus(),
      everyWorkersMetrics(),
    );
    const { port } = server.address() as { port: number };
    log(`Status on port ${port} (${statusListen.host}), every worker's figures.`);
  }
}

let nextId = 0;

/** Asks every worker for its snapshot, and adds them up. */
async function everyWorkersStatus(): Promise<Snapshot> {
  const id = nextId++;
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  const reports = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<Snapshot | undefined>((resolve) => {
          const timer = setTimeout(() => done(undefined), STATUS_WAIT_MS);
          const onMessage = (message: StatusReply) => {
            if (message?.type === 'status' && message.id === id) done(message.report);
          };
          const done = (report: Snapshot | undefined) => {
            clearTimeout(timer);
            worker.off('message', onMessage);
            resolve(report);
          };
          worker.on('message', onMessage);
          worker.send({ type: 'status', id } satisfies StatusRequest);
        }),
    ),
  );
  return addUp(reports.filter((report) => report !== undefined));
}

/**
 * One snapshot for the whole process group: counters added up backend by
 * backend, a backend down if any worker sees it down, and a line per worker.
 * The rest (the configuration, the start, the routes) is the first worker's:
 * every worker runs the same file. Built anew, field by field, so that the
 * result is a Snapshot as the type says and no worker's report is changed.
 */
export function addUp(reports: Snapshot[]): Snapshot {
  const [first] = reports;
  if (first === undefined) throw new Error('no worker answered');
  const sum = (count: (report: Snapshot) => number) =>
    reports.reduce((total, report) => total + count(report), 0);
  const totals: Totals = {
    activeConnections: sum((report) => report.totals.activeConnections),
    totalConnections: sum((report) => report.totals.totalConnections),
    failures: sum((report) => report.totals.failures),
    noBackend: sum((report) => report.totals.noBackend),
  };
  const events: Record<string, number> = {};
  for (const report of reports) {
    for (const [kind, n] of Object.entries(report.events)) events[kind] = (events[kind] ?? 0) + n;
  }
  return {
    ...first,
    pid: process.pid,
    // Every worker listens on the same sockets, in the same order.
    listeners: first.listeners.map((listener, i) => ({
      ...listener,
      open: sum((report) => report.listeners[i]?.open ?? 0),
      accepted: sum((report) => report.listeners[i]?.accepted ?? 0),
      //> 4.8
      ...(listener.router
        ? { router: addRouters(reports.map((report) => report.listeners[i]?.router)) }
        : {}),
      //< 4.8
    })),
    limits: { ...first.limits, open: sum((report) => report.limits.open) },
    pools: addPools(reports),
    totals,
    events,
    ...(first.redis ? { redis: worstLink(reports) } : {}),
    workers: reports.map((report) => ({
      pid: report.pid,
      activeConnections: report.totals.activeConnections,
      totalConnections: report.totals.totalConnections,
      // Each worker keeps its own route table: the count shows that a change reached it.
      ...(report.routes ? { routes: report.routes.length } : {}),
    })),
  };
}

/**
 * Every worker's pools, as the first worker that has each pool lists it: a
 * backend the others list too has their counters added.
 */
function addPools(reports: Snapshot[]): Record<string, PoolStatus> {
  const pools: Record<string, PoolStatus> = {};
  for (const report of reports) {
    for (const [name, pool] of Object.entries(report.pools)) {
      const into = pools[name];
      pools[name] =
        into === undefined
          ? pool
          : {
              ...into,
              backends: into.backends.map((backend) => {
                const same = pool.backends.find((b) => b.id === backend.id);
                return same === undefined ? backend : addBackend(backend, same);
              }),
            };
    }
  }
  return pools;
}

/** One backend as two workers see it: counters added, down (and why) if either sees it down. */
function addBackend(a: BackendStatus, b: BackendStatus): BackendStatus {
  const health = a.health === 'up' && b.health === 'down' ? b : a;
  return {
    ...health,
    activeConnections: a.activeConnections + b.activeConnections,
    totalConnections: a.totalConnections + b.totalConnections,
    failures: a.failures + b.failures,
    bytesSent: a.bytesSent + b.bytesSent,
    bytesReceived: a.bytesReceived + b.bytesReceived,
    ...addTimings(a.timings, b.timings),
  };
}

/** Two workers' timings of one backend: the counts added. */
function addTimings(a: BackendStatus['timings'], b: BackendStatus['timings']) {
  if (!a || !b) return a || b ? { timings: a ?? b } : {};
  const add = (x: number[], y: number[]) => x.map((n, i) => n + (y[i] ?? 0));
  return {
    timings: {
      connect: add(a.connect, b.connect),
      firstByte: add(a.firstByte, b.firstByte),
      connectSumMs: a.connectSumMs + b.connectSumMs,
      firstByteSumMs: a.firstByteSumMs + b.firstByteSumMs,
    },
  };
}

//> 4.8

/**
 * A listener's router as every worker runs it, one thread each: the counts
 * added up, the mean weighed by calls, and the busiest thread's share.
 */
function addRouters(routers: (RouterStatus | undefined)[]): RouterStatus {
  const all = routers.filter((router) => router !== undefined);
  const total = (count: (router: RouterStatus) => number) =>
    all.reduce((sum, router) => sum + count(router), 0);
  const calls = total((router) => router.calls);
  return {
    file: all[0].file,
    calls,
    errors: total((router) => router.errors),
    timeouts: total((router) => router.timeouts),
    restarts: total((router) => router.restarts),
    meanMs: calls === 0 ? 0 : Number((total((r) => r.meanMs * r.calls) / calls).toFixed(3)),
    busyShare: Math.max(...all.map((router) => router.busyShare)),
  };
}
//< 4.8

/**
 * Every worker has a link to Redis of its own: the group shows the worst,
 * one silent longest first, then one down, so no worker's trouble hides
 * behind another's good link.
 */
function worstLink(reports: Snapshot[]): RedisLink {
  const rank = (link: RedisLink) =>
    link.state === 'silent' ? 1 + (link.silentForMs ?? 0) : link.state === 'down' ? 1 : 0;
  const links = reports.flatMap((report) => (report.redis ? [report.redis] : []));
  return links.reduce((worst, link) => (rank(link) > rank(worst) ? link : worst));
}

/** In a worker: answer the primary's status requests with `report()`. */
export function answerStatusRequests(report: () => Snapshot): void {
  process.on('message', (message: StatusRequest) => {
    if (message?.type !== 'status') return;
    process.send?.({ type: 'status', id: message.id, report: report() } satisfies StatusReply);
  });
}
