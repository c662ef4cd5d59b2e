/**
 * npm run demo:backpressure: part 2's memory against part 3's, with slow readers.
 *
 *   npm run demo:backpressure [-- --seconds N]      (N per part, default 9)
 *   npm run demo:backpressure -- --until-mib 64     (part 2 until it has grown 64 MiB)
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
 * What it leaves out: asserting anything (the matrix's slow-readers row does),
 * and reading the answers to their end: each run stops after its time is up
 * (or, with --until-mib, part 2's once it has grown that much).
 */
import { parseArgs } from 'node:util';
import asciichart from 'asciichart';
import { Cleanup } from '../lib/cleanup.ts';
import { failWith, integerOption, parseOrExit } from '../lib/cli.ts';
import { partArgs, startBackend, startPart } from '../lib/programs.ts';
import { httpGet, rssKiB, slowReaders } from '../test/harness.ts';

const SCRIPT = 'demo-backpressure.ts';
const USAGE =
  'usage: demo-backpressure.ts [--seconds N] [--until-mib M]      (N per part, 2 to 120; default 9)';
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

interface Run {
  name: string;
  /** RSS growth over the proxy's idle baseline, in MiB, one value per sample. */
  samples: number[];
  baseMiB: number;
  /** How long it ran. */
  ms: number;
}

interface DemoOptions {
  seconds: number;
  /** End part 2's run once it has grown this many MiB. */
  untilMiB?: number;
}

function parseDemoArgs(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: 'string' }, 'until-mib': { type: 'string' } },
  });
  const until = values['until-mib'];
  return {
    seconds: integerOption('--seconds', values.seconds ?? '9', 2, 120),
    untilMiB: until === undefined ? undefined : integerOption('--until-mib', until, 1, 1024),
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

async function main(): Promise<void> {
  const { seconds, untilMiB } = parseOrExit(SCRIPT, USAGE, parseDemoArgs);
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
    const runs = [first, second];

    console.log(
      `\nproxy RSS growth over its idle baseline (MiB), one sample every ${SAMPLE_MS} ms\n`,
    );
    console.log(
      asciichart.plot(
        runs.map((run) => run.samples),
        {
          height: 16,
          min: 0,
          colors: PARTS.map((part) => part.color),
          format: (value) => value.toFixed(0).padStart(6),
        },
      ),
    );
    const longest = Math.max(...runs.map((run) => run.samples.length));
    const end = untilMiB === undefined ? seconds : Math.max(...runs.map((run) => run.ms)) / 1000;
    console.log(`${' '.repeat(8)}0 s${' '.repeat(Math.max(0, longest - 8))}${end.toFixed(0)} s`);
    for (const [i, run] of runs.entries()) {
      const peak = Math.max(...run.samples);
      console.log(
        `${PARTS[i].color}${run.name}${asciichart.reset}: peak ${signed(peak)} MiB ` +
          `over a ${run.baseMiB.toFixed(1)} MiB baseline (${CLIENTS * (SIZE / MiB)} MiB requested in all)`,
      );
    }
    if (untilMiB !== undefined) {
      const reached = Math.max(...first.samples) >= untilMiB;
      console.log(
        reached
          ? `part2 passed +${untilMiB} MiB after ${(first.ms / 1000).toFixed(1)} s; part3 had ${(second.ms / 1000).toFixed(1)} s.`
          : `part2 did not grow ${untilMiB} MiB within ${seconds} s.`,
      );
    }
  } catch (err) {
    failWith(SCRIPT, err);
  } finally {
    stopOnSignals();
    await cleanup.run();
  }
}

await main();
