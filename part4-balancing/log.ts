/**
 * The log line format of every program in this repository, as rsp printed it:
 * `[YYYY-MM-DD HH:MM:SS] message`, in local time, on standard output.
 *
 * One line per event an operator wants to see (a listener, a backend going down
 * or up, a reload) is the policy. Events that a client can cause by the
 * thousand (a reset, an idle connection closed, a refusal over a limit) are
 * counted instead: the first of each kind is logged at once, the rest are
 * summed into one line every 10 s ("1,203 connections ended by a reset"), and
 * the counts show in the status. `--verbose` logs every one of them.
 *
 * What it leaves out: log levels, JSON logs, log files.
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
  return printable(e?.code ?? e?.message ?? String(err));
}

/**
 * A string from outside (a config key, a host name, a Redis member) made safe
 * for a log line: control characters, escapes and anything beyond printable
 * ASCII become \xNN or \u{N}, so no input can forge a line or drive a terminal.
 */
export function printable(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return cut.replace(/[^\x20-\x7e]|\\/gu, (c) => {
    if (c === '\\') return '\\\\';
    const code = c.codePointAt(0) as number;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** How often the counted events are summed up in the log. */
export const SUMMARY_MS = 10_000;

/**
 * Events counted rather than logged one by one. Each kind has the words of its
 * summary line: count('reset') ... "12 connections ended by a reset".
 */
export class EventCounts {
  /** Since start, per kind: what the status shows. */
  readonly total: Record<string, number> = {};
  /** Since the last summary line. */
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  verbose = false;

  constructor(private readonly words: Record<string, string>) {
    for (const kind of Object.keys(words)) this.total[kind] = 0;
  }

  /** One event of `kind`; `detail` is the line logged for it when it is logged alone. */
  count(kind: string, detail: string): void {
    this.total[kind] = (this.total[kind] ?? 0) + 1;
    if (this.verbose || this.total[kind] === 1) {
      log(detail);
      return;
    }
    this.pending.set(kind, (this.pending.get(kind) ?? 0) + 1);
    this.timer ??= setTimeout(() => this.flush(), SUMMARY_MS).unref();
  }

  //> 4.8
  /** One event of `kind`, logged whatever the count: the first from its source (a router's thread). */
  countAndLog(kind: string, detail: string): void {
    this.total[kind] = (this.total[kind] ?? 0) + 1;
    log(detail);
  }

  //< 4.8
  /** Logs one line per kind counted since the last summary. */
  flush(): void {
    this.timer = undefined;
    for (const [kind, n] of this.pending) {
      log(
        `${n.toLocaleString('en-US')} ${this.words[kind] ?? kind} in the last ${SUMMARY_MS / 1000} s.`,
      );
    }
    this.pending.clear();
  }
}
