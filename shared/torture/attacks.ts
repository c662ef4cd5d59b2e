/**
 * The attacks of `npm run torture`, one function each, every one bounded in
 * count and time and aimed at 127.0.0.1 only. Each gets a running part (and,
 * for part 4, its configuration file and status port) and answers whether the
 * part came through: no crash, and the checks the attack names.
 *
 * What they leave out: anything that needs a second machine (SYN floods,
 * packet loss), and attacks on the backend side beyond a reset.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { makeBody } from '../test/backend.ts';
import {
  httpGet,
  type Program,
  parseResponse,
  readAll,
  requestHead,
  rssKiB,
  waitFor,
} from '../test/harness.ts';

/** What an attack gets to work with. */
export interface Target {
  part: string;
  proxy: Program;
  /** The mock backend's name, for byte-exact checks. */
  backendName: string;
  /** Part 4 only: its configuration file (rewritten by the reload attacks) and status port. */
  configFile?: string;
  config?: unknown;
  statusPort?: number;
}

export interface Outcome {
  ok: boolean;
  /** One line: what happened. */
  result: string;
}

export interface Attack {
  name: string;
  /** Which parts it applies to (the reload and status attacks need part 4). */
  parts: string[];
  /** Counts for the full run and for the quick one that `npm test` runs. */
  run(target: Target, scale: 'full' | 'quick'): Promise<Outcome>;
}

const MiB = 1024 * 1024;
const BOTH = ['part3-backpressure', 'part4-balancing'];

/** A socket to the proxy that swallows its own errors (the attacks expect resets). */
function connect(port: number): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  return socket;
}

/** Runs `count` jobs, at most `width` at a time. */
async function inBatches(count: number, width: number, job: (i: number) => Promise<void>) {
  for (let start = 0; start < count; start += width) {
    const batch = Array.from({ length: Math.min(width, count - start) }, (_, i) => job(start + i));
    await Promise.all(batch);
  }
}

/** Does a plain GET still get the whole, right answer? */
async function stillServes(target: Target): Promise<boolean> {
  try {
    const response = await httpGet(target.proxy.port, '/', 5000);
    return response.status === 200 && response.body.equals(makeBody(target.backendName));
  } catch {
    return false;
  }
}

/** Sends requests one after another until `stop()` says so; returns [answered, failed]. */
async function steadyLoad(target: Target, stop: () => boolean): Promise<[number, number]> {
  let answered = 0;
  let failed = 0;
  while (!stop()) {
    if (await stillServes(target)) answered++;
    else failed++;
  }
  return [answered, failed];
}

