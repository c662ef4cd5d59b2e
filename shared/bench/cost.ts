/**
 * npm run bench:cost: what one request costs a proxy, in CPU time and in
 * system calls, beside the pipe floor and nginx. On a machine shared with
 * other work the rate a proxy reaches swings from one round to the next; the
 * work it does per request hardly moves.
 *
 *   npm run bench:cost                           pipe, part3, part4 (and built), nginx; both modes
 *   npm run bench:cost -- --rounds 9 --modes keepalive --targets pipe,part3
 *   npm run bench:cost -- --save                 and the report to shared/results/cost.json
 *
 * CPU time: the user and system time of the proxy's processes (nginx: its
 * master and its worker; part4-w2: its primary and its workers), read from
 * /proc/PID/stat before and after a run of the benchmark's load
 * (bench-load.ts), divided by the requests answered.
 * /proc counts in clock ticks (10 ms), so a run must be long enough for a
 * few hundred of them: 5 s by default.
 * After a second of load on each (a fresh proxy's first requests pay for
 * compiling its code), round after round, each round starting one target
 * further on, as the benchmark does; the report keeps every round, the table
 * shows medians.
 *
 * With `--together`, every round loads all the targets at once, each with its
 * own clients, over the same seconds: what the rest of the machine does then
 * falls on all of them alike, and the ratio of two targets' CPU per request
 * moves much less from round to round (with a new connection per request, a
 * few per cent where rounds taken in turn move by a third). The figures
 * themselves are higher than alone (each proxy wakes for fewer requests at a
 * time), so read the ratios of a together run, not its microseconds beside a
 * run in turn's. No system calls are counted then.
 *
 * System calls: after the rounds, one more run per target and mode with
 * `strace -c -f` attached to the proxy (nginx and part4-w2: their workers),
 * each call's count divided by the requests answered. Tracing slows a process tenfold, so that
 * run is not timed; the count per request does not depend on speed, except
 * `epoll_wait`'s, which serves more events per call the busier the loop is.
 * Without strace, or where the kernel refuses to let it attach, the calls are
 * left out with a line that says so.
 *
 * `--save` writes the report to `shared/results/cost.json` (cost-NAME.json
 * for a run of fewer targets or modes), where `npm run docs` renders
 * shared/bench/WHERE-THE-TIME-GOES.md's tables from it.
 *
 * What it leaves out: where the time goes inside a process (`npm run profile`
 * does that), and the load generator and the backend, which share the cores.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type Cleanup, withCleanup } from '../lib/cleanup.ts';
import { failWith, firstLine, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { markdownTable } from '../lib/table.ts';
import { waitFor } from '../test/harness.ts';
import { inTurn } from './bench.ts';
import { descendants, load, type Mode, modeOption, nodeProcesses } from './bench-load.ts';
import { median } from './bench-stats.ts';
import {
  ROUTED_NAME,
  type Running,
  startBenchBackend,
  TARGETS,
  type Target,
} from './bench-targets.ts';

const SCRIPT = 'cost.ts';
/** How long a traced run lasts, at most (a round's length if shorter). */
const TRACED_SECONDS = 4;
const DEFAULT_TARGETS = ['pipe', 'part3', 'part4', 'part4-built', 'nginx'];
const MODES: Mode[] = ['keepalive', 'close'];
const CHOICES = TARGETS.filter((target) => target.kind !== 'direct' && !target.tls).map(
  (target) => target.name,
);
const USAGE = `usage: cost.ts [--targets ${CHOICES.join(',')}] [--modes keepalive,close]
               [--rounds N] [--seconds S] [--connections N] [--together] [--save]`;

export interface CostOptions {
  targets: string[];
  modes: Mode[];
  rounds: number;
  seconds: number;
  connections: number;
  /** Load every target at once in each round (see above), and count no system calls. */
  together?: boolean;
  /** Write the report to shared/results/ under savedName(). */
  save?: boolean;
}

