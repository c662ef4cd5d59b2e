/**
 * The soak test: the blog series' own experiment. A million requests, 100 at a
 * time, a new connection for each (as `ab -n 1000000 -c 100` did), first
 * straight to the backend and then through one part.
 *
 *   npm run bench:soak
 *   npm run bench:soak -- --part part2 --requests 100000 --connections 100
 *   npm run bench:soak -- --save
 *
 * It reports the mean latency the part adds to direct, and the part's resident
 * memory at 10%, 50% and 100% of its run: a proxy that leaks shows a line that
 * keeps rising, a sound one stays flat after warming up. `--save` writes the
 * run to `shared/results/` (soak-part3.json; soak-part3-100000.json for
 * --requests 100000), in the shape of the benchmark's own results files, with
 * the memory readings beside it, for `npm run docs` to render.
 *
 * What it leaves out: rounds and medians (bench.ts does those); a soak is about
 * what changes over a long run, not about a precise per-request figure.
 */
import { parseArgs } from 'node:util';
import { Cleanup } from '../lib/cleanup.ts';
import { exitWith, failWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { closeLoad, treeRssKiB, watchRss } from './bench-load.ts';
import {
  compareWithDirect,
  formatTable,
  mib,
  type RunResult,
  summariseRounds,
  type TargetSummary,
  thousands,
} from './bench-stats.ts';
import { PARTS, startBenchBackend } from './bench-targets.ts';

const USAGE = `usage: soak.ts [--part ${PARTS.map((part) => part.name).join('|')}] [--requests N] [--connections N] [--save]`;

export interface SoakOptions {
  part: string;
  requests: number;
  connections: number;
  /** Write the run to shared/results/ under savedName(). */
  save?: boolean;
}

/** What --save writes: the bench's rows (direct, the part) and runs, and the memory readings. */
export interface SoakReport extends Provenance {
  options: SoakOptions;
  summaries: TargetSummary[];
  runs: Record<string, RunResult[]>;
  /** The part's resident memory at each of CHECKPOINTS, in KiB. */
  rssKiB: number[];
}

/** The name --save gives a run: soak-part3, with the count when it is not the default. */
export function savedName(options: Pick<SoakOptions, 'part' | 'requests' | 'connections'>): string {
  return [
    'soak',
    options.part,
    options.requests === 1_000_000 ? '' : String(options.requests),
    options.connections === 100 ? '' : `c${options.connections}`,
  ]
    .filter(Boolean)
    .join('-');
}

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseSoakArgs(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      part: { type: 'string', default: 'part3' },
      requests: { type: 'string', default: '1000000' },
      connections: { type: 'string', default: '100' },
      save: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  const names = PARTS.map((part) => part.name);
  if (!names.includes(values.part)) {
    throw new Error(`--part must be one of ${names.join(', ')}, got "${values.part}"`);
  }
  const connections = integerOption('--connections', values.connections, 1, 10_000);
  const requests = integerOption('--requests', values.requests, 1, 100_000_000);
  if (requests < connections) throw new Error('--requests must be at least --connections');
  return {
    part: values.part,
    requests,
    connections,
    ...(values.save ? { save: true } : {}),
  };
}

/** The share of the run at which the part's memory is read. */
export const CHECKPOINTS = [0.1, 0.5, 1] as const;

/** A progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise. */
function progressBar(label: string, total: number): (done: number) => void {
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  let lastTenth = -1;
  const began = performance.now();
  return (done) => {
    const now = performance.now();
    const tenth = Math.floor((done / total) * 10);
    const finished = done >= total;
    if (tty ? now - lastDraw < 100 && !finished : tenth === lastTenth) return;
    lastDraw = now;
    lastTenth = tenth;
    const width = 30;
    const filled = Math.round((done / total) * width);
    const rate = done / ((now - began) / 1000);
    const text =
      `${label.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
      `${String(Math.floor((done / total) * 100)).padStart(3)}%  ${thousands(done)}/${thousands(total)}  ${thousands(rate)} req/s`;
    process.stderr.write(tty ? `\r${text}${finished ? '\n' : ''}` : `${text}\n`);
  };
}

async function main(): Promise<void> {
  const options = parseOrExit('soak.ts', USAGE, parseSoakArgs);
  const part = PARTS.find((each) => each.name === options.part);
  const missing = part?.missing();
  if (!part || missing) exitWith('soak.ts', `${options.part}: ${missing}`, 1);

  const cleanup = new Cleanup();
  cleanup.onSignals();
  try {
    const began = provenance(npmCommand('bench:soak'));
    const backend = await startBenchBackend(cleanup, 'mock');
    const proxy = await part.start(cleanup, backend.port);
    const pid = proxy.pid as number;
    console.log(
      `${thousands(options.requests)} requests, ${options.connections} at a time, a new connection ` +
        `for each (as ab -n ${options.requests} -c ${options.connections}), direct then ${part.name}.`,
    );

    const direct = await closeLoad({
      port: backend.port,
      connections: options.connections,
      amount: options.requests,
      onAnswer: progressBar('direct', options.requests),
    });

    const bar = progressBar(part.name, options.requests);
    const readings: Promise<number>[] = [];
    const meter = watchRss(pid, 500);
    const through: RunResult = await closeLoad({
      port: proxy.port,
      connections: options.connections,
      amount: options.requests,
      onAnswer: (answered) => {
        bar(answered);
        if (answered === Math.ceil(options.requests * CHECKPOINTS[readings.length])) {
          readings.push(treeRssKiB(pid));
        }
      },
    });
    while (readings.length < CHECKPOINTS.length) readings.push(treeRssKiB(pid));
    const rss = await Promise.all(readings);
    const peak = await meter.stop();

    const [directRow, partRow] = compareWithDirect([
      summariseRounds('direct', 'direct', [direct], undefined),
      summariseRounds(part.name, 'part', [through], peak),
    ]);
    console.log(`\n${formatTable([directRow, partRow])}\n`);
    console.log(
      `Mean latency added by ${part.name}: ${partRow.addedMs >= 0 ? '+' : ''}${partRow.addedMs.toFixed(3)} ms per request ` +
        `(${thousands(through.requests)} answers in ${through.seconds.toFixed(1)} s, ${through.errors} errors).`,
    );
    const points = CHECKPOINTS.map((at, i) => `${at * 100}%: ${mib(rss[i])}`).join(', ');
    const growth = (rss[rss.length - 1] - rss[0]) / 1024;
    console.log(
      `${part.name} resident memory at ${points} ` +
        `(${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB from 10% to 100%; a leak keeps rising).`,
    );
    if (options.save) {
      const report: SoakReport = {
        ...began,
        options,
        summaries: [directRow, partRow],
        runs: { direct: [direct], [part.name]: [through] },
        rssKiB: rss,
      };
      console.log(`Wrote ${writeResults(savedName(options), report)}.`);
    }
  } catch (err) {
    failWith('soak.ts', err);
  } finally {
    await cleanup.run();
  }
}

if (isMain(import.meta.url)) {
  void main();
}
