/**
 * The parts' command lines as a reader meets them: the usage each prints, and
 * what a mistake on the command line prints, from each part's own USAGE and
 * its own reading of the arguments (run in this process: capture.ts).
 *
 *   <!-- render: usage part3 -->                    the usage, as --help prints it
 *   <!-- render: terminal part1 abc -->             `npm run part1 -- abc` in a terminal, npm's lines included
 *   <!-- render: error-line part4 --idle-timeout 5s -->   the one line a mistake prints first
 *
 * What it leaves out: arguments that start the proxy (they would listen), and
 * arguments with spaces in them (a region's arguments are split on spaces).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as part1 from '../../../part1-oneshot/proxy.ts';
import * as part2 from '../../../part2-epoll-style/proxy.ts';
import * as part3 from '../../../part3-backpressure/proxy.ts';
import { readCommandLine, USAGE } from '../../../part4-balancing/cli.ts';
import { ROOT } from '../../lib/programs.ts';
import { type Captured, capture, fenced } from './capture.ts';

/** Each part's usage text and its reading of the command line (which exits on a mistake). */
export const PARTS: Record<string, { usage: string; read: (argv: string[]) => unknown }> = {
  part1: { usage: part1.USAGE, read: part1.parseCommandLine },
  part2: { usage: part2.USAGE, read: part2.parseCommandLine },
  part3: { usage: part3.USAGE, read: part3.parseCommandLine },
  part4: { usage: USAGE, read: readCommandLine },
};

function partNamed(name: string) {
  const part = PARTS[name];
  if (!part) throw new Error(`no part ${name} (parts: ${Object.keys(PARTS).join(', ')})`);
  return part;
}

/** What the part prints for `argv`, which must be a mistake: it exits, and listens on nothing. */
export function refused(name: string, argv: string[]): Captured {
  const run = capture(() => partNamed(name).read(argv));
  if (run.exitCode === undefined) {
    throw new Error(`${name} ${argv.join(' ')} would start the proxy: no sample without a socket`);
  }
  return run;
}

/** The lines npm prints before a script's own, for `npm run SCRIPT -- ARGS`. */
export function npmHeader(script: string, argv: string[]): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const command = pkg.scripts?.[script];
  if (command === undefined) throw new Error(`package.json has no script ${script}`);
  return ['', `> ${pkg.name}@${pkg.version} ${script}`, `> ${[command, ...argv].join(' ')}`, ''];
}

export const CLI_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  usage: ([name]) => fenced(partNamed(name).usage),
  terminal: ([name, ...argv]) => {
    const { lines } = refused(name, argv);
    return fenced(
      [
        `$ npm run ${name}${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
        ...npmHeader(name, argv),
        ...lines,
      ].join('\n'),
    );
  },
  'error-line': ([name, ...argv]) => {
    const { stderr, exitCode } = refused(name, argv);
    if (exitCode === 0 || stderr.length === 0)
      throw new Error(`${name} ${argv.join(' ')} is no mistake`);
    return fenced(stderr[0]);
  },
};
