/**
 * IP addresses as bytes, for the PROXY protocol, whose version 2 carries them
 * as 4 or 16 raw bytes (proxy-protocol/proxy-protocol.ts); and an IPv6
 * address in its one text form, so that `[::1]` and `[0:0::1]` are one host
 * wherever hosts are compared (canonicalIPv6, which ip.ts's canonicalHost uses
 * from chapter 4 on, and with it the configuration and the host table).
 * Chapter 4's file, at the top of the folder rather than in vhosts/ because
 * the core's ip.ts takes from it (see CHAPTERS in shared/lib/steps.ts).
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

/** An IPv6 address as RFC 5952 writes it, or undefined when `text` is not one. */
export function canonicalIPv6(text: string): string | undefined {
  const bytes = parseIPv6(text);
  return bytes && formatIPv6(bytes);
}
