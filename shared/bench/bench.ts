/**
 * The benchmark: every part against a direct connection to the backend, and
 * against the smallest Node proxy (pipe) and nginx and HAProxy when they are
 * installed; part 4 also routing by Host and by TLS SNI.
 *
 *   npm run bench
 *   npm run bench -- --mode close --rounds 5 --duration 10 --json bench-close.json
 *   npm run bench -- --targets part2,part3 --backend nginx
 *   npm run bench -- --targets pipe,part4,part4-http,part4-tcp-tls,part4-tls
 *   npm run bench -- --rate 2000
 *   npm run bench -- --targets pipe,part3 --try mine=../my-part3/proxy.ts
 *   npm run bench -- --mode close --save
 *   npm run bench -- --mode hold --connections 4000 --save
 *
 * It starts everything itself on free ports: one backend (and the mock backend
 * speaking TLS when a TLS row is chosen), then each target in front of it.
 * Rounds are interleaved (direct, pipe, part1, ..., then pipe, part1, ...,
 * direct, ...) so that a noisy neighbour or a warming CPU hurts every target
 * alike, and the table shows the median of the rounds. Each round starts one
 * target further on, so that no target always runs first (on a freshly started
 * backend) or always right after the same neighbour. "added ms" is the mean latency a target adds to its
 * baseline's (direct; direct-tls for the TLS rows); "of direct" is its
 * throughput as a share of the baseline's; "served" is how many of the clients
 * got any answer at all (all of them, except with a proxy that serves one
 * connection at a time). A baseline is always measured: direct, and direct-tls
 * when a TLS row is chosen.
 *
 * Two modes: keepalive (each client reuses one connection, what browsers and
 * load balancers do) and close (a new connection per request, what `ab` did in
 * the blog series, so connection set-up is part of every request).
 *
 * And a third that measures memory, not speed: hold. For each target, N
 * clients (4,000 by default) each send one request, read its answer and hold
 * their connection open, idle; the table shows the target's resident memory
 * before they came and while they are held, and the difference divided by the
 * connections held: KiB per held connection, what a proxy with many idle
 * keep-alive clients pays for each. Each round starts every target afresh
 * (the memory a process once took is seldom given back, so a second round on
 * the same process would measure less); serial part 1 and direct (no proxy
 * to weigh) are left out, and so are the TLS rows unless --targets names
 * them (thousands of handshakes, for a proxy that relays them unread).
 * With `--heap`, the rows that are Node processes also give what each held
 * connection added to their JavaScript heap, read after full collections
 * (heap-probe.js, loaded into them through NODE_OPTIONS): what a connection
 * keeps, without the heap's own growth and the garbage that the resident
 * figure also counts. The first of those collections comes before the
 * reading before, so that reading is of a collected heap then.
 *
 * Two loads: as fast as the targets answer (the default: throughput at
 * saturation), or `--rate N` requests a second, evenly spaced, below every
 * target's capacity: the latency a proxy adds when it is not the bottleneck,
 * on the mean and on the p99.
 *
 * `--save` writes the report to `shared/results/`, named after the mode, the
 * rate and the backend (`bench-close.json`, `bench-keepalive-rate-2000.json`),
 * where `npm run docs` renders the chapters' tables and figures from it.
 *
 * What it leaves out: asserting anything. Speed depends on the machine; the
 * tests check that the bench runs and reports sensible fields, never how fast.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cleanup, withCleanup } from '../lib/cleanup.ts';
import { exitWith, firstLine, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { type Machine, npmCommand, provenance, writeResults } from '../lib/results.ts';
import {
  HEAP_PROBE_DIR,
  heapInUse,
  holdConnections,
  load,
  type Mode,
  modeOption,
  settledRss,
  watchRss,
} from './bench-load.ts';
import {
  compareWithDirect,
  formatHoldTable,
  formatTable,
  type HoldRun,
  type HoldSummary,
  holdReading,
  mib,
  type RunResult,
  reading,
  summariseHold,
  summariseRounds,
  type TargetSummary,
  thousands,
} from './bench-stats.ts';
import {
  type BackendKind,
  baselineOf,
  ROUTED_NAME,
  type Running,
  SERIAL_NOTE,
  startBenchBackend,
  TARGETS,
  type Target,
  tempDir,
  triedTarget,
} from './bench-targets.ts';

export const USAGE = `usage: bench.ts [--connections N] [--duration S] [--rounds N] [--rate N]
                [--targets ${TARGETS.map((target) => target.name).join(',')}]
                [--mode keepalive|close|hold [--heap]] [--backend mock|nginx] [--json FILE]
                [--save] [--label WORD] [--try NAME=FILE ...]`;

/** The load modes, and hold: memory per held connection. */
type BenchMode = Mode | 'hold';

