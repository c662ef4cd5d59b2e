/**
 * The lines a router's listener logs, and the one line a router that does not
 * load is refused with, for chapter 8.
 *
 *   <!-- render: log router-failures -->   a router that throws, one that times out, one stuck
 *   <!-- render: log router-start -->      a broken router at start: the line before exit 1
 *   <!-- render: log router-reload -->     broken routers on reloads
 *
 * The per-client lines are built inline in router/ask.ts and router/router.ts,
 * from a running thread and a client: their words come from the source
 * (source-text.ts), with the sample's values. A module that does not load is
 * loaded for real: the router's own thread (router/thread.js), started in a
 * child process on a small broken file, says what V8 found and where; the
 * proxy's describeFailure() and fail() make the line of it.
 *
 * What it leaves out: TypeScript routers (loading one costs a quarter of a
 * second of compiler; a .ts file's errors read the same).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fail } from '../../../part4-balancing/cli.ts';
import { log } from '../../../part4-balancing/log.ts';
import { describeFailure, type Failure } from '../../../part4-balancing/router/router.ts';
import { RunningState } from '../../../part4-balancing/state.ts';
import { ROOT } from '../../lib/programs.ts';
import { capture, loggedAt } from './capture.ts';
import { words } from './source-text.ts';

const ASK = 'part4-balancing/router/ask.ts';
const ROUTER = 'part4-balancing/router/router.ts';
const PROXY = 'part4-balancing/proxy.ts';
const THREAD = path.join(ROOT, 'part4-balancing/router/thread.js');

/** The sample's router, the reader's own, beside its configuration (web.json). */
const ROUTER_FILE = 'router.ts';

const logged = (when: string, message: string) => loggedAt(when, () => log(message));

/** A per-client line of ask.ts: `Router FILE failed for CLIENT: WHY: answered 500.` */
function perClient(what: 'failed' | 'timed out', client: string, why: string): string {
  return words(ASK, 'Router ${router.shown} ${what} for ')(
    ROUTER_FILE,
    words(ASK, what)(),
    client,
    why,
    words(ASK, 'answered 500')(),
  );
}

/** What router/thread.js says of `source` as a module: loaded for real, in a child process. */
function threadSays(source: string): Failure {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsp-docs-router-'));
  try {
    const file = path.join(dir, 'router.mjs');
    writeFileSync(file, source);
    const script = `
      import { Worker } from 'node:worker_threads';
      const worker = new Worker(new URL(${JSON.stringify(pathToFileURL(THREAD).href)}),
        { workerData: { file: ${JSON.stringify(file)} }, execArgv: [] });
      worker.once('message', (message) => { console.log(JSON.stringify(message)); process.exit(0); });`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const said = JSON.parse(run.stdout || '{}');
    if (said.loaded !== false) throw new Error(`router.mjs loaded: ${source}`);
    const failure: Failure = said.why;
    // Shown as the reader's own router.mjs, beside the configuration, rather than a temporary path.
    if (failure.at) failure.at.file = path.join(process.cwd(), 'router.mjs');
    return failure;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The one line a listener's router that does not load is refused with. */
function refused(source: string): string {
  const field = words(ROUTER, '${source}: listen[')('web.json', 0);
  const why = describeFailure(threadSays(source), 'router.mjs', 'load');
  return words(ROUTER, '${routerField(source, named[k].i)}: ')(field, why);
}

export const ROUTER_LOGS: Record<string, () => string[]> = {
  /** A router that throws, then one that does not decide in time, then one stuck; and the count. */
  'router-failures': () => {
    const thrown = describeFailure(
      {
        text: "TypeError: Cannot read properties of undefined (reading 'path')",
        at: { file: path.join(process.cwd(), ROUTER_FILE), line: 14, column: 28 },
      },
      ROUTER_FILE,
      'call',
    );
    const stuck = words(ROUTER, 'its thread was never idle for ')(1000);
    const { events } = new RunningState();
    capture(() => {
      for (let i = 0; i < 13; i++) events.count('routerError', 'a router failed');
    });
    return [
      ...logged('2026-12-08 09:14:02', perClient('failed', '127.0.0.1:51320', thrown)),
      ...logged(
        '2026-12-08 09:14:05',
        perClient('timed out', '127.0.0.1:51388', words(ROUTER, 'no decision within ')(1000)),
      ),
      ...logged(
        '2026-12-08 09:14:09',
        words(ROUTER, 'Router ${this.shown}: ${why}: stopped')(ROUTER_FILE, stuck, 3),
      ),
      ...loggedAt('2026-12-08 09:14:12', () => events.flush()),
    ];
  },
  /** A router with a syntax error, at start: the one line, on standard error, before exit 1. */
  'router-start': () => {
    const source = "export default () => {\n  return { pool: 'web' } }};\n";
    const atStart = capture(() => fail(refused(source), 1));
    if (atStart.exitCode !== 1) throw new Error(`fail() exited ${atStart.exitCode}`);
    return atStart.stderr;
  },
  /** On reloads: a router that throws while it loads, then one with no default export. */
  'router-reload': () => {
    const reloadRefused = words(PROXY, 'Reload refused, ');
    const throws =
      "const sites = {};\n\nthrow new Error('no sites.json');\nexport default () => undefined;\n";
    const noDefault = 'export const route = () => undefined;\n';
    return [
      ...logged('2026-12-08 09:20:41', reloadRefused(refused(throws))),
      ...logged('2026-12-08 09:21:03', reloadRefused(refused(noDefault))),
    ];
  },
};
