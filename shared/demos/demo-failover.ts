/**
 * npm run demo:failover: part 4 in fleet mode through Redis Sentinel, its
 * primary killed under traffic, watched by a real Prometheus.
 *
 *   npm run demo:failover [-- --duration SECONDS]   (default 30)
 *   npm run demo:failover -- --hold                 (and on after the story, until Ctrl-C)
 *
 * It starts three mock backends A, B and C (in its own process), a Redis
 * primary and its replica, three Sentinels watching them as "routes", one
 * part 4 proxy following that set (`proxy.ts --redis-sentinel LIST
 * --redis-master routes --http PORT --status-port PORT`) and a Prometheus
 * scraping the proxy's /metrics every second; it prints the Prometheus graph
 * of requests per second per backend and the proxy's status page, then
 * sends a steady stream of requests for www.example.org, counting the
 * answers per backend:
 *
 *   0     www.example.org is A and B on the primary: the proxy shares it,
 *         and Prometheus has scraped both
 *   1/4   the primary is killed (SIGKILL): Sentinel promotes the replica, the
 *         proxy follows it, and serves from the routes it knows meanwhile;
 *         once it has followed, the route becomes C on the new primary
 *   end   (once Prometheus has scraped C too) the counts Prometheus has
 *         per backend; with --hold, traffic goes on until Ctrl-C
 *
 * Each step waits for what it shows (both backends answering, Sentinel's
 * promotion, the proxy on the new primary, C answering, Prometheus'
 * scrapes), so a slow machine stretches the run instead of skipping the
 * story. It exits 1 if a step did not happen or a client saw an error, and
 * stops everything it started at the end or on Ctrl-C.
 *
 * What it leaves out: --workers, a second proxy (demo:fleet has two), and
 * Prometheus' alerting; the Sentinels' timeouts are chapter 9's small ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Cleanup } from '../lib/cleanup.ts';
import { integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { startPart } from '../lib/programs.ts';
import { type Backend, freePort, httpGet, serveBackend, waitFor } from '../test/harness.ts';
import { startPrometheus } from '../test/prometheus.ts';
import { redisClient, startRedis } from '../test/redis.ts';
import { startSentinels } from '../test/sentinel.ts';
import { type Counts, oneRequest, runDemo, SCREEN_MS, Screen, step } from './live.ts';

const SCRIPT = 'demo-failover.ts';
const USAGE = 'usage: demo-failover.ts [--duration SECONDS] [--hold]      (2 to 600; default 30)';
const HOST = 'www.example.org';
const KEY = `hostnames:${HOST}:backends`;
const MASTER = 'routes';
const NAMES = ['A', 'B', 'C'] as const;
/** One client, a request every 20 ms: ~50 req/s, enough to see and cheap to serve. */
const PAUSE_MS = 20;
const BAR_WIDTH = 24;
/** How long Sentinel and the proxy get for a step (a failover takes a few seconds). */
const STEP_MS = 20_000;
/** The Prometheus graph: requests per second to each backend, over the last five minutes. */
const PER_BACKEND = 'sum by (backend) (rate(rsp_backend_connections_total[5s]))';

