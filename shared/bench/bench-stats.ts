/**
 * The arithmetic of the benchmark, kept apart from sockets and processes so that
 * it can be tested on its own: latency summaries of one run, medians over
 * rounds, what a proxy adds to its baseline (direct, or direct-tls for the TLS
 * rows), and the table and the short reading that bench.ts and tour.ts print.
 * The table has two shapes: at saturation (how many requests per second, and
 * at what latency) and at a fixed rate (how much latency, when nobody is
 * pushed to the limit).
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
  /**
   * Concurrent clients, and how many of them got at least one answer. At a
   * fixed rate: the most connections allowed, and how many were opened.
   */
  connections: number;
  clientsServed: number;
}

/**
 * direct = the backend itself, a baseline; floor = the smallest Node proxy;
 * part = ours; peer = nginx, HAProxy; tried = a proxy of the reader's, from --try.
 */
export type TargetKind = 'direct' | 'floor' | 'part' | 'peer' | 'tried';

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
  /** The name of the row it is compared with (a direct row; its own name for a direct row). */
  baseline: string;
  /** The row this one is, plus one feature; the reading says what the feature added. */
  over?: string;
  /** Mean latency minus the baseline's, in ms. */
  addedMs: number;
  /** p99 latency minus the baseline's, in ms. */
  addedP99Ms: number;
  /** Requests per second as a fraction of the baseline's (1 = as fast as direct). */
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

/**
 * Folds the rounds of one target into medians and sums; comparison fields are
 * left at 0. A direct row is its own baseline; others are compared with
 * `baseline`, direct unless said otherwise.
 */
export function summariseRounds(
  name: string,
  kind: TargetKind,
  runs: readonly RunResult[],
  peakRssKiB: number | undefined,
  baseline = 'direct',
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
    baseline: kind === 'direct' ? name : baseline,
    addedMs: 0,
    addedP99Ms: 0,
    shareOfDirect: 1,
  };
}