export function parseCostArgs(argv: string[]): CostOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      targets: { type: 'string', default: DEFAULT_TARGETS.join(',') },
      modes: { type: 'string', default: MODES.join(',') },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '50' },
      together: { type: 'boolean', default: false },
      save: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  const targets = values.targets.split(',');
  for (const name of targets) {
    if (!CHOICES.includes(name)) {
      throw new Error(`unknown target "${name}" (known: ${CHOICES.join(', ')})`);
    }
  }
  return {
    targets,
    modes: values.modes.split(',').map(modeOption),
    rounds: integerOption('--rounds', values.rounds, 1, 100),
    seconds: integerOption('--seconds', values.seconds, 1, 600),
    connections: integerOption('--connections', values.connections, 1, 10_000),
    ...(values.together ? { together: true } : {}),
    ...(values.save ? { save: true } : {}),
  };
}

/**
 * The name --save gives a run: cost, or cost-pipe-part3-keepalive for fewer
 * targets or modes; cost-together, cost-together-part3-part4-close with --together.
 */
export function savedName(options: Pick<CostOptions, 'targets' | 'modes' | 'together'>): string {
  const all =
    options.targets.join(',') === DEFAULT_TARGETS.join(',') &&
    options.modes.join(',') === MODES.join(',');
  const name = options.together ? ['cost', 'together'] : ['cost'];
  return (all ? name : [...name, ...options.targets, ...options.modes]).join('-');
}

/** One run's CPU time per request, in microseconds. */
export interface CpuRun {
  requests: number;
  userUs: number;
  systemUs: number;
  /** When the run's load began (ms since the epoch), in runs saved since --together came. */
  began?: number;
}

/** One traced run: the requests answered, and each system call's count per request. */
export interface Calls {
  requests: number;
  perRequest: Record<string, number>;
}

export interface CostReport extends Provenance {
  options: CostOptions;
  /** Per mode, per target, every round in order. */
  cpu: Partial<Record<Mode, Record<string, CpuRun[]>>>;
  /** Per mode, per target; empty without strace. */
  calls: Partial<Record<Mode, Record<string, Calls>>>;
  /** One line per target or measurement left out, and why. */
  skipped: string[];
}

/** Clock ticks per second, the unit of /proc/PID/stat's times. */
function clockTicks(): number {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout);
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

/** User and system CPU time of these processes, in seconds (a process that vanished counts 0). */
async function cpuSeconds(pids: number[], ticks: number): Promise<[number, number]> {
  let [user, system] = [0, 0];
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    // The fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    user += Number(fields[11]) / ticks;
    system += Number(fields[12]) / ticks;
  }
  return [user, system];
}

/**
 * The processes whose work a target's requests cost: the proxy's and its
 * children's, nginx's master and worker, part 4's primary and its workers
 * with --workers (tsx's esbuild service is a child too, and works only while
 * modules load).
 */
const processesOf = async (running: Running) => {
  const pid = running.pid as number;
  return [pid, ...(await descendants(pid))];
};

/**
 * The processes to trace: the workers rather than the process that started
 * them and only waits (nginx's master, part 4's primary with --workers; not
 * tsx's esbuild service).
 */
const tracedOf = async (target: Target, running: Running) => {
  const pid = running.pid as number;
  const children = await descendants(pid);
  const workers = target.kind === 'peer' ? children : await nodeProcesses(children);
  return workers.length > 0 ? workers : [pid];
};

/** Parses the summary `strace -c` prints: each call's count, the total left out. */
export function parseStraceSummary(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (fields.length < 5 || !/^\d+\.\d+$/.test(fields[0])) continue;
    const name = fields[fields.length - 1];
    if (name === 'total') continue;
    counts[name] = Number(fields[3]);
  }
  return counts;
}

/** Why strace cannot be used here, or undefined when it can. */
function straceMissing(): string | undefined {
  if (spawnSync('strace', ['-V']).error) {
    return 'system calls: skipped, strace is not installed (Debian: apt-get install strace)';
  }
  return undefined;
}

