/**
 * npm run profile -- N: where part N spends its CPU under load.
 *
 *   npm run profile -- 3                 part 3, keep-alive load, 5 s
 *   npm run profile -- 4 --mode close    part 4, a new connection per request
 *   npm run profile -- 4 --seconds 10 --out /tmp/part4
 *   npm run profile -- 3 --save          and its reading to shared/results/
 *
 * It starts the mock backend and part N under V8's sampling profiler
 * (through node:inspector: see profile-run.ts), drives it with the benchmark's
 * load (keep-alive, or with --mode close a new connection per request, where
 * setting up and tearing down connections dominates), stops
 * it, and reads the profile: the top functions by self time, the time by kind
 * (our code, Node's streams and sockets, V8's garbage collector, the program
 * itself: mostly syscalls and libuv), and a flame graph written as an SVG file
 * that a browser opens. The .cpuprofile beside it opens in Chrome DevTools or
 * speedscope for a closer look. `--save` writes the reading (the rate, the
 * time by kind, the top functions) to `shared/results/` as
 * profile-partN-MODE.json, where `npm run docs` renders the figures of
 * shared/bench/WHERE-THE-TIME-GOES.md from it.
 *
 * What it leaves out: native frames (libuv and the kernel show as "(program)";
 * `perf` sees inside them where it is allowed), and the load generator, which
 * shares the two cores with the part and the backend.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { withCleanup } from '../lib/cleanup.ts';
import { failWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { ROOT, startBackend, startProgram } from '../lib/programs.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { load, type Mode, modeOption } from './bench-load.ts';

const SCRIPT = 'profile.ts';
const USAGE =
  'usage: profile.ts N [--mode keepalive|close] [--seconds S] [--connections C] [--out DIR] [--save]   (N from 1 to 4)';

export interface ProfileOptions {
  part: string;
  mode: Mode;
  seconds: number;
  connections: number;
  out: string;
  /** Write the reading to shared/results/ under savedName(). */
  save?: boolean;
}

/** The name --save gives a reading: profile-part3-keepalive, profile-part4-close. */
export const savedName = (options: Pick<ProfileOptions, 'part' | 'mode'>) =>
  `profile-${options.part.split('-')[0]}-${options.mode}`;

/** How many functions a saved reading keeps, by self time. */
const SAVED_TOP = 60;

export function parseProfileArgs(argv: string[]): ProfileOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mode: { type: 'string', default: 'keepalive' },
      seconds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '50' },
      out: { type: 'string', default: path.join(ROOT, 'profile') },
      save: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new Error('give one part number, from 1 to 4');
  const n = integerOption('N', positionals[0], 1, 4);
  const part = readdirSync(ROOT).find((name) => name.startsWith(`part${n}-`));
  if (!part) throw new Error(`no folder for part ${n}`);
  return {
    part,
    mode: modeOption(values.mode),
    seconds: integerOption('--seconds', values.seconds, 1, 600),
    connections: integerOption('--connections', values.connections, 1, 10_000),
    out: path.resolve(values.out),
    ...(values.save ? { save: true } : {}),
  };
}

/** A node of a .cpuprofile (Chrome DevTools protocol's Profiler.ProfileNode). */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** What a frame is, for the "by kind" table. */
export function kindOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(idle)') return 'idle (waiting in epoll)';
  if (functionName === '(program)' || functionName === '(root)') {
    return 'program (native: syscalls, libuv, V8)';
  }
  // Native bindings called from JavaScript: writeBuffer and writev are write(2).
  if (url === '') return 'native bindings (read, write syscalls)';
  if (url.includes('/node_modules/')) return 'packages (tsx, ...)';
  if (url.startsWith('file://') || url.startsWith('/')) return 'our code';
  if (url.startsWith('node:internal/streams') || url.includes('stream')) return 'Node streams';
  if (url.startsWith('node:net') || url.startsWith('node:internal/stream_base')) {
    return 'Node sockets (net)';
  }
  return 'Node, other';
}

export interface Reading {
  totalMs: number;
  top: { name: string; where: string; selfMs: number }[];
  kinds: [string, number][];
}

/** What --save writes: the options, the rate the load reached, and the reading. */
export interface ProfileReport extends Provenance, Reading {
  options: Omit<ProfileOptions, 'out'>;
  rps: number;
}

/** Self time per function and per kind, from a profile's hit counts. */
export function read(profile: CpuProfile, topN = 15): Reading {
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerSample = totalMs / Math.max(1, profile.samples.length);
  const byFunction = new Map<string, { name: string; where: string; selfMs: number }>();
  const kinds = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const where = url ? `${url.replace(`file://${ROOT}/`, '')}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const ms = node.hitCount * msPerSample;
    const entry = byFunction.get(key) ?? { name, where, selfMs: 0 };
    entry.selfMs += ms;
    byFunction.set(key, entry);
    const kind = kindOf(url, functionName);
    kinds.set(kind, (kinds.get(kind) ?? 0) + ms);
  }
  return {
    totalMs,
    top: [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN),
    kinds: [...kinds].sort((a, b) => b[1] - a[1]),
  };
}

