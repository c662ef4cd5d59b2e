/**
 * A fault relay: a TCP relay from a port of its own to a server (a backend,
 * Redis) that misbehaves on command the way a network does. These machines
 * have no kernel traffic shaper (tc netem), so the faults are made in user
 * space, as Shopify's toxiproxy makes its "toxics".
 *
 *   client ──▶ relay (fault) ──▶ target on 127.0.0.1
 *
 * One fault at a time; `set()` changes it for the connections open now and
 * for those that come later:
 *
 *   none       bytes pass as they come (with backpressure both ways)
 *   cut        every relayed connection is closed, new ones are closed at
 *              once: a server that is gone, or a cable pulled
 *   silence    every byte is dropped both ways and nothing is closed: a
 *              network partition (no FIN, no RST); connections accepted
 *              meanwhile never reach the target, even after the heal
 *   blackhole  connections accepted while it is set never reach the target
 *              and get no answer (a host that takes SYNs and nothing else);
 *              those already open carry on
 *   latency    every chunk arrives `ms` late, each way
 *   bandwidth  at most `bytesPerSecond` each way, evenly spread
 *   stall      `afterBytes` of the answer (target to client) pass, then no
 *              byte more either way; nothing is closed
 *   reset      `afterBytes` of the answer pass, then both sides are reset
 *   slowClose  a FIN or close from either side reaches the other `ms` late
 *
 * What it leaves out: packet-level faults (loss, reordering, duplication),
 * which only a kernel can make, and faults on the connect itself (a refused
 * connect is a stopped target; a black hole is the nearest to a SYN that
 * gets no answer).
 */
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Teardown } from '../lib/cleanup.ts';

export type Fault =
  | { kind: 'none' }
  | { kind: 'cut' }
  | { kind: 'silence' }
  | { kind: 'blackhole' }
  | { kind: 'latency'; ms: number }
  | { kind: 'bandwidth'; bytesPerSecond: number }
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'slowClose'; ms: number };

export interface FaultRelay {
  port: number;
  /** The fault in force now. */
  readonly fault: Fault;
  /** Connections accepted so far: each is one attempt by the client in front. */
  readonly accepted: number;
  /** Connections open now, from the client's side. */
  readonly open: number;
  /** A fault, or the name of one that takes no figure. */
  set(fault: Fault | 'none' | 'cut' | 'silence' | 'blackhole'): void;
  close(): Promise<void>;
}

/** One relayed connection: the client's socket and, unless it was held back, the target's. */
interface Pair {
  client: net.Socket;
  target?: net.Socket;
  /** Answer bytes passed so far (target to client), for stall and reset. */
  answered: number;
}

