/**
 * npm run demo:fleet: a fleet of two part 4 proxies following one Redis.
 *
 *   npm run demo:fleet [-- --duration SECONDS]      (default 24)
 *   npm run demo:fleet -- --save                     (and how long each follow took, to shared/results/)
 *
 * It starts a redis-server of its own (on a free port, nothing saved), three
 * mock backends A, B and C, and two proxies in the Go proxy's shape
 * (`proxy.ts --redis URL --http PORT`), then sends a steady stream of requests
 * for www.example.org to both, counting the answers per proxy and backend:
 *
 *   0     www.example.org is A and B in Redis: both proxies share it between A and B
 *   1/4   the set becomes C alone (SADD, SREM): both proxies follow within a moment
 *   1/2   Redis is stopped: both keep serving from the routes they know
 *   3/4   Redis is started again, empty, and the route written as A: both follow
 *
 * Each step also waits for what it shows: both backends answering through
 * each proxy, each proxy following the change, and each proxy answering a
 * few more requests from C with Redis down; a slow machine stretches the run
 * instead of skipping the story.
 *
 * The table redraws a few times a second; the proxies' status pages (their
 * URLs on the second line) show the routes and whether Redis is connected.
 * It exits 1 if a proxy did not follow a change or stopped answering, or a
 * client saw an error. `--save` writes how long the proxies took to follow
 * each change to shared/results/demo-fleet.json, where chapter 7's figure is
 * rendered from.
 *
 * What it leaves out: TLS listeners and wildcard keys (the tests cover them),
 * and --workers (each proxy here is one process).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Cleanup } from '../lib/cleanup.ts';
import { integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { type Program, startBackend, startPart } from '../lib/programs.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { redisClient, startRedis } from '../test/redis.ts';
import { type Counts, oneRequest, runDemo, SCREEN_MS, Screen, step } from './live.ts';

const SCRIPT = 'demo-fleet.ts';
const USAGE = 'usage: demo-fleet.ts [--duration SECONDS] [--save]      (2 to 600; default 24)';
const HOST = 'www.example.org';
const KEY = `hostnames:${HOST}:backends`;
const NAMES = ['A', 'B', 'C'] as const;
/** Requests in flight at once per proxy, and the pause between two: ~100 req/s each. */
const CLIENTS = 2;
const PAUSE_MS = 20;
const BAR_WIDTH = 24;
/** How long a proxy gets to show a step (follow a change, ...) before the demo calls it a failure. */
const FOLLOW_MS = 5000;
/** The answers each proxy gives from the routes it knows while Redis is down. */
const OUTAGE_ANSWERS = 20;

/** What --save writes: how long after each change both proxies answered from its backend. */
export interface FleetDemoReport extends Provenance {
  durationS: number;
  /** By what changed ('the change', 'the restart'), in ms; none when a proxy did not follow. */
  followedMs: Record<string, number>;
}

