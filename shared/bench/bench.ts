/**
 * The benchmark: every part against a direct connection to the backend, and
 * against nginx and HAProxy when they are installed.
 *
 *   npm run bench
 *   npm run bench -- --mode close --rounds 5 --duration 10 --json bench-close.json
 *   npm run bench -- --targets part2,part3 --backend nginx
 *
 * It starts everything itself on free ports: one backend, then each target in
 * front of it. Rounds are interleaved (direct, part1, part2, ..., direct, part1,
 * ...) so that a noisy neighbour or a warming CPU hurts every target alike, and
 * the table shows the median of the rounds. "added ms" is the mean latency a
 * target adds to direct's; "of direct" is its throughput as a share of direct's;
 * "served" is how many of the clients got any answer at all (all of them, except
 * with a proxy that serves one connection at a time).
 *
 * Two modes: keepalive (each client reuses one connection, what browsers and
 * load balancers do) and close (a new connection per request, what `ab` did in
 * the blog series, so connection set-up is part of every request).
 *
 * What it leaves out: asserting anything. Speed depends on the machine; the
 * tests check that the bench runs and reports sensible fields, never how fast.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Cleanup } from '../lib/cleanup.ts';
import { exitWith, firstLine, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { load, type Mode, watchRss } from './bench-load.ts';
import {
  compareWithDirect,
  formatTable,
  type RunResult,
  reading,
  summariseRounds,
  type TargetSummary,
  thousands,
} from './bench-stats.ts';
import {
  type BackendKind,
  type Running,
  SERIAL_NOTE,
  startBenchBackend,
  TARGETS,
  type Target,
} from './bench-targets.ts';

export const USAGE = `usage: bench.ts [--connections N] [--duration S] [--rounds N]
                [--targets ${TARGETS.map((target) => target.name).join(',')}]
                [--mode keepalive|close] [--backend mock|nginx] [--json FILE]`;

export interface BenchOptions {
  connections: number;
  /** Seconds per run. */
  duration: number;
  rounds: number;
  /** Target names in table order; always starts with direct, the baseline. */
  targets: string[];
  mode: Mode;
  backend: BackendKind;
  json?: string;
}

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', default: '100' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      targets: { type: 'string' },
      mode: { type: 'string', default: 'keepalive' },
      backend: { type: 'string', default: 'mock' },
      json: { type: 'string' },
    },
    allowPositionals: false,
  });
  const known = TARGETS.map((target) => target.name);
  const asked =
    values.targets === undefined ? known : values.targets.split(',').map((name) => name.trim());
  const unknown = asked.filter((name) => !known.includes(name));
  if (unknown.length > 0 || asked.length === 0) {
    throw new Error(`--targets: unknown target "${unknown[0] ?? ''}" (known: ${known.join(', ')})`);
  }
  if (values.mode !== 'keepalive' && values.mode !== 'close') {
    throw new Error(`--mode must be keepalive or close, got "${values.mode}"`);
  }
  if (values.backend !== 'mock' && values.backend !== 'nginx') {
    throw new Error(`--backend must be mock or nginx, got "${values.backend}"`);
  }
  if (values.json === '') throw new Error('--json needs a file name');
  return {
    connections: integerOption('--connections', values.connections, 1, 10_000),
    duration: integerOption('--duration', values.duration, 1, 3600),
    rounds: integerOption('--rounds', values.rounds, 1, 100),
    targets: known.filter((name) => name === 'direct' || asked.includes(name)),
    mode: values.mode,
    backend: values.backend,
    json: values.json,
  };
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
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  options: BenchOptions;
  /** One line per target that did not run, with the reason. */
  skipped: string[];
  summaries: TargetSummary[];
  /** Every run, per target, in round order. */
  runs: Record<string, RunResult[]>;
}

export function describeMachine(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  };
}

const describeRun = (run: RunResult) =>
  `${thousands(run.rps)} req/s, mean ${run.latency.mean.toFixed(2)} ms` +
  (run.errors > 0 ? `, ${run.errors} errors` : '') +
  (run.clientsServed < run.connections
    ? `, ${run.clientsServed} of ${run.connections} clients answered`
    : '');