/** Clients the hold mode holds at once unless --connections says otherwise. */
export const HOLD_CONNECTIONS = 4000;

/**
 * How long the mock backend keeps an idle connection in hold mode: Node's 5 s
 * would close the first clients while the last ones connect.
 */
const HOLD_BACKEND_KEEPALIVE_MS = 600_000;

export interface BenchOptions {
  connections: number;
  /** Seconds per run. */
  duration: number;
  rounds: number;
  /**
   * Target names in table order; always starts with direct, the baseline, and
   * holds direct-tls when a TLS row is there.
   */
  targets: string[];
  mode: BenchMode;
  backend: BackendKind;
  /** Requests per second, evenly spaced; undefined: as fast as each target answers. */
  rate?: number;
  json?: string;
  /** Write the report to shared/results/ under the name savedName() gives it. */
  save?: boolean;
  /** A word added to the saved name, for a run of a few rows beside the full one (bench-keepalive-LABEL). */
  label?: string;
  /** Proxies of the reader's (--try NAME=FILE), each a row after the others; FILE is absolute. */
  tries?: { name: string; file: string }[];
  /** The hold mode: read the JavaScript heap of Node rows too (heap-probe.js). */
  heap?: boolean;
}

/**
 * The name --save gives a run: its mode, its rate, its backend and its label
 * (bench-keepalive, bench-close-rate-200, bench-close-http-proxy, bench-hold-heap).
 */