async function main(scope: Cleanup): Promise<number> {
  const options = parseOrExit(SCRIPT, USAGE, parseDemoArgs);
  const durationMs = options.duration * 1000;

  const backends = new Map<string, Backend>();
  for (const name of NAMES) backends.set(name, await serveBackend(scope, { name }));
  const member = (name: string) => `127.0.0.1:${backends.get(name)?.port}`;
  const nameOf = new Map(NAMES.map((name) => [member(name), name]));

  // Prometheus first: it scrapes its targets only from about five seconds
  // after it starts, which the Redis servers and the Sentinels then take.
  const statusPort = await freePort();
  const prometheus = await startPrometheus(scope, statusPort);

  // Each Redis in a folder of its own: the replica writes what it syncs to dump.rdb.
  const dir = () => {
    const made = mkdtempSync(path.join(tmpdir(), 'redis-'));
    scope.teardown(() => rmSync(made, { recursive: true, force: true }));
    return ['--dir', made];
  };
  const primary = await startRedis(scope, [...dir(), '--repl-diskless-sync-delay', '0']);
  const replica = await startRedis(scope, [
    ...dir(),
    '--replicaof',
    '127.0.0.1',
    `${primary.port}`,
  ]);
  const onPrimary = await redisClient(scope, primary);
  await onPrimary.sAdd(KEY, [member('A'), member('B')]);
  // The Sentinels learn of the replica from the primary: it must be in sync first.
  const onReplica = await redisClient(scope, replica);
  await waitFor(
    async () => (await onReplica.info('replication')).includes('master_link_status:up'),
    { what: 'the replica in sync', intervalMs: 100 },
  );
  onPrimary.destroy();
  const sentinels = await startSentinels(scope, primary.port, MASTER);
  const proxy = await startPart(scope, 'part4-balancing', [
    '--redis-sentinel',
    sentinels.list,
    '--redis-master',
    MASTER,
    '--http',
    '0',
    '--status-port',
    String(statusPort),
  ]);
  const graph =
    `http://127.0.0.1:${prometheus.port}/graph?g0.expr=${encodeURIComponent(PER_BACKEND)}` +
    '&g0.tab=0&g0.range_input=5m';
  const primaryAddress = `127.0.0.1:${primary.port}`;
  const replicaAddress = `127.0.0.1:${replica.port}`;
  const pids = [primary.pid(), replica.pid(), ...sentinels.pids, proxy.pid, prometheus.pid];
  console.log(
    [
      `Prometheus, requests per second per backend: ${graph}`,
      `part 4's status page: http://127.0.0.1:${statusPort}/`,
      `processes started: ${pids.join(' ')} (Redis primary and replica, 3 Sentinels, part 4, Prometheus)`,
      '',
    ].join('\n'),
  );

  const total: Counts = new Map();
  let last = '';
  let running = true;
  let errors = 0;
  const traffic = (async () => {
    while (running) {
      const answer = await oneRequest(proxy.port, HOST);
      total.set(answer, (total.get(answer) ?? 0) + 1);
      last = answer;
      if (!NAMES.includes(answer as (typeof NAMES)[number])) errors++;
      await sleep(PAUSE_MS);
    }
  })();

  const notes: string[] = [];
  const startedAt = Date.now();
  const note = (text: string) =>
    notes.push(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s  ${text}`);
  const screen = new Screen();
  const draw = (final = false) => {
    const rates = screen.rates(total);
    const lines = [
      `part 4 on port ${proxy.port}, routes for ${HOST} from the primary Sentinel names "${MASTER}"`,
      '',
      'backend  address              answered   req/s',
    ];
    for (const name of NAMES) {
      const rate = rates.get(name) ?? 0;
      lines.push(
        `${name.padEnd(8)} ${member(name).padEnd(20)} ${String(total.get(name) ?? 0).padStart(8)} ` +
          `${String(rate).padStart(7)}  ${'#'.repeat(Math.min(BAR_WIDTH, Math.round(rate / 2)))}`,
      );
    }
    lines.push(`errors: ${errors}`, '', ...notes);
    if (final) console.log(lines.join('\n'));
    else screen.draw(lines);
  };
  const redraw = setInterval(() => draw(), SCREEN_MS);
  scope.teardown(() => clearInterval(redraw));

  let ok = true;
  const failed = (text: string) => {
    ok = false;
    note(text);
  };
  /** The primary the proxy follows, and whether its link is up, from its status JSON. */
  const following = async () => {
    const report = JSON.parse((await httpGet(statusPort)).body.toString());
    return report.redis?.state === 'up' ? (report.redis.primary as string) : undefined;
  };
  /**
   * Whether each backend's last count Prometheus scraped (a backend's series
   * leaves /metrics with its route) passes `test`; they are kept in `counted`.
   */
  let counted: Record<string, number> = {};
  const scrapedBy = async (test: (values: Record<string, number>) => boolean) => {
    const values = await prometheus.query(
      'sum by (backend) (max_over_time(rsp_backend_connections_total[10m]))',
    );
    counted = Object.fromEntries(
      Object.entries(values).map(([backend, n]) => [nameOf.get(backend) ?? backend, n]),
    );
    return test(counted);
  };
  const within = async (seen: () => Promise<boolean>) =>
    waitFor(seen, { timeoutMs: STEP_MS, intervalMs: 50 }).then(
      () => true,
      () => false,
    );

  note(`${HOST} is A and B on the primary ${primaryAddress}: part 4 shares it.`);
  const bothShare = () => total.has('A') && total.has('B');
  if (!(await step(bothShare, durationMs / 4, STEP_MS)))
    failed(`part 4 did not share ${HOST} between A and B`);
  // And the graph has them before the story goes on.
  if (await within(async () => scrapedBy((values) => !!values.A && !!values.B)))
    note('Prometheus has scraped both.');
  else failed(`Prometheus did not scrape A's and B's requests within ${STEP_MS} ms`);

  const killedAt = Date.now();
  const since = () => `${Date.now() - killedAt} ms after the kill`;
  process.kill(primary.pid() as number, 'SIGKILL');
  await primary.stop();
  note(`the primary ${primaryAddress} is killed; part 4 serves from the routes it knows.`);
  if (await within(async () => (await sentinels.primary()) === replicaAddress))
    note(`Sentinel promoted the replica ${replicaAddress} (${since()})`);
  else failed(`Sentinel did not promote the replica within ${STEP_MS} ms`);
  if (await within(async () => (await following()) === replicaAddress))
    note(`part 4 follows the new primary ${replicaAddress} (${since()})`);
  else failed(`part 4 did not follow the new primary within ${STEP_MS} ms`);

  await onReplica.sAdd(KEY, member('C'));
  await onReplica.sRem(KEY, [member('A'), member('B')]);
  const changedAt = Date.now();
  note(`on the new primary: SADD ${KEY} C; SREM A B`);
  if (await step(() => last === 'C', 0, STEP_MS))
    note(`C takes ${HOST}'s traffic (${Date.now() - changedAt} ms after the change)`);
  else failed(`C did not take ${HOST}'s traffic within ${STEP_MS} ms`);

  await sleep(Math.max(0, startedAt + durationMs - Date.now()));
  if (options.hold) {
    note('holding: Ctrl-C stops everything.');
    await new Promise(() => {});
  }
  // Traffic goes on until Prometheus has scraped C's requests too.
  const scrapedC = await within(async () => scrapedBy((values) => !!values.C));
  running = false;
  await traffic;
  clearInterval(redraw);
  const list = Object.entries(counted).map(([name, n]) => `${name} ${n}`);
  if (scrapedC) note(`Prometheus counted, per backend: ${list.sort().join(', ')}`);
  else failed(`Prometheus did not scrape C's requests within ${STEP_MS} ms`);
  draw(true);
  ok &&= errors === 0;
  console.log(
    ok
      ? '\nPart 4 followed the failover and the change; no client saw an error.'
      : '\nSee the notes above: something did not hold.',
  );
  return ok ? 0 : 1;
}

function parseDemoArgs(argv: string[]): { duration: number; hold: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: { duration: { type: 'string' }, hold: { type: 'boolean', default: false } },
  });
  return {
    duration: integerOption('--duration', values.duration ?? '30', 2, 600),
    hold: values.hold,
  };
}

if (isMain(import.meta.url)) await runDemo(SCRIPT, main);
