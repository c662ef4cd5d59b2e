/**
 * The fields chapter 2 gives a pool: passive health (maxFails failures within
 * failTimeoutMs take a backend out for failTimeoutMs), the first-byte timeout,
 * and the active checks, an object with a table of its own (HEALTH_CHECK).
 * health.ts and first-byte.ts say what each one does.
 */
import { type Fields, int, MAX_MS, type Place, readObject, show, text } from '../fields.ts';

export const HEALTH_POOL = {
  maxFails: {
    about:
      'failed connects (or unanswered requests) within failTimeoutMs that take a backend out...',
    default: 1,
    check: int(1, 1000),
  },
  failTimeoutMs: {
    about: '...for this long; then it is tried again',
    default: 10_000,
    check: int(1, MAX_MS),
  },
  firstByteTimeoutMs: {
    about:
      "a backend that sends no byte within this long of the client's last one, before its first, counts as failed; 0: no limit",
    default: 0,
    check: int(0, MAX_MS),
  },
  healthCheck: {
    about: 'active checks; absent: only the passive ones',
    check: (at: Place, value: unknown) => readObject(at, value, HEALTH_CHECK),
  },
} satisfies Fields;

export const HEALTH_CHECK = {
  intervalMs: {
    about: 'time between two probes of a backend (each probe costs it a connection)',
    default: 2000,
    check: int(100, MAX_MS),
  },
  timeoutMs: {
    about: 'a probe not answered within this long fails',
    default: 1000,
    check: int(10, MAX_MS),
  },
  path: {
    about: 'set: an HTTP GET of this path, healthy on 2xx or 3xx; unset: a TCP connect',
    // It goes into a request line as it is: no spaces, no control characters.
    check: (at: Place, value: unknown) => {
      const path = text(at, value);
      if (!/^\/[\x21-\x7e]*$/.test(path))
        at.fail(`expected a path like "/health", got ${show(path)}`);
      return path;
    },
  },
} satisfies Fields;