/** Fills in addedMs, addedP99Ms and shareOfDirect of every summary against its baseline row. */
export function compareWithDirect(summaries: readonly TargetSummary[]): TargetSummary[] {
  return summaries.map((summary) => {
    const direct = summaries.find((each) => each.name === summary.baseline);
    if (!direct) throw new Error(`no ${summary.baseline} row to compare ${summary.name} with`);
    return {
      ...summary,
      addedMs: addedLatency(summary.latency, direct.latency),
      addedP99Ms: summary.latency.p99 - direct.latency.p99,
      shareOfDirect: shareOfDirect(summary.rps, direct.rps),
    };
  });
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : '-';
const signed = (value: number, digits: number) =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(digits)}` : '-';
export const thousands = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
export const mib = (kib: number | undefined) =>
  kib === undefined ? '-' : `${(kib / 1024).toFixed(1)} MiB`;

interface Column {
  title: string;
  cell(summary: TargetSummary): string;
}

const isBaseline = (summary: TargetSummary) => summary.baseline === summary.name;

export const COLUMN = {
  target: { title: 'target', cell: (s) => (s.note ? `${s.name} *` : s.name) },
  rps: { title: 'req/s', cell: (s) => thousands(s.rps) },
  mean: { title: 'mean ms', cell: (s) => fixed(s.latency.mean, 2) },
  p50: { title: 'p50 ms', cell: (s) => fixed(s.latency.p50, 2) },
  p99: { title: 'p99 ms', cell: (s) => fixed(s.latency.p99, 2) },
  added: { title: 'added ms', cell: (s) => (isBaseline(s) ? '' : signed(s.addedMs, 2)) },
  addedMean: { title: 'added mean', cell: (s) => (isBaseline(s) ? '' : signed(s.addedMs, 2)) },
  addedP99: { title: 'added p99', cell: (s) => (isBaseline(s) ? '' : signed(s.addedP99Ms, 2)) },
  share: {
    title: 'of direct',
    cell: (s) => (Number.isFinite(s.shareOfDirect) ? `${Math.round(s.shareOfDirect * 100)}%` : '-'),
  },
  rss: { title: 'peak RSS', cell: (s) => mib(s.peakRssKiB) },
  errors: { title: 'errors', cell: (s) => String(s.errors) },
  non2xx: { title: 'non-2xx', cell: (s) => String(s.non2xx) },
  served: { title: 'served', cell: (s) => `${s.clientsServed}/${s.connections}` },
} satisfies Record<string, Column>;

/** At saturation: throughput first, and how many clients got any answer. */
const SATURATED: Column[] = [
  COLUMN.target,
  COLUMN.rps,
  COLUMN.mean,
  COLUMN.p50,
  COLUMN.p99,
  COLUMN.added,
  COLUMN.share,
  COLUMN.rss,
  COLUMN.errors,
  COLUMN.non2xx,
  COLUMN.served,
];

/**
 * At a fixed rate every row makes the same requests per second (or says that
 * it fell short), so the share of direct says nothing; the latency added, on
 * the mean and on the p99, says it all.
 */
const PACED: Column[] = [
  COLUMN.target,
  COLUMN.rps,
  COLUMN.mean,
  COLUMN.p50,
  COLUMN.p99,
  COLUMN.addedMean,
  COLUMN.addedP99,
  COLUMN.rss,
  COLUMN.errors,
  COLUMN.non2xx,
];

/**
 * A Markdown table with aligned columns: readable on a terminal and pasted as is
 * into a README. Rows with a note get a star and the note under the table;
 * rows compared with another baseline than the first direct row say so there
 * too. `paced`: the columns of a fixed-rate run.
 */
export function formatTable(summaries: readonly TargetSummary[], paced = false): string {
  const columns = paced ? PACED : SATURATED;
  const notes = summaries
    .filter((summary) => summary.note)
    .map((summary) => `\\* ${summary.name}: ${summary.note}`);
  const first = summaries.find((summary) => summary.kind === 'direct')?.name;
  const others = new Map<string, string[]>();
  for (const summary of summaries) {
    if (summary.baseline === first || isBaseline(summary)) continue;
    others.set(summary.baseline, [...(others.get(summary.baseline) ?? []), summary.name]);
  }
  for (const [baseline, names] of others) {
    notes.push(
      `${names.join(', ')}: compared with ${baseline}${paced ? '' : ' (added ms, of direct)'}, not with ${first}.`,
    );
  }
  return alignedTable(columns, summaries, notes);
}

/** Rows under their columns' titles, aligned, first column left and the others right; notes under it. */
function alignedTable<T>(
  columns: readonly { title: string; cell(row: T): string }[],
  items: readonly T[],
  notes: readonly string[],
): string {
  const rows = [
    columns.map((column) => column.title),
    ...items.map((item) => columns.map((column) => column.cell(item))),
  ];
  const widths = columns.map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    `| ${cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]),
      )
      .join(' | ')} |`;
  const rule = `| ${widths.map((width, column) => (column === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`;
  return [
    line(rows[0]),
    rule,
    ...rows.slice(1).map(line),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

/**
 * The result in plain sentences: what the best of our parts costs against a
 * direct connection; how that compares with the pipe floor and the peers (or
 * what is missing); and, when rows add one feature to another row, what that
 * feature cost. At saturation the best part is the one with the most requests
 * per second; at a fixed rate (`paced`), the one that adds the least latency.
 */
export function reading(summaries: readonly TargetSummary[], paced = false): string {
  const direct = summaries.find((summary) => summary.kind === 'direct');
  const parts = summaries.filter(
    (summary) => summary.kind === 'part' && summary.baseline === direct?.name,
  );
  const concurrent = parts.filter((summary) => !summary.serial);
  const candidates = concurrent.length > 0 ? concurrent : parts;
  if (candidates.length === 0) return 'No proxy was measured: only the direct connection ran.';
  const cost = (summary: TargetSummary) =>
    paced
      ? `${signed(summary.addedMs, 2)} ms mean, ${signed(summary.addedP99Ms, 2)} ms p99`
      : `${Math.round(summary.shareOfDirect * 100)}% (${signed(summary.addedMs, 2)} ms)`;

  const best = paced
    ? candidates.reduce((a, b) => (b.addedMs < a.addedMs ? b : a))
    : candidates.reduce((a, b) => (b.rps > a.rps ? b : a));
  const first = paced
    ? `Best of our parts: ${best.name}, adding ${signed(best.addedMs, 2)} ms to the mean request and ` +
      `${signed(best.addedP99Ms, 2)} ms to the p99.`
    : `Best of our parts: ${best.name}, at ${Math.round(best.shareOfDirect * 100)}% of direct's ` +
      `requests per second, adding ${signed(best.addedMs, 2)} ms to the mean request.`;

  const floor = summaries.filter((summary) => summary.kind === 'floor');
  const peers = summaries.filter((summary) => summary.kind === 'peer');
  const tried = summaries.filter((summary) => summary.kind === 'tried');
  const compared = [...floor, ...peers, ...tried].map(
    (summary) => `${summary.name} ${cost(summary)}`,
  );
  const serial = parts.filter((summary) => summary.serial).map((summary) => summary.name);
  const second = [
    compared.length > 0 ? `For comparison: ${compared.join(', ')}.` : '',
    peers.length > 0 ? '' : 'No nginx or HAProxy row: install them to compare.',
    serial.length > 0 ? `${serial.join(', ')} served one client at a time, by design.` : '',
  ]
    .filter(Boolean)
    .join(' ');

  const features = summaries.flatMap((summary) => {
    const under = summaries.find((each) => each.name === summary.over);
    if (!under) return [];
    const added = summary.latency.mean - under.latency.mean;
    const share = paced
      ? ''
      : `, ${Math.round(shareOfDirect(summary.rps, under.rps) * 100)}% of its requests/s`;
    return [`${summary.name} adds ${signed(added, 2)} ms to ${under.name}'s mean${share}`];
  });
  const third = features.length > 0 ? `One feature at a time: ${features.join('; ')}.` : '';
  return [first, second, third].filter(Boolean).join('\n');
}

// --- Hold mode: memory per held connection ---------------------------------

/** One round of the hold mode against one target: its memory before and while N connections are held. */
export interface HoldRun {
  /** Clients that tried. */
  connections: number;
  /** Clients answered and still open when the memory was read. */
  held: number;
  /** Clients that got no whole answer. */
  errors: number;
  non2xx: number;
  /** Resident memory after a few warm-up connections had come and gone, settled (KiB). */
  beforeKiB: number;
  /** Resident memory with the connections held, settled (KiB). */
  heldKiB: number;
  /** (heldKiB - beforeKiB) / held. */
  perConnectionKiB: number;
  /**
   * With --heap, for a target of Node processes: their JavaScript heap in use
   * after full collections, before and while held (KiB), and what each held
   * connection added to it.
   */
  heapBeforeKiB?: number;
  heapHeldKiB?: number;
  heapPerConnectionKiB?: number;
  /** Whether both readings settled before their deadline. */
  settled: boolean;
}

/** One target over all its hold rounds: memory figures are medians, counts the fewest held and summed errors. */
export interface HoldSummary extends Omit<HoldRun, 'settled'> {
  name: string;
  kind: TargetKind;
  rounds: number;
  /** Rounds whose readings had not settled by their deadline. */
  unsettled: number;
  note?: string;
}

/** Folds a target's hold rounds into medians. */
export function summariseHold(
  name: string,
  kind: TargetKind,
  runs: readonly HoldRun[],
): HoldSummary {
  const sum = (pick: (run: HoldRun) => number) => runs.reduce((total, run) => total + pick(run), 0);
  const heaps = runs.flatMap((run) =>
    run.heapPerConnectionKiB === undefined ? [] : [run.heapPerConnectionKiB],
  );
  return {
    name,
    kind,
    rounds: runs.length,
    connections: runs[0]?.connections ?? 0,
    held: runs.length === 0 ? 0 : Math.min(...runs.map((run) => run.held)),
    errors: sum((run) => run.errors),
    non2xx: sum((run) => run.non2xx),
    beforeKiB: median(runs.map((run) => run.beforeKiB)),
    heldKiB: median(runs.map((run) => run.heldKiB)),
    perConnectionKiB: median(runs.map((run) => run.perConnectionKiB)),
    ...(heaps.length > 0 ? { heapPerConnectionKiB: median(heaps) } : {}),
    unsettled: runs.filter((run) => !run.settled).length,
  };
}

export const HOLD_COLUMN = {
  target: { title: 'target', cell: (s) => (s.note ? `${s.name} *` : s.name) },
  perConnection: { title: 'KiB per connection', cell: (s) => fixed(s.perConnectionKiB, 1) },
  heap: {
    title: 'of it JS heap',
    cell: (s) => (s.heapPerConnectionKiB === undefined ? '' : fixed(s.heapPerConnectionKiB, 1)),
  },
  before: { title: 'RSS before', cell: (s) => mib(s.beforeKiB) },
  held: { title: 'RSS held', cell: (s) => mib(s.heldKiB) },
  errors: { title: 'errors', cell: (s) => String(s.errors) },
  count: { title: 'held', cell: (s) => `${s.held}/${s.connections}` },
} satisfies Record<string, { title: string; cell(summary: HoldSummary): string }>;

/**
 * The hold mode's table: memory per held connection first (and, from a run
 * with --heap, the JavaScript heap's part of it), then what it was computed from.
 */
export function formatHoldTable(summaries: readonly HoldSummary[]): string {
  const notes = summaries
    .filter((summary) => summary.note)
    .map((summary) => `\\* ${summary.name}: ${summary.note}`);
  const withHeap = summaries.some((summary) => summary.heapPerConnectionKiB !== undefined);
  const columns = Object.entries(HOLD_COLUMN)
    .filter(([key]) => withHeap || key !== 'heap')
    .map(([, column]) => column);
  return alignedTable(columns, summaries, notes);
}

/** The hold mode's reading: our parts against the floor and the peers, in KiB per held connection. */
export function holdReading(summaries: readonly HoldSummary[]): string {
  if (summaries.length === 0) return 'No proxy was measured.';
  const each = (kind: TargetKind) =>
    summaries
      .filter((summary) => summary.kind === kind)
      .map((summary) => `${summary.name} ${fixed(summary.perConnectionKiB, 1)}`);
  const parts = each('part');
  const others = [...each('floor'), ...each('peer'), ...each('tried')];
  return [
    parts.length > 0 ? `KiB per held connection, our parts: ${parts.join(', ')}.` : '',
    others.length > 0 ? `For comparison: ${others.join(', ')}.` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
