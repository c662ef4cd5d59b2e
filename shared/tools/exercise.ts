/**
 * npm run exercise -- N: the ready test of part N's exercise, for N from 1 to 4.
 *
 * Each part's chapter (part 4's, in its sub-chapters) ends with exercises, and
 * one of them comes with a test, `<part N>/exercise.test.ts`, that drives the
 * part through its real command line. `npm test` leaves it out (tap's `exclude`
 * in package.json); this runs it with EXERCISE=N, which lifts its skip (run
 * alone without it, it skips). It fails until you have done the exercise
 * in that part's code.
 *
 * Done, an exercise changes code that `npm test` checks as the chapter has it:
 * the chapter's quotes of it, and the check that the exercise still fails. The
 * tests that trip over that say so, naming the files changed since the last
 * commit (changedFiles()), and how to see the suite green around them (STASH).
 *
 * What it leaves out: the exercises without a test (their chapter says how to
 * see the result).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { exitWith, isMain } from '../lib/cli.ts';
import { ROOT } from '../lib/programs.ts';
import { partFolder } from './diff.ts';

const SCRIPT = 'exercise.ts';
/** How to run `npm test` on the chapters' code while an exercise is done in the working tree. */
export const STASH = '`git stash -u` to see the suite green, `git stash pop` to get your work back';
const USAGE = 'usage: exercise.ts N     (N from 1 to 4: the exercise test of part N)';

/**
 * The files below `paths` (from the root) that differ from the last commit, new
 * ones included, as paths from the root; none when git cannot tell (a copy
 * outside a clone).
 */
export function changedFiles(...paths: string[]): string[] {
  const run = spawnSync('git', ['status', '--porcelain', '--untracked-files=all', '--', ...paths], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) return [];
  // "XY path", or "XY old -> new" for a rename.
  return run.stdout
    .split('\n')
    .filter((line) => line.length > 3)
    .map((line) => line.slice(3).split(' -> ').at(-1) as string);
}

/**
 * For the message of a failing check that a reader's work can trip:
 * `; you have changed FILES since the last commit: an exercise? STASH` when
 * code below `paths` differs from the last commit, else nothing. The
 * chapters (Markdown) do not count.
 */
export function yourChanges(...paths: string[]): string {
  const code = changedFiles(...paths).filter((file) => !file.endsWith('.md'));
  if (code.length === 0) return '';
  return `; you have changed ${code.join(', ')} since the last commit: an exercise? ${STASH}`;
}

/** Part N's ready test, as a path from the repository's root, if it has one. */
export function exerciseFile(n: number): string | undefined {
  const folder = partFolder(n);
  const file = folder && path.join(folder, 'exercise.test.ts');
  return file && existsSync(path.join(ROOT, file)) ? file : undefined;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '-h' || args[0] === '--help') {
    console.log(USAGE);
    return;
  }
  if (args.length !== 1 || !/^[1-4]$/.test(args[0])) {
    exitWith(SCRIPT, `N must be 1, 2, 3 or 4, got ${JSON.stringify(args.join(' '))}`, 2, USAGE);
  }
  const file = exerciseFile(Number(args[0]));
  if (!file) exitWith(SCRIPT, `part ${args[0]} has no exercise.test.ts`, 1);
  console.log(`Running ${file}: it fails until the exercise is done.\n`);
  const run = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tap'), [file], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, EXERCISE: args[0] },
  });
  if (run.error) exitWith(SCRIPT, `cannot run tap: ${run.error.message}`, 1);
  if (run.status === 0) {
    console.log(
      `\nExercise ${args[0]} is done. npm test now fails where it checks the code you changed as the chapter has it; ${STASH}.`,
    );
  }
  process.exit(run.status ?? 1);
}

if (isMain(import.meta.url)) main();
