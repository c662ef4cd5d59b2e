/**
 * npm run demo:balance: watch part4 move traffic away from a dead backend and
 * bring it back when the backend returns.
 *
 *   npm run demo:balance [-- --duration SECONDS]      (default 24)
 *
 * It starts three mock backends named A, B and C, and part4 in quick-start form
 * (round robin over the three), then sends a steady stream of requests through
 * the proxy and counts the answers by the name in the body ("Hello from backend
 * B"). A quarter of the way in it kills B (SIGKILL, like a crash); halfway it
 * starts B again on the same port. The table redraws a few times a second:
 * B's rate drops to zero, A and C take its share, and once the proxy tries B
 * again (after its fail timeout) B's share comes back. Each step also waits
 * for what the one before it shows (all three answering before the kill, A
 * and C answering after it), so a slow machine stretches the run instead of
 * skipping the story; the run ends a moment after B answers again, and not
 * before --duration is over. Errors, the answers a client would have seen
 * fail, are counted too: a new client never sees B's death (the proxy retries
 * its connect on A or C), but a request that B was answering when it was
 * killed can fail, since half an answer cannot be retried.
 *
 * The proxy has a status port too: the table's second line gives its URL, and
 * a browser there shows the same story live, from the proxy's side (B's row
 * turns down, with the time until it is tried again).
 *
 * Everything it started is stopped at the end and on Ctrl-C. It exits 1 if B
 * never got traffic back, so a run shows the failover or says it did not.
 *
 * What it leaves out: other strategies and the config file (see
 * part4-balancing/example.config.json), and measuring speed (npm run bench).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Cleanup } from '../lib/cleanup.ts';
import { integerOption, parseOrExit } from '../lib/cli.ts';
import { type Program, partArgs, startBackend, startPart } from '../lib/programs.ts';
import { type Counts, oneRequest, runDemo, SCREEN_MS, Screen, step } from './live.ts';

const SCRIPT = 'demo-balance.ts';
const PART = 'part4-balancing';
const USAGE = 'usage: demo-balance.ts [--duration SECONDS]      (2 to 600; default 24)';

const NAMES = ['A', 'B', 'C'] as const;
const VICTIM = 'B';
/** Requests in flight at once, and the pause each worker takes between requests: ~200 req/s. */
const WORKERS = 4;
const PAUSE_MS = 15;
/** How long to keep going past --duration, waiting for the restarted backend's first answer. */
const GRACE_MS = 15_000;
/** How long to keep going once it has traffic again (a quarter of the run when that is less). */
const AFTER_BACK_MS = 3000;
/** How long a step waits for what the step before it shows. */
const SEEN_MS = 10_000;
const BAR_WIDTH = 30;
/** The proxy's last log lines shown under the table. */
const LOG_LINES = 4;

interface Backend {
  name: string;
  program: Program;
  state: 'up' | 'killed' | 'restarted';
}

const PHASES = ['all up', `${VICTIM} down`, `${VICTIM} back`] as const;
type Phase = (typeof PHASES)[number];

