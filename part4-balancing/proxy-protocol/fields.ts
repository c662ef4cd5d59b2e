/**
 * The fields chapter 5 gives a listener (a PROXY header required from a
 * balancer in front, and the addresses it is taken from) and a pool (a PROXY
 * header sent to its backends), and what the listener table cannot say
 * alone: acceptProxyProtocol without the addresses to accept headers from.
 */
import { isIP } from 'node:net';
import { boolean, type Fields, list, oneOf, type Place, show, type Values } from '../fields.ts';

export const PROXY_LISTENER = {
  acceptProxyProtocol: {
    about: 'a PROXY protocol header (v1 or v2) is required first, from trustedProxies only',
    default: false,
    check: boolean,
  },
  trustedProxies: {
    about: 'with acceptProxyProtocol: the addresses ("10.0.0.0/8", "::1") allowed to send one',
    check: (at: Place, value: unknown) => list(at, value).map((item, i) => cidr(at.at(i), item)),
  },
} satisfies Fields;

export const PROXY_POOL = {
  proxyProtocol: {
    about: "v1 or v2: send the client's address to each backend first (PROXY protocol); absent: no",
    check: oneOf(['v1', 'v2'] as const),
  },
} satisfies Fields;

/** A PROXY header is taken only from the addresses named: acceptProxyProtocol needs trustedProxies. */
export function checkProxyListener(at: Place, listener: Values<typeof PROXY_LISTENER>): void {
  if (listener.acceptProxyProtocol && listener.trustedProxies === undefined) {
    at.at('trustedProxies').fail('missing (acceptProxyProtocol takes headers from these only)');
  }
}

/** "10.0.0.0/8", "::1/128", or an address alone (all of its bits). */
function cidr(at: Place, value: unknown): string {
  const match = typeof value === 'string' ? /^([^/]+)(?:\/(\d{1,3}))?$/.exec(value) : null;
  const family = match ? isIP(match[1]) : 0;
  const bits = match?.[2] === undefined ? (family === 6 ? 128 : 32) : Number(match[2]);
  if (!match || family === 0 || bits > (family === 6 ? 128 : 32)) {
    at.fail(`expected an address or "address/bits", got ${show(value)}`);
  }
  return `${match[1]}/${bits}`;
}
