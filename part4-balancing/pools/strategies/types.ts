/**
 * What a strategy is: the one interface every file in this folder implements,
 * and what it may look at. A module of its own, so that the strategies and the
 * table that names them (index.ts) import it without importing each other.
 */

/** What a strategy may look at. The pool's backend objects implement it. */
export interface Peer {
  /** "host:port", unique in its pool. */
  readonly id: string;
  readonly weight: number;
  readonly activeConnections: number;
}

export interface Strategy {
  /**
   * candidates: the peers eligible right now (available, not yet tried for this
   * client), in config order. undefined only when candidates is empty.
   */
  pick(candidates: readonly Peer[], clientIp: string): Peer | undefined;
  /** Picks by clientIp: else '' is passed, saving a getpeername() system call. */
  readonly byClientIp?: boolean;
}
