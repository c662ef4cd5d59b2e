/**
 * "host:port", written (an IPv6 address takes brackets, `[::1]:8080`) and
 * read, and the one form hosts are compared in (`Example.COM.` is
 * `example.com`). Every address in part 4 (a backend, a listen address, a
 * Redis member) is read by readHostPort, and every host compared in
 * canonicalHost's form: the configuration needs both from chapter 1 on, the
 * host table of chapter 4 (vhosts/hosts.ts) builds on them.
 *
 * What it leaves out: zone ids (`fe80::1%eth0`), which mean nothing to another host.
 */
import net from 'node:net';
import { canonicalIPv6 } from './ip-bytes.ts'; //> 4.4

/**
 * "host:port", an IPv6 address in brackets ("[::1]:8080") so that its colons
 * are not taken for the port's; the host alone (bracketed the same) without a port.
 */
export function joinHostPort(host: string, port?: number): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? shown : `${shown}:${port}`;
}

/**
 * "host", "host:port", "[v6]" or "[v6]:port" into the host, as written but
 * without its brackets, and the port's digits (undefined without a colon; ""
 * after a bare colon, which RFC 3986 allows). Brackets hold an IPv6 address
 * and nothing else, as in a URL. undefined when `text` is none of those; what
 * the host and the port may be beyond that is the caller's to check.
 */
export function splitHostPort(text: string): { host: string; port?: string } | undefined {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::([0-9]*))?$/.exec(text);
  if (!match) return undefined;
  const [, address, name, port] = match;
  if (address !== undefined && !address.includes(':')) return undefined;
  return { host: address ?? name, port };
}

/**
 * "host", "host:port", "[v6]" or "[v6]:port" read as every address in part 4
 * is (a backend, a listen address, a Redis member): the host as written and
 * in the form it is compared in, and the port's number when there is one.
 * undefined when the host is neither a host name nor an IP address, or the
 * port is not one to five digits; its range is the caller's to check.
 */
export function readHostPort(
  text: string,
): { host: string; canonical: string; port?: number } | undefined {
  const parts = splitHostPort(text);
  if (!parts || (parts.port !== undefined && !/^\d{1,5}$/.test(parts.port))) return undefined;
  const canonical = canonicalHost(parts.host);
  if (canonical === undefined) return undefined;
  const port = parts.port === undefined ? undefined : Number(parts.port);
  return { host: parts.host, canonical, port };
}

/**
 * The form names are compared in: lower case, no trailing dot, an IPv6 address
 * as below. undefined when `name` is neither a host name nor an IP address.
 */
export function canonicalHost(name: string): string | undefined {
  if (name.includes(':')) {
    let address = net.isIPv6(name) && !name.includes('%') ? name.toLowerCase() : undefined;
    //> 4.4
    // One form for every way of writing an address, RFC 5952's: [0:0::1] is [::1].
    if (address !== undefined) address = canonicalIPv6(address);
    //< 4.4
    return address;
  }
  const bare = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  return isHostName(bare) ? bare : undefined;
}

/**
 * Letters, digits, "-" and "_" in dot-separated labels of 1 to 63, at most 253
 * in all, no trailing dot. (The underscore is not in the DNS host name rules,
 * but it is in real names, and refusing them would help nobody.)
 */
export function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => /^[A-Za-z0-9_-]{1,63}$/.test(label));
}

/**
 * The client's end of its connection, as its socket shows it (nothing, once
 * the socket has closed).
 //> 4.5
 * And ours: a PROXY header passes both on to a backend, and a listener behind
 * another balancer takes both from one.
 //< 4.5
 */
export interface ConnectionAddresses {
  /** The client: socket.remoteAddress and remotePort. */
  sourceAddress?: string;
  sourcePort?: number;
  //> 4.5
  /** Where it connected to, us: socket.localAddress and localPort. */
  destinationAddress?: string;
  destinationPort?: number;
  //< 4.5
}