export function savedName(
  options: Pick<BenchOptions, 'mode' | 'rate' | 'backend' | 'label' | 'heap'>,
): string {
  return [
    'bench',
    options.mode,
    options.heap ? 'heap' : '',
    options.rate === undefined ? '' : `rate-${options.rate}`,
    options.backend === 'mock' ? '' : `${options.backend}-backend`,
    options.label ?? '',
  ]
    .filter(Boolean)
    .join('-');
}

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      targets: { type: 'string' },
      mode: { type: 'string', default: 'keepalive' },
      backend: { type: 'string', default: 'mock' },
      rate: { type: 'string' },
      json: { type: 'string' },
      save: { type: 'boolean', default: false },
      label: { type: 'string' },
      try: { type: 'string', multiple: true },
      heap: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  const mode = benchModeOption(values.mode);
  const hold = mode === 'hold';
  const known = TARGETS.map((target) => target.name);
  const asked =
    values.targets === undefined
      ? TARGETS.filter((target) => !target.onlyWhenAsked && !(hold && leftOutOfHold(target))).map(
          (target) => target.name,
        )
      : values.targets.split(',').map((name) => name.trim());
  const unknown = asked.filter((name) => !known.includes(name));
  if (unknown.length > 0 || asked.length === 0) {
    throw new Error(`--targets: unknown target "${unknown[0] ?? ''}" (known: ${known.join(', ')})`);
  }
  if (values.backend !== 'mock' && values.backend !== 'nginx') {
    throw new Error(`--backend must be mock or nginx, got "${values.backend}"`);
  }
  if (values.json === '') throw new Error('--json needs a file name');
  if (values.json !== undefined && values.save) throw new Error('--json and --save: choose one');
  if (values.label !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(values.label)) {
    throw new Error(`--label must be lower-case letters, digits and dashes, got "${values.label}"`);
  }
  if (values.label !== undefined && !values.save)
    throw new Error('--label names a saved run: add --save');
  if (hold && values.rate !== undefined) {
    throw new Error('--rate: the hold mode sends one request per connection, not a rate');
  }
  if (!hold && values.heap) throw new Error('--heap: only the hold mode reads the heap');
  if (hold && values.duration !== undefined) {
    throw new Error('--duration: the hold mode lasts as long as it takes to hold every connection');
  }
  // The hold mode measures each proxy alone: no baseline row to compare with.
  const baselines = new Set(hold ? [] : ['direct']);
  if (!hold) {
    for (const target of TARGETS)
      if (asked.includes(target.name)) baselines.add(baselineOf(target));
  }
  const tries = (values.try ?? []).map((text) => parseTry(text, known));
  const connections = hold
    ? holdConnectionsOption(values.connections)
    : integerOption('--connections', values.connections ?? '100', 1, 10_000);
  return {
    connections,
    duration: integerOption('--duration', values.duration ?? '5', 1, 3600),
    rounds: integerOption('--rounds', values.rounds, 1, 100),
    targets: [
      ...known.filter((name) => baselines.has(name) || asked.includes(name)),
      ...tries.map((tried) => tried.name),
    ],
    mode,
    backend: values.backend,
    rate:
      values.rate === undefined ? undefined : integerOption('--rate', values.rate, 1, 1_000_000),
    json: values.json,
    ...(values.save ? { save: true } : {}),
    ...(values.label === undefined ? {} : { label: values.label }),
    ...(tries.length > 0 ? { tries } : {}),
    ...(values.heap ? { heap: true } : {}),
  };
}

/** The --mode option: keepalive, close or hold; throws a one-line Error otherwise. */
function benchModeOption(text: string): BenchMode {
  if (text === 'hold') return text;
  try {
    return modeOption(text);
  } catch {
    throw new Error(`--mode must be keepalive, close or hold, got "${text}"`);
  }
}

/** Rows the hold mode leaves out unless named: direct has no proxy to weigh, TLS rows cost handshakes. */
const leftOutOfHold = (target: Target) => target.kind === 'direct' || Boolean(target.tls);

/**
 * The hold mode's --connections: each held client costs the proxy two
 * descriptors (its socket and its backend's), and this process's limit is
 * the one the proxy inherits.
 */
function holdConnectionsOption(text: string | undefined): number {
  const connections = integerOption('--connections', text ?? String(HOLD_CONNECTIONS), 1, 100_000);
  const limit = openFilesLimit();
  if (2 * connections + 64 > limit) {
    throw new Error(
      `--connections ${connections}: a proxy holding them needs ${2 * connections + 64} descriptors, the limit is ${limit} (ulimit -n)`,
    );
  }
  return connections;
}

/** This process's soft limit on open files (Infinity where /proc does not say). */
function openFilesLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * One --try: NAME=FILE, a new row name and a proxy file that exists. A relative
 * FILE is read from where `npm run` was typed (INIT_CWD), not from the
 * repository's root where npm runs the script.
 */
function parseTry(text: string, taken: string[]): { name: string; file: string } {
  const match = /^([\w.-]+)=(.+)$/.exec(text);
  if (!match) throw new Error(`--try wants NAME=FILE, got "${text}"`);
  const [, name, given] = match;
  if (taken.includes(name)) throw new Error(`--try: "${name}" is already a target's name`);
  const file = path.resolve(process.env.INIT_CWD ?? process.cwd(), given);
  if (!existsSync(file)) throw new Error(`--try: no file ${file}`);
  return { name, file };
}

