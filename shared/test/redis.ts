/**
 * What the fleet tests need of Redis: a real redis-server of their own on a
 * free port (nothing saved to disk), stopped and started again on the same
 * port for outage tests; and a client to write routes with. A link that is
 * cut or goes silent while Redis itself runs on is a fault relay in front of
 * it (fault-relay.ts).
 *
 * What it leaves out: TLS to Redis, passwords, Redis Cluster.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { createClient } from 'redis';
import type { Teardown } from '../lib/cleanup.ts';
import { freePort, waitFor } from './harness.ts';

export interface RedisServer {
  port: number;
  url: string;
  /** Starts it (again, after stop(), on the same port, empty) and waits until it answers PING. */
  start(): Promise<void>;
  /** Stops it and waits until it has exited. */
  stop(): Promise<void>;
  /** What it printed, for a failure message. */
  output(): string;
  /** The running process's pid (undefined while stopped), for a check that it is gone. */
  pid(): number | undefined;
}

/** A redis-server on a free port, not started yet (for a Redis that comes up late). */
export async function redisServer(t: Teardown, extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let text = '';
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  t.teardown(stop);

  const start = async () => {
    if (child) throw new Error('redis-server is already running');
    text = '';
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const started = spawn('redis-server', [...args, '--dir', tmpdir(), ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    started.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    let failure: Error | undefined;
    started.once('error', (err: NodeJS.ErrnoException) => {
      failure =
        err.code === 'ENOENT'
          ? new Error(
              'redis-server not found: the fleet tests start a real Redis ' +
                '(Debian package redis-server; .ci/run installs it)',
            )
          : err;
    });
    await waitFor(
      async () => {
        if (failure) throw failure;
        if (started.exitCode !== null || started.signalCode !== null) {
          throw new Error(`redis-server exited before answering PING:\n${text}`);
        }
        return answersPing(port);
      },
      { what: `redis-server answering PING on port ${port}` },
    );
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    output: () => text,
    pid: () => child?.pid,
  };
}

/** A redis-server started on a free port (another on a port someone took since). */
export async function startRedis(t: Teardown, extraArgs: string[] = []): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const server = await redisServer(t, extraArgs);
    try {
      await server.start();
      return server;
    } catch (err) {
      if (attempt === 3 || !/Address already in use/.test(server.output())) throw err;
    }
  }
}

/** Sends PING on a fresh connection; true on +PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/**
 * A client for the test to write routes with, closed on teardown. It waits
 * for a restarted server (node-redis's default: commands queue while it
 * reconnects).
 */
export async function redisClient(t: Teardown, server: RedisServer) {
  const client = createClient({ url: server.url });
  client.on('error', () => {});
  t.teardown(() => client.destroy());
  await client.connect();
  return client;
}
