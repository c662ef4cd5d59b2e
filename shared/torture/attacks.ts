/**
 * The attacks of `npm run torture`, one function each, every one bounded in
 * count and time and aimed at 127.0.0.1 only. Each gets a running part (and,
 * for part 4, its configuration file and status port) and one of its
 * listeners, and answers whether the part came through: no crash, and the
 * checks the attack names. Part 3 has one listener, a plain TCP one; part 4
 * has one of each kind (tcp, http, tls, each with and without
 * acceptProxyProtocol), and an attack says which kinds it applies to, and
 * which of them the quick run takes.
 *
 * What they leave out: anything that needs a second machine (SYN floods,
 * packet loss), and attacks on the backend side beyond a reset.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Program } from '../lib/programs.ts';
import { makeBody } from '../test/backend.ts';
import {
  clientHello,
  EARLY_ENDS,
  endEarly,
  type ListenerKind,
  PROXY_V1,
} from '../test/early-close.ts';
import {
  type HeldSocket,
  heldSockets,
  parseResponse,
  readAll,
  requestHead,
  rssKiB,
  waitFor,
} from '../test/harness.ts';

/** One listening port of the part under attack. */
export interface Listener {
  /** 'tcp', 'http+proxy': the table's listener column (kindName()). */
  name: string;
  kind: ListenerKind;
  port: number;
  /** The mock backend behind it (TLS behind a tls listener), for byte-exact checks. */
  backendName: string;
}

/** What an attack gets to work with. */
export interface Target {
  part: string;
  proxy: Program;
  listeners: Listener[];
  /** Part 4 only: its configuration file (rewritten by the reload attacks) and status port. */
  configFile?: string;
  config?: unknown;
  statusPort?: number;
}

export interface Outcome {
  ok: boolean;
  /** One line: what happened. */
  result: string;
  /** The counts in that line a chapter quotes, by name (saved with --save). */
  figures?: Record<string, number>;
}

export type Scale = 'full' | 'quick';

export interface Attack {
  name: string;
  /** Which parts it applies to (the reload and status attacks need part 4). */
  parts: string[];
  /** Which listeners it applies to, at each scale (the quick run may take fewer). */
  listeners(kind: ListenerKind, scale: Scale): boolean;
  /** Counts for the full run and for the quick one that `npm test` runs. */
  run(target: Target, listener: Listener, scale: Scale): Promise<Outcome>;
}

const MiB = 1024 * 1024;
const BOTH = ['part3-backpressure', 'part4-balancing'];

/** Every kind of listener, at both scales. */
const EVERY = () => true;
/** The process as a whole (reloads, signals, the status port): attacked once, through the plain tcp listener. */
const ONCE = (kind: ListenerKind) => kind.protocol === 'tcp' && !kind.proxy;
/**
 * The kinds named, in the quick run; every kind `full` allows in the full run.
 * (A PROXY header goes first on a +proxy listener, so garbage on tls+proxy
 * meets both the PROXY and the ClientHello reader.)
 */
function quickOn(names: string[], full: (kind: ListenerKind) => boolean = EVERY) {
  return (kind: ListenerKind, scale: Scale) =>
    full(kind) &&
    (scale === 'full' || names.includes(`${kind.protocol}${kind.proxy ? '+proxy' : ''}`));
}
/** A request then a FIN, or a slow read of a long answer: plain HTTP only, not over TLS. */
const PLAIN = (kind: ListenerKind) => kind.protocol !== 'tls';

/**
 * A socket to one listener that swallows its own errors (the attacks expect
 * resets), with the PROXY header already sent where the listener requires one.
 */
function connect(listener: Listener): net.Socket {
  const socket = net.connect(listener.port, '127.0.0.1');
  socket.on('error', () => {});
  if (listener.kind.proxy) socket.write(PROXY_V1);
  return socket;
}

/** What a client sends first: a GET, or on a tls listener its ClientHello. */
async function firstRequest(listener: Listener, pathname: string): Promise<Buffer> {
  if (listener.kind.protocol === 'tls') return clientHello();
  return Buffer.from(requestHead(pathname));
}

/** Runs `count` jobs, at most `width` at a time. */
async function inBatches(count: number, width: number, job: (i: number) => Promise<void>) {
  for (let start = 0; start < count; start += width) {
    const batch = Array.from({ length: Math.min(width, count - start) }, (_, i) => job(start + i));
    await Promise.all(batch);
  }
}

/**
 * Does a GET through this listener still get the whole, right answer? Over
 * TLS on a tls listener (the backend behind it does the handshake, and says
 * which server name it was asked for).
 */
async function stillServes(listener: Listener): Promise<boolean> {
  try {
    const socket = connect(listener);
    const secure = listener.kind.protocol === 'tls';
    const stream = secure
      ? tls.connect({ socket, servername: 'localhost', rejectUnauthorized: false })
      : socket;
    stream.on('error', () => {});
    stream.write(requestHead('/'));
    const response = parseResponse((await readAll(stream, 5000)).data);
    const told = secure ? 'TLS server name: localhost\n' : '';
    const body = Buffer.concat([makeBody(listener.backendName), Buffer.from(told)]);
    return response.status === 200 && response.body.equals(body);
  } catch {
    return false;
  }
}

/** Sends requests one after another until `stop()` says so; returns [answered, failed]. */
async function steadyLoad(listener: Listener, stop: () => boolean): Promise<[number, number]> {
  let answered = 0;
  let failed = 0;
  while (!stop()) {
    if (await stillServes(listener)) answered++;
    else failed++;
  }
  return [answered, failed];
}

