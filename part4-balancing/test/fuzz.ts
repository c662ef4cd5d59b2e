/**
 * npm run fuzz [-- --runs N] [-- --seed S]: every first-bytes parser against
 * N generated cases (100,000 by default), with the properties of
 * fuzz-arbitraries.ts. One line per parser; on a failure, fast-check's report
 * (the shrunk counterexample and the seed to replay it), and exit code 1.
 *
 * What it leaves out: coverage guidance (as a libFuzzer would steer toward new
 * branches); the generators aim at the formats instead.
 */
import { parseArgs } from 'node:util';
import { PARSER_PROPERTIES } from './fuzz-arbitraries.ts';

const USAGE = 'usage: fuzz.ts [--runs N] [--seed S] [--only NAME]';

function main(): number {
  let runs = 100_000;
  let seed: number | undefined;
  let only: string | undefined;
  try {
    const { values } = parseArgs({
      options: {
        runs: { type: 'string' },
        seed: { type: 'string' },
        only: { type: 'string' },
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
    if (only !== undefined && !PARSER_PROPERTIES.some((p) => p.name === only)) {
      throw new Error(
        `--only: no parser ${only} (${PARSER_PROPERTIES.map((p) => p.name).join(', ')})`,
      );
    }
  } catch (err) {
    console.error(`fuzz.ts: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }

  let failures = 0;
  for (const parser of PARSER_PROPERTIES) {
    if (only !== undefined && parser.name !== only) continue;
    const started = performance.now();
    const result = parser.run(runs, seed);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const name = parser.name.padEnd(15);
    if (result.failed) {
      failures++;
      console.log(
        `${name} FAILED after ${result.numRuns} cases (seed ${result.seed}, ${seconds} s)`,
      );
      console.log(result.report);
    } else {
      console.log(
        `${name} ${result.numRuns} cases, no failure (seed ${result.seed}, ${seconds} s)`,
      );
    }
  }
  return failures === 0 ? 0 : 1;
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

process.exitCode = main();
