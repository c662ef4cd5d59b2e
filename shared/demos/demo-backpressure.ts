/**
 * npm run demo:backpressure: part 2's memory against part 3's, with slow readers.
 *
 *   npm run demo:backpressure [-- --seconds N]      (N per part, default 9)
 *   npm run demo:backpressure -- --until-mib 64     (part 2 until it has grown 64 MiB)
 *   npm run demo:backpressure -- --save             (and the figures to shared/results/)
 *
 * It starts one mock backend, then each part in turn in front of it, and opens
 * the same scenario against each: four clients each ask for 48 MiB and read it
 * slowly (one chunk every 100 ms, under 1 MiB/s). The proxy's resident memory
 * (VmRSS from /proc) is sampled every 250 ms, and at the end both curves are
 * drawn on one chart with each part's peak. Part 2 ignores write()'s return
 * value, so it reads the backend's answers as fast as loopback allows and keeps
 * them; part 3 pauses the backend until the client drains, so it stays flat.
 *
 * With --until-mib M, part 2's run ends as soon as it has grown M MiB (with
 * --seconds as its deadline), and part 3 then gets as long as part 2 took, at
 * least two seconds: the same story, told as fast as the machine allows it.
 * On a busy machine the backend may need seconds before its first byte (it
 * builds each 48 MiB body once), so a fixed time can end before part 2 has
 * grown at all; the growth itself is the event to wait for.
 *
 * `--save` writes the samples to `shared/results/demo-backpressure.json`
 * (with --until-mib M, demo-backpressure-until-M.json), from which `npm run
 * docs` draws part 3's chart and renders its figures, with chartLines() below.
 *
 * What it leaves out: asserting anything (the matrix's slow-readers row does),
 * and reading the answers to their end: each run stops after its time is up
 * (or, with --until-mib, part 2's once it has grown that much).
 */
import { parseArgs } from 'node:util';
import asciichart from 'asciichart';
import { Cleanup } from '../lib/cleanup.ts';
import { failWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { partArgs, startBackend, startPart } from '../lib/programs.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { httpGet, rssKiB, slowReaders } from '../test/harness.ts';

const SCRIPT = 'demo-backpressure.ts';
const USAGE =
  'usage: demo-backpressure.ts [--seconds N] [--until-mib M] [--save]      (N per part, 2 to 120; default 9)';
const MiB = 1024 * 1024;
const CLIENTS = 4;
const SIZE = 48 * MiB;
const READ_EVERY_MS = 100;
const SAMPLE_MS = 250;
/** The least time part 3 gets after an --until-mib run of part 2, so its curve has a few samples. */
const MIN_PART3_MS = 2000;
const PARTS = [
  { name: 'part2', folder: 'part2-epoll-style', color: asciichart.red },
  { name: 'part3', folder: 'part3-backpressure', color: asciichart.green },
];

export interface Run {
  name: string;
  /** RSS growth over the proxy's idle baseline, in MiB, one value per sample. */
  samples: number[];
  baseMiB: number;
  /** How long it ran. */
  ms: number;
}

export interface DemoOptions {
  seconds: number;
  /** End part 2's run once it has grown this many MiB. */
  untilMiB?: number;
  /** Write the runs to shared/results/ under savedName(). */
  save?: boolean;
}

/** What --save writes: the scenario, and each part's samples. */
export interface BackpressureReport extends Provenance {
  options: DemoOptions;
  clients: number;
  sizeMiB: number;
  readEveryMs: number;
  sampleMs: number;
  runs: Run[];
  /** The whole demo, backends and proxies started and stopped included. */
  totalMs: number;
}

/** The name --save gives a run. */
export function savedName(options: DemoOptions): string {
  const until = options.untilMiB === undefined ? '' : `-until-${options.untilMiB}`;
  const seconds = options.seconds === 9 ? '' : `-${options.seconds}s`;
  return `demo-backpressure${until}${seconds}`;
}

export function parseDemoArgs(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      'until-mib': { type: 'string' },
      save: { type: 'boolean', default: false },
    },
  });
  const until = values['until-mib'];
  return {
    seconds: integerOption('--seconds', values.seconds ?? '9', 2, 120),
    untilMiB: until === undefined ? undefined : integerOption('--until-mib', until, 1, 1024),
    ...(values.save ? { save: true } : {}),
  };
}

/**
 * Runs the slow-reader scenario against one part and samples its RSS for
 * `ms`, or until it has grown `untilMiB`.
 */
