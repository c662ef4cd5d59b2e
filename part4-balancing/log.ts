/**
 * The log line format of every program in this repository, as rsp printed it:
 * `[YYYY-MM-DD HH:MM:SS] message`, in local time, on standard output.
 *
 * What it leaves out: log levels, JSON logs, log files. One line per event that
 * an operator would want to see (a listener, a backend going down or up, a
 * reload, an idle connection closed) is the whole policy.
 */
export function log(message: string): void {
  const two = (n: number) => String(n).padStart(2, '0');
  const d = new Date();
  const stamp = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  console.log(`[${stamp}] ${message}`);
}

/** The short name of an error for a log line: its code (ECONNREFUSED) when it has one. */
export function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
