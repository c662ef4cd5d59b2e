/**
 * npm run test:steps: runs each step of part 4 against its own tests. Step
 * 4.N (4.1 to 4.8) is rendered to .steps/4.N/part4-balancing/ with the test
 * files of chapters 1 to N in its test/ (TEST_CHAPTERS in shared/lib/steps.ts),
 * and tap runs them from the repository's root, one step after another. The
 * copied tests import their code by relative paths ('../pools/pool.ts') and
 * start the proxy of their own folder (support.ts's PART), so they test the
 * step's code. Step 4.9 is part4-balancing/ itself, which `npm test` tests.
 *
 * A line per step: the files run, passed or failed with tap's counts, the
 * time; under a failed one, its failed files. tap's whole output for step 4.N
 * is kept in .steps/4.N/tests.tap. Exit 1 when a step failed.
 *
 *   npm run test:steps            # 4.1 to 4.8
 *   npm run test:steps -- 4.2 4.3 # those two
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { exitWith, isMain } from '../lib/cli.ts';
import { ROOT } from '../lib/programs.ts';
import {
  CHAPTERS,
  LAST,
  PART,
  renderStep,
  STEPS_DIR,
  stepDir,
  stepNumber,
  stepTests,
} from '../lib/steps.ts';

const SCRIPT = 'test-steps.ts';
const USAGE = `usage: test-steps.ts [4.N ...]     (runs steps 4.1 to 4.${LAST - 1} against their chapters' tests)`;
const TAP = path.join(ROOT, 'node_modules', '.bin', 'tap');

export interface StepRun {
  step: string;
  files: number;
  /** tap's counts: its last line `# { total: N, pass: N, fail: N, ... }`. */
  counts: Record<string, number>;
  /** The test files tap reported `not ok`, relative to the step's test/. */
  failed: string[];
  ok: boolean;
  seconds: number;
}

/** tap's closing counts, `# { total: 47, pass: 46, fail: 1 }`, as an object. */
export function tapCounts(output: string): Record<string, number> {
  const line = output.match(/^# \{ (total: .*) \}$/m)?.[1] ?? '';
  return Object.fromEntries(
    line
      .split(', ')
      .map((pair) => pair.split(': '))
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, Number(value)]),
  );
}

/** Renders step n with its tests and runs them with tap; tap's output goes to .steps/4.N/tests.tap. */
export function runStep(n: number): StepRun {
  const step = `4.${n}`;
  const started = performance.now();
  renderStep(n, STEPS_DIR, { tests: true });
  const tests = stepTests(n);
  const folder = path.relative(ROOT, path.join(stepDir(n), PART, 'test'));
  const run = spawnSync(TAP, ['--reporter=tap', ...tests.map((file) => path.join(folder, file))], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.error) exitWith(SCRIPT, `cannot run tap: ${run.error.message}`, 1);
  const output = run.stdout + run.stderr;
  writeFileSync(path.join(stepDir(n), 'tests.tap'), output);
  const failed = [...output.matchAll(/^not ok \d+ - (\S+)/gm)].map((m) => path.basename(m[1]));
  return {
    step,
    files: tests.length,
    counts: tapCounts(output),
    failed,
    ok: run.status === 0 && failed.length === 0,
    seconds: (performance.now() - started) / 1000,
  };
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '-h' || args[0] === '--help') {
    console.log(USAGE);
    return;
  }
  const steps = args.length > 0 ? args : CHAPTERS.slice(0, LAST - 1).map((c) => c.step);
  const numbers = steps.map((name) => {
    const n = stepNumber(name);
    if (n === undefined || n === LAST) {
      exitWith(SCRIPT, `no step ${name} to test (4.1 to 4.${LAST - 1})`, 2, USAGE);
    }
    return n;
  });

  const started = performance.now();
  let failures = 0;
  for (const n of numbers) {
    const run = runStep(n);
    const counts = Object.entries(run.counts)
      .map(([key, value]) => `${value} ${key}`)
      .join(', ');
    const verdict = run.ok ? 'passed' : 'FAILED';
    console.log(
      `step ${run.step}: ${verdict}, ${run.files} files (${counts || 'no counts from tap'}), ${run.seconds.toFixed(1)} s`,
    );
    for (const file of run.failed) console.log(`  not ok: ${file}`);
    if (!run.ok) {
      failures++;
      console.log(`  tap's output: ${path.relative(ROOT, path.join(stepDir(n), 'tests.tap'))}`);
    }
  }
  const total = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    failures === 0
      ? `every step passed its tests (${total} s)`
      : `${failures} step${failures === 1 ? '' : 's'} failed (${total} s)`,
  );
  if (failures > 0) process.exitCode = 1;
}

if (isMain(import.meta.url)) main();
