/**
 * npm run bench:start: what running part 4 under tsx costs, against the same
 * code compiled ahead of time (`npm run build`), at start and at rest:
 *
 *   npm run bench:start                         3 rounds
 *   npm run bench:start -- --rounds 5 --save    and the report to shared/results/start.json
 *
 * The targets, each started with part 4's quick-start command line in front
 * of the mock backend (served in this process), as shared/lib/programs.ts
 * starts programs:
 *
 *   pipe            the ten-line pipe proxy, compiled, under plain node: the floor
 *   part4           node --import tsx/esm part4-balancing/proxy.ts 0 127.0.0.1:PORT
 *   part4-no-cache  the same with tsx's cache of compiled files off (TSX_DISABLE_CACHE=1):
 *                   every start compiles every file, as the first one after an edit does
 *   part4-built     node build/part4-balancing/proxy.js 0 127.0.0.1:PORT
 *   part4-w2, part4-built-w2   the same two with --workers 2
 *
 * Both builds are made afresh by each run, into a temporary folder: the
 * figures are always those of the code as it is. Per round, each target in
 * turn (one target further on each round, as the benchmark does), alone on
 * the machine's cores:
 *
 * - start: from the spawn to its last "Listening on port N" line (both
 *   workers' with --workers 2), in ms;
 * - at rest: `--settle` ms (1,000) after that line, with no client yet, the
 *   resident memory (RSS) of the process and of its whole tree (tsx's esbuild
 *   process, node:cluster's workers), and the CPU time the tree has used.
 *
 * The table shows the medians of the rounds. Wall-clock time moves with the
 * machine's load; CPU time and memory move less.
 *
 * What it leaves out: memory under load (`npm run bench`'s peak RSS column
 * has it, part4 beside part4-built), and routers and fleet mode, which load
 * more code in either form.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cleanup, withCleanup } from '../lib/cleanup.ts';
import { failWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { type Program, partArgs, startProgram } from '../lib/programs.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { markdownTable } from '../lib/table.ts';
import { startBackend } from '../test/backend.ts';
import { listenerPorts, rssKiB, waitFor } from '../test/harness.ts';
import { buildPart4, buildProgram } from '../tools/build.ts';
import { inTurn } from './bench.ts';
import { descendants } from './bench-load.ts';
import { median } from './bench-stats.ts';

const SCRIPT = 'start.ts';
const USAGE = 'usage: start.ts [--rounds N] [--settle MS] [--save]';
export const SAVED_NAME = 'start';

export interface StartOptions {
  rounds: number;
  /** How long after its last Listening line a target is left alone before it is weighed. */
  settleMs: number;
  save?: boolean;
}

export function parseStartArgs(argv: string[]): StartOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      settle: { type: 'string', default: '1000' },
      save: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  return {
    rounds: integerOption('--rounds', values.rounds, 1, 100),
    settleMs: integerOption('--settle', values.settle, 0, 60_000),
    ...(values.save ? { save: true } : {}),
  };
}

/** One start of one target. */
export interface StartRun {
  /** From the spawn to the last Listening line. */
  startMs: number;
  /** The process started (a --workers primary: itself alone). */
  rssKiB: number;
  /** It and every process below it. */
  treeRssKiB: number;
  processes: number;
  /** User and system CPU time of the tree, up to the reading. */
  cpuMs: number;
}

/** A target as the report lists it: its name, and how it was started, in Markdown. */
interface StartTarget {
  name: string;
  command: string;
}

export interface StartReport extends Provenance {
  options: StartOptions;
  targets: StartTarget[];
  /** Per target, every round in order. */
  runs: Record<string, StartRun[]>;
}

interface Startable extends StartTarget {
  /** The file node starts (a .ts one through tsx), its arguments, how many Listening lines. */
  file: string;
  args: (backendPort: number) => string[];
  listeners: number;
  env?: NodeJS.ProcessEnv;
}

/** The six targets, with the files the run built. */
function targets(pipe: string, part4Built: string, tsx: string): Startable[] {
  const quickStart = (port: number) => partArgs('part4-balancing', [port]);
  const twoWorkers = (port: number) => [...quickStart(port), '--workers', '2'];
  const part4 = (name: string, file: string, shown: string, args = quickStart, listeners = 1) => ({
    name,
    command: `\`${shown} ${args(0)
      .join(' ')
      .replace(/^0 127\.0\.0\.1:0/, '0 127.0.0.1:PORT')}\``,
    file,
    args,
    listeners,
  });
  const tsxNoCache = part4('part4-no-cache', tsx, 'node --import tsx/esm part4-balancing/proxy.ts');
  return [
    {
      name: 'pipe',
      command: '`shared/bench/pipe-proxy.ts`, built as part 4 is, under node',
      file: pipe,
      args: (port) => ['0', '127.0.0.1', String(port)],
      listeners: 1,
    },
    part4('part4', tsx, 'node --import tsx/esm part4-balancing/proxy.ts'),
    {
      ...tsxNoCache,
      command: `${tsxNoCache.command}, tsx's cache off`,
      env: { TSX_DISABLE_CACHE: '1' },
    },
    part4('part4-built', part4Built, 'node build/part4-balancing/proxy.js'),
    part4('part4-w2', tsx, 'node --import tsx/esm part4-balancing/proxy.ts', twoWorkers, 2),
    part4('part4-built-w2', part4Built, 'node build/part4-balancing/proxy.js', twoWorkers, 2),
  ];
}