/** Where the bench tells what it is doing: progress (stderr) and results (stdout). */
export interface Reporter {
  /** A fragment of a progress line (no newline added). */
  progress(text: string): void;
  /** A whole line. */
  line(text: string): void;
}

export const consoleReporter: Reporter = {
  progress: (text) => process.stderr.write(text),
  line: (text) => console.log(text),
};

export interface BenchReport {
  date: string;
  command: string;
  machine: Machine;
  options: BenchOptions;
  /** One line per target that did not run, with the reason. */
  skipped: string[];
  summaries: TargetSummary[];
  /** Every run, per target, in round order. */
  runs: Record<string, RunResult[]>;
  /** The hold mode's figures (summaries and runs are empty then). */
  hold?: { summaries: HoldSummary[]; runs: Record<string, HoldRun[]> };
}

/** One run in a line; at a fixed rate, idle connections are no sign of trouble and go unmentioned. */
const describeRun = (run: RunResult, paced: boolean) =>
  `${thousands(run.rps)} req/s, mean ${run.latency.mean.toFixed(2)} ms` +
  (run.errors > 0 ? `, ${run.errors} errors` : '') +
  (!paced && run.clientsServed < run.connections
    ? `, ${run.clientsServed} of ${run.connections} clients answered`
    : '');

/** Runs the whole benchmark and returns what it measured. Everything it started is stopped. */
export async function runBench(
  options: BenchOptions,
  reporter: Reporter = consoleReporter,
): Promise<BenchReport> {
  if (options.mode === 'hold') return runHold(options, reporter);
  // When and where, as the run begins: the load average it started under.
  const began = provenance(npmCommand('bench'));
  return withCleanup(async (cleanup) => {
    const chosen = chosenTargets(options);
    const backends = {
      plain: (await startBenchBackend(cleanup, options.backend)).port,
      tls: chosen.some((target) => target.tls) ? await startTlsBackend(cleanup) : undefined,
    };
    const { started, skipped } = await startTargets(cleanup, chosen, backends, reporter);
    const { runs, peaks } = await runRounds(started, options, reporter);
    return {
      ...began,
      options,
      skipped,
      summaries: summarise(started, runs, peaks, options.rate),
      runs,
    };
  });
}

interface Started {
  target: Target;
  running: Running;
}

/** The mock backend speaking TLS, or why it did not start (it needs openssl for its certificate). */
async function startTlsBackend(cleanup: Cleanup): Promise<number | string> {
  try {
    return (await startBenchBackend(cleanup, 'tls')).port;
  } catch (err) {
    return `the TLS backend did not start: ${firstLine(err)}`;
  }
}

/**
 * Starts each target in front of its backend (the TLS one for TLS rows). One
 * that is missing or does not start is skipped with a line saying why; only
 * direct is indispensable. Without a TLS backend, every TLS row is skipped.
 */
async function startTargets(
  cleanup: Cleanup,
  chosen: Target[],
  backends: { plain: number; tls?: number | string },
  reporter: Reporter,
): Promise<{ started: Started[]; skipped: string[] }> {
  const started: Started[] = [];
  const skipped: string[] = [];
  for (const target of chosen) {
    const port = target.tls ? backends.tls : backends.plain;
    let why = typeof port === 'string' ? port : target.missing();
    if (!why) {
      try {
        started.push({ target, running: await target.start(cleanup, port as number) });
        continue;
      } catch (err) {
        why = `it did not start: ${firstLine(err)}`;
        if (target.name === 'direct') throw new Error(`direct: ${why}`);
      }
    }
    skipped.push(`${target.name}: skipped, ${why}`);
    reporter.line(`${target.name}: skipped, ${why}`);
  }
  return { started, skipped };
}

