/**
 * npm run fuzz [-- --runs N] [-- --seed S]: every first-bytes parser against
 * N generated cases (100,000 by default), with the properties of
 * fuzz-arbitraries.ts. One line per parser; on a failure, fast-check's report
 * (the shrunk counterexample and the seed to replay it), and exit code 1.
 * `--save` writes the lines' figures to shared/results/fuzz.json
 * (fuzz-N.json for --runs N), where `npm run docs` renders chapter 4's
 * sample of the run from them.
 *
 * What it leaves out: coverage guidance (as a libFuzzer would steer toward new
 * branches); the generators aim at the formats instead.
 */
import { parseArgs } from 'node:util';
import { isMain } from '../../shared/lib/cli.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../../shared/lib/results.ts';
import { PARSER_PROPERTIES } from './fuzz-arbitraries.ts';

const USAGE = 'usage: fuzz.ts [--runs N] [--seed S] [--only NAME] [--save]';
const RUNS = 100_000;

/** One parser's run, as its line says it. */
export interface FuzzLine {
  parser: string;
  failed: boolean;
  cases: number;
  seed: number;
  seconds: number;
}

/** What --save writes. */
export interface FuzzReport extends Provenance {
  runs: number;
  lines: FuzzLine[];
}

/** The line fuzz prints for a parser. */
export function formatLine(line: FuzzLine): string {
  const name = line.parser.padEnd(15);
  const seconds = line.seconds.toFixed(1);
  return line.failed
    ? `${name} FAILED after ${line.cases} cases (seed ${line.seed}, ${seconds} s)`
    : `${name} ${line.cases} cases, no failure (seed ${line.seed}, ${seconds} s)`;
}

function main(): number {
  const began = provenance(npmCommand('fuzz'));
  let runs = RUNS;
  let seed: number | undefined;
  let only: string | undefined;
  let save = false;
  try {
    const { values } = parseArgs({
      options: {
        runs: { type: 'string' },
        seed: { type: 'string' },
        only: { type: 'string' },
        save: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.runs !== undefined) runs = positiveInteger('--runs', values.runs);
    if (values.seed !== undefined) seed = integer('--seed', values.seed);
    only = values.only;
    save = values.save ?? false;
    if (save && only !== undefined) throw new Error('--save keeps every parser: leave out --only');
    if (only !== undefined && !PARSER_PROPERTIES.some((p) => p.name === only)) {
      throw new Error(
        `--only: no parser ${only} (${PARSER_PROPERTIES.map((p) => p.name).join(', ')})`,
      );
    }
  } catch (err) {
    console.error(`fuzz.ts: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }

  const lines: FuzzLine[] = [];
  for (const parser of PARSER_PROPERTIES) {
    if (only !== undefined && parser.name !== only) continue;
    const started = performance.now();
    const result = parser.run(runs, seed);
    const line = {
      parser: parser.name,
      failed: result.failed,
      cases: result.numRuns,
      seed: result.seed,
      seconds: (performance.now() - started) / 1000,
    };
    lines.push(line);
    console.log(formatLine(line));
    if (result.failed) console.log(result.report);
  }
  if (save) {
    const report: FuzzReport = { ...began, runs, lines };
    console.log(`Wrote ${writeResults(runs === RUNS ? 'fuzz' : `fuzz-${runs}`, report)}.`);
  }
  return lines.some((line) => line.failed) ? 1 : 0;
}

function positiveInteger(option: string, text: string): number {
  const value = integer(option, text);
  if (value < 1) throw new Error(`${option}: expected a positive integer, got ${text}`);
  return value;
}

function integer(option: string, text: string): number {
  if (!/^-?[0-9]+$/.test(text)) throw new Error(`${option}: expected an integer, got ${text}`);
  return Number(text);
}

if (isMain(import.meta.url)) process.exitCode = main();
