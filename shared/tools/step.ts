/**
 * npm run step -- 4.N [arguments]: part 4 as it stands at the end of its
 * chapter N, run with part 4's usual arguments.
 *
 *   npm run step -- 4.1 8000 127.0.0.1:9001 127.0.0.1:9002    pools, round robin
 *   npm run step -- 4.3 --config part4-balancing/example.config.json
 *
 * The step is rendered to .steps/4.N/ from the one source tree
 * (shared/lib/steps.ts says how), and its proxy.ts runs in a child process
 * started as every program here is (`node --import tsx/esm`), on this
 * terminal. The signals a proxy listens for are passed on to it (SIGHUP
 * reloads, SIGTERM and SIGINT stop it gracefully), and its exit code is ours.
 * Step 4.9 is the whole of part 4: it runs as `npm run part4` does.
 *
 * Passed on once: the proxy runs in a process group of its own. Ctrl-C sends
 * SIGINT to every process of the terminal's foreground group; were the proxy
 * in ours, it would get it from the terminal and again from us, and a second
 * SIGINT means "stop at once, cut what is in flight".
 *
 * What it leaves out: a step's tests (steps have none: part 4's tests test the
 * last step, and `npm run typecheck:steps` checks that every step builds).
 * A proxy outlives this process if this process is killed outright (SIGKILL),
 * being in a group of its own.
 */
import os from 'node:os';
import path from 'node:path';
import { exitWith, isMain } from '../lib/cli.ts';
import { ROOT, spawnScript } from '../lib/programs.ts';
import { CHAPTERS, PART, renderStep, stepDir, stepNumber } from '../lib/steps.ts';

const SCRIPT = 'step.ts';
const USAGE = [
  "usage: step.ts 4.N [part 4's arguments]     part 4 at the end of its chapter N:",
  ...CHAPTERS.map((chapter) => `  ${chapter.step}  ${chapter.title}`),
].join('\n');

/** The signals part 4's proxy handles. */
const PASSED_ON = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function main(): void {
  const [name, ...args] = process.argv.slice(2);
  if (name === '-h' || name === '--help') {
    console.log(USAGE);
    return;
  }
  const n = stepNumber(name ?? '');
  if (n === undefined) {
    exitWith(
      SCRIPT,
      `the step must be 4.1 to 4.${CHAPTERS.length}, got ${JSON.stringify(name ?? '')}`,
      2,
      USAGE,
    );
  }
  try {
    renderStep(n);
  } catch (err) {
    // A mistake in the chapter markers: the file and line that hold it.
    exitWith(SCRIPT, err, 1);
  }

  const proxy = path.relative(ROOT, path.join(stepDir(n), PART, 'proxy.ts'));
  const child = spawnScript(proxy, args, undefined, { stdio: 'inherit', detached: true });
  for (const signal of PASSED_ON) process.on(signal, () => child.kill(signal));
  // Should we exit first (an error of our own), the proxy goes too.
  process.on('exit', () => child.kill('SIGKILL'));
  child.on('error', (err) => exitWith(SCRIPT, `cannot start ${proxy}: ${err.message}`, 1));
  child.on('exit', (code, signal) => {
    // Killed by a signal: exit as a shell reports it, 128 + its number.
    process.exit(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
  });
}

if (isMain(import.meta.url)) main();