/** Round after round, each target in turn; the proxy's memory is sampled during its own runs. */
async function runRounds(started: Started[], options: BenchOptions, reporter: Reporter) {
  const runs: Record<string, RunResult[]> = Object.fromEntries(
    started.map(({ target }) => [target.name, []]),
  );
  const peaks: Record<string, number | undefined> = {};
  const seconds = started.length * options.rounds * options.duration;
  const width = Math.max(...started.map(({ target }) => target.name.length));
  reporter.line(
    `${describeLoad(options)}, ${options.rounds} round(s) of ` +
      `${options.duration} s per target, ${options.backend} backend: about ${seconds} s.`,
  );
  for (let round = 1; round <= options.rounds; round++) {
    for (const { target, running } of inTurn(started, round - 1)) {
      reporter.progress(`round ${round}/${options.rounds}  ${target.name.padEnd(width)} `);
      const meter = running.pid === undefined ? undefined : watchRss(running.pid);
      const run = await load(options.mode as Mode, {
        port: running.port,
        connections: options.connections,
        seconds: options.duration,
        tls: running.tls,
        name: ROUTED_NAME,
        rate: options.rate,
      });
      const peak = await meter?.stop();
      if (peak !== undefined) peaks[target.name] = Math.max(peaks[target.name] ?? 0, peak);
      runs[target.name].push(run);
      reporter.progress(`${describeRun(run, options.rate !== undefined)}\n`);
    }
  }
  return { runs, peaks };
}

/** The targets a run measures, in table order: the chosen rows, and the reader's own (--try). */
function chosenTargets(options: BenchOptions): Target[] {
  const tried = (options.tries ?? []).map(({ name, file }) => triedTarget(name, file));
  return [...TARGETS, ...tried].filter((target) => options.targets.includes(target.name));
}

/**
 * The hold mode: round after round, each target started afresh, weighed
 * with its clients held, and stopped. A target that is missing or does not
 * start is skipped with a line, as are direct and the serial part 1.
 */
async function runHold(options: BenchOptions, reporter: Reporter): Promise<BenchReport> {
  const began = provenance(npmCommand('bench'));
  return withCleanup(async (cleanup) => {
    const chosen = chosenTargets(options);
    const backends = {
      plain: (
        await startBenchBackend(
          cleanup,
          options.backend,
          HOLD_BACKEND_KEEPALIVE_MS,
          options.connections,
        )
      ).port,
      tls: chosen.some((target) => target.tls)
        ? (await startBenchBackend(cleanup, 'tls', HOLD_BACKEND_KEEPALIVE_MS)).port
        : undefined,
    };
    const skipped: string[] = [];
    const skip = (target: Target, why: string) => {
      skipped.push(`${target.name}: skipped, ${why}`);
      reporter.line(`${target.name}: skipped, ${why}`);
    };
    // --heap: every Node process started from here on loads heap-probe.js.
    const probeDir = options.heap ? await probeEveryNodeProcess(cleanup) : undefined;
    let weighed: Target[] = [];
    for (const target of chosen) {
      const why =
        target.kind === 'direct'
          ? 'no proxy to weigh: it is the backend itself'
          : target.serial
            ? `${SERIAL_NOTE}, so it cannot hold ${thousands(options.connections)} at once`
            : target.missing();
      if (why) skip(target, why);
      else weighed.push(target);
    }
    const runs: Record<string, HoldRun[]> = Object.fromEntries(
      weighed.map((target) => [target.name, []]),
    );
    const width = Math.max(0, ...weighed.map((target) => target.name.length));
    reporter.line(
      `hold mode, ${thousands(options.connections)} connections held, ${options.rounds} round(s), ` +
        `${options.backend} backend: each target started afresh every round.`,
    );
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of inTurn(weighed, round - 1)) {
        reporter.progress(`round ${round}/${options.rounds}  ${target.name.padEnd(width)} `);
        const once = new Cleanup();
        cleanup.teardown(() => once.run());
        try {
          const port = target.tls ? backends.tls : backends.plain;
          const running = await target.start(once, port as number, options.connections);
          const run = await holdRound(running, options.connections, probeDir);
          runs[target.name].push(run);
          reporter.progress(`${describeHoldRun(run)}\n`);
        } catch (err) {
          reporter.progress('\n');
          skip(target, `it did not start: ${firstLine(err)}`);
          weighed = weighed.filter((each) => each !== target);
          delete runs[target.name];
        } finally {
          await once.run();
        }
      }
    }
    const summaries = weighed.map((target) => {
      const summary = summariseHold(target.name, target.kind, runs[target.name]);
      const notes: string[] = [];
      if (summary.held < summary.connections) {
        notes.push(`only ${summary.held} of ${summary.connections} connections held in a round`);
      }
      if (summary.unsettled > 0) {
        notes.push(
          `its memory had not settled within the deadline in ${summary.unsettled} round(s)`,
        );
      }
      return notes.length > 0 ? { ...summary, note: notes.join('; ') } : summary;
    });
    return {
      ...began,
      options,
      skipped,
      summaries: [],
      runs: {},
      hold: { summaries, runs },
    };
  });
}

