/**
 * The ready exercises can be done as their chapters say. Beside each part's
 * exercise.test.ts lies exercise.solution.patch: the exercise done by
 * following its text and hint and nothing else, as a reader would. Here each
 * patch is applied to a copy of the repository, and on that copy both the
 * exercise's test (with EXERCISE=N, as `npm run exercise -- N` runs it) and
 * the part's whole behaviour matrix must pass: the exercise is done, and
 * nothing the part did before broke. chapters.test.ts checks the other half,
 * that each exercise test fails on the part as it is.
 *
 * The copy holds what the tests need, in a temporary directory: the part's
 * folder, shared/, package.json and tsconfig.json, with node_modules linked
 * back. The four parts run two at a time, each in one process started by node
 * itself (no tap runner): a small file that imports the exercise's test, then
 * the matrix, so that tap runs one after the other. A process that loads tap
 * and tsx costs about as much CPU as an exercise's test.
 *
 * When a solved part fails here, so does the hint that led to it: fix the
 * hint first. A patch that no longer applies, because the code moved under
 * it or its exercise changed, is refreshed by doing the exercise again in the
 * part from its text alone, then `git add -N` on any file it adds, `git diff
 * > /tmp/solution.patch` (git diff would list a patch written in place as a
 * change too), that file moved over the part's exercise.solution.patch, and
 * the part put back (`git checkout`, the new files removed).
 *
 * What it leaves out: the exercises without a ready test (their chapters say
 * what a correct answer shows), and the rest of the suite on a solved copy
 * (the chapters' quotes of the changed code differ there, by design).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { type Finished, ROOT, runProgram } from '../lib/programs.ts';
import { partFolder } from './diff.ts';
import { changedFiles, exerciseFile, STASH } from './exercise.ts';

/** What a copy needs besides the part's folder. */
const SHARED = ['shared', 'package.json', 'tsconfig.json'];
/** Never copied: installed packages, tap's and the steps' working folders. */
const NOT_COPIED = new Set(['node_modules', '.tap', '.steps', 'build']);
const THIS_FILE = 'shared/tools/exercise-solutions.test.ts';
/** The most one test file may take on a busy machine. */
const DEADLINE_MS = 100_000;

interface Exercise {
  n: number;
  folder: string;
  patch: string;
  test: string;
  matrix: string;
}

/** Part n's ready exercise: its folder, patch, test and matrix, as paths from the root. */
function exercise(n: number): Exercise {
  const folder = partFolder(n);
  const test = exerciseFile(n);
  if (!folder || !test) throw new Error(`part ${n} has no exercise.test.ts`);
  const matrix = [`${folder}/matrix.test.ts`, `${folder}/test/matrix.test.ts`].find((file) =>
    existsSync(path.join(ROOT, file)),
  );
  if (!matrix) throw new Error(`${folder} has no matrix.test.ts`);
  return { n, folder, patch: `${folder}/exercise.solution.patch`, test, matrix };
}

/** A copy of what part `folder`'s tests need, in a temporary directory removed at the end. */
function copyFor(t: Test, folder: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `rsp-ts-${folder}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of [folder, ...SHARED]) {
    cpSync(path.join(ROOT, name), path.join(dir, name), {
      recursive: true,
      filter: (from) => !NOT_COPIED.has(path.basename(from)),
    });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/**
 * Applies `patch` (from the root) inside `dir`: the error's first line when it
 * does not apply; a throw when git cannot run.
 */
function applyPatch(patch: string, dir: string): string | undefined {
  // The copy is no repository: git must not find one above it (nor be pointed at one).
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(dir) };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete env[name];
  const run = spawnSync('git', ['apply', path.join(ROOT, patch)], {
    cwd: dir,
    env,
    encoding: 'utf8',
  });
  if (run.error) throw new Error(`cannot run git apply: ${run.error.message}`);
  return run.status === 0 ? undefined : run.stderr.trim().split('\n')[0] || `exit ${run.status}`;
}

/** Why a patch does not apply, in one line that says what to do. */
function refresh(ex: Exercise, why: string): string {
  const stale = `exercise ${ex.n}: ${ex.patch} no longer applies (${why.replace(/^error: /, '')})`;
  const howTo = `the patch needs refreshing (how: the comment atop ${THIS_FILE})`;
  const yours = changedFiles(ex.folder).filter((file) => file !== ex.patch);
  if (yours.length === 0) return `${stale}: ${howTo}`;
  return `${stale} to your changed ${yours.join(', ')}: if that is the exercise done, ${STASH}; if not, ${howTo}`;
}

/** The lines of a TAP stream that say what failed. */
const failures = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => /^\s*not ok /.test(line))
    .map((line) => line.trim());

/** How many top-level tests of a TAP stream passed without a skip. */
const passed = (stdout: string) =>
  stdout.split('\n').filter((line) => /^ok \d+ - /.test(line) && !/# SKIP/i.test(line)).length;

/** The file that runs the exercise's test, then the matrix, in one process of the copy. */
const RUNNER = 'solved.ts';

interface Solved {
  ex: Exercise;
  /** Why the patch did not apply, in one line; then nothing ran. */
  stale?: string;
  run?: Finished;
}

/** Exercise `ex`, done in a copy: the patch applied, then its test and the matrix run. */
async function solve(t: Test, ex: Exercise): Promise<Solved> {
  const dir = copyFor(t, ex.folder);
  const why = applyPatch(ex.patch, dir);
  if (why) return { ex, stale: refresh(ex, why) };
  // One process for both files (each registers its tests with tap, which runs
  // them in turn): a process loading tap and tsx costs about as much CPU as
  // an exercise's test.
  const imports = [ex.test, ex.matrix].map((file) => `await import('./${file}');\n`);
  writeFileSync(path.join(dir, RUNNER), imports.join(''));
  const run = await runProgram(RUNNER, [], DEADLINE_MS, { EXERCISE: String(ex.n) }, dir);
  return { ex, run };
}

/** `work` on every item, at most two at a time; the results in the items' order. */
async function inTwos<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all([lane(), lane()]);
  return results;
}

t.test(
  'each ready exercise, done as its hint says: its test and the whole matrix pass',
  async (t) => {
    // Two at a time: most of a matrix is waiting (on sockets, deadlines and
    // descriptors to settle), so two overlap well; four at once, beside the
    // other test files tap runs, starve the rows that time what they check
    // (four slow requests served side by side within a deadline).
    const solved = await inTwos([1, 2, 3, 4], (n) => solve(t, exercise(n)));
    for (const { ex, stale, run } of solved) {
      if (stale || !run) {
        t.fail(stale ?? `exercise ${ex.n}: nothing ran`);
        continue;
      }
      const what = `exercise ${ex.n} done: ${ex.folder} passes ${ex.test} and ${ex.matrix}`;
      t.equal(run.code, 0, what, {
        failures: failures(run.stdout),
        stderr: run.stderr.trim().split('\n').slice(-5),
      });
      t.equal(passed(run.stdout), 2, `exercise ${ex.n}: both ran, neither skipped`);
    }
  },
);
