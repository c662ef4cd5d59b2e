/**
 * The host table: which pool serves a name, the name being the Host header of
 * the first HTTP request or the SNI of a TLS ClientHello.
 *
 *   { "www.example.org": "www", "*.example.org": "apps", "*.dev.example.org": "dev" }
 *   and the default pool "other"
 *
 *   www.example.org      -> www     the exact name first
 *   api.example.org      -> apps    then the longest wildcard that matches...
 *   a.b.example.org      -> apps    ...at any depth, as nginx's "*.example.org" does
 *   x.dev.example.org    -> dev     (the longer *.dev.example.org beats *.example.org)
 *   example.org          -> other   "*.example.org" does not match example.org itself
 *   no name at all       -> other   (HTTP/1.0 without Host, a ClientHello without SNI)
 *
 * We chose nginx's rule for "*.": a wildcard means "a name under this one",
 * never the name itself, so serving both takes two entries and says so.
 *
 * Names are compared in one canonical form: lower case, without the trailing
 * dot of a fully qualified name, IPv6 addresses as RFC 5952 writes them. A Host
 * header also loses its port (`Example.ORG.:8080` -> `example.org`,
 * `[0:0::1]:8080` -> `::1`). Keys of the table must already be in that form
 * (hostKeyProblem says so otherwise), so two keys can never mean the same name.
 * An IP address matches only itself: it has no names under it, so "*." and an
 * address is no key at all.
 *
 * These are the rules of every name in part 4, not only of this table: the
 * fleet's routes from Redis are matched by matchHost and keyed by
 * canonicalKey. The canonical form itself, canonicalHost, is in ip.ts, since
 * the configuration compares backend and listen hosts by it from chapter 1 on;
 * this chapter gives it the one form of an IPv6 address (ip-bytes.ts).
 *
 * What it leaves out: internationalised names other than in their ASCII form
 * (xn--...), regular expressions, and wildcards anywhere but in front.
 */
import { canonicalHost, splitHostPort } from '../ip.ts';
import { parseIPv4 } from '../ip-bytes.ts';

export class HostTable {
  /** Keys as written ("www.example.org", "*.example.org"): canonical already. */
  private readonly pools = new Map<string, string>();

  /** Throws a RangeError on a key hostKeyProblem would refuse: check keys first. */
  constructor(
    routes: Readonly<Record<string, string>>,
    readonly defaultPool?: string,
  ) {
    for (const [key, pool] of Object.entries(routes)) {
      const problem = hostKeyProblem(key);
      if (problem !== undefined) throw new RangeError(`host ${JSON.stringify(key)}: ${problem}`);
      this.pools.set(key, pool);
    }
  }

  /** The pool for a Host (without its port: see hostFromHeader) or an SNI name. */
  route(name: string | undefined): string | undefined {
    return matchHost(name, (key) => this.pools.get(key)) ?? this.defaultPool;
  }
}

/**
 * The rule of every table keyed by names, this one and the fleet's routes
 * from Redis: `get` is asked for the name itself, then for each wildcard
 * above it, longest first; the first answer wins. undefined when nothing
 * matched, or when `name` is neither a host name nor an IP address.
 */
export function matchHost<T>(
  name: string | undefined,
  get: (key: string) => T | undefined,
): T | undefined {
  const key = name === undefined ? undefined : canonicalHost(name);
  if (key === undefined) return undefined;
  const exact = get(key);
  if (exact !== undefined) return exact;
  // An address has no parent names for a wildcard to match.
  if (isIPAddress(key)) return undefined;
  // a.b.example.org tries *.b.example.org, then *.example.org, then *.org:
  // the first match is the longest.
  for (let dot = key.indexOf('.'); dot >= 0; dot = key.indexOf('.', dot + 1)) {
    const found = get(`*${key.slice(dot)}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The host of a Host header value, canonical and without its port; undefined
 * when there is no host name or address in it (an empty Host, say).
 */
export function hostFromHeader(value: string): string | undefined {
  const host = splitHostPort(value)?.host;
  return host === undefined ? undefined : canonicalHost(host);
}

/**
 * A key of a table in canonical form: a host name or an IP address as
 * canonicalHost writes it, or "*." and a host name. undefined when `key` is
 * none of those (an address after "*." included: it has no names under it).
 */
export function canonicalKey(key: string): string | undefined {
  if (!key.startsWith('*.')) return canonicalHost(key);
  const suffix = canonicalHost(key.slice(2));
  return suffix === undefined || isIPAddress(suffix) ? undefined : `*.${suffix}`;
}

/** Is a canonical host an IP address (rather than a name)? */
function isIPAddress(host: string): boolean {
  return host.includes(':') || parseIPv4(host) !== undefined;
}

/**
 * What is wrong with a key of the host table, for the config loader to report;
 * undefined when it is fine. A key is a host name, "*." and a host name, or an
 * IP address, written as canonicalKey would write it.
 */
export function hostKeyProblem(key: string): string | undefined {
  if (key === '') return 'an empty host name';
  const wildcard = key.startsWith('*.');
  const name = wildcard ? key.slice(2) : key;
  if (name.includes('*')) return 'a "*" may only start a name, as in "*.example.org"';
  if (key.startsWith('[')) return 'write an IPv6 address without brackets';
  if (/^[^:]+:[0-9]*$/.test(name)) return 'a name without a port (a route covers every port)';
  if (canonicalHost(name) === undefined) {
    return 'expected a host name (letters, digits, "-" and "_" in labels of 1 to 63, dots between) or an IP address';
  }
  const canonical = canonicalKey(key);
  if (canonical === undefined) return 'a wildcard needs a host name after "*."';
  if (canonical !== key) return `write it as ${JSON.stringify(canonical)}`;
  return undefined;
}
