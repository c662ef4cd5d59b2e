/**
 * npm run fuzz as a reader runs it: a line per parser, exit 0; bad options: an
 * error line and the usage, exit 2. (The properties themselves run in
 * properties.unit.test.ts.)
 */
import t from 'tap';
import { runProgram } from '../../shared/test/harness.ts';
import { PARSER_PROPERTIES } from './fuzz-arbitraries.ts';
import { PART } from './support.ts';

const FUZZ = `${PART}/test/fuzz.ts`;

t.test('--runs N: one line per parser with its count and seed, exit 0', async (t) => {
  const run = await runProgram(FUZZ, ['--runs', '25']);
  t.equal(run.code, 0, run.stdout + run.stderr);
  const lines = run.stdout.trim().split('\n');
  t.same(
    lines.map((line) => line.split(/\s+/)[0]),
    PARSER_PROPERTIES.map((p) => p.name),
  );
  for (const line of lines) t.match(line, /^\S+\s+25 cases, no failure \(seed -?\d+, [\d.]+ s\)$/);
});

t.test('--only NAME --seed S: one parser, from that seed', async (t) => {
  const run = await runProgram(FUZZ, ['--only', 'hosts', '--runs', '10', '--seed', '42']);
  t.equal(run.code, 0);
  t.match(run.stdout, /^hosts\s+10 cases, no failure \(seed 42, /);
  t.equal(run.stdout.trim().split('\n').length, 1);
});

t.test('bad options: exit 2, the problem on one line, then the usage', async (t) => {
  const cases = [
    [['--runs', '0'], /--runs: expected a positive integer, got 0/],
    [['--only', 'nope'], /--only: no parser nope \(http-head, /],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--save', '--only', 'hosts'], /--save keeps every parser: leave out --only/],
  ] as const;
  const runs = await Promise.all(cases.map(([args]) => runProgram(FUZZ, [...args])));
  for (const [i, [args, problem]] of cases.entries()) {
    const run = runs[i];
    t.equal(run.code, 2, args.join(' '));
    const [first, usage] = run.stderr.trim().split('\n');
    t.match(first, problem);
    t.match(first, /^fuzz\.ts: /);
    t.match(usage, /^usage: fuzz\.ts/);
  }
});
