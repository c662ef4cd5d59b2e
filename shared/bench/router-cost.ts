/**
 * What routing in code costs (part 4, chapter 8), measured three ways:
 *
 *   npm run bench:router
 *   npm run bench:router -- --save          write shared/results/router-cost.json
 *   npm run bench:router -- --calls 2000 --reloads 100 --rounds 1 --duration 1
 *
 * 1. One question and its answer. Part 4 runs a router in a thread of its own
 *    (router.ts says why): RouterThread.decide() on the benchmark's small
 *    router (bench-targets.ts's BENCH_ROUTER), one call at a time and 100 at
 *    once, beside the same function called in this thread, which is what
 *    the call would cost without the thread. Microseconds per call, the
 *    median of the rounds.
 * 2. Through the proxy: part4-http and part4-router (the same listener with
 *    that router) with a new connection per request, where every request
 *    pays the call: bench.ts's interleaved rounds.
 * 3. Reloads: SIGHUP `--reloads` times (1,000) to a proxy whose listener has
 *    a router, and to one without, their memory (RSS) and threads read every
 *    tenth of the way; and, for comparison, the router imported as many
 *    times in one thread under a new URL each time, as a reload that kept
 *    routers in the proxy's own thread would have to: an ES module cannot be
 *    unloaded, so that heap only grows.
 *
 * The results file is a bench report (bench.ts's BenchReport, so the
 * chapters' bench tables read it as they read any run) with `call` and
 * `reload` beside it.
 *
 * What it leaves out: a router that does real work (a Redis round trip, a
 * table read): what it costs is its own, and shows in the status's meanMs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { EventCounts } from '../../part4-balancing/log.ts';
import { RouterThread } from '../../part4-balancing/router/router.ts';
import type { RouteRequest, Router } from '../../part4-balancing/router/types.ts';
import { type Cleanup, withCleanup } from '../lib/cleanup.ts';
import { exitWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { type Program, ROOT, startPart } from '../lib/programs.ts';
import { npmCommand, writeResults } from '../lib/results.ts';
import { parseResponse, readAll, requestHead, rssKiB } from '../test/harness.ts';
import { type BenchReport, formatReport, runBench } from './bench.ts';
import { median } from './bench-stats.ts';
import { BENCH_ROUTER } from './bench-targets.ts';

const SCRIPT = 'router-cost.ts';
const USAGE =
  'usage: router-cost.ts [--calls N] [--reloads N] [--rounds N] [--duration S] [--save | --json FILE]';
export const SAVED_NAME = 'router-cost';

export interface RouterCostOptions {
  calls: number;
  reloads: number;
  rounds: number;
  duration: number;
  save?: boolean;
  json?: string;
}

export function parseRouterCostArgs(argv: string[]): RouterCostOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      calls: { type: 'string', default: '20000' },
      reloads: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      save: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    allowPositionals: false,
  });
  if (values.json !== undefined && values.save) throw new Error('--json and --save: choose one');
  if (values.json === '') throw new Error('--json needs a file name');
  return {
    calls: integerOption('--calls', values.calls, 100, 10_000_000),
    reloads: integerOption('--reloads', values.reloads, 10, 100_000),
    rounds: integerOption('--rounds', values.rounds, 1, 100),
    duration: integerOption('--duration', values.duration, 1, 3600),
    ...(values.save ? { save: true } : {}),
    ...(values.json === undefined ? {} : { json: values.json }),
  };
}

/** Microseconds per call, each the median of the rounds. */
export interface CallCost {
  calls: number;
  /** decide() awaited one call after another: a question's round trip to the thread. */
  threadSerialUs: number;
  /** 100 decide() at once, over and over: the thread's throughput, per call. */
  threadConcurrentUs: number;
  /** The same function called in this thread, awaited: the call without the thread. */
  inThreadUs: number;
}

/** One reading along the reloads: after `reloads` of them, the memory in KiB. */
export interface ReloadSample {
  reloads: number;
  rssKiB: number;
  threads?: number;
}

export interface ReloadCost {
  reloads: number;
  /** Each proxy's RSS once started, in KiB: no router, a .mjs router, a TypeScript one (by-path.ts). */
  startRssKiB: { none: number; mjs: number; ts: number };
  /** A proxy whose listener has a router: its RSS and threads along the way. */
  withRouter: ReloadSample[];
  /** The same proxy without the router. */
  withoutRouter: ReloadSample[];
  /** The router imported under a new URL each time in one thread: its heap after a GC, in KiB. */
  imported: { imports: number; heapKiB: number }[];
}