/** The connections the part still holds on this listener's port. */
async function heldOn(target: Target, listener: Listener): Promise<HeldSocket[]> {
  const held = await heldSockets(target.proxy.pid);
  return held.filter((socket) => socket.localPort === listener.port);
}

export const ATTACKS: Attack[] = [
  {
    name: 'garbage',
    parts: BOTH,
    listeners: quickOn(['tcp', 'http', 'tls+proxy']),
    async run(_target, listener, scale) {
      const count = scale === 'full' ? 10_000 : 300;
      await inBatches(count, 200, async (i) => {
        const socket = connect(listener);
        socket.end(Buffer.from(createHash('sha256').update(String(i)).digest()));
        await readAll(socket, 10_000).catch(() => undefined);
      });
      const ok = await stillServes(listener);
      return {
        ok,
        result: `${count} connections of random bytes; then a GET ${ok ? 'works' : 'FAILS'}`,
      };
    },
  },
  {
    name: 'resets',
    parts: BOTH,
    listeners: quickOn(['tcp', 'http+proxy']),
    async run(target, listener, scale) {
      const count = scale === 'full' ? 10_000 : 300;
      const request = await firstRequest(listener, '/?delay=50');
      const lines = () => target.proxy.output().split('\n').length;
      const linesBefore = lines();
      await inBatches(count, 200, async (i) => {
        const socket = connect(listener);
        await once(socket, 'connect').catch(() => undefined);
        // Half of them reset at once, half after their request is on its way.
        if (i % 2 === 1) socket.write(request);
        socket.resetAndDestroy();
      });
      // Counted, not logged (part 4): what a reset storm adds to the log.
      const added = lines() - linesBefore;
      const ok = await stillServes(listener);
      return {
        ok,
        result: `${count} clients reset; ${added} log line${added === 1 ? '' : 's'}; a GET ${ok ? 'works' : 'FAILS'}`,
        figures: { clients: count, logLines: added },
      };
    },
  },
  {
    name: 'half-open',
    parts: BOTH,
    // A TLS client cannot half-close in the middle of its session.
    listeners: quickOn(['tcp', 'http+proxy'], PLAIN),
    async run(_target, listener, scale) {
      const count = scale === 'full' ? 1000 : 60;
      const size = 64 * 1024;
      const expected = makeBody(listener.backendName, size);
      let whole = 0;
      await inBatches(count, 100, async () => {
        const socket = connect(listener);
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
    listeners: quickOn(['tcp', 'tls+proxy']),
    async run(_target, listener, scale) {
      const count = scale === 'full' ? 5000 : 300;
      const sockets: net.Socket[] = [];
      try {
        await inBatches(count, 500, async () => {
          const socket = connect(listener);
          sockets.push(socket);
          await once(socket, 'connect');
        });
        const ok = await stillServes(listener);
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
    listeners: quickOn(['tcp'], PLAIN),
    async run(target, listener, scale) {
      const size = scale === 'full' ? 1024 * MiB : 16 * MiB;
      const expected = makeBody(listener.backendName, size);
      const startRss = await rssKiB(target.proxy.pid);
      let peakRss = startRss;
      const socket = connect(listener);
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
        figures: { sizeMiB: size / MiB, grewMiB: grown },
      };
    },
  },
  {
    name: 'broken reloads',
    parts: ['part4-balancing'],
    listeners: ONCE,
    async run(target, listener, scale) {
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
      const load = steadyLoad(listener, () => done);
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
    listeners: ONCE,
    async run(target, listener, scale) {
      const signals = scale === 'full' ? 50 : 20;
      let done = false;
      const load = steadyLoad(listener, () => done);
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
    listeners: ONCE,
    async run(target, listener, scale) {
      const count = scale === 'full' ? 300 : 60;
      const sockets: net.Socket[] = [];
      try {
        await inBatches(count, 100, async () => {
          const socket = net.connect(target.statusPort as number, '127.0.0.1');
          socket.on('error', () => {});
          sockets.push(socket);
          socket.write('GET / HTTP/1.1\r\n'); // and never the rest
          await once(socket, 'connect').catch(() => undefined);
        });
        const began = performance.now();
        const ok = await stillServes(listener);
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
  {
    name: 'early close',
    parts: BOTH,
    // Every kind, in the quick run too: each reads a different first message.
    listeners: EVERY,
    async run(target, listener, scale) {
      const rounds = scale === 'full' ? 100 : 5;
      const clients: net.Socket[] = [];
      try {
        await inBatches(rounds, 10, async () => {
          const round = EARLY_ENDS.map((shape) => endEarly(listener.port, shape, listener.kind));
          clients.push(...(await Promise.all(round)));
        });
        let held: HeldSocket[] = [];
        await waitFor(
          async () => {
            held = await heldOn(target, listener);
            return held.length === 0;
          },
          { timeoutMs: 5000, what: 'no connection held' },
        ).catch(() => {});
        const serves = await stillServes(listener);
        const states = [...new Set(held.map((socket) => socket.state))].join(', ');
        return {
          ok: held.length === 0 && serves,
          result:
            `${clients.length} clients ended early (${EARLY_ENDS.length} ways), ` +
            `${held.length} still held${states ? ` (${states})` : ''}; a GET ${serves ? 'works' : 'FAILS'}`,
        };
      } finally {
        for (const client of clients) client.destroy();
      }
    },
  },
];