async function measure(
  part: (typeof PARTS)[number],
  backendPort: number,
  ms: number,
  untilMiB = Number.POSITIVE_INFINITY,
): Promise<Run> {
  const cleanup = new Cleanup();
  try {
    const proxy = await startPart(cleanup, part.folder, partArgs(part.folder, [backendPort]));
    await httpGet(proxy.port); // warm up, so the baseline includes the relay's code
    const base = await rssKiB(proxy.pid);
    await slowReaders(cleanup, proxy.port, CLIENTS, `/?size=${SIZE}`, READ_EVERY_MS);
    const samples: number[] = [];
    const began = Date.now();
    while (Date.now() - began < ms) {
      const grown = ((await rssKiB(proxy.pid)) - base) / 1024;
      samples.push(grown);
      if (process.stdout.isTTY) {
        const at = (samples.length * SAMPLE_MS) / 1000;
        process.stdout.write(`\r${part.name}: ${at} s, ${signed(grown)} MiB   `);
      }
      if (grown >= untilMiB) break;
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
    return { name: part.name, samples, baseMiB: base / 1024, ms: Date.now() - began };
  } finally {
    await cleanup.run();
  }
}

/** A growth in MiB with its sign: the RSS can also shrink below the baseline. */
function signed(mib: number): string {
  return `${mib >= 0 ? '+' : ''}${mib.toFixed(1)}`;
}

/** A run's highest growth, in MiB. */
export const peakOf = (run: Run) => Math.max(...run.samples);

/**
 * The chart and its legend, as the demo prints them: both curves on one
 * chart, each named at the right of its last sample (and, on a terminal, in
 * its colour), the time axis, then each part's peak.
 */
export function chartLines(
  report: Omit<BackpressureReport, keyof Provenance>,
  colour: boolean,
): string[] {
  const { runs, options } = report;
  const height = 16;
  const values = runs.flatMap((run) => run.samples);
  const plot = asciichart
    .plot(
      runs.map((run) => run.samples),
      {
        height,
        min: 0,
        ...(colour ? { colors: PARTS.map((part) => part.color) } : {}),
        format: (value) => value.toFixed(0).padStart(6),
      },
    )
    .split('\n')
    .map((line) => line.trimEnd());
  // The row asciichart draws a value on: its arithmetic, for the labels.
  const [min, max] = [Math.min(0, ...values), Math.max(...values)];
  const ratio = max - min !== 0 ? height / (max - min) : 1;
  const rows = Math.abs(Math.round(max * ratio) - Math.round(min * ratio));
  const rowOf = (value: number) => rows - (Math.round(value * ratio) - Math.round(min * ratio));
  for (const [i, run] of runs.entries()) {
    const row = rowOf(run.samples[run.samples.length - 1]);
    const name = colour ? `${PARTS[i].color}${run.name}${asciichart.reset}` : run.name;
    plot[row] = `${plot[row]}  ${name}`;
  }
  const longest = Math.max(...runs.map((run) => run.samples.length));
  const end =
    options.untilMiB === undefined
      ? options.seconds
      : Math.max(...runs.map((run) => run.ms)) / 1000;
  const lines = [
    `proxy RSS growth over its idle baseline (MiB), one sample every ${report.sampleMs} ms`,
    '',
    ...plot,
    `${' '.repeat(8)}0 s${' '.repeat(Math.max(0, longest - 8))}${end.toFixed(0)} s`,
  ];
  for (const [i, run] of runs.entries()) {
    const name = colour ? `${PARTS[i].color}${run.name}${asciichart.reset}` : run.name;
    lines.push(
      `${name}: peak ${signed(peakOf(run))} MiB over a ${run.baseMiB.toFixed(1)} MiB baseline ` +
        `(${report.clients * report.sizeMiB} MiB requested in all)`,
    );
  }
  if (options.untilMiB !== undefined) {
    const [first, second] = runs;
    lines.push(
      peakOf(first) >= options.untilMiB
        ? `part2 passed +${options.untilMiB} MiB after ${(first.ms / 1000).toFixed(1)} s; part3 had ${(second.ms / 1000).toFixed(1)} s.`
        : `part2 did not grow ${options.untilMiB} MiB within ${options.seconds} s.`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const options = parseOrExit(SCRIPT, USAGE, parseDemoArgs);
  const { seconds, untilMiB } = options;
  const began = provenance(npmCommand('demo:backpressure'));
  const cleanup = new Cleanup();
  const stopOnSignals = cleanup.onSignals();
  try {
    const backend = await startBackend(cleanup, { name: 'demo' });
    const howLong =
      untilMiB === undefined
        ? `${seconds} s per part`
        : `part 2 until it has grown ${untilMiB} MiB (at most ${seconds} s), then part 3 as long`;
    console.log(
      `${CLIENTS} clients each ask for ${SIZE / MiB} MiB and read one chunk every ${READ_EVERY_MS} ms; ` +
        `${howLong}.\n`,
    );
    const [part2, part3] = PARTS;
    const first = await measure(part2, backend.port, seconds * 1000, untilMiB);
    const second = await measure(
      part3,
      backend.port,
      untilMiB === undefined ? seconds * 1000 : Math.max(first.ms, MIN_PART3_MS),
    );
    const report: BackpressureReport = {
      ...began,
      options,
      clients: CLIENTS,
      sizeMiB: SIZE / MiB,
      readEveryMs: READ_EVERY_MS,
      sampleMs: SAMPLE_MS,
      runs: [first, second],
      totalMs: Date.now() - Date.parse(began.date),
    };
    console.log('');
    console.log(chartLines(report, true).join('\n'));
    if (options.save) console.log(`Wrote ${writeResults(savedName(options), report)}.`);
  } catch (err) {
    failWith(SCRIPT, err);
  } finally {
    stopOnSignals();
    await cleanup.run();
  }
}

if (isMain(import.meta.url)) await main();