/** A fault relay in front of `targetPort` on 127.0.0.1, closed on teardown. */
export async function startFaultRelay(t: Teardown, targetPort: number): Promise<FaultRelay> {
  const pairs = new Set<Pair>();
  let fault: Fault = { kind: 'none' };
  let accepted = 0;

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    client.on('error', () => {});
    if (fault.kind === 'cut') {
      client.destroy();
      return;
    }
    const pair: Pair = { client, answered: 0 };
    pairs.add(pair);
    client.on('close', () => {
      pairs.delete(pair);
      closeLater(() => pair.target?.destroy());
    });
    // Held: accepted, never connected on, every byte dropped.
    if (fault.kind === 'silence' || fault.kind === 'blackhole') {
      client.on('data', () => {});
      return;
    }
    const target = net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    pair.target = target;
    target.on('error', () => {});
    target.on('close', () => closeLater(() => client.destroy()));
    forward(pair, client, target, false);
    forward(pair, target, client, true);
  });

  /** One direction of a pair, consulting the fault in force for every chunk. */
  function forward(pair: Pair, from: net.Socket, to: net.Socket, isAnswer: boolean): void {
    const later = new Scheduled(from, to);
    from.on('data', (chunk: Buffer) => {
      if (fault.kind === 'silence' || stalled.has(pair)) return;
      if (isAnswer && (fault.kind === 'stall' || fault.kind === 'reset')) {
        const room = Math.max(0, fault.afterBytes - pair.answered);
        if (room < chunk.length) {
          if (room > 0) to.write(chunk.subarray(0, room));
          pair.answered += room;
          stalled.add(pair); // not a byte more either way
          // reset: flush what passed, then reset both sides (RST, not FIN).
          if (fault.kind === 'reset') to.write(Buffer.alloc(0), () => resetPair(pair));
          return;
        }
        pair.answered += chunk.length;
      }
      if (fault.kind === 'latency') later.send(chunk, { ms: fault.ms });
      else if (fault.kind === 'bandwidth')
        later.send(chunk, { bytesPerSecond: fault.bytesPerSecond });
      else later.send(chunk);
    });
    from.on('end', () => {
      const end = () => {
        if (!stalled.has(pair) && fault.kind !== 'silence') to.end();
      };
      void later.done().then(() => closeLater(end));
    });
  }

  function resetPair(pair: Pair): void {
    pair.client.resetAndDestroy();
    pair.target?.resetAndDestroy();
  }

  /** Runs a close now, or `ms` late under slowClose. */
  function closeLater(close: () => void): void {
    if (fault.kind === 'slowClose') setTimeout(close, fault.ms);
    else close();
  }
  const stalled = new WeakSet<Pair>();

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const close = async () => {
    for (const pair of pairs) {
      pair.client.destroy();
      pair.target?.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  };
  t.teardown(close);
  return {
    port: (server.address() as net.AddressInfo).port,
    get fault() {
      return fault;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    set(next) {
      fault = typeof next === 'string' ? ({ kind: next } as Fault) : next;
      if (fault.kind === 'cut') {
        for (const pair of pairs) {
          pair.client.destroy();
          pair.target?.destroy();
        }
      }
    },
    close,
  };
}

/**
 * The bytes of one direction on their way: written at once when nothing waits,
 * else each piece when it is due, in order. A latency delays each chunk by
 * `ms` from its arrival (chunks overlap in flight, as on a long cable); a
 * bandwidth cuts chunks into pieces of a fiftieth of a second's worth and
 * spaces them out. The sender is paused while 64 KiB wait, or while `to`'s
 * buffer is full.
 */
class Scheduled {
  private queue = Promise.resolve();
  private waiting = 0;
  /** Bandwidth: when the line is free again (ms, performance.now()). */
  private freeAt = 0;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
  ) {}

  send(chunk: Buffer, shape: { ms?: number; bytesPerSecond?: number } = {}): void {
    if (shape.ms === undefined && shape.bytesPerSecond === undefined && this.waiting === 0) {
      if (!this.to.write(chunk)) {
        this.from.pause();
        this.to.once('drain', () => this.from.resume());
      }
      return;
    }
    const pieces: [Buffer, number][] = [];
    if (shape.bytesPerSecond !== undefined) {
      const size = Math.max(1, Math.floor(shape.bytesPerSecond / 50));
      for (let i = 0; i < chunk.length; i += size) {
        const piece = chunk.subarray(i, i + size);
        this.freeAt =
          Math.max(performance.now(), this.freeAt) + (piece.length / shape.bytesPerSecond) * 1000;
        pieces.push([piece, this.freeAt]);
      }
    } else {
      pieces.push([chunk, performance.now() + (shape.ms ?? 0)]);
    }
    this.waiting += chunk.length;
    if (this.waiting > 64 * 1024) this.from.pause();
    for (const [piece, due] of pieces) {
      this.queue = this.queue
        .then(() => delay(due - performance.now()))
        .then(() => {
          if (!this.to.destroyed) this.to.write(piece);
          this.waiting -= piece.length;
          if (this.waiting <= 64 * 1024 && this.from.isPaused()) this.from.resume();
        });
    }
  }

  /** Resolves once every piece sent so far is written. */
  done(): Promise<void> {
    return this.queue;
  }
}
