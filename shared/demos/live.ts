/**
 * What the live demos share: one request through a proxy that says which
 * backend answered, a screen that redraws a table in place on a terminal
 * (or prints it once a second into a pipe) with per-second rates, and a
 * step that lasts its share of the run and until what it shows has been seen.
 *
 * What it leaves out: colours and layout beyond plain lines.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cleanup } from '../lib/cleanup.ts';
import { failWith } from '../lib/cli.ts';
import { httpGet } from '../test/harness.ts';

/** Answers per backend name, plus failures by kind. */
export type Counts = Map<string, number>;

/** How often the screen is redrawn. */
export const SCREEN_MS = 250;

/** One GET through the proxy: the answering backend's name, or what went wrong. */
export async function oneRequest(port: number, host?: string): Promise<string> {
  try {
    const response = await httpGet(port, '/', 5000, host);
    if (response.status !== 200) return `HTTP ${response.status}`;
    const name = /^Hello from backend (\S+)/.exec(response.body.toString())?.[1];
    return name ?? 'unexpected body';
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    // httpGet could not find a response head: the proxy closed without an answer.
    if (message.includes('in 0 bytes')) return 'closed without an answer';
    if (message.startsWith('no complete HTTP head')) return 'cut-off answer';
    return code ?? message.split('\n')[0];
  }
}

/**
 * Waits until at least `minMs` have passed and `seen()` holds, giving up on
 * `seen()` after `maxMs`; resolves with whether it held. The time is the
 * viewer's pacing; the condition makes sure the phase showed what it is for
 * however slow the machine.
 */
export async function step(seen: () => boolean, minMs: number, maxMs: number): Promise<boolean> {
  const began = Date.now();
  while (Date.now() - began < minMs || (!seen() && Date.now() - began < maxMs)) await sleep(10);
  return seen();
}

/**
 * Redraws in place on a terminal (cursor up, clear each line); anywhere else
 * (a pipe, a CI log) it prints a new block once a second.
 */
export class Screen {
  private drawn = 0;
  private lastPrint = 0;
  private history: Counts[] = [];
  private readonly tty = process.stdout.isTTY === true;

  draw(lines: string[]): void {
    if (!this.tty) {
      if (Date.now() - this.lastPrint < 1000) return;
      this.lastPrint = Date.now();
      console.log(`${lines.join('\n')}\n`);
      return;
    }
    // A line that wrapped would take two rows and throw the cursor-up count off.
    const width = (process.stdout.columns || 80) - 1;
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    process.stdout.write(
      `${up}${lines.map((line) => `\x1b[2K${line.slice(0, width)}\n`).join('')}`,
    );
    this.drawn = lines.length;
  }

  /** Answers per second, over the last second of redraws. */
  rates(total: Counts): Counts {
    this.history.push(new Map(total));
    const window = 1000 / SCREEN_MS;
    if (this.history.length > window + 1) this.history.shift();
    const then = this.history[0];
    const seconds = ((this.history.length - 1) * SCREEN_MS) / 1000 || 1;
    return new Map(
      [...total].map(([key, n]) => [key, Math.round((n - (then.get(key) ?? 0)) / seconds)]),
    );
  }
}

/**
 * Runs a demo: everything it starts registers with the Cleanup (as with tap's
 * t.teardown) and is stopped at the end or on Ctrl-C; main's answer is the
 * exit code. The process exits at the end, since after a failure the request
 * loops may still be going.
 */
export async function runDemo(script: string, main: (scope: Cleanup) => Promise<number>) {
  const cleanup = new Cleanup();
  cleanup.onSignals();
  try {
    process.exitCode = await main(cleanup);
  } catch (err) {
    failWith(script, err);
  } finally {
    await cleanup.run();
  }
  process.exit();
}
