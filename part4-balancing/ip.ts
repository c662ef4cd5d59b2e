/**
 * IP addresses as bytes and as text, for the PROXY protocol (whose version 2
 * carries addresses as 4 or 16 raw bytes) and for comparing hosts (`[::1]` and
 * `[0:0::1]` are one host); and "host:port", written (an IPv6 address takes
 * brackets, `[::1]:8080`) and read. Every address in part 4 (a backend, a listen
 * address, a Redis member) is read by readHostPort, and every host compared in
 * canonicalHost's form: the configuration needs both from chapter 1 on, the
 * host table of chapter 4 (vhosts/hosts.ts) builds on them.
 *
 * Node can tell whether a string is an address (net.isIP) but has no public
 * inet_pton/inet_ntop, so here they are, strict on the way in: dotted decimal
 * without leading zeros ("010.1.1.1" could be octal to someone), hex groups
 * with at most one "::", an optional dotted IPv4 tail, nothing else. Text out
 * is the canonical form of RFC 5952: lower case, no leading zeros, the longest
 * run of two or more zero groups as "::", and IPv4-mapped addresses as
 * `::ffff:1.2.3.4`.
 *
 * What it leaves out: zone ids (`fe80::1%eth0` means nothing to another host),
 * and the short IPv4 forms inet_aton accepts ("127.1").
 */

/** 4 bytes, or undefined when `text` is not an IPv4 address in dotted decimal. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

/** 16 bytes, or undefined when `text` is not an IPv6 address. */
export function parseIPv6(text: string): Uint8Array | undefined {
  // A dotted IPv4 tail stands for the last two groups.
  let tail: Uint8Array | undefined;
  let head = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail = parseIPv4(text.slice(lastColon + 1));
    if (!tail) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string) => (half === '' ? [] : half.split(':'));
  const before = groupsOf(halves[0]);
  const after = halves.length === 2 ? groupsOf(halves[1]) : [];
  const missing = 8 - before.length - after.length;
  // With "::" it stands for at least one group; without it there must be eight.
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...before, ...Array<string>(missing).fill('0'), ...after];
  const bytes = new Uint8Array(16);
  for (const [i, group] of groups.entries()) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(group)) return undefined;
    const value = Number.parseInt(group, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  }
  if (tail) bytes.set(tail, 12);
  return bytes;
}

export function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

/** RFC 5952 text of 16 bytes. */
export function formatIPv6(bytes: Uint8Array): string {
  const mapped = isIPv4Mapped(bytes);
  const groupCount = mapped ? 6 : 8;
  const groups: number[] = [];
  for (let i = 0; i < groupCount; i++) groups.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);

  // The longest run of zero groups (the first of equals), if it is two or more.
  let runStart = -1;
  let runLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > runLength) {
      runStart = i;
      runLength = j - i;
    }
    i = j;
  }

  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(':');
  let text: string;
  if (runLength >= 2) {
    text = `${hex(groups.slice(0, runStart))}::${hex(groups.slice(runStart + runLength))}`;
  } else {
    text = hex(groups);
  }
  // A mapped address is "::ffff" (the six groups above) and then the IPv4 address.
  return mapped ? `${text}:${formatIPv4(bytes.subarray(12))}` : text;
}

/** ::ffff:a.b.c.d, the way a dual-stack socket shows an IPv4 peer. */
export function isIPv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

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
 * as RFC 5952 writes it. undefined when `name` is neither a host name nor an
 * IP address.
 */
export function canonicalHost(name: string): string | undefined {
  if (name.includes(':')) {
    const bytes = parseIPv6(name);
    return bytes ? formatIPv6(bytes) : undefined;
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

/** The two ends of a client's connection, as a PROXY header carries them (vhosts/proxy-protocol.ts). */
export interface ConnectionAddresses {
  /** The client: socket.remoteAddress and remotePort. */
  sourceAddress?: string;
  sourcePort?: number;
  /** Where it connected to, us: socket.localAddress and localPort. */
  destinationAddress?: string;
  destinationPort?: number;
}
