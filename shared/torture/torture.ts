/**
 * `npm run torture`: part 3 and part 4 against hostile clients and careless
 * operators (attacks.ts), then a table: attack, part, listener, result, and
 * the part's open descriptors and resident memory before and after. A part
 * passes an attack when the attack's own checks hold, the part is still
 * running with no stack trace, and its descriptors come back to where they
 * were. Part 4 runs with six listeners, tcp, http and tls, each with and
 * without acceptProxyProtocol, and each attack goes to every kind it applies
 * to (the quick run to fewer; see attacks.ts). The full run then attacks part
 * 4 in fleet mode too (`fleet`: its http and https listeners, routes from a
 * redis-server of its own).
 *
 *   npm run torture                      every attack, full counts (many minutes)
 *   npm run torture -- --quick           small counts, part 3 and part 4 (what npm test runs)
 *   npm run torture -- --part part4 --attack resets
 *   npm run torture -- --part fleet --attack 'early close'
 *   npm run torture -- --quick --save    the table to shared/results/torture-quick.json
 *
 * `--save` writes the whole run's rows (no --part or --attack) to
 * `shared/results/` (torture.json, or torture-quick.json), where `npm run
 * docs` renders shared/torture/README.md's table from it.
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
import { type Cleanup, withCleanup } from '../lib/cleanup.ts';
import { failWith, isMain, parseOrExit } from '../lib/cli.ts';
import { type Program, startBackend, startPart } from '../lib/programs.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { markdownTable } from '../lib/table.ts';
import { kindName, LISTENER_KINDS } from '../test/early-close.ts';
import { listenerPorts, openFds, rssKiB, serveBackend, waitFor } from '../test/harness.ts';
import { redisClient, startRedis } from '../test/redis.ts';
import {
  ATTACKS,
  type Attack,
  type Listener,
  type Outcome,
  type Scale,
  type Target,
} from './attacks.ts';

const USAGE = 'usage: torture.ts [--quick] [--part part3|part4|fleet] [--attack NAME] [--save]';
const PARTS = { part3: 'part3-backpressure', part4: 'part4-balancing' } as const;
/** What --part names: a part, or part 4 in fleet mode. */
const TARGETS = ['part3', 'part4', 'fleet'] as const;
type TargetName = (typeof TARGETS)[number];
/** Descriptors a part may keep over its count before an attack and still pass. */
const FD_SLACK = 8;
const STACK_TRACE = /\n\s+at .+:\d+:\d+/;

/** How a proxy came through: what went wrong with it, and its descriptors and memory now. */
export interface Aftermath {
  /** 'the part DIED', 'descriptors LEAKED', 'a STACK TRACE': none when it came through. */
  problems: string[];
  fds: number;
  rssKiB: number;
}

/**
 * After an ordeal: is the proxy alive, has it printed no stack trace, and do
 * its descriptors come back to `fdsBefore` (closed connections take a moment
 * to leave its table)?
 */
export async function aftermath(
  proxy: Program,
  fdsBefore: number,
  timeoutMs = 15_000,
): Promise<Aftermath> {
  const alive = proxy.child.exitCode === null && proxy.child.signalCode === null;
  const settled = alive
    ? await waitFor(async () => (await openFds(proxy.pid)) <= fdsBefore + FD_SLACK, {
        timeoutMs,
        what: 'descriptors back',
      }).then(
        () => true,
        () => false,
      )
    : false;
  const problems = [
    alive ? '' : 'the part DIED',
    settled || !alive ? '' : 'descriptors LEAKED',
    STACK_TRACE.test(proxy.output()) ? 'a STACK TRACE' : '',
  ].filter(Boolean);
  return {
    problems,
    fds: alive ? await openFds(proxy.pid) : 0,
    rssKiB: alive ? await rssKiB(proxy.pid) : 0,
  };
}

export interface TortureOptions {
  quick: boolean;
  /** Which targets, in order (the quick run leaves fleet out unless named). */
  parts: TargetName[];
  attacks: string[];
  /** Write the rows to shared/results/ under savedName(). */
  save?: boolean;
}

/** The name --save gives a run: torture, or torture-quick. */
export const savedName = (options: Pick<TortureOptions, 'quick'>) =>
  options.quick ? 'torture-quick' : 'torture';

/** What --save writes: the run's provenance, its scale and its rows. */
export interface TortureReport extends Provenance {
  quick: boolean;
  rows: Row[];
}

