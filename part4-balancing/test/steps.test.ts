/**
 * Every step of part 4, the code as it stands at the end of each chapter
 * (rendered by shared/lib/steps.ts): each type-checks, with one tsc for all
 * (`npm run typecheck:steps`), and each passes the behaviour matrix's basic
 * rows as part 4 does. What each chapter adds is tested in this folder, on
 * the last step: part4-balancing/ itself.
 */
import path from 'node:path';
import t from 'tap';
import { ROOT, runProgram } from '../../shared/lib/programs.ts';
import { CHAPTERS, LAST, PART, renderStep, stepDir } from '../../shared/lib/steps.ts';
import { BASIC_ROWS, behaviourMatrix } from '../../shared/test/matrix.ts';

t.test('npm run typecheck:steps: every step builds', async (t) => {
  const run = await runProgram('shared/tools/check-steps.ts', [], 120_000);
  t.equal(run.code, 0, 'exit 0');
  t.notMatch(run.stdout + run.stderr, /error TS/, 'no error from tsc');
  for (const chapter of CHAPTERS) {
    t.match(run.stdout, new RegExp(`^step ${chapter.step.replace('.', '\\.')}\\b.*builds`, 'm'));
  }
});

// Written before the matrices start: a step's proxy runs from its own folder.
// The last step is part4-balancing/ itself, whose matrix is matrix.test.ts's.
for (const chapter of CHAPTERS.filter((c) => c.n < LAST)) {
  renderStep(chapter.n);
  behaviourMatrix({
    part: PART,
    folder: path.relative(ROOT, path.join(stepDir(chapter.n), PART)),
    rows: BASIC_ROWS,
    // One mistake per step: every step reads its command line with the same
    // core (cli.ts), whose every mistake part 4's own matrix and cli tests try.
    badArgs: [['--bogus', '127.0.0.1:8888']],
  });
}