/** Runs the whole benchmark and returns what it measured. Everything it started is stopped. */
export async function runBench(
  options: BenchOptions,
  reporter: Reporter = consoleReporter,
): Promise<BenchReport> {
  const cleanup = new Cleanup();
  const release = cleanup.onSignals();
  try {
    const backend = await startBenchBackend(cleanup, options.backend);
    const chosen = TARGETS.filter((target) => options.targets.includes(target.name));
    const { started, skipped } = await startTargets(cleanup, chosen, backend.port, reporter);
    const { runs, peaks } = await runRounds(started, options, reporter);
    return {
      date: new Date().toISOString(),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine: describeMachine(),
      options,
      skipped,
      summaries: summarise(started, runs, peaks),
      runs,
    };
  } finally {
    release();
    await cleanup.run();
  }
}

interface Started {
  target: Target;
  running: Running;
}

/**
 * Starts each target in front of the backend. One that is missing or does not
 * start is skipped with a line saying why; only direct is indispensable.
 */
async function startTargets(
  cleanup: Cleanup,
  chosen: Target[],
  backendPort: number,
  reporter: Reporter,
): Promise<{ started: Started[]; skipped: string[] }> {
  const started: Started[] = [];
  const skipped: string[] = [];
  for (const target of chosen) {
    let why = target.missing();
    if (!why) {
      try {
        started.push({ target, running: await target.start(cleanup, backendPort) });
        continue;
      } catch (err) {
        why = `it did not start: ${firstLine(err)}`;
        if (target.kind === 'direct') throw new Error(`direct: ${why}`);
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
  reporter.line(
    `${options.mode} mode, ${options.connections} connections, ${options.rounds} round(s) of ` +
      `${options.duration} s per target, ${options.backend} backend: about ${seconds} s.`,
  );
  for (let round = 1; round <= options.rounds; round++) {
    for (const { target, running } of started) {
      reporter.progress(`round ${round}/${options.rounds}  ${target.name.padEnd(8)} `);
      const meter = running.pid === undefined ? undefined : watchRss(running.pid);
      const run = await load(options.mode, {
        port: running.port,
        connections: options.connections,
        seconds: options.duration,
      });
      const peak = await meter?.stop();
      if (peak !== undefined) peaks[target.name] = Math.max(peaks[target.name] ?? 0, peak);
      runs[target.name].push(run);
      reporter.progress(`${describeRun(run)}\n`);
    }
  }
  return { runs, peaks };
}

/** One row per target, compared with direct; a serial part gets its note. */
function summarise(
  started: Started[],
  runs: Record<string, RunResult[]>,
  peaks: Record<string, number | undefined>,
): TargetSummary[] {
  return compareWithDirect(
    started.map(({ target }) => {
      const summary = summariseRounds(
        target.name,
        target.kind,
        runs[target.name],
        peaks[target.name],
      );
      if (!target.serial) return summary;
      const answered =
        summary.clientsServed < summary.connections
          ? `; only ${summary.clientsServed} of ${summary.connections} clients got any answer in a round, the latency columns cover those alone, the others waited the whole run`
          : ', the others wait their turn (hence its latency)';
      return { ...summary, serial: true, note: `${SERIAL_NOTE}${answered}` };
    }),
  );
}

/** The heading, the table and the two-line reading. */
export function formatReport(report: BenchReport): string {
  const { options, machine } = report;
  return [
    '',
    `${options.mode} mode, ${options.connections} connections, medians of ${options.rounds} round(s) ` +
      `of ${options.duration} s, ${options.backend} backend; ${machine.cpus} CPUs, Node ${machine.node}.`,
    '',
    formatTable(report.summaries),
    '',
    reading(report.summaries),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOrExit('bench.ts', USAGE, parseBenchArgs);
  try {
    const report = await runBench(options);
    console.log(formatReport(report));
    if (options.json) {
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
