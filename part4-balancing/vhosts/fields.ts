/**
 * The fields chapter 4 gives a listener (its protocol, its host table, the
 * limits on a request head and a ClientHello), and what the listener table
 * cannot say alone: which fields go with which protocol.
 *
 * Host names in `hosts` are checked by the host table's own rule (hosts.ts),
 * so a name the configuration accepts is one the table can route.
 */
import {
  type Fields,
  int,
  MAX_MS,
  object,
  oneOf,
  type Place,
  text,
  type Values,
} from '../fields.ts';
import { DEFAULT_MAX_HELLO_BYTES } from './client-hello.ts';
import { hostKeyProblem } from './hosts.ts';
import { DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_REQUEST_LINE_BYTES } from './http-head.ts';

export const VHOSTS_LISTENER = {
  protocol: {
    about:
      'tcp: every client to `pool`; http: the pool by Host header; tls: by the SNI of the ClientHello',
    default: 'tcp' as 'tcp' | 'http' | 'tls',
    check: oneOf(['tcp', 'http', 'tls'] as const),
  },
  hosts: {
    about: 'http and tls: a pool per name ("www.example.org", "*.example.org")',
    check: hostRoutes,
  },
  headTimeoutMs: {
    about: 'http and tls: the request head or ClientHello must be complete within this long',
    default: 10_000,
    check: int(1, MAX_MS),
  },
  maxRequestLineBytes: {
    about: 'http: a longer request line is answered 414',
    default: DEFAULT_MAX_REQUEST_LINE_BYTES,
    check: int(64, 1024 * 1024),
  },
  maxHeadBytes: {
    about: 'http: a longer request head is answered 431',
    default: DEFAULT_MAX_HEAD_BYTES,
    check: int(256, 1024 * 1024),
  },
  maxHelloBytes: {
    about: 'tls: a longer ClientHello (with its record headers) is closed',
    default: DEFAULT_MAX_HELLO_BYTES,
    check: int(512, 1024 * 1024),
  },
} satisfies Fields;

/** Listener fields that mean something only for some protocols. */
const ONLY_FOR: Partial<Record<keyof typeof VHOSTS_LISTENER, readonly string[]>> = {
  hosts: ['http', 'tls'],
  maxRequestLineBytes: ['http'],
  maxHeadBytes: ['http'],
  maxHelloBytes: ['tls'],
};

/**
 * What the listener table cannot say alone: a field written for another
 * protocol than the listener's. `given` is the listener as written, since a
 * default is never a mistake.
 */
export function checkVhostsListener(
  at: Place,
  given: Record<string, unknown>,
  listener: Values<typeof VHOSTS_LISTENER>,
): void {
  for (const [field, protocols] of Object.entries(ONLY_FOR)) {
    if (given[field] !== undefined && !protocols.includes(listener.protocol)) {
      at.at(field).fail(
        `only for protocol ${protocols.join(' or ')} (this listener: ${listener.protocol})`,
      );
    }
  }
}

/** A host-to-pool table: names checked by the host table's own rule (hosts.ts). */
function hostRoutes(at: Place, value: unknown): Record<string, string> {
  const routes: Record<string, string> = {};
  const entries = Object.entries(object(at, value));
  if (entries.length === 0) at.fail('expected at least one name');
  for (const [name, pool] of entries) {
    const problem = hostKeyProblem(name);
    if (problem !== undefined) at.at(name).fail(problem);
    routes[name] = text(at.at(name), pool);
  }
  return routes;
}
