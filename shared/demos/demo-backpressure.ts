/**
 * npm run demo:backpressure: part 2's memory against part 3's, with slow readers.
 *
 *   npm run demo:backpressure [-- --seconds N]      (N per part, default 9)
 *
 * It starts one mock backend, then each part in turn in front of it, and opens
 * the same scenario against each: four clients each ask for 48 MiB and read it
 * slowly (one chunk every 100 ms, under 1 MiB/s). The proxy's resident memory
 * (VmRSS from /proc) is sampled every 250 ms, and at the end both curves are
 * drawn on one chart with each part's peak. Part 2 ignores write()'s return
 * value, so it reads the backend's answers as fast as loopback allows and keeps
 * them; part 3 pauses the backend until the client drains, so it stays flat.
 *
 * What it leaves out: asserting anything (the matrix's slow-readers row does),
 * and reading the answers to their end: each run stops after its time is up.
 */
import { parseArgs } from 'node:util';
import asciichart from 'asciichart';
import { Cleanup } from '../lib/cleanup.ts';
import { failWith, integerOption, parseOrExit } from '../lib/cli.ts';
import {
  httpGet,
  partArgs,
  rssKiB,
  slowReaders,
  startBackend,
  startPart,
} from '../test/harness.ts';

const SCRIPT = 'demo-backpressure.ts';
const USAGE = 'usage: demo-backpressure.ts [--seconds N]      (per part, 2 to 120; default 9)';
const MiB = 1024 * 1024;
const CLIENTS = 4;
const SIZE = 48 * MiB;
const READ_EVERY_MS = 100;
const SAMPLE_MS = 250;
const PARTS = [
  { name: 'part2', folder: 'part2-epoll-style', color: asciichart.red },
  { name: 'part3', folder: 'part3-backpressure', color: asciichart.green },
];

interface Run {
  name: string;
  /** RSS growth over the proxy's idle baseline, in MiB, one value per sample. */
  samples: number[];
  baseMiB: number;
}

function parseDemoArgs(argv: string[]): { seconds: number } {
  const { values } = parseArgs({ args: argv, options: { seconds: { type: 'string' } } });
  return { seconds: integerOption('--seconds', values.seconds ?? '9', 2, 120) };
}

/** Runs the slow-reader scenario against one part and samples its RSS. */
async function measure(
  part: (typeof PARTS)[number],
  backendPort: number,
  seconds: number,
): Promise<Run> {
  const cleanup = new Cleanup();
  try {
    const proxy = await startPart(cleanup, part.folder, partArgs(part.folder, [backendPort]));
    await httpGet(proxy.port); // warm up, so the baseline includes the relay's code
    const base = await rssKiB(proxy.pid);
    await slowReaders(cleanup, proxy.port, CLIENTS, `/?size=${SIZE}`, READ_EVERY_MS);
    const samples: number[] = [];
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      samples.push(((await rssKiB(proxy.pid)) - base) / 1024);
      if (process.stdout.isTTY) {
        const at = (samples.length * SAMPLE_MS) / 1000;
        process.stdout.write(`\r${part.name}: ${at} s, +${samples.at(-1)?.toFixed(1)} MiB   `);
      }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
    return { name: part.name, samples, baseMiB: base / 1024 };
  } finally {
    await cleanup.run();
  }
}

async function main(): Promise<void> {
  const { seconds } = parseOrExit(SCRIPT, USAGE, parseDemoArgs);
  const cleanup = new Cleanup();
  const stopOnSignals = cleanup.onSignals();
  try {
    const backend = await startBackend(cleanup, { name: 'demo' });
    console.log(
      `${CLIENTS} clients each ask for ${SIZE / MiB} MiB and read one chunk every ${READ_EVERY_MS} ms; ` +
        `${seconds} s per part.\n`,
    );
    const runs: Run[] = [];
    for (const part of PARTS) runs.push(await measure(part, backend.port, seconds));

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
    console.log(
      `${' '.repeat(8)}0 s${' '.repeat(Math.max(0, runs[0].samples.length - 8))}${seconds} s`,
    );
    for (const [i, run] of runs.entries()) {
      const peak = Math.max(...run.samples);
      console.log(
        `${PARTS[i].color}${run.name}${asciichart.reset}: peak +${peak.toFixed(1)} MiB ` +
          `over a ${run.baseMiB.toFixed(1)} MiB baseline (${CLIENTS * (SIZE / MiB)} MiB requested in all)`,
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