export interface RouterCostReport extends BenchReport {
  call: CallCost;
  reload: ReloadCost;
}

/** A client as an http listener's router sees it (router/types.ts). */
const REQUEST: RouteRequest = {
  listener: { port: 8080, protocol: 'http' },
  client: { address: '192.0.2.10', port: 50_000 },
  name: 'bench.example.org',
  http: {
    method: 'GET',
    path: '/index.html',
    headers: { host: 'bench.example.org', 'user-agent': 'curl/8.5.0', accept: '*/*' },
  },
};

export async function runRouterCost(options: RouterCostOptions): Promise<RouterCostReport> {
  return withCleanup(async (cleanup) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rsp-router-cost-'));
    cleanup.teardown(() => rm(dir, { recursive: true, force: true }));
    const router = path.join(dir, 'router.mjs');
    await writeFile(router, BENCH_ROUTER);

    console.error(`Calls: ${options.calls} per round, ${options.rounds} round(s).`);
    const call = await measureCalls(router, options);
    const bench = await runBench({
      connections: 100,
      duration: options.duration,
      rounds: options.rounds,
      targets: ['direct', 'part4-http', 'part4-router'],
      mode: 'close',
      backend: 'mock',
    });
    console.error(`Reloads: ${options.reloads}, with a router and without, then imports.`);
    const reload = await measureReloads(cleanup, dir, router, options.reloads);
    return { ...bench, command: npmCommand('bench:router'), call, reload };
  });
}

/** Part 1: decide() through the thread, one at a time and 100 at once, beside a call in this thread. */
async function measureCalls(file: string, options: RouterCostOptions): Promise<CallCost> {
  const thread = await RouterThread.start(file, 10_000, new EventCounts({}));
  const route: Router = (await import(pathToFileURL(file).href)).default;
  const perCall = async (work: () => Promise<unknown>, calls: number) => {
    const began = performance.now();
    await work();
    return ((performance.now() - began) * 1000) / calls;
  };
  const rounds: Record<keyof Omit<CallCost, 'calls'>, number[]> = {
    threadSerialUs: [],
    threadConcurrentUs: [],
    inThreadUs: [],
  };
  const n = options.calls;
  try {
    for (let round = 0; round < options.rounds; round++) {
      rounds.threadSerialUs.push(
        await perCall(async () => {
          for (let i = 0; i < n; i++) await thread.decide(REQUEST);
        }, n),
      );
      rounds.threadConcurrentUs.push(
        await perCall(async () => {
          for (let i = 0; i < n; i += 100) {
            await Promise.all(Array.from({ length: 100 }, () => thread.decide(REQUEST)));
          }
        }, n),
      );
      rounds.inThreadUs.push(
        await perCall(async () => {
          for (let i = 0; i < n; i++) await route(REQUEST);
        }, n),
      );
    }
  } finally {
    thread.retire();
  }
  const us = (values: number[]) => Number(median(values).toFixed(2));
  return {
    calls: n,
    threadSerialUs: us(rounds.threadSerialUs),
    threadConcurrentUs: us(rounds.threadConcurrentUs),
    inThreadUs: us(rounds.inThreadUs),
  };
}

/** Part 3: SIGHUP after SIGHUP, with a router and without; then imports in one thread. */
async function measureReloads(
  cleanup: Cleanup,
  dir: string,
  router: string,
  reloads: number,
): Promise<ReloadCost> {
  const every = Math.max(1, Math.round(reloads / 10));
  const proxyOf = async (name: string, routerFile: string | undefined) => {
    const listener = {
      port: 0,
      protocol: 'http',
      pool: 'bench',
      ...(routerFile ? { router: routerFile } : {}),
    };
    // Where nothing listens: every client gets a 502, which is answer enough here.
    const backends = [{ address: '127.0.0.1:9' }];
    const config = { listen: [listener], pools: { bench: { backends }, api: { backends } } };
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify(config));
    return startPart(cleanup, 'part4-balancing', ['--config', file]);
  };
  const [proxyWith, proxyWithout, proxyTs] = await Promise.all([
    proxyOf('with-router', router),
    proxyOf('without-router', undefined),
    proxyOf('with-ts-router', path.join(ROOT, 'part4-balancing/router/examples/by-path.ts')),
  ]);
  // One after the other, each read once it has settled.
  const startRssKiB = { none: 0, mjs: 0, ts: 0 };
  for (const [key, proxy] of [
    ['none', proxyWithout],
    ['mjs', proxyWith],
    ['ts', proxyTs],
  ] as const) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    startRssKiB[key] = await rssKiB(proxy.pid);
  }
  await proxyTs.kill();
  const withRouter = await reloadMany(proxyWith, reloads, every);
  const withoutRouter = await reloadMany(proxyWithout, reloads, every);
  const imported = importMany(router, reloads, every);
  return { reloads, startRssKiB, withRouter, withoutRouter, imported };
}