/** Resolves with the exit code: 0 once B got traffic back, 1 if it never did. */
async function main(scope: Cleanup): Promise<number> {
  const durationMs = parseOrExit(SCRIPT, USAGE, parseDuration) * 1000;

  const backends = new Map<string, Backend>();
  for (const name of NAMES) {
    backends.set(name, { name, program: await startBackend(scope, { name }), state: 'up' });
  }
  const ports = [...backends.values()].map((b) => b.program.port);
  const proxy = await startPart(scope, PART, [...partArgs(PART, ports), '--status-port', '0']);
  const statusPort = Number((await proxy.waitForOutput(/Status on port (\d+)/))[1]);
  const statusUrl = `http://127.0.0.1:${statusPort}/`;

  const victim = backends.get(VICTIM) as Backend;
  const total: Counts = new Map();
  const perPhase = new Map<Phase, Counts>(PHASES.map((phase) => [phase, new Map()]));
  const notes: string[] = [];
  const startedAt = Date.now();
  const elapsed = () => ((Date.now() - startedAt) / 1000).toFixed(1).padStart(5);
  const note = (text: string) => notes.push(`${elapsed()} s  ${text}`);
  let phase: Phase = 'all up';
  let running = true;
  let backAt = 0;

  const count = (key: string) => {
    // An answer from before the kill may still arrive: only one after the restart counts.
    if (phase === `${VICTIM} down` && key === VICTIM && victim.state === 'restarted') {
      phase = `${VICTIM} back`;
      backAt = Date.now();
      note(`${VICTIM} answers again: the proxy has tried it once more.`);
    }
    total.set(key, (total.get(key) ?? 0) + 1);
    const counts = perPhase.get(phase) as Counts;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };

  // The traffic: a few workers, each one request at a time, each a new connection.
  const workers = Array.from({ length: WORKERS }, async () => {
    while (running) {
      count(await oneRequest(proxy.port));
      await sleep(PAUSE_MS);
    }
  });

  const screen = new Screen();
  const redraw = setInterval(() => {
    screen.draw(table(proxy, statusUrl, backends, total, screen.rates(total), notes));
  }, SCREEN_MS);
  scope.teardown(() => clearInterval(redraw));
  note('All three up: round robin shares the traffic.');

  const served = (when: Phase, names: readonly string[]) => () =>
    names.every((name) => (perPhase.get(when)?.get(name) ?? 0) > 0);
  await step(served('all up', NAMES), durationMs / 4, SEEN_MS);
  const port = victim.program.port;
  // The phase moves first, so that the requests the kill breaks count in it.
  phase = `${VICTIM} down`;
  victim.state = 'killed';
  await victim.program.kill('SIGKILL');
  note(`Killed ${VICTIM} (SIGKILL). Its share moves to A and C.`);

  await step(served(`${VICTIM} down`, ['A', 'C']), durationMs / 4, SEEN_MS);
  victim.program = await startBackend(scope, { name: VICTIM, port });
  victim.state = 'restarted';
  note(`Started ${VICTIM} again on port ${port}.`);

  // The workers move the phase on when the victim answers again.
  const isBack = () => phase === `${VICTIM} back`;
  const untilEnd = () => Math.max(0, startedAt + durationMs - Date.now());
  if (!(await step(isBack, 0, untilEnd()))) {
    note(`Waiting up to ${GRACE_MS / 1000} s more for ${VICTIM} to get traffic again...`);
    await step(isBack, 0, GRACE_MS);
  }

  // Let the viewer see the restored share for a moment before stopping.
  if (isBack()) {
    const after = backAt + Math.min(AFTER_BACK_MS, durationMs / 4) - Date.now();
    await sleep(Math.max(0, after, untilEnd()));
  }
  running = false;
  await Promise.all(workers);
  clearInterval(redraw);
  screen.draw(table(proxy, statusUrl, backends, total, screen.rates(total), notes));
  console.log(`\n${summary(perPhase)}`);
  const back = isBack();
  if (!back) console.log(`\n${VICTIM} got no traffic after its restart.`);
  return back ? 0 : 1;
}

/** The live view: one row per backend, then the errors, then what happened when. */
function table(
  proxy: Program,
  statusUrl: string,
  backends: Map<string, Backend>,
  total: Counts,
  rates: Counts,
  notes: string[],
): string[] {
  const errors = [...total.keys()].filter((key) => !backends.has(key));
  const sum = (keys: string[], counts: Counts) =>
    keys.reduce((n, key) => n + (counts.get(key) ?? 0), 0);
  const peak = Math.max(1, ...[...backends.keys()].map((name) => rates.get(name) ?? 0));
  const lines = [
    `part4-balancing on port ${proxy.port}, round robin over three backends`,
    `status page: ${statusUrl} (open it in a browser to watch from the proxy's side)`,
    '',
    'backend  port    state        answered   req/s',
  ];
  for (const { name, program, state } of backends.values()) {
    const rate = rates.get(name) ?? 0;
    lines.push(
      `${name.padEnd(8)} ${String(program.port).padEnd(7)} ${state.padEnd(10)} ` +
        `${String(total.get(name) ?? 0).padStart(10)} ${String(rate).padStart(7)}  ` +
        '#'.repeat(Math.round((rate / peak) * BAR_WIDTH)),
    );
  }
  lines.push(
    `${'errors'.padEnd(27)} ${String(sum(errors, total)).padStart(10)} ` +
      `${String(sum(errors, rates)).padStart(7)}  ${errors.join(', ')}`,
    '',
    ...notes,
    '',
    'the proxy says:',
    ...proxy
      .output()
      .trimEnd()
      .split('\n')
      .slice(-LOG_LINES)
      // The time of day is enough here, and keeps the lines short.
      .map((line) => `  ${line.replace(/^\[\d{4}-\d\d-\d\d /, '[')}`),
  );
  return lines;
}

/** Answers per backend in each phase: the failover in numbers. */
function summary(perPhase: Map<Phase, Counts>): string {
  const keys = new Set<string>(NAMES);
  for (const counts of perPhase.values()) for (const key of counts.keys()) keys.add(key);
  const rows = [...keys].map((key) => ({
    label: NAMES.includes(key as (typeof NAMES)[number]) ? `backend ${key}` : `error: ${key}`,
    cells: PHASES.map((p) => String(perPhase.get(p)?.get(key) ?? 0).padStart(10)).join(''),
  }));
  const width = Math.max(...rows.map((row) => row.label.length)) + 2;
  const head = `${'answers'.padEnd(width)}${PHASES.map((p) => p.padStart(10)).join('')}`;
  return [head, ...rows.map((row) => `${row.label.padEnd(width)}${row.cells}`)].join('\n');
}

function parseDuration(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { duration: { type: 'string' } } });
  return integerOption('--duration', values.duration ?? '24', 2, 600);
}

await runDemo(SCRIPT, main);