async function main(scope: Cleanup): Promise<number> {
  const run = provenance(npmCommand('demo:fleet'));
  const options = parseOrExit(SCRIPT, USAGE, parseDemoArgs);
  const durationMs = options.duration * 1000;
  const followedMs: Record<string, number> = {};
  const redis = await startRedis(scope);
  let db = await redisClient(scope, redis);
  const backends = new Map<string, Program>();
  for (const name of NAMES) backends.set(name, await startBackend(scope, { name }));
  const member = (name: string) => `127.0.0.1:${backends.get(name)?.port}`;
  await db.sAdd(KEY, [member('A'), member('B')]);

  const proxies = await Promise.all(
    ['P1', 'P2'].map(async (name) => {
      const program = await startPart(scope, 'part4-balancing', [
        '--redis',
        redis.url,
        '--http',
        '0',
        '--status-port',
        '0',
      ]);
      const status = Number((await program.waitForOutput(/Status on port (\d+)/))[1]);
      return { name, program, status, total: new Map() as Counts, last: '' };
    }),
  );

  const notes: string[] = [];
  const startedAt = Date.now();
  const note = (text: string) =>
    notes.push(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s  ${text}`);
  let running = true;
  let errors = 0;
  const traffic = proxies.flatMap((proxy) =>
    Array.from({ length: CLIENTS }, async () => {
      while (running) {
        const answer = await oneRequest(proxy.program.port, HOST);
        proxy.total.set(answer, (proxy.total.get(answer) ?? 0) + 1);
        proxy.last = answer;
        if (!NAMES.includes(answer as (typeof NAMES)[number])) errors++;
        await sleep(PAUSE_MS);
      }
    }),
  );

  const screens = new Map(proxies.map((proxy) => [proxy.name, new Screen()]));
  const screen = new Screen();
  const draw = (final = false) => {
    const lines = [
      `two part 4 proxies, routes for ${HOST} from Redis at ${redis.url}`,
      `status pages: ${proxies.map((p) => `http://127.0.0.1:${p.status}/`).join('  ')}`,
      '',
      'proxy  backend   answered   req/s',
    ];
    for (const proxy of proxies) {
      const rates = screens.get(proxy.name)?.rates(proxy.total) ?? new Map();
      for (const name of NAMES) {
        const rate = rates.get(name) ?? 0;
        lines.push(
          `${proxy.name.padEnd(6)} ${name.padEnd(8)} ${String(proxy.total.get(name) ?? 0).padStart(9)} ` +
            `${String(rate).padStart(7)}  ${'#'.repeat(Math.min(BAR_WIDTH, Math.round(rate / 4)))}`,
        );
      }
    }
    lines.push(`errors (any proxy): ${errors}`, '', ...notes);
    // The last table is printed whole, whenever the one before it was.
    if (final) console.log(lines.join('\n'));
    else screen.draw(lines);
  };
  const redraw = setInterval(() => draw(), SCREEN_MS);
  scope.teardown(() => clearInterval(redraw));

  let followed = true;
  /** Waits until every proxy's answers come from `name` only; notes how long it took. */
  const follow = async (name: string, what: string) => {
    const began = Date.now();
    if (await step(() => proxies.every((proxy) => proxy.last === name), 0, FOLLOW_MS)) {
      followedMs[what] = Date.now() - began;
      note(`both proxies now send ${HOST} to ${name} (${followedMs[what]} ms after ${what})`);
    } else {
      followed = false;
      note(`a proxy did not follow ${what} within ${FOLLOW_MS} ms`);
    }
  };
  const answers = (name: string) => proxies.map((proxy) => proxy.total.get(name) ?? 0);

  note(`${HOST} is A and B in Redis: both proxies share it.`);
  const bothShare = () => proxies.every((proxy) => proxy.total.has('A') && proxy.total.has('B'));
  if (!(await step(bothShare, durationMs / 4, FOLLOW_MS))) {
    followed = false;
    note(`a proxy did not share ${HOST} between A and B within ${FOLLOW_MS} ms`);
  }
  await db.sAdd(KEY, member('C'));
  await db.sRem(KEY, [member('A'), member('B')]);
  note(`SADD ${KEY} C; SREM A B`);
  await follow('C', 'the change');

  await sleep(Math.max(0, startedAt + durationMs / 2 - Date.now()));
  await redis.stop();
  note('Redis stopped: the proxies keep the routes they know.');
  const beforeOutage = answers('C');
  const servedOn = () =>
    answers('C').every((n, i) => n - beforeOutage[i] >= OUTAGE_ANSWERS) &&
    proxies.every((proxy) => proxy.last === 'C');
  const outageLeft = startedAt + (3 * durationMs) / 4 - Date.now();
  if (await step(servedOn, outageLeft, FOLLOW_MS))
    note(`both proxies answered ${OUTAGE_ANSWERS}+ more requests from C with Redis down`);
  else {
    followed = false;
    note(`a proxy did not answer ${OUTAGE_ANSWERS} requests from C with Redis down`);
  }

  await redis.start();
  db = await redisClient(scope, redis);
  await db.sAdd(KEY, member('A'));
  note(`Redis started again (empty); SADD ${KEY} A`);
  await follow('A', 'the restart');

  await sleep(Math.max(0, startedAt + durationMs - Date.now()));
  running = false;
  await Promise.all(traffic);
  clearInterval(redraw);
  draw(true);
  const ok = followed && errors === 0;
  console.log(
    ok
      ? '\nBoth proxies followed every change; no client saw an error.'
      : '\nSee the notes above: something did not hold.',
  );
  if (options.save) {
    const report: FleetDemoReport = { ...run, durationS: options.duration, followedMs };
    console.log(`Wrote ${writeResults('demo-fleet', report)}.`);
  }
  return ok ? 0 : 1;
}

function parseDemoArgs(argv: string[]): { duration: number; save: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: { duration: { type: 'string' }, save: { type: 'boolean', default: false } },
  });
  return {
    duration: integerOption('--duration', values.duration ?? '24', 2, 600),
    save: values.save,
  };
}

if (isMain(import.meta.url)) await runDemo(SCRIPT, main);
