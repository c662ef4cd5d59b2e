/**
 * npm run typecheck:steps: type-checks part 4 as it stands at the end of each
 * of its chapters, so that every step builds, not only the last one
 * (`npm run typecheck` checks that one: part4-balancing/ itself).
 *
 * Every step is rendered to .steps/ (shared/lib/steps.ts), and one tsc checks
 * them all: .steps/tsconfig.json, written here, takes the repository's
 * options and includes each step's part4-balancing/. One program reads and
 * checks Node's types once for all eight: on two cores tsc took 5 s from
 * nothing, where `tsc -b` over a project a step took 12, and 3 to 4 s after
 * an edit to route.ts (which every step holds), where tsc -b took 5. It is
 * incremental: .steps/steps.tsbuildinfo remembers what was checked, and a
 * step's files are rewritten only when their text changes, so with nothing
 * changed tsc takes about 2 s. The whole command, rendering and starting
 * included: about 8 s from nothing, 4 s after.
 *
 * An error names the line to edit, in part4-balancing/, then the step and
 * the line of its rendered file, which tsc named:
 *
 *   part4-balancing/cli.ts:25:8 (step 4.1, .steps/4.1/part4-balancing/cli.ts:23): error TS2307: ...
 *
 * and a line a step says whether it builds. Exit 1 when one does not.
 *
 * What it leaves out: running the steps (`npm run step -- 4.N` does), and
 * their tests (they have none).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { exitWith, isMain } from '../lib/cli.ts';
import { ROOT } from '../lib/programs.ts';
import { CHAPTERS, PART, renderStep, STEPS_DIR, type StepFile } from '../lib/steps.ts';

const SCRIPT = 'check-steps.ts';
const USAGE = `usage: check-steps.ts     (type-checks every step of part 4: 4.1 to 4.${CHAPTERS.length})`;
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** tsc's `--pretty false` error line in a step's file: `.steps/4.N/part4-balancing/FILE(LINE,COL): ...` */
const STEP_ERROR = /^\.steps\/4\.(\d+)\/part4-balancing\/(.+)\((\d+),(\d+)\): (error .*)$/;

/** Writes .steps/tsconfig.json: the repository's options, every step's code, incremental. */
function writeConfig(): string {
  const file = path.join(STEPS_DIR, 'tsconfig.json');
  const config = {
    extends: '../tsconfig.json',
    compilerOptions: { incremental: true, tsBuildInfoFile: 'steps.tsbuildinfo' },
    include: CHAPTERS.map((chapter) => `${chapter.step}/${PART}`),
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/**
 * tsc's line for an error in a step, led by the source line it comes from;
 * any other line as it is. Counts the errors of each step in `errors`.
 */
function followable(line: string, files: Map<string, StepFile>, errors: number[]): string {
  const match = line.match(STEP_ERROR);
  if (!match) return line;
  const [, n, file, at, column, message] = match;
  errors[Number(n)] = (errors[Number(n)] ?? 0) + 1;
  const source = files.get(`${n}/${file}`)?.sourceLines[Number(at) - 1];
  const rendered = `.steps/4.${n}/${PART}/${file}:${at}`;
  if (source === undefined) return `${rendered}:${column}: ${message}`;
  return `${PART}/${file}:${source}:${column} (step 4.${n}, ${rendered}): ${message}`;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '-h' || args[0] === '--help') {
    console.log(USAGE);
    return;
  }
  if (args.length > 0) exitWith(SCRIPT, `it takes no arguments, got "${args.join(' ')}"`, 2, USAGE);

  /** Every step's files, by `N/file`, to find a rendered line's source. */
  const files = new Map<string, StepFile>();
  try {
    for (const chapter of CHAPTERS) {
      for (const file of renderStep(chapter.n)) files.set(`${chapter.n}/${file.file}`, file);
    }
  } catch (err) {
    // A mistake in the chapter markers: the file and line that hold it.
    exitWith(SCRIPT, err, 1);
  }
  const config = path.relative(ROOT, writeConfig());
  const run = spawnSync(process.execPath, [TSC, '-p', config, '--pretty', 'false'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.error) exitWith(SCRIPT, `cannot run tsc: ${run.error.message}`, 1);

  const errors: number[] = [];
  const output = run.stdout.trimEnd();
  if (output)
    console.log(
      output
        .split('\n')
        .map((line) => followable(line, files, errors))
        .join('\n'),
    );
  process.stderr.write(run.stderr);
  for (const chapter of CHAPTERS) {
    const count = errors[chapter.n] ?? 0;
    const verdict = count === 0 ? 'builds' : `${count} error${count === 1 ? '' : 's'}`;
    console.log(`step ${chapter.step}  ${chapter.title}: ${verdict}`);
  }
  // tsc also fails on errors outside the steps (shared/, the configuration): its lines say which.
  if (run.status !== 0) process.exitCode = 1;
}

if (isMain(import.meta.url)) main();
