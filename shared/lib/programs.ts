/**
 * Starting the repository's programs as a reader would: a part, the mock
 * backend, a tool, each through its real command line, in a process of its
 * own. The test harness and the programs in shared/ (the benchmark, the
 * demos, the tools, the torture) start them all here.
 *
 * - startProgram / startBackend / startPart: a long-running program, its
 *   "Listening on port N" line awaited with a deadline, killed on teardown
 *   (a tap test's, or a Cleanup's).
 * - runProgram: a command line that is expected to exit (bad arguments).
 * - ROOT: the repository's root, where every program starts.
 *
 * Every program is started as `node --import tsx/esm FILE ARGS`, one process, so
 * the pid we measure is the proxy itself, not a wrapper, and without what tap
 * adds to the environment of its own processes (see spawnScript). A program
 * in JavaScript (`.js`, `.mjs`: part 4 as `npm run build` compiles it) is
 * started as `node FILE ARGS`, without tsx, as it would run in production.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Teardown } from './cleanup.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LISTENING = /Listening on port (\d+)/;

/** What the start functions need of a tap test or of a Cleanup: somewhere to register a teardown. */
export type { Teardown };

export interface Program {
  child: ChildProcess;
  pid: number;
  port: number;
  /** Everything the program printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves when a line matching `pattern` has been printed (now or later). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  /** Deadline for the Listening line. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** In a process group of its own, so that a test can signal the group as Ctrl-C does. */
  detached?: boolean;
}

/**
 * Spawns `node --import tsx/esm <script> <args>` from the repository root, with
 * the environment a reader's shell would give it; `node <script> <args>` when
 * the script is JavaScript (runsWithoutTsx).
 *
 * Under tap, every child process would also load tap's process recorder: tap
 * puts it in NODE_OPTIONS and puts it back into every spawn's environment.
 * It watches every module load and, at exit, writes a record for tap's
 * coverage report (which we do not keep); it costs a program about a third
 * of a second of CPU, and hooks its exit. So the program is started through
 * `env NODE_OPTIONS=...`, which sets the variable and then becomes node
 * itself: same pid, without the recorder.
 *
 * Its output comes back through pipes unless `options` says otherwise
 * (npm run step passes its terminal on, and starts the proxy in a process
 * group of its own), and it starts in the root unless `options.cwd` names
 * another directory (a copy of the repository, where `script` is then found).
 */
export function spawnScript(
  script: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
  options: Pick<SpawnOptions, 'stdio' | 'detached' | 'cwd'> = {},
): ChildProcess {
  const nodeOptions = (env?.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? '')
    .replace(/\S*\/@tapjs\/\S*/g, '')
    .trim();
  const loader = runsWithoutTsx(script) ? [] : ['--import', 'tsx/esm'];
  const node = [process.execPath, ...loader, script, ...args];
  return spawn('/usr/bin/env', [`NODE_OPTIONS=${nodeOptions}`, ...node], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
}

/** True for a script in JavaScript, which node runs as it is: tsx would only cost it memory. */
const runsWithoutTsx = (script: string) => /\.m?js$/.test(script);

/** Starts a long-running program and waits until it says it is listening. */
export async function startProgram(
  t: Teardown,
  script: string,
  args: string[],
  options: StartOptions = {},
): Promise<Program> {
  const child = spawnScript(script, args, options.env, { detached: options.detached });
  let text = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const watcher of watchers) watcher();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
      for (const watcher of watchers) watcher();
    });
  });

  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = text.match(pattern);
        if (match) return done(() => resolve(match));
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`${script} exited before printing ${pattern}:\n${text}`)));
        }
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new Error(`${script}: no ${pattern} within ${timeoutMs} ms:\n${text}`)),
          ),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        watchers.delete(check);
        settle();
      };
      watchers.add(check);
      check();
    });

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  t.teardown(() => kill());

  const match = await waitForOutput(LISTENING, options.timeoutMs ?? 15_000);
  return {
    child,
    pid: child.pid as number,
    port: Number(match[1]),
    output: () => text,
    waitForOutput,
    exited,
    kill,
  };
}

export interface BackendSettings {
  port?: number;
  delay?: number;
  size?: number;
  name?: string;
  /** Expect a PROXY protocol header first, and say what it told. */
  proxyProtocol?: boolean;
  /** Speak TLS with a self-signed certificate, and say which SNI came. */
  tls?: boolean;
  /** Close an idle keep-alive connection after this long (absent: Node's 5 s). */
  keepAliveMs?: number;
}

/** Starts shared/test/backend.ts (the mock backend) as a process, on a free port unless one is given. */
export function startBackend(t: Teardown, settings: BackendSettings = {}): Promise<Program> {
  const args = ['--port', String(settings.port ?? 0)];
  if (settings.delay !== undefined) args.push('--delay', String(settings.delay));
  if (settings.size !== undefined) args.push('--size', String(settings.size));
  if (settings.name !== undefined) args.push('--name', settings.name);
  if (settings.proxyProtocol) args.push('--proxy-protocol');
  if (settings.tls) args.push('--tls');
  if (settings.keepAliveMs !== undefined) args.push('--keep-alive', String(settings.keepAliveMs));
  return startProgram(t, 'shared/test/backend.ts', args);
}

/**
 * The arguments that start a part on a free port in front of backends on
 * 127.0.0.1: parts 1 to 3 take one backend as `host port`, part 4 a list of
 * `host:port`.
 */
export function partArgs(part: string, backendPorts: number[]): string[] {
  if (takesManyBackends(part)) {
    return ['0', ...backendPorts.map((port) => `127.0.0.1:${port}`)];
  }
  if (backendPorts.length !== 1) throw new Error(`${part} takes exactly one backend`);
  return ['0', '127.0.0.1', String(backendPorts[0])];
}

/** True for the parts whose command line takes a list of backends (part 4 on). */
export function takesManyBackends(part: string): boolean {
  return Number(/^part(\d+)-/.exec(part)?.[1]) >= 4;
}

/** Starts `<part>/proxy.ts` with the given arguments (use '0' as the listen port). */
export function startPart(t: Teardown, part: string, args: string[], options?: StartOptions) {
  return startProgram(t, `${part}/proxy.ts`, args, options);
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program that should exit by itself (for example on bad arguments),
 * from the root, or from `cwd` (a copy of the repository).
 */
export async function runProgram(
  script: string,
  args: string[],
  timeoutMs = 15_000,
  env?: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<Finished> {
  const child = spawnScript(script, args, env, cwd ? { cwd } : {});
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  // 'close', not 'exit': it comes after the last of stdout and stderr has been read.
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
