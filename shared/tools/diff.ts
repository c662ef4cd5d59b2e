/**
 * npm run diff -- N: what part N changes in the code of part N-1.
 *
 *   npm run diff -- 2            part1-oneshot -> part2-epoll-style
 *   npm run diff -- 3 --stat     the same, as a summary of changed lines
 *   npm run diff -- 4 --tests    with the test files too
 *
 * Generated from the two folders, so it can never drift from the code: their
 * files are copied to a temporary directory under the folders' own names, and
 * `git diff --no-index` compares the two copies in one go, with rename and copy
 * detection. Code that moved shows as moved: part 4's relay.ts is part 3's relay
 * taken out of proxy.ts, so it shows as a copy of part3-backpressure/proxy.ts
 * with only its changes, instead of 100-odd new lines. Any option after N other
 * than --tests goes to git as it is.
 *
 * What it leaves out: the chapters (every Markdown file: each README.md, and
 * part 4's chapters/), prose is read, not diffed; the tests (`*.test.ts`,
 * `*-support.ts`, the fuzzer, part 4's test/) unless --tests is given; and each part's
 * exercise.test.ts, which tests the reader's work, not the part.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitWith, isMain } from '../lib/cli.ts';
import { ROOT } from '../lib/programs.ts';

const SCRIPT = 'diff.ts';
const USAGE =
  'usage: diff.ts N [--tests] [git diff options]     (N from 2 to 4: part N-1 -> part N)';
const SKIPPED = new Set(['exercise.test.ts', 'node_modules', '.tap']);
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

/**
 * Tests, their helpers (`*-support.ts`) and the fuzzer's generators: not lesson
 * code. Part 4 keeps all of them in its test/ folder.
 */
const isTest = (file: string) =>
  file.split(path.sep)[0] === 'test' || /(\.test|-support|^fuzz.*)\.ts$/.test(path.basename(file));

/** Every file below the folder `dir` (relative to the root), as paths relative to it, chapters left out. */
export function codeFiles(dir: string, { tests = false } = {}): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => !file.split(path.sep).some((part) => SKIPPED.has(part)))
    .filter((file) => !file.endsWith('.md'))
    .filter((file) => tests || !isTest(file))
    .filter((file) => statSync(path.join(ROOT, dir, file)).isFile());
}

/** Copies the chosen files of each folder into `into`, under the folder's own name. */
function copyFolders(folders: string[], into: string, tests: boolean): void {
  for (const folder of folders) {
    for (const file of codeFiles(folder, { tests })) {
      const to = path.join(into, folder, file);
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(path.join(ROOT, folder, file), to);
    }
  }
}

function main(): void {
  const [which, ...rest] = process.argv.slice(2);
  if (which === '-h' || which === '--help') {
    console.log(USAGE);
    return;
  }
  const n = Number(which);
  if (!/^[2-4]$/.test(which ?? '')) {
    exitWith(SCRIPT, `N must be 2, 3 or 4, got ${JSON.stringify(which ?? '')}`, 2, USAGE);
  }
  const [before, after] = [partFolder(n - 1), partFolder(n)];
  if (!before || !after) {
    exitWith(SCRIPT, `part ${before ? n : n - 1} does not exist yet`, 1);
  }
  const tests = rest.includes('--tests');
  const gitOptions = rest.filter((option) => option !== '--tests');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsp-diff-'));
  let run: ReturnType<typeof spawnSync>;
  try {
    copyFolders([before, after], dir, tests);
    run = spawnSync(
      'git',
      ['diff', '--no-index', `-M${SIMILAR}`, `-C${SIMILAR}`, ...gitOptions, '--', before, after],
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