/** Warm-up clients, come and gone before the first reading. */
const WARM_UP = 20;

/**
 * One target, one round: a few clients come and go first, so that what a
 * process builds on its first connections (compiled code, parsers, pools) is
 * in the reading before; then its memory settled, N clients held, its memory
 * settled again, and the clients closed. With a `probeDir` (--heap), its
 * Node processes' heap is read after the warm-up and after the second reading.
 */
async function holdRound(
  running: Running,
  connections: number,
  probeDir?: string,
): Promise<HoldRun> {
  const pid = running.pid;
  if (pid === undefined) throw new Error('no process to weigh');
  const client = { port: running.port, tls: running.tls, name: ROUTED_NAME };
  const warm = await holdConnections({ ...client, connections: WARM_UP });
  await warm.close();
  const heapBefore = probeDir ? await heapInUse(pid, probeDir) : undefined;
  const before = await settledRss(pid);
  const held = await holdConnections({ ...client, connections });
  try {
    const during = await settledRss(pid);
    const heapHeld =
      probeDir && heapBefore !== undefined ? await heapInUse(pid, probeDir) : undefined;
    const open = held.open();
    const heap =
      heapBefore === undefined || heapHeld === undefined
        ? {}
        : {
            heapBeforeKiB: heapBefore / 1024,
            heapHeldKiB: heapHeld / 1024,
            heapPerConnectionKiB: open > 0 ? (heapHeld - heapBefore) / 1024 / open : Number.NaN,
          };
    return {
      connections,
      held: open,
      errors: held.errors,
      non2xx: held.non2xx,
      beforeKiB: before.kib,
      heldKiB: during.kib,
      perConnectionKiB: open > 0 ? (during.kib - before.kib) / open : Number.NaN,
      ...heap,
      settled: before.settled && during.settled,
    };
  } finally {
    await held.close();
  }
}

/**
 * --heap: heap-probe.js loaded into every Node process this one starts from
 * now on, through NODE_OPTIONS, until clean-up puts the environment back.
 * Returns the folder the probes write their readings to.
 */