/** Clock ticks per second of /proc/PID/stat: 100 on Linux. */
const TICKS = 100;

/** User plus system CPU time of these processes, in ms (one that vanished counts 0). */
async function cpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS;
}

/** Starts one target, waits, weighs it, stops it and waits until its whole tree is gone. */
async function measureOne(target: Startable, backendPort: number, settleMs: number) {
  const cleanup = new Cleanup();
  try {
    const began = performance.now();
    const args = target.args(backendPort);
    const program: Program = await startProgram(cleanup, target.file, args, { env: target.env });
    if (target.listeners > 1) await listenerPorts(program, target.listeners);
    const startMs = performance.now() - began;
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const tree = [program.pid, ...(await descendants(program.pid))];
    const sizes = await Promise.all(tree.map((pid) => rssKiB(pid).catch(() => 0)));
    const run: StartRun = {
      startMs: Math.round(startMs),
      rssKiB: sizes[0],
      treeRssKiB: sizes.reduce((a, b) => a + b, 0),
      processes: tree.length,
      cpuMs: await cpuMs(tree),
    };
    await program.kill('SIGTERM');
    // The next target starts on a quiet machine: nothing of this one left.
    await waitFor(async () => (await Promise.all(tree.map(alive))).every((each) => !each), {
      what: `${target.name}'s processes to exit`,
    });
    return run;
  } finally {
    await cleanup.run();
  }
}

const alive = (pid: number) =>
  readFile(`/proc/${pid}/stat`, 'utf8').then(
    (stat) => !/^\S+ \(.*\) Z/.test(stat),
    () => false,
  );

/** Builds the two programs, then the rounds. */
async function measureStart(
  options: StartOptions,
  log: (line: string) => void = console.error,
): Promise<Omit<StartReport, keyof Provenance>> {
  return withCleanup(async (cleanup) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rsp-start-'));
    cleanup.teardown(() => rm(dir, { recursive: true, force: true }));
    const pipe = await buildProgram('shared/bench/pipe-proxy.ts', path.join(dir, 'pipe'));
    const part4 = await buildPart4(dir);
    const backend = await startBackend({ port: 0, delay: 0, size: 0, name: 'start' });
    cleanup.teardown(() => new Promise((resolve) => backend.close(resolve)));
    const backendPort = (backend.address() as { port: number }).port;
    const all = targets(pipe.entry, part4.entry, 'part4-balancing/proxy.ts');
    const runs: Record<string, StartRun[]> = Object.fromEntries(all.map((t) => [t.name, []]));
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of inTurn(all, round - 1)) {
        const run = await measureOne(target, backendPort, options.settleMs);
        runs[target.name].push(run);
        log(
          `round ${round}/${options.rounds} ${target.name.padEnd(14)} started in ${run.startMs} ms, ` +
            `${mib(run.treeRssKiB)} MiB in ${run.processes} process(es), ${run.cpuMs} ms of CPU`,
        );
      }
    }
    return {
      options,
      targets: all.map(({ name, command }) => ({ name, command })),
      runs,
    };
  });
}

export const mib = (kib: number) => (kib / 1024).toFixed(1);

/** The median of one field of a target's rounds. */
export function startMedian(
  report: Pick<StartReport, 'runs'>,
  target: string,
  field: keyof StartRun,
): number {
  const runs = report.runs[target];
  if (!runs) throw new Error(`no runs of ${target}`);
  return median(runs.map((run) => run[field]));
}

/** The table: a row per target, the medians of the rounds. */
export function startTable(report: Pick<StartReport, 'targets' | 'runs'>): string {
  return markdownTable(
    ['target', 'command', 'processes', 'start, ms', 'CPU, ms', 'RSS, MiB', 'all processes, MiB'],
    report.targets.map(({ name, command }) => [
      name,
      command,
      String(startMedian(report, name, 'processes')),
      String(Math.round(startMedian(report, name, 'startMs'))),
      String(Math.round(startMedian(report, name, 'cpuMs'))),
      mib(startMedian(report, name, 'rssKiB')),
      mib(startMedian(report, name, 'treeRssKiB')),
    ]),
  );
}

async function main(): Promise<void> {
  const options = parseOrExit(SCRIPT, USAGE, parseStartArgs);
  const began = provenance(npmCommand('bench:start'));
  try {
    const report: StartReport = { ...began, ...(await measureStart(options)) };
    console.log(
      `\nStart and rest, medians of ${options.rounds} round(s), weighed ${options.settleMs} ms after listening:\n`,
    );
    console.log(startTable(report));
    if (options.save) console.log(`\nWrote ${writeResults(SAVED_NAME, report)}.`);
  } catch (err) {
    failWith(SCRIPT, err);
  }
}

if (isMain(import.meta.url)) await main();
