/**
 * The arithmetic of the benchmark, kept apart from sockets and processes so that
 * it can be tested on its own: latency summaries of one run, medians over
 * rounds, what a proxy adds to a direct connection, and the table and the
 * two-line reading that bench.ts and tour.ts print.
 *
 * What it leaves out: confidence intervals and outlier rejection. Interleaved
 * rounds and medians are what the blog series' readers can check by hand.
 */

/** Latency of one run, in milliseconds. */
export interface LatencySummary {
  mean: number;
  p50: number;
  p99: number;
}

/** What one load run against one target measured. */
export interface RunResult {
  /** Responses received (any status). */
  requests: number;
  /** Length of the run. */
  seconds: number;
  /** Responses per second. */
  rps: number;
  /** Over the 2xx responses only, as autocannon does. */
  latency: LatencySummary;
  /** Connection errors plus timeouts. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Concurrent clients, and how many of them got at least one answer. */
  connections: number;
  clientsServed: number;
}

/** direct = the backend itself, the baseline; part = ours; peer = nginx, HAProxy. */
export type TargetKind = 'direct' | 'part' | 'peer';

/**
 * One target over all its rounds: rps and latency are medians of the rounds,
 * errors, timeouts and non2xx their sums, clientsServed the fewest in any round
 * (part 1 serves one at a time).
 */
export interface TargetSummary extends Omit<RunResult, 'requests' | 'seconds'> {
  name: string;
  kind: TargetKind;
  rounds: number;
  /** Highest resident memory of the proxy seen during its runs (none for direct). */
  peakRssKiB: number | undefined;
  /** Mean latency minus direct's, in ms. */
  addedMs: number;
  /** Requests per second as a fraction of direct's (1 = as fast as direct). */
  shareOfDirect: number;
  /** Serves one client at a time on purpose (part 1): left out of "best of our parts". */
  serial?: boolean;
  /** A remark printed under the table (for example why part 1 is slow). */
  note?: string;
}

/** The middle value (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Nearest-rank percentile of values already sorted in ascending order: the
 * smallest value with at least `p` percent of the values at or below it.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Mean, p50 and p99 of a list of latencies (ms). The list is not modified. */
export function summariseLatencies(latencies: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

/** Mean latency a proxy adds to a direct connection, in ms (negative: it was faster). */
export function addedLatency(target: LatencySummary, direct: LatencySummary): number {
  return target.mean - direct.mean;
}

/** Throughput as a fraction of direct's. */
export function shareOfDirect(targetRps: number, directRps: number): number {
  return directRps > 0 ? targetRps / directRps : Number.NaN;
}

/** Folds the rounds of one target into medians and sums; comparison fields are left at 0. */
export function summariseRounds(
  name: string,
  kind: TargetKind,
  runs: readonly RunResult[],
  peakRssKiB: number | undefined,
): TargetSummary {
  const sum = (pick: (run: RunResult) => number) =>
    runs.reduce((total, run) => total + pick(run), 0);
  return {
    name,
    kind,
    rounds: runs.length,
    rps: median(runs.map((run) => run.rps)),
    latency: {
      mean: median(runs.map((run) => run.latency.mean)),
      p50: median(runs.map((run) => run.latency.p50)),
      p99: median(runs.map((run) => run.latency.p99)),
    },
    errors: sum((run) => run.errors),
    timeouts: sum((run) => run.timeouts),
    non2xx: sum((run) => run.non2xx),
    connections: runs[0]?.connections ?? 0,
    clientsServed: runs.length === 0 ? 0 : Math.min(...runs.map((run) => run.clientsServed)),
    peakRssKiB,
    addedMs: 0,
    shareOfDirect: 1,
  };
}

/** Fills in addedMs and shareOfDirect of every summary against the direct one. */
export function compareWithDirect(summaries: readonly TargetSummary[]): TargetSummary[] {
  const direct = summaries.find((summary) => summary.kind === 'direct');
  if (!direct) throw new Error('no direct row to compare with');
  return summaries.map((summary) => ({
    ...summary,
    addedMs: addedLatency(summary.latency, direct.latency),
    shareOfDirect: shareOfDirect(summary.rps, direct.rps),
  }));
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : '-';
const signed = (value: number, digits: number) =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(digits)}` : '-';
export const thousands = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
export const mib = (kib: number | undefined) =>
  kib === undefined ? '-' : `${(kib / 1024).toFixed(1)} MiB`;

const COLUMNS = [
  'target',
  'req/s',
  'mean ms',
  'p50 ms',
  'p99 ms',
  'added ms',
  'of direct',
  'peak RSS',
  'errors',
  'non-2xx',
  'served',
] as const;

/** One summary as the cells of a table row, in COLUMNS order. */
export function tableCells(summary: TargetSummary): string[] {
  const isDirect = summary.kind === 'direct';
  return [
    summary.note ? `${summary.name} *` : summary.name,
    thousands(summary.rps),
    fixed(summary.latency.mean, 2),
    fixed(summary.latency.p50, 2),
    fixed(summary.latency.p99, 2),
    isDirect ? '' : signed(summary.addedMs, 2),
    Number.isFinite(summary.shareOfDirect) ? `${Math.round(summary.shareOfDirect * 100)}%` : '-',
    mib(summary.peakRssKiB),
    String(summary.errors),
    String(summary.non2xx),
    `${summary.clientsServed}/${summary.connections}`,
  ];
}

/**
 * A Markdown table with aligned columns: readable on a terminal and pasted as is
 * into a README. Rows with a note get a star and the note under the table.
 */
export function formatTable(summaries: readonly TargetSummary[]): string {
  const rows = [[...COLUMNS], ...summaries.map(tableCells)];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    `| ${cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]),
      )
      .join(' | ')} |`;
  const rule = `| ${widths.map((width, column) => (column === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`;
  const notes = summaries
    .filter((summary) => summary.note)
    .map((summary) => `\\* ${summary.name}: ${summary.note}`);
  return [
    line(rows[0]),
    rule,
    ...rows.slice(1).map(line),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

/**
 * The result in two plain sentences: what the best of our parts costs against a
 * direct connection, and how that compares with the peers (or what is missing).
 */
export function reading(summaries: readonly TargetSummary[]): string {
  const parts = summaries.filter((summary) => summary.kind === 'part');
  const peers = summaries.filter((summary) => summary.kind === 'peer');
  const concurrent = parts.filter((summary) => !summary.serial);
  const candidates = concurrent.length > 0 ? concurrent : parts;
  if (candidates.length === 0) return 'No proxy was measured: only the direct connection ran.';
  const best = candidates.reduce((a, b) => (b.rps > a.rps ? b : a));
  const first =
    `Best of our parts: ${best.name}, at ${Math.round(best.shareOfDirect * 100)}% of direct's ` +
    `requests per second, adding ${signed(best.addedMs, 2)} ms to the mean request.`;
  const serial = parts.filter((summary) => summary.serial).map((summary) => summary.name);
  const peerText =
    peers.length > 0
      ? peers
          .map(
            (peer) =>
              `${peer.name} ${Math.round(peer.shareOfDirect * 100)}% (${signed(peer.addedMs, 2)} ms)`,
          )
          .join(', ')
      : '';
  const second = [
    peerText ? `For comparison: ${peerText}.` : 'No nginx or HAProxy row: install them to compare.',
    serial.length > 0 ? `${serial.join(', ')} served one client at a time, by design.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${first}\n${second}`;
}
