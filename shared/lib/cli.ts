/**
 * How the programs in shared/ treat their command line: a mistake the user made
 * is one line naming the program, the usage, and exit 2; a failure while running
 * is one line and exit 1. Never a stack trace.
 *
 * What it leaves out: parsing itself, which node:util's parseArgs does.
 */

/** The first line of an error's message (parseArgs and spawn errors can run long). */
export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** Prints `script: message` and exits with `code`, after the usage when one is given. */
export function exitWith(script: string, err: unknown, code: number, usage?: string): never {
  console.error(`${script}: ${firstLine(err)}`);
  if (usage) console.error(usage);
  process.exit(code);
}

/**
 * Prints `script: message` and sets exit code 1 without exiting, so that the
 * caller's `finally` (stopping what it started) still runs.
 */
export function failWith(script: string, err: unknown): void {
  console.error(`${script}: ${firstLine(err)}`);
  process.exitCode = 1;
}

/** Parses this process's arguments with `parse`; a bad command line exits 2 with the usage. */
export function parseOrExit<T>(script: string, usage: string, parse: (argv: string[]) => T): T {
  try {
    return parse(process.argv.slice(2));
  } catch (err) {
    return exitWith(script, err, 2, usage);
  }
}

/** A whole number within bounds, or an Error naming the flag. */
export function integerOption(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new Error(`${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/**
 * True when the module at `metaUrl` is the script node was started with, so a
 * file can be both a program and a module the tests import.
 */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && new URL(metaUrl).pathname === process.argv[1];
}