async function probeEveryNodeProcess(cleanup: Cleanup): Promise<string> {
  const dir = await tempDir(cleanup, 'heap');
  const saved = { options: process.env.NODE_OPTIONS, dir: process.env[HEAP_PROBE_DIR] };
  const probe = path.join(path.dirname(new URL(import.meta.url).pathname), 'heap-probe.js');
  process.env.NODE_OPTIONS = `${saved.options ?? ''} --import ${probe}`.trim();
  process.env[HEAP_PROBE_DIR] = dir;
  cleanup.teardown(() => {
    restoreEnv('NODE_OPTIONS', saved.options);
    restoreEnv(HEAP_PROBE_DIR, saved.dir);
  });
  return dir;
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

const describeHoldRun = (run: HoldRun) =>
  `${run.perConnectionKiB.toFixed(1)} KiB per connection` +
  (run.heapPerConnectionKiB === undefined
    ? ''
    : ` (${run.heapPerConnectionKiB.toFixed(1)} of it JS heap)`) +
  `, ${run.held} held, ` +
  `${mib(run.beforeKiB)} -> ${mib(run.heldKiB)}` +
  (run.errors > 0 ? `, ${run.errors} errors` : '') +
  (run.settled ? '' : ', not settled');

/** The list started `shift` places further on: round 1 as given, round 2 from the second, ... */
export function inTurn<T>(list: readonly T[], shift: number): T[] {
  const start = shift % Math.max(1, list.length);
  return [...list.slice(start), ...list.slice(0, start)];
}

/**
 * One row per target, compared with its baseline. A serial part gets its
 * note, and so does a row that fell behind a fixed rate.
 */
function summarise(
  started: Started[],
  runs: Record<string, RunResult[]>,
  peaks: Record<string, number | undefined>,
  rate: number | undefined,
): TargetSummary[] {
  return compareWithDirect(
    started.map(({ target }) => {
      const summary: TargetSummary = {
        ...summariseRounds(
          target.name,
          target.kind,
          runs[target.name],
          peaks[target.name],
          baselineOf(target),
        ),
        over: target.over,
      };
      const notes: string[] = [];
      if (target.serial) {
        summary.serial = true;
        const answered =
          summary.clientsServed < summary.connections
            ? `; only ${summary.clientsServed} of ${summary.connections} clients got any answer in a round, the latency columns cover those alone, the others waited the whole run`
            : ', the others wait their turn (hence its latency)';
        notes.push(rate === undefined ? `${SERIAL_NOTE}${answered}` : SERIAL_NOTE);
      }
      // A row that cannot keep up is measured at saturation after all: say so.
      if (rate !== undefined && summary.rps < rate * 0.95) {
        notes.push(
          `it fell behind the asked rate (${thousands(summary.rps)} of ${thousands(rate)} requests/s), so its latency includes waiting in a queue`,
        );
      }
      return notes.length > 0 ? { ...summary, note: notes.join('; ') } : summary;
    }),
  );
}

/** How the targets are loaded, in words, for the first line and the heading. */
function describeLoad(options: BenchOptions): string {
  return options.rate === undefined
    ? `${options.mode} mode, ${options.connections} connections`
    : `${options.mode} mode at ${thousands(options.rate)} requests/s, evenly spaced, over at most ${options.connections} connections`;
}

/** The heading, the table and the reading. */
export function formatReport(report: BenchReport): string {
  const { options, machine } = report;
  if (report.hold) {
    return [
      '',
      `hold mode, ${thousands(options.connections)} connections held, medians of ${options.rounds} round(s), ` +
        `${options.backend} backend; ${machine.cpus} CPUs, Node ${machine.node}.`,
      '',
      formatHoldTable(report.hold.summaries),
      '',
      holdReading(report.hold.summaries),
    ].join('\n');
  }
  const paced = options.rate !== undefined;
  return [
    '',
    `${describeLoad(options)}, medians of ${options.rounds} round(s) ` +
      `of ${options.duration} s, ${options.backend} backend; ${machine.cpus} CPUs, Node ${machine.node}.`,
    '',
    formatTable(report.summaries, paced),
    '',
    reading(report.summaries, paced),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOrExit('bench.ts', USAGE, parseBenchArgs);
  try {
    const report = await runBench(options);
    console.log(formatReport(report));
    if (options.save) console.log(`\nWrote ${writeResults(savedName(options), report)}.`);
    else if (options.json) {
      await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`\nWrote ${options.json}.`);
    }
  } catch (err) {
    exitWith('bench.ts', err, 1);
  }
}

if (isMain(import.meta.url)) {
  void main();
}
