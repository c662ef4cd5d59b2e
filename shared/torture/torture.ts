/**
 * `npm run torture`: part 3 and part 4 against hostile clients and careless
 * operators (attacks.ts), then a table: attack, part, result, and the part's
 * open descriptors and resident memory before and after. A part passes an
 * attack when the attack's own checks hold, the part is still running with
 * no stack trace, and its descriptors come back to where they were.
 *
 *   npm run torture                      every attack, full counts (a few minutes)
 *   npm run torture -- --quick           small counts (what npm test runs)
 *   npm run torture -- --part part4 --attack resets
 *
 * Everything goes to 127.0.0.1, in bounded counts, and stops by itself.
 *
 * What it leaves out: timing figures (the benchmark measures speed) and
 * attacks that need another machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cleanup } from '../lib/cleanup.ts';
import { failWith, isMain, parseOrExit } from '../lib/cli.ts';
import { openFds, rssKiB, startBackend, startPart, waitFor } from '../test/harness.ts';
import { ATTACKS, type Target } from './attacks.ts';

const USAGE = 'usage: torture.ts [--quick] [--part part3|part4] [--attack NAME]';
const PARTS = { part3: 'part3-backpressure', part4: 'part4-balancing' } as const;
/** Descriptors a part may keep over its count before an attack and still pass. */
const FD_SLACK = 8;
export const STACK_TRACE = /\n\s+at .+:\d+:\d+/;

export interface TortureOptions {
  quick: boolean;
  parts: string[];
  attacks: string[];
}

export function parseTortureArgs(argv: string[]): TortureOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      part: { type: 'string' },
      attack: { type: 'string' },
    },
  });
  const names = ATTACKS.map((attack) => attack.name);
  if (values.part !== undefined && !(values.part in PARTS)) {
    throw new Error(`--part must be part3 or part4, got "${values.part}"`);
  }
  if (values.attack !== undefined && !names.includes(values.attack)) {
    throw new Error(`--attack must be one of ${names.join(', ')}; got "${values.attack}"`);
  }
  return {
    quick: values.quick,
    parts: values.part ? [PARTS[values.part as keyof typeof PARTS]] : Object.values(PARTS),
    attacks: values.attack ? [values.attack] : names,
  };
}

export interface Row {
  attack: string;
  part: string;
  ok: boolean;
  result: string;
  fds: [number, number];
  rssMiB: [number, number];
}

/** Starts a part in front of a mock backend, the way each attack needs it. */
async function startTarget(cleanup: Cleanup, part: string, backendPort: number): Promise<Target> {
  if (part !== PARTS.part4) {
    const proxy = await startPart(cleanup, part, ['0', '127.0.0.1', String(backendPort)]);
    return { part, proxy, backendName: 'T' };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'torture-'));
  cleanup.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = path.join(dir, 'torture.json');
  const config = {
    listen: [{ port: 0, pool: 'web' }],
    statusPort: 0,
    pools: { web: { backends: [{ address: `127.0.0.1:${backendPort}` }] } },
  };
  writeFileSync(configFile, JSON.stringify(config));
  const proxy = await startPart(cleanup, part, ['--config', configFile]);
  const status = await proxy.waitForOutput(/Status on port (\d+)/);
  return { part, proxy, backendName: 'T', configFile, config, statusPort: Number(status[1]) };
}

/** Runs the chosen attacks; resolves with one row per attack and part. */
export async function torture(options: TortureOptions, cleanup: Cleanup): Promise<Row[]> {
  const backend = await startBackend(cleanup, { name: 'T' });
  const rows: Row[] = [];
  for (const part of options.parts) {
    const target = await startTarget(cleanup, part, backend.port);
    for (const attack of ATTACKS) {
      if (!options.attacks.includes(attack.name) || !attack.parts.includes(part)) continue;
      const pid = target.proxy.pid;
      const fdsBefore = await openFds(pid);
      const rssBefore = await rssKiB(pid);
      let outcome: { ok: boolean; result: string };
      try {
        outcome = await attack.run(target, options.quick ? 'quick' : 'full');
      } catch (err) {
        outcome = {
          ok: false,
          result: `the attack failed: ${(err as Error).message.split('\n')[0]}`,
        };
      }
      const alive = target.proxy.child.exitCode === null && target.proxy.child.signalCode === null;
      // Closed connections take a moment to leave the proxy's table.
      const settled = alive
        ? await waitFor(async () => (await openFds(pid)) <= fdsBefore + FD_SLACK, {
            timeoutMs: 15_000,
            what: 'descriptors back',
          }).then(
            () => true,
            () => false,
          )
        : false;
      const fdsAfter = alive ? await openFds(pid) : 0;
      const rssAfter = alive ? await rssKiB(pid) : 0;
      const traced = STACK_TRACE.test(target.proxy.output());
      const problems = [
        alive ? '' : 'the part DIED',
        settled || !alive ? '' : 'descriptors LEAKED',
        traced ? 'a STACK TRACE' : '',
      ].filter(Boolean);
      rows.push({
        attack: attack.name,
        part,
        ok: outcome.ok && problems.length === 0,
        result: [outcome.result, ...problems].join('; '),
        fds: [fdsBefore, fdsAfter],
        rssMiB: [rssBefore / 1024, rssAfter / 1024],
      });
      if (!alive) break;
    }
    await target.proxy.kill();
  }
  return rows;
}

/** The table, in Markdown so that it can be pasted into a chapter. */
export function formatRows(rows: readonly Row[]): string {
  const cells = rows.map((row) => [
    row.attack,
    row.part,
    row.ok ? 'pass' : 'FAIL',
    row.result,
    `${row.fds[0]} -> ${row.fds[1]}`,
    `${row.rssMiB[0].toFixed(1)} -> ${row.rssMiB[1].toFixed(1)}`,
  ]);
  const header = ['attack', 'part', 'verdict', 'result', 'fds', 'RSS MiB'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOrExit('torture.ts', USAGE, parseTortureArgs);
  const cleanup = new Cleanup();
  const release = cleanup.onSignals();
  try {
    const rows = await torture(options, cleanup);
    console.log(formatRows(rows));
    const failed = rows.filter((row) => !row.ok).length;
    console.log(`\n${rows.length - failed} passed, ${failed} failed`);
    if (failed > 0) process.exitCode = 1;
  } catch (err) {
    failWith('torture.ts', err);
  } finally {
    release();
    await cleanup.run();
  }
}

if (isMain(import.meta.url)) await main();
