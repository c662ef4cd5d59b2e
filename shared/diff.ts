/**
 * npm run diff -- N: what part N changes in the code of part N-1.
 *
 *   npm run diff -- 2          part1-oneshot -> part2-epoll-style
 *   npm run diff -- 3 --stat   the same, as a summary of changed lines
 *
 * Generated from the two folders with `git diff --no-index`, file by file over
 * the union of their files (a file new in part N shows as all added), so it can
 * never drift from the code. Any option after N goes to git as it is.
 *
 * What it leaves out: the chapters (README.md), prose that is read, not diffed,
 * and each part's exercise.test.ts, which tests the reader's work, not the part.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { exitWith } from './cli.ts';
import { ROOT } from './harness.ts';
import { isMain } from './log.ts';

const SCRIPT = 'diff.ts';
const USAGE = 'usage: diff.ts N [git diff options]     (N from 2 to 4: part N-1 -> part N)';
const SKIPPED = new Set(['README.md', 'exercise.test.ts', 'node_modules', '.tap']);

/** The folder of part `n` (part1-oneshot, ...), or undefined while it does not exist. */
export function partFolder(n: number, root = ROOT): string | undefined {
  return readdirSync(root).find((name) => name.startsWith(`part${n}-`));
}

/** Every file below the folder `dir` (relative to the root), as paths relative to it, chapters left out. */
export function codeFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => !file.split(path.sep).some((part) => SKIPPED.has(part)))
    .filter((file) => statSync(path.join(ROOT, dir, file)).isFile());
}

function main(): void {
  const [which, ...gitOptions] = process.argv.slice(2);
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
  const beforeFiles = new Set(codeFiles(before));
  const afterFiles = new Set(codeFiles(after));
  const files = [...new Set([...beforeFiles, ...afterFiles])].sort();
  for (const file of files) {
    const a = beforeFiles.has(file) ? path.join(before, file) : '/dev/null';
    const b = afterFiles.has(file) ? path.join(after, file) : '/dev/null';
    // git diff exits 1 when the files differ: that is the normal case here.
    const run = spawnSync('git', ['diff', '--no-index', ...gitOptions, '--', a, b], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (run.error) exitWith(SCRIPT, `cannot run git: ${run.error.message}`, 1);
    if (run.status !== 0 && run.status !== 1) process.exit(run.status ?? 1);
  }
}

if (isMain(import.meta.url)) main();
