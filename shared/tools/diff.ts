/**
 * npm run diff -- N: what part N changes in the code of part N-1; and
 * npm run diff -- 4.N: what chapter N of part 4 changes, one step at a time.
 *
 *   npm run diff -- 2            part1-oneshot -> part2-epoll-style
 *   npm run diff -- 3 --stat     the same, as a summary of changed lines
 *   npm run diff -- 4 --tests    with the test files too
 *   npm run diff -- 4.1          part3-backpressure -> step-4.1 (part 4 after chapter 1)
 *   npm run diff -- 4.6          step-4.5 -> step-4.6: what the status endpoint adds
 *
 * Generated from the folders, so it can never drift from the code: their
 * files are copied to a temporary directory under the folders' own names, and
 * `git diff --no-index` compares the two copies in one go, with rename and copy
 * detection. Code that moved shows as moved: part 4's relay.ts is part 3's relay
 * taken out of proxy.ts, so it shows as a copy of part3-backpressure/proxy.ts
 * with only its changes, instead of 100-odd new lines. Any option after N other
 * than --tests goes to git as it is.
 *
 * A step (step-4.1 to step-4.9) is part 4's code as it stands at the end of
 * one of its chapters, rendered from part4-balancing/ by shared/lib/steps.ts
 * and formatted as the source is (a line keeps no indentation of a block that
 * only a later chapter opens); step-4.9 is all of it. Steps hold no tests, so --tests goes with parts only.
 *
 * What it leaves out: the chapters (every Markdown file: each README.md, and
 * part 4's chapters/), prose is read, not diffed; the tests (`*.test.ts`,
 * `*-support.ts`, the fuzzer, part 4's test/) unless --tests is given; and each part's
 * exercise.test.ts and exercise.solution.patch, which are about the reader's
 * work, not the part.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitWith, isMain } from '../lib/cli.ts';
import { ROOT } from '../lib/programs.ts';
import { CHAPTERS, formatForReading, isTestFile, stepFiles, stepNumber } from '../lib/steps.ts';

const SCRIPT = 'diff.ts';
const USAGE = [
  'usage: diff.ts N [--tests] [git diff options]     (N from 2 to 4: part N-1 -> part N)',
  `       diff.ts 4.N [git diff options]             (N from 1 to ${CHAPTERS.length}: part 4, chapter N)`,
].join('\n');
const SKIPPED = new Set(['exercise.test.ts', 'exercise.solution.patch', 'node_modules', '.tap']);
/**
 * How alike two files must be to count as one moved or copied (git's default is
 * 50%). Part 4's relay.ts keeps about 40% of part 3's proxy.ts: the relay half
 * of it. Lower than this, unrelated files start to pair up.
 */
const SIMILAR = '30%';

/** The folder of part `n` (part1-oneshot, ...), or undefined while it does not exist. */
export function partFolder(n: number, root = ROOT): string | undefined {
  return readdirSync(root).find((name) => name.startsWith(`part${n}-`));
}

/** Every file below the folder `dir` (relative to the root), as paths relative to it, chapters left out. */
export function codeFiles(dir: string, { tests = false } = {}): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => !file.split(path.sep).some((part) => SKIPPED.has(part)))
    .filter((file) => !file.endsWith('.md'))
    .filter((file) => tests || !isTestFile(file))
    .filter((file) => statSync(path.join(ROOT, dir, file)).isFile());
}

/** One side of the diff: the name of its folder in the output, and what writes it. */
interface Side {
  name: string;
  write(into: string): void;
}

/** A part's folder, copied as it is (its tests too when `tests`). */
function partSide(folder: string, tests: boolean): Side {
  return {
    name: folder,
    write(into) {
      for (const file of codeFiles(folder, { tests })) {
        const to = path.join(into, folder, file);
        mkdirSync(path.dirname(to), { recursive: true });
        copyFileSync(path.join(ROOT, folder, file), to);
      }
    },
  };
}

/** Step 4.n of part 4, rendered from part4-balancing/ now (a marker mistake throws). */
function stepSide(n: number): Side {
  const name = `step-${CHAPTERS[n - 1].step}`;
  const files = stepFiles(n);
  return {
    name,
    write(into) {
      for (const { file, text } of files) {
        const to = path.join(into, name, file);
        mkdirSync(path.dirname(to), { recursive: true });
        writeFileSync(to, text);
      }
      formatForReading(path.join(into, name));
    },
  };
}

/** The two sides `which` (N or 4.N) compares, or an exit with one line. */
function sidesOf(which: string, tests: boolean): [Side, Side] {
  if (/^[2-4]$/.test(which)) {
    const n = Number(which);
    const [before, after] = [partFolder(n - 1), partFolder(n)];
    if (!before || !after) exitWith(SCRIPT, `part ${before ? n : n - 1} does not exist yet`, 1);
    return [partSide(before, tests), partSide(after, tests)];
  }
  const n = stepNumber(which);
  if (n === undefined) {
    const steps = `4.1 to ${CHAPTERS.at(-1)?.step} (a step of part 4)`;
    exitWith(SCRIPT, `N must be 2, 3 or 4, or ${steps}, got ${JSON.stringify(which)}`, 2, USAGE);
  }
  if (tests) exitWith(SCRIPT, `--tests: steps have no tests (diff -- 4 --tests has part 4's)`, 2);
  if (n > 1) return [stepSide(n - 1), stepSide(n)];
  const part3 = partFolder(3);
  if (!part3) return exitWith(SCRIPT, 'part 3 does not exist yet', 1);
  return [partSide(part3, false), stepSide(n)];
}

function main(): void {
  const [which = '', ...rest] = process.argv.slice(2);
  if (which === '-h' || which === '--help') {
    console.log(USAGE);
    return;
  }
  const tests = rest.includes('--tests');
  const gitOptions = rest.filter((option) => option !== '--tests');
  let sides: [Side, Side];
  try {
    sides = sidesOf(which, tests);
  } catch (err) {
    // A mistake in part 4's chapter markers: its file and line.
    exitWith(SCRIPT, err, 1);
  }
  const [before, after] = sides;

  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsp-diff-'));
  let run: ReturnType<typeof spawnSync>;
  try {
    before.write(dir);
    after.write(dir);
    run = spawnSync(
      'git',
      [
        'diff',
        '--no-index',
        `-M${SIMILAR}`,
        `-C${SIMILAR}`,
        ...gitOptions,
        '--',
        before.name,
        after.name,
      ],
      { cwd: dir, stdio: 'inherit' },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (run.error) exitWith(SCRIPT, `cannot run git: ${run.error.message}`, 1);
  // git diff exits 1 when the folders differ: that is the normal case here.
  if (run.status !== 0 && run.status !== 1) process.exit(run.status ?? 1);
}

if (isMain(import.meta.url)) main();
