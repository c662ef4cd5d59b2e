/**
 * Results files: what a measuring command writes with `--save` (a test: with
 * SAVE_RESULTS=1 in its environment) to `shared/results/NAME.json`, where
 * `npm run docs` renders the chapters' figures from it (shared/docs/).
 *
 * Every results file begins with where its figures came from: the command
 * that measured them, when, and on what machine (its load average too: these
 * figures are taken on machines shared with other work). The rest is the
 * command's own report.
 *
 * What it leaves out: what each command measures, and how it is rendered.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './programs.ts';

/** Where results files live, in the repository. */
export const RESULTS_DIR = path.join(ROOT, 'shared', 'results');

/** The environment variable that makes a test save what it measured. */
export const SAVE_ENV = 'SAVE_RESULTS';

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  /** The one-minute load average as the run started: how busy the machine already was. */
  loadAverage?: number;
}

/** Where a run's figures came from. */
export interface Provenance {
  /** ISO 8601, UTC. */
  date: string;
  command: string;
  machine: Machine;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverage: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

/** An argument as a reader would type it into a shell. */
function shellWord(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** `npm run SCRIPT -- ARGS`, for this process's arguments. */
export function npmCommand(script: string, argv = process.argv.slice(2)): string {
  return argv.length === 0
    ? `npm run ${script}`
    : `npm run ${script} -- ${argv.map(shellWord).join(' ')}`;
}

/** The provenance of a run of `command` that begins now. */
export function provenance(command: string): Provenance {
  return { date: new Date().toISOString(), command, machine: describeMachine() };
}

/** Writes `shared/results/NAME.json`; returns its path relative to the current directory. */
export function writeResults(name: string, report: Provenance): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return path.relative(process.cwd(), file);
}

/** True when a test was asked to save what it measures (SAVE_RESULTS=1). */
export const savingResults = () => Boolean(process.env[SAVE_ENV]);

/**
 * The provenance of a test's run that begins now: the command is the one that
 * saves its figures. `testFile` is its `import.meta.url`, or its path from the root.
 */
export function testProvenance(testFile: string): Provenance {
  const file = testFile.startsWith('file:')
    ? path.relative(ROOT, new URL(testFile).pathname)
    : testFile;
  return provenance(`${SAVE_ENV}=1 npx tap ${file}`);
}

/**
 * A test's figures, saved as `NAME.json` when SAVE_RESULTS is set, and not
 * otherwise: `npm test` writes nothing into the repository. Returns the file
 * written, if any.
 */
export function saveTestResults(
  name: string,
  began: Provenance,
  figures: object,
): string | undefined {
  return savingResults() ? writeResults(name, { ...began, ...figures }) : undefined;
}
