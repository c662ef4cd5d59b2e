/**
 * Running a part's own code for a sample, in this process: what it prints
 * (standard output and error, in order) and the exit code it asks for, with
 * the wall clock stopped at a chosen moment so a log line's time is the
 * sample's, not today's.
 *
 *   capture(() => parseCommandLine(['abc']))   lines printed, and exit code 2
 *   atTime('2026-11-27 08:32:43', () => ...)   Date and Date.now() say that time
 *
 * Both swap a global for the length of a synchronous call and put it back
 * (console.log and console.error, process.exit, Date); nothing else runs in
 * between. process.exit throws instead of exiting, so code that exits stops
 * there, as it would; what it prints after a first exit (a catch that exits
 * again) is left out.
 *
 * What it leaves out: anything asynchronous. A sample that needs a socket or
 * a timer takes its words from the source instead (source-text.ts).
 */
import { format } from 'node:util';

export interface Captured {
  /** Every line printed, standard output and error in the order they came. */
  lines: string[];
  stdout: string[];
  stderr: string[];
  /** The code process.exit was called with; undefined when it was not called. */
  exitCode?: number;
}

/** Thrown by the stand-in for process.exit: the code stops where it would have exited. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** What `run` prints, and the exit code it asks for. Errors other than an exit propagate. */
export function capture(run: () => void): Captured {
  const captured: Captured = { lines: [], stdout: [], stderr: [] };
  const saved = { log: console.log, error: console.error, exit: process.exit };
  const print =
    (into: string[]) =>
    (...args: unknown[]) => {
      if (captured.exitCode !== undefined) return;
      const lines = format(...args).split('\n');
      into.push(...lines);
      captured.lines.push(...lines);
    };
  console.log = print(captured.stdout);
  console.error = print(captured.stderr);
  process.exit = ((code?: number) => {
    captured.exitCode ??= code ?? 0;
    throw new Exit(code ?? 0);
  }) as typeof process.exit;
  try {
    run();
  } catch (err) {
    if (!(err instanceof Exit)) throw err;
  } finally {
    console.log = saved.log;
    console.error = saved.error;
    process.exit = saved.exit;
  }
  return captured;
}

/**
 * Runs `run` with the clock stopped at `when`, "YYYY-MM-DD HH:MM:SS" in local
 * time: local, because the log lines print local time, so a sample reads the
 * same in every time zone.
 */
export function atTime<T>(when: string, run: () => T): T {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(when);
  if (!match) throw new Error(`atTime: expected "YYYY-MM-DD HH:MM:SS", got ${when}`);
  const [year, month, day, hours, minutes, seconds] = match.slice(1).map(Number);
  const RealDate = Date;
  const now = new RealDate(year, month - 1, day, hours, minutes, seconds).getTime();
  class StoppedDate extends RealDate {
    constructor(...args: ConstructorParameters<typeof Date> | []) {
      if (args.length === 0) super(now);
      else super(...(args as ConstructorParameters<typeof Date>));
    }
    static override now(): number {
      return now;
    }
  }
  globalThis.Date = StoppedDate as DateConstructor;
  try {
    return run();
  } finally {
    globalThis.Date = RealDate;
  }
}

/** The log lines `run` prints at `when`: standard output, nothing else allowed. */
export function loggedAt(when: string, run: () => void): string[] {
  const { stdout, stderr, exitCode } = atTime(when, () => capture(run));
  if (stderr.length > 0 || exitCode !== undefined) {
    throw new Error(`expected log lines, got ${JSON.stringify({ stderr, exitCode })}`);
  }
  return stdout;
}

/** A fenced code block of `text`. */
export function fenced(text: string, language = ''): string {
  return [`\`\`\`${language}`, text, '```'].join('\n');
}