/** Runs `work` with `strace -c -f` attached to `pids`; resolves with the calls counted. */
async function traced<T>(
  pids: number[],
  work: () => Promise<T>,
): Promise<{ result: T; counts: Record<string, number> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsp-cost-'));
  const out = path.join(dir, 'strace.txt');
  const args = ['-c', '-f', '-o', out, ...pids.flatMap((pid) => ['-p', String(pid)])];
  const strace: ChildProcess = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  strace.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => strace.once('exit', () => resolve()));
  try {
    await waitFor(
      () => {
        if (strace.exitCode !== null) throw new Error(`strace: ${firstLine(stderr.trim())}`);
        return (stderr.match(/attached/g) ?? []).length >= pids.length;
      },
      { timeoutMs: 10_000, what: 'strace to attach' },
    );
    const result = await work();
    strace.kill('SIGINT');
    await exited;
    return { result, counts: parseStraceSummary(await readFile(out, 'utf8')) };
  } finally {
    if (strace.exitCode === null) strace.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the rounds, then the traced runs; everything it starts is registered on `cleanup`. */
export async function measureCost(
  options: CostOptions,
  cleanup: Cleanup,
  log: (line: string) => void = console.log,
): Promise<Omit<CostReport, keyof Provenance>> {
  const ticks = clockTicks();
  const skipped: string[] = [];
  const backend = await startBenchBackend(cleanup, 'mock');
  const started: { target: Target; running: Running }[] = [];
  for (const name of options.targets) {
    const target = TARGETS.find((each) => each.name === name) as Target;
    const why = target.missing();
    if (why) {
      skipped.push(`${name}: skipped, ${why}`);
      continue;
    }
    started.push({ target, running: await target.start(cleanup, backend.port) });
  }
  // Every request names the benchmark's host, which the routing rows route (part4-http's host
  // table has no default: a request without it would be a 404 that never reaches a backend).
  const loadOf = (mode: Mode, port: number, seconds: number) =>
    load(mode, { port, connections: options.connections, seconds, name: ROUTED_NAME });
  const cpu: CostReport['cpu'] = {};
  for (const mode of options.modes) {
    const runs: Record<string, CpuRun[]> = {};
    // A second of load first: the first requests of a fresh proxy pay for compiling its code.
    const warm = ({ running }: (typeof started)[number]) => loadOf(mode, running.port, 1);
    if (options.together) await Promise.all(started.map(warm));
    else for (const each of started) await warm(each);
    for (let round = 1; round <= options.rounds; round++) {
      // One target's run: its processes' CPU time around its load, per request answered.
      const measure = async ({ target, running }: (typeof started)[number]) => {
        const pids = await processesOf(running);
        const before = await cpuSeconds(pids, ticks);
        const began = Date.now();
        const run = await loadOf(mode, running.port, options.seconds);
        const after = await cpuSeconds(pids, ticks);
        const perRequest = (i: 0 | 1) => ((after[i] - before[i]) / run.requests) * 1e6;
        const each = {
          requests: run.requests,
          userUs: perRequest(0),
          systemUs: perRequest(1),
          began,
        };
        runs[target.name] = [...(runs[target.name] ?? []), each];
        log(
          `${mode} round ${round}/${options.rounds} ${target.name.padEnd(6)} ` +
            `${each.requests} requests, user ${each.userUs.toFixed(1)} µs, system ${each.systemUs.toFixed(1)} µs per request`,
        );
      };
      const inRound = inTurn(started, round - 1);
      if (options.together) await Promise.all(inRound.map(measure));
      else for (const each of inRound) await measure(each);
    }
    cpu[mode] = runs;
  }
  const calls: CostReport['calls'] = {};
  // Counted alone, one target at a time, as the rounds in turn are.
  const missing = options.together ? '--together: system calls not counted' : straceMissing();
  if (missing) skipped.push(missing);
  for (const mode of missing ? [] : options.modes) {
    calls[mode] = {};
    for (const { target, running } of started) {
      try {
        const { result, counts } = await traced(await tracedOf(target, running), () =>
          loadOf(mode, running.port, Math.min(TRACED_SECONDS, options.seconds)),
        );
        const perRequest = Object.fromEntries(
          Object.entries(counts).map(([call, count]) => [call, count / result.requests]),
        );
        (calls[mode] as Record<string, Calls>)[target.name] = {
          requests: result.requests,
          perRequest,
        };
        log(`${mode} traced ${target.name.padEnd(6)} ${result.requests} requests`);
      } catch (err) {
        skipped.push(`${target.name}, ${mode}: system calls skipped, ${firstLine(err)}`);
      }
    }
  }
  return { options, cpu, calls, skipped };
}

/** The CPU table: per mode, a row of user and one of system time, the medians of the rounds. */
export function cpuTable(report: Pick<CostReport, 'options' | 'cpu'>): string {
  const targets = report.options.targets.filter((name) =>
    report.options.modes.some((mode) => report.cpu[mode]?.[name]),
  );
  const rows = report.options.modes.flatMap((mode) =>
    (['user', 'system'] as const).map((kind, i) => [
      i === 0 ? mode : '',
      `${kind}, µs`,
      ...targets.map((name) => cpuMedian(report, mode, name, kind).toFixed(1)),
    ]),
  );
  return markdownTable(['mode', 'per request', ...targets], rows);
}

/** The median over the rounds of a target's user or system time per request, in µs. */
export function cpuMedian(
  report: Pick<CostReport, 'cpu'>,
  mode: Mode,
  target: string,
  kind: 'user' | 'system',
): number {
  const runs = report.cpu[mode]?.[target];
  if (!runs) throw new Error(`no ${mode} rounds of ${target}`);
  return median(runs.map((run) => (kind === 'user' ? run.userUs : run.systemUs)));
}

/** The median over the rounds of a's CPU time per request divided by b's in the same round. */
export function cpuRatio(...args: Parameters<typeof cpuRatios>): number {
  return median(cpuRatios(...args));
}

/** Round by round, a's CPU time per request divided by b's. */
export function cpuRatios(
  report: Pick<CostReport, 'cpu'>,
  mode: Mode,
  a: string,
  b: string,
  kind: 'user' | 'system' | 'both',
): number[] {
  const [ra, rb] = [a, b].map((target) => {
    const runs = report.cpu[mode]?.[target];
    if (!runs) throw new Error(`no ${mode} rounds of ${target}`);
    return runs;
  });
  const time = (run: CpuRun) =>
    kind === 'user' ? run.userUs : kind === 'system' ? run.systemUs : run.userUs + run.systemUs;
  return ra.map((run, i) => time(run) / time(rb[i]));
}

/**
 * The system calls of one mode: a row per call made at least `least` times
 * per request by some target (most first), the others summed in a row of
 * their own, and the total.
 */
export function callsTable(report: Pick<CostReport, 'calls'>, mode: Mode, least = 0.05): string {
  const byTarget = report.calls[mode] ?? {};
  const targets = Object.keys(byTarget);
  const count = (target: string, call: string) => byTarget[target].perRequest[call] ?? 0;
  const all = [...new Set(targets.flatMap((target) => Object.keys(byTarget[target].perRequest)))];
  const most = (call: string) => Math.max(...targets.map((target) => count(target, call)));
  const shown = all.filter((call) => most(call) >= least).sort((a, b) => most(b) - most(a));
  const rest = all.filter((call) => !shown.includes(call));
  const cell = (value: number) => value.toFixed(2);
  const sum = (target: string, calls: string[]) =>
    calls.reduce((total, call) => total + count(target, call), 0);
  return markdownTable(
    ['call', ...targets],
    [
      ...shown.map((call) => [
        `\`${call}\``,
        ...targets.map((target) => cell(count(target, call))),
      ]),
      [`${rest.length} others`, ...targets.map((target) => cell(sum(target, rest)))],
      ['total', ...targets.map((target) => cell(sum(target, all)))],
    ],
  );
}

async function main(): Promise<void> {
  const options = parseOrExit(SCRIPT, USAGE, parseCostArgs);
  const began = provenance(npmCommand('bench:cost'));
  try {
    await withCleanup(async (cleanup) => {
      const report: CostReport = { ...began, ...(await measureCost(options, cleanup)) };
      for (const line of report.skipped) console.log(line);
      console.log(`\nCPU time per request, medians of ${options.rounds} round(s):\n`);
      console.log(cpuTable(report));
      for (const mode of options.modes) {
        if (!report.calls[mode]) continue;
        console.log(`\nSystem calls per request, ${mode}:\n`);
        console.log(callsTable(report, mode));
      }
      if (options.save) console.log(`\nWrote ${writeResults(savedName(options), report)}.`);
    });
  } catch (err) {
    failWith(SCRIPT, err);
  }
}

if (isMain(import.meta.url)) await main();
