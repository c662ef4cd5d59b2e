/**
 * How the benchmark programs treat their command line: a mistake the user made
 * is one line naming the program, the usage, and exit 2; a failure while running
 * is one line and exit 1. Never a stack trace.
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

/** Parses this process's arguments with `parse`; a bad command line exits 2 with the usage. */
export function parseOrExit<T>(script: string, usage: string, parse: (argv: string[]) => T): T {
  try {
    return parse(process.argv.slice(2));
  } catch (err) {
    return exitWith(script, err, 2, usage);
  }
}
