/**
 * What the Sentinel test needs: a set of real redis-sentinel processes on
 * free loopback ports, each with its own temporary directory (a Sentinel
 * rewrites its configuration file as it learns), watching one primary with
 * small timeouts, so that a failover takes a few seconds. Each is killed on
 * teardown.
 *
 * What it leaves out: passwords, TLS, Sentinels on other hosts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import type { Teardown } from '../lib/cleanup.ts';
import { freePort, waitFor } from './harness.ts';

export interface SentinelSet {
  ports: number[];
  /** Their processes, for a check that they are gone. */
  pids: number[];
  /** HOST:PORT,HOST:PORT,... as --redis-sentinel takes it. */
  list: string;
  /** Asks a Sentinel where the primary of `master` is (HOST:PORT), or undefined. */
  primary(): Promise<string | undefined>;
}

/** `count` Sentinels watching the primary on `primaryPort` as `master` (quorum: a majority). */
export async function startSentinels(
  t: Teardown,
  primaryPort: number,
  master: string,
  count = 3,
): Promise<SentinelSet> {
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-'));
    const file = path.join(dir, 'sentinel.conf');
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${master} 127.0.0.1 ${primaryPort} ${Math.floor(count / 2) + 1}`,
        `sentinel down-after-milliseconds ${master} 1000`,
        `sentinel failover-timeout ${master} 3000`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-sentinel', [file], { stdio: 'ignore' });
    child.once('error', () => {});
    children.push(child);
    ports.push(port);
    t.teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    });
  }
  const ask = async (port: number, ...command: string[]) => {
    const client = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: false } });
    client.on('error', () => {});
    try {
      await client.connect();
      return await client.sendCommand(command);
    } catch {
      return undefined;
    } finally {
      client.destroy();
    }
  };
  // Ready when each knows the others (to vote) and the replica (to promote).
  await waitFor(
    async () => {
      for (const port of ports) {
        // node-redis turns the reply's names and values into an object.
        const info = (await ask(port, 'SENTINEL', 'MASTER', master)) as unknown;
        if (typeof info !== 'object' || info === null) return false;
        const field = (name: string) => Number((info as Record<string, unknown>)[name] ?? 0);
        if (field('num-other-sentinels') < count - 1 || field('num-slaves') < 1) return false;
      }
      return true;
    },
    {
      what: `${count} Sentinels that know each other and the replica`,
      timeoutMs: 20_000,
      intervalMs: 200,
    },
  );
  return {
    ports,
    pids: children.map((child) => child.pid as number),
    list: ports.map((port) => `127.0.0.1:${port}`).join(','),
    primary: async () => {
      const reply = (await ask(ports[0], 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', master)) as
        | string[]
        | undefined;
      return reply ? `${reply[0]}:${reply[1]}` : undefined;
    },
  };
}