export function parseTortureArgs(argv: string[]): TortureOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      part: { type: 'string' },
      attack: { type: 'string' },
      save: { type: 'boolean', default: false },
    },
  });
  const names = ATTACKS.map((attack) => attack.name);
  const part = values.part as TargetName | undefined;
  if (part !== undefined && !TARGETS.includes(part)) {
    throw new Error(`--part must be part3, part4 or fleet, got "${values.part}"`);
  }
  if (values.attack !== undefined && !names.includes(values.attack)) {
    throw new Error(`--attack must be one of ${names.join(', ')}; got "${values.attack}"`);
  }
  if (values.save && (part !== undefined || values.attack !== undefined)) {
    throw new Error('--save keeps a whole run: leave out --part and --attack');
  }
  return {
    quick: values.quick,
    parts: part ? [part] : values.quick ? ['part3', 'part4'] : [...TARGETS],
    attacks: values.attack ? [values.attack] : names,
    ...(values.save ? { save: true } : {}),
  };
}

export interface Row {
  attack: string;
  part: string;
  /** The kind of listener attacked ('tcp', 'http+proxy'...). */
  listener: string;
  ok: boolean;
  result: string;
  fds: [number, number];
  rssMiB: [number, number];
  /** The attack's own counts (Outcome.figures), when it has any. */
  figures?: Record<string, number>;
}

/**
 * Starts a target in front of the mock backends, the way each attack needs it:
 * part 3 on one port; part 4 with a listener of every kind, the tls ones in
 * front of a TLS backend, and a status port; or part 4 in fleet mode.
 */
async function startTarget(
  cleanup: Cleanup,
  name: TargetName,
  backendPort: number,
  tlsBackendPort: number,
): Promise<Target> {
  if (name === 'fleet') return startFleet(cleanup, backendPort, tlsBackendPort);
  if (name === 'part3') {
    const part = PARTS.part3;
    const proxy = await startPart(cleanup, part, ['0', '127.0.0.1', String(backendPort)]);
    const kind = { protocol: 'tcp', proxy: false } as const;
    return { part, proxy, listeners: [{ name: 'tcp', kind, port: proxy.port, backendName: 'T' }] };
  }
  const part = PARTS.part4;
  const dir = mkdtempSync(path.join(tmpdir(), 'torture-'));
  cleanup.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = path.join(dir, 'torture.json');
  const config = {
    listen: LISTENER_KINDS.map((kind) => ({
      port: 0,
      protocol: kind.protocol,
      pool: kind.protocol === 'tls' ? 'secure' : 'web',
      ...(kind.proxy ? { acceptProxyProtocol: true, trustedProxies: ['127.0.0.1/32'] } : {}),
    })),
    statusPort: 0,
    pools: {
      web: { backends: [{ address: `127.0.0.1:${backendPort}` }] },
      secure: { backends: [{ address: `127.0.0.1:${tlsBackendPort}` }] },
    },
  };
  writeFileSync(configFile, JSON.stringify(config));
  const proxy = await startPart(cleanup, part, ['--config', configFile]);
  const status = await proxy.waitForOutput(/Status on port (\d+)/);
  const ports = await listenerPorts(proxy, LISTENER_KINDS.length);
  const listeners: Listener[] = LISTENER_KINDS.map((kind, i) => ({
    name: kindName(kind),
    kind,
    port: ports[i],
    backendName: kind.protocol === 'tls' ? 'TS' : 'T',
  }));
  return { part, proxy, listeners, configFile, config, statusPort: Number(status[1]) };
}

/**
 * Part 4 in fleet mode (--redis, --http, --https) on a redis-server of its
 * own, whose default routes send HTTP to the plain backend and TLS to the TLS one.
 */
async function startFleet(
  cleanup: Cleanup,
  backendPort: number,
  tlsBackendPort: number,
): Promise<Target> {
  const redis = await startRedis(cleanup);
  const db = await redisClient(cleanup, redis);
  await db.sAdd('hostnames:httpDefault:backends', `127.0.0.1:${backendPort}`);
  await db.sAdd('hostnames:httpsDefault:backends', `127.0.0.1:${tlsBackendPort}`);
  const args = ['--redis', redis.url, '--http', '0', '--https', '0', '--status-port', '0'];
  const proxy = await startPart(cleanup, PARTS.part4, args);
  const status = await proxy.waitForOutput(/Status on port (\d+)/);
  const [http, https] = await listenerPorts(proxy, 2);
  const listeners: Listener[] = [
    { name: 'fleet http', kind: { protocol: 'http', proxy: false }, port: http, backendName: 'T' },
    {
      name: 'fleet https',
      kind: { protocol: 'tls', proxy: false },
      port: https,
      backendName: 'TS',
    },
  ];
  return { part: PARTS.part4, proxy, listeners, statusPort: Number(status[1]) };
}