export const ATTACKS: Attack[] = [
  {
    name: 'garbage',
    parts: BOTH,
    async run(target, scale) {
      const count = scale === 'full' ? 10_000 : 300;
      await inBatches(count, 200, async (i) => {
        const socket = connect(target.proxy.port);
        socket.end(Buffer.from(createHash('sha256').update(String(i)).digest()));
        await readAll(socket, 10_000).catch(() => undefined);
      });
      const ok = await stillServes(target);
      return {
        ok,
        result: `${count} connections of random bytes; then a GET ${ok ? 'works' : 'FAILS'}`,
      };
    },
  },
  {
    name: 'resets',
    parts: BOTH,
    async run(target, scale) {
      const count = scale === 'full' ? 10_000 : 300;
      await inBatches(count, 200, async (i) => {
        const socket = connect(target.proxy.port);
        await once(socket, 'connect').catch(() => undefined);
        // Half of them reset at once, half after their request is on its way.
        if (i % 2 === 1) socket.write(requestHead('/?delay=50'));
        socket.resetAndDestroy();
      });
      const ok = await stillServes(target);
      const lines = target.proxy.output().split('\n').length;
      return {
        ok,
        result: `${count} clients reset; ${lines} log lines in all; a GET ${ok ? 'works' : 'FAILS'}`,
      };
    },
  },
  {
    name: 'half-open',
    parts: BOTH,
    async run(target, scale) {
      const count = scale === 'full' ? 1000 : 60;
      const size = 64 * 1024;
      const expected = makeBody(target.backendName, size);
      let whole = 0;
      await inBatches(count, 100, async () => {
        const socket = connect(target.proxy.port);
        socket.end(requestHead(`/?size=${size}`)); // the request, then shutdown(SHUT_WR)
        const received = await readAll(socket, 20_000).catch(() => undefined);
        if (received && parseResponse(received.data).body.equals(expected)) whole++;
      });
      return {
        ok: whole === count,
        result: `${whole} of ${count} half-closed clients got the whole answer`,
      };
    },
  },
  {
    name: 'idle',
    parts: BOTH,
    async run(target, scale) {
      const count = scale === 'full' ? 5000 : 300;
      const sockets: net.Socket[] = [];
      try {
        await inBatches(count, 500, async () => {
          const socket = connect(target.proxy.port);
          sockets.push(socket);
          await once(socket, 'connect');
        });
        const ok = await stillServes(target);
        return {
          ok,
          result: `${count} idle connections held; a GET meanwhile ${ok ? 'works' : 'FAILS'}`,
        };
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    },
  },
  {
    name: 'slow reader',
    parts: BOTH,
    async run(target, scale) {
      const size = scale === 'full' ? 1024 * MiB : 16 * MiB;
      const expected = makeBody(target.backendName, size);
      const startRss = await rssKiB(target.proxy.pid);
      let peakRss = startRss;
      const socket = connect(target.proxy.port);
      socket.write(requestHead(`/?size=${size}`));
      // Read a chunk, pause 1 ms: far slower than the backend writes.
      let head: Buffer | undefined = Buffer.alloc(0);
      let offset = 0;
      let exact = true;
      socket.on('data', (chunk: Buffer) => {
        if (head !== undefined) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          chunk = head.subarray(end + 4);
          head = undefined;
        }
        if (!chunk.equals(expected.subarray(offset, offset + chunk.length))) exact = false;
        offset += chunk.length;
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      });
      const watch = setInterval(async () => {
        peakRss = Math.max(peakRss, await rssKiB(target.proxy.pid).catch(() => 0));
      }, 100);
      await once(socket, 'close');
      clearInterval(watch);
      const grown = (peakRss - startRss) / 1024;
      const ok = exact && offset === size && peakRss / 1024 < 100 + startRss / 1024;
      return {
        ok,
        result: `${size / MiB} MiB to a slow reader: ${offset === size && exact ? 'byte-exact' : `${offset} bytes, ${exact ? 'exact' : 'CORRUPT'}`}; RSS grew ${grown.toFixed(1)} MiB at peak`,
      };
    },
  },
  {
    name: 'broken reloads',
    parts: ['part4-balancing'],
    async run(target, scale) {
      const reloads = scale === 'full' ? 44 : 10;
      const file = target.configFile as string;
      const good = JSON.stringify(target.config);
      const broken = [
        '{ "listen": [ }',
        '{"listen": [], "pools": {}}',
        JSON.stringify({ ...(target.config as object), maxConnections: 0 }),
        'x'.repeat(2 * MiB),
      ];
      let done = false;
      const load = steadyLoad(target, () => done);
      const refusedBefore = target.proxy.output().split('Reload refused').length;
      for (let i = 0; i < reloads; i++) {
        writeFileSync(file, broken[i % broken.length]);
        target.proxy.child.kill('SIGHUP');
        await waitFor(
          () => target.proxy.output().split('Reload refused').length > refusedBefore + i,
          {
            what: `refusal ${i + 1}`,
          },
        );
      }
      writeFileSync(file, good);
      done = true;
      const [answered, failed] = await load;
      return {
        ok: failed === 0 && answered > 0,
        result: `${reloads} broken reloads refused under load: ${answered} requests answered, ${failed} failed`,
      };
    },
  },
  {
    name: 'SIGHUP storm',
    parts: ['part4-balancing'],
    async run(target, scale) {
      const signals = scale === 'full' ? 50 : 20;
      let done = false;
      const load = steadyLoad(target, () => done);
      const reloads = () => target.proxy.output().split('Reloaded').length;
      for (let i = 0; i < signals; i++) {
        target.proxy.child.kill('SIGHUP');
        await new Promise((resolve) => setTimeout(resolve, 1000 / signals));
      }
      // Signals that arrive together are delivered once: one more, and wait for it.
      const before = reloads();
      target.proxy.child.kill('SIGHUP');
      await waitFor(() => reloads() > before, { what: 'the last reload' });
      done = true;
      const [answered, failed] = await load;
      return {
        ok: failed === 0 && answered > 0,
        result: `${signals} SIGHUPs in a second under load: ${answered} answered, ${failed} failed`,
      };
    },
  },
  {
    name: 'slow status clients',
    parts: ['part4-balancing'],
    async run(target, scale) {
      const count = scale === 'full' ? 300 : 60;
      const sockets: net.Socket[] = [];
      try {
        await inBatches(count, 100, async () => {
          const socket = connect(target.statusPort as number);
          sockets.push(socket);
          socket.write('GET / HTTP/1.1\r\n'); // and never the rest
          await once(socket, 'connect').catch(() => undefined);
        });
        const began = performance.now();
        const ok = await stillServes(target);
        const ms = performance.now() - began;
        return {
          ok: ok && ms < 2000,
          result: `${count} slow clients on the status port; a GET to the balanced port took ${ms.toFixed(0)} ms`,
        };
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    },
  },
];