/** Sends SIGHUP `reloads` times, each after the last was done; reads memory and threads every `every`. */
async function reloadMany(proxy: Program, reloads: number, every: number): Promise<ReloadSample[]> {
  let done = 0;
  let refused: string | undefined;
  let next = () => {};
  proxy.child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    done += text.split('Reloaded ').length - 1;
    refused ??= /Reload refused.*/.exec(text)?.[0];
    next();
  });
  const sample = async (count: number): Promise<ReloadSample> => {
    // The listener still answers (a 502: its pool's backend is nowhere).
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.write(requestHead('/', 'bench.example.org'));
    if (parseResponse((await readAll(socket)).data).status === 0) {
      throw new Error(`no answer after ${count} reloads`);
    }
    return { reloads: count, rssKiB: await rssKiB(proxy.pid), threads: await threads(proxy.pid) };
  };
  const samples = [await sample(0)];
  for (let i = 1; i <= reloads; i++) {
    await new Promise<void>((resolve, reject) => {
      next = () => (refused ? reject(new Error(refused)) : done >= i ? resolve() : undefined);
      proxy.child.kill('SIGHUP');
    });
    if (i % every === 0 || i === reloads) {
      samples.push(await sample(i));
      process.stderr.write(`  ${i} reloads: ${samples.at(-1)?.rssKiB} KiB\n`);
    }
  }
  return samples;
}

/** The threads of a process (Threads: in /proc/PID/status): a router's thread is one. */
async function threads(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Threads:\s+(\d+)/m.exec(status)?.[1]);
}

/**
 * The router imported `count` times in one fresh Node process, under a new
 * URL each time (`?reload=N`), its heap read after a full GC every `every`.
 */
function importMany(router: string, count: number, every: number) {
  const url = pathToFileURL(router).href;
  const code = `
    const samples = [];
    const heap = () => { gc(); return Math.round(process.memoryUsage().heapUsed / 1024); };
    samples.push({ imports: 0, heapKiB: heap() });
    for (let i = 1; i <= ${count}; i++) {
      await import(${JSON.stringify(url)} + '?reload=' + i);
      if (i % ${every} === 0 || i === ${count}) samples.push({ imports: i, heapKiB: heap() });
    }
    console.log(JSON.stringify(samples));`;
  const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`the imports failed: ${run.stderr.trim()}`);
  return JSON.parse(run.stdout) as ReloadCost['imported'];
}

/** The report in words, for the terminal. */
export function formatRouterCost(report: RouterCostReport): string {
  const { call, reload } = report;
  const growth = (samples: ReloadSample[]) =>
    ((samples.at(-1)?.rssKiB ?? 0) - samples[0].rssKiB) / reload.reloads;
  const imported = reload.imported;
  const perImport = ((imported.at(-1)?.heapKiB ?? 0) - imported[0].heapKiB) / reload.reloads;
  return [
    `A call through the router's thread: ${call.threadSerialUs} us one at a time, ` +
      `${call.threadConcurrentUs} us each 100 at once; in this thread: ${call.inThreadUs} us.`,
    formatReport(report),
    '',
    `${reload.reloads} reloads: RSS ${growth(reload.withRouter).toFixed(1)} KiB more per reload ` +
      `with a router, ${growth(reload.withoutRouter).toFixed(1)} without; ` +
      `imported in one thread instead: ${perImport.toFixed(1)} KiB of heap more per import.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOrExit(SCRIPT, USAGE, parseRouterCostArgs);
  try {
    const report = await runRouterCost(options);
    console.log(formatRouterCost(report));
    if (options.save) console.log(`\nWrote ${writeResults(SAVED_NAME, report)}.`);
    else if (options.json) {
      await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`\nWrote ${options.json}.`);
    }
  } catch (err) {
    exitWith(SCRIPT, err, 1);
  }
}

if (isMain(import.meta.url)) void main();