/** Runs the chosen attacks; resolves with one row per attack, part and listener. */
export async function torture(options: TortureOptions, cleanup: Cleanup): Promise<Row[]> {
  const scale: Scale = options.quick ? 'quick' : 'full';
  // The TLS backend is served in this process: one process less to start.
  const [backend, tlsBackend] = await Promise.all([
    startBackend(cleanup, { name: 'T' }),
    serveBackend(cleanup, { name: 'TS', tls: true }),
  ]);
  const rows: Row[] = [];
  for (const name of options.parts) {
    let target: Target;
    try {
      target = await startTarget(cleanup, name, backend.port, tlsBackend.port);
    } catch (err) {
      // Fleet mode without redis-server, say: a row that says so, and the rest of the table.
      const result = `could not start: ${(err as Error).message.split('\n')[0]}`;
      rows.push({
        attack: '-',
        part: name,
        listener: '-',
        ok: false,
        result,
        fds: [0, 0],
        rssMiB: [0, 0],
      });
      continue;
    }
    attacks: for (const attack of ATTACKS) {
      if (!options.attacks.includes(attack.name) || !attack.parts.includes(target.part)) continue;
      for (const listener of target.listeners) {
        if (!attack.listeners(listener.kind, scale)) continue;
        const row = await attempt(target, attack, listener, scale);
        rows.push(row);
        if (row.result.includes('the part DIED')) break attacks;
      }
    }
    await target.proxy.kill();
  }
  return rows;
}

/** One attack on one listener, and what became of the part. */
async function attempt(
  target: Target,
  attack: Attack,
  listener: Listener,
  scale: Scale,
): Promise<Row> {
  const pid = target.proxy.pid;
  const fdsBefore = await openFds(pid);
  const rssBefore = await rssKiB(pid);
  let outcome: Outcome;
  try {
    outcome = await attack.run(target, listener, scale);
  } catch (err) {
    outcome = {
      ok: false,
      result: `the attack failed: ${(err as Error).message.split('\n')[0]}`,
    };
  }
  const after = await aftermath(target.proxy, fdsBefore);
  return {
    attack: attack.name,
    part: target.part,
    listener: listener.name,
    ok: outcome.ok && after.problems.length === 0,
    result: [outcome.result, ...after.problems].join('; '),
    fds: [fdsBefore, after.fds],
    rssMiB: [rssBefore / 1024, after.rssKiB / 1024],
    ...(outcome.figures ? { figures: outcome.figures } : {}),
  };
}

/** The table, in Markdown so that it can be pasted into a chapter. */
export function formatRows(rows: readonly Row[]): string {
  const cells = rows.map((row) => [
    row.attack,
    row.part,
    row.listener,
    row.ok ? 'pass' : 'FAIL',
    row.result,
    `${row.fds[0]} -> ${row.fds[1]}`,
    `${row.rssMiB[0].toFixed(1)} -> ${row.rssMiB[1].toFixed(1)}`,
  ]);
  return markdownTable(
    ['attack', 'part', 'listener', 'verdict', 'result', 'fds', 'RSS MiB'],
    cells,
  );
}

async function main(): Promise<void> {
  const options = parseOrExit('torture.ts', USAGE, parseTortureArgs);
  try {
    await withCleanup(async (cleanup) => {
      const began = provenance(npmCommand('torture'));
      const rows = await torture(options, cleanup);
      console.log(formatRows(rows));
      const failed = rows.filter((row) => !row.ok).length;
      console.log(`\n${rows.length - failed} passed, ${failed} failed`);
      if (options.save) {
        const report: TortureReport = { ...began, quick: options.quick, rows };
        console.log(`Wrote ${writeResults(savedName(options), report)}.`);
      }
      if (failed > 0) process.exitCode = 1;
    });
  } catch (err) {
    failWith('torture.ts', err);
  }
}

if (isMain(import.meta.url)) await main();