/**
 * A flame graph: each frame a box as wide as its time with everything it
 * called, its callees stacked on it. Plain SVG, one <title> per box.
 */
export function flameGraph(profile: CpuProfile, width = 1200): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const inclusive = new Map<number, number>();
  const total = (id: number): number => {
    const node = byId.get(id) as ProfileNode;
    const sum = node.hitCount + (node.children ?? []).reduce((n, child) => n + total(child), 0);
    inclusive.set(id, sum);
    return sum;
  };
  const root = profile.nodes[0];
  const all = total(root.id) || 1;
  const ROW = 16;
  const boxes: string[] = [];
  let depth = 0;
  const draw = (id: number, x: number, level: number) => {
    const node = byId.get(id) as ProfileNode;
    const w = ((inclusive.get(id) ?? 0) / all) * width;
    if (w < 0.5) return;
    depth = Math.max(depth, level);
    const name = node.callFrame.functionName || '(anonymous)';
    const label = `${name} ${(((inclusive.get(id) ?? 0) / all) * 100).toFixed(1)}%`;
    const escaped = label.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const hue = kindOf(node.callFrame.url, node.callFrame.functionName) === 'our code' ? 200 : 30;
    boxes.push(
      `<g><title>${escaped}</title><rect x="${x.toFixed(1)}" y="LEVEL${level}" width="${w.toFixed(1)}" height="${ROW - 1}" fill="hsl(${hue},70%,${60 + (level % 3) * 8}%)"/>` +
        (w > 40
          ? `<text x="${(x + 3).toFixed(1)}" y="LEVEL${level}T" font-size="11">${escaped.slice(0, Math.floor(w / 7))}</text>`
          : '') +
        '</g>',
    );
    let childX = x;
    for (const child of node.children ?? []) {
      draw(child, childX, level + 1);
      childX += ((inclusive.get(child) ?? 0) / all) * width;
    }
  };
  draw(root.id, 0, 0);
  const height = (depth + 1) * ROW;
  // Deepest frames at the top, as flame graphs are usually drawn.
  const svg = boxes
    .join('\n')
    .replace(/LEVEL(\d+)T/g, (_, level) => String(height - Number(level) * ROW - 4))
    .replace(/LEVEL(\d+)/g, (_, level) => String(height - (Number(level) + 1) * ROW));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace">\n${svg}\n</svg>\n`;
}

async function main(): Promise<void> {
  const options = parseOrExit(SCRIPT, USAGE, parseProfileArgs);
  try {
    await withCleanup(async (cleanup) => {
      const began = provenance(npmCommand('profile'));
      mkdirSync(options.out, { recursive: true });
      const backend = await startBackend(cleanup, { name: 'P' });
      const args =
        options.part === 'part4-balancing'
          ? ['0', `127.0.0.1:${backend.port}`]
          : ['0', '127.0.0.1', String(backend.port)];
      const file = path.join(options.out, `${options.part}.cpuprofile`);
      const part = await startProgram(
        cleanup,
        'shared/bench/profile-run.ts',
        [options.part, ...args],
        { env: { PROFILE_OUT: file } },
      );
      console.log(
        `${options.part} under the profiler; ${options.connections} ${options.mode === 'keepalive' ? 'keep-alive connections' : 'clients, a new connection per request,'} for ${options.seconds} s...`,
      );
      const result = await load(options.mode, {
        port: part.port,
        connections: options.connections,
        seconds: options.seconds,
      });
      part.child.kill('SIGTERM');
      await part.exited;
      const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
      const svg = file.replace(/\.cpuprofile$/, '.svg');
      writeFileSync(svg, flameGraph(profile));
      const reading = read(profile);
      console.log(
        `${Math.round(result.rps).toLocaleString('en-US')} requests/s; ${reading.totalMs.toFixed(0)} ms profiled.\n`,
      );
      console.log('by kind                                   ms      %');
      for (const [kind, ms] of reading.kinds) {
        console.log(
          `  ${kind.padEnd(38)} ${ms.toFixed(0).padStart(6)} ${((ms / reading.totalMs) * 100).toFixed(1).padStart(6)}`,
        );
      }
      console.log('\ntop functions by self time                ms      %');
      for (const { name, where, selfMs } of reading.top) {
        console.log(
          `  ${`${name} ${where}`.slice(0, 38).padEnd(38)} ${selfMs.toFixed(0).padStart(6)} ${((selfMs / reading.totalMs) * 100).toFixed(1).padStart(6)}`,
        );
      }
      console.log(`\nflame graph: ${svg}\nprofile:     ${file} (Chrome DevTools or speedscope)`);
      if (options.save) {
        const { out: _out, ...saved } = options;
        const report: ProfileReport = {
          ...began,
          options: saved,
          rps: result.rps,
          ...read(profile, SAVED_TOP),
        };
        console.log(`Wrote ${writeResults(savedName(options), report)}.`);
      }
    });
  } catch (err) {
    failWith(SCRIPT, err);
  }
}

if (isMain(import.meta.url)) await main();
