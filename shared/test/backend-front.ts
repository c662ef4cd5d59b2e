/**
 * What stands in front of the mock backend's HTTP parser, when asked for:
 *
 *   --proxy-protocol   every connection must start with a PROXY protocol header
 *                      (v1 or v2); the backend says in its answer which client
 *                      address the header told it. Parsed with proxy-protocol-js,
 *                      an implementation independent of the proxy's own, so a
 *                      test through this backend checks the proxy against it.
 *   --tls              TLS, with a self-signed certificate made at start by
 *                      openssl; the answer says which server name (SNI) the
 *                      client asked for. The proxy never terminates TLS: this
 *                      backend does.
 *
 * What it leaves out: verifying a client certificate, and the PROXY v2 TLVs
 * other than AUTHORITY (the name the proxy routed by).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import {
  type IPv4ProxyAddress,
  type IPv6ProxyAddress,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';

/** What a connection was told before HTTP began. */
export interface Told {
  /** "address:port (PROXY v1)", from the header. */
  client?: string;
  /** The PROXY v2 AUTHORITY: the name the proxy routed by. */
  authority?: string;
  /** The SNI the TLS client sent. */
  serverName?: string;
}

const V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const V1_MAX = 107;

/**
 * Reads a PROXY header from the start of `socket`; resolves with what it says
 * and puts the bytes after it back, or rejects (the caller closes the socket).
 */
export function readProxyHeader(socket: net.Socket): Promise<Told> {
  return new Promise((resolve, reject) => {
    let held = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      held = Buffer.concat([held, chunk]);
      const length = headerLength(held);
      if (length === 'more') return;
      socket.off('data', onData);
      socket.pause();
      if (length === 'bad') return reject(new Error('no PROXY header'));
      try {
        const told = parseHeader(held.subarray(0, length));
        socket.unshift(held.subarray(length));
        resolve(told);
      } catch (err) {
        reject(err);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** How long the header at the start of `bytes` is, or whether more bytes are needed. */
function headerLength(bytes: Buffer): number | 'more' | 'bad' {
  if (bytes.length >= 16 && bytes.subarray(0, 12).equals(V2_SIGNATURE)) {
    const length = 16 + bytes.readUInt16BE(14);
    return bytes.length >= length ? length : 'more';
  }
  if (V2_SIGNATURE.subarray(0, bytes.length).equals(bytes.subarray(0, 12))) return 'more';
  const end = bytes.indexOf('\r\n');
  if (bytes.subarray(0, 6).toString('latin1') !== 'PROXY '.slice(0, Math.min(6, bytes.length))) {
    return 'bad';
  }
  if (end >= 0) return end + 2;
  return bytes.length > V1_MAX ? 'bad' : 'more';
}

export function parseHeader(header: Buffer): Told {
  if (header[0] === 0x50) {
    // A health check's "no client here"; proxy-protocol-js does not read this form.
    if (header.toString('latin1') === 'PROXY UNKNOWN\r\n')
      return { client: 'none (PROXY v1 UNKNOWN)' };
    const v1 = V1ProxyProtocol.parse(header.toString('latin1'));
    return { client: `${v1.source.ipAddress}:${v1.source.port} (PROXY v1)` };
  }
  const v2 = V2ProxyProtocol.parse(header);
  const told: Told = {};
  const address = v2.proxyAddress as IPv4ProxyAddress | IPv6ProxyAddress;
  if ('sourcePort' in address) {
    const bytes = address.sourceAddress.address;
    const text =
      bytes.length === 4
        ? bytes.join('.')
        : Array.from({ length: 8 }, (_, i) =>
            ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16),
          ).join(':');
    told.client = `${text}:${address.sourcePort} (PROXY v2)`;
  } else {
    told.client = 'none (PROXY v2 LOCAL)';
  }
  // TLVs follow the addresses: type, 2-byte length, value. 0x02 is AUTHORITY.
  const data = Buffer.from(v2.data ?? []);
  for (let at = 0; at + 3 <= data.length; at += 3 + data.readUInt16BE(at + 1)) {
    if (data[at] === 0x02)
      told.authority = data.toString('utf8', at + 3, at + 3 + data.readUInt16BE(at + 1));
  }
  return told;
}

/**
 * A self-signed certificate for localhost and *.example.org, made with openssl
 * in a temporary folder that is removed at once.
 */
export function selfSignedContext(): tls.SecureContextOptions {
  const dir = mkdtempSync(path.join(tmpdir(), 'backend-tls-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,DNS:*.example.org,DNS:example.org,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } catch (err) {
    throw new Error(
      `--tls needs openssl to make a certificate: ${(err as Error).message.split('\n')[0]}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Wraps an accepted socket in TLS as a server. The HTTP server reads the
 * decrypted bytes from it; by the first request the handshake is done, and
 * `servername` holds the SNI.
 */
export function wrapTls(socket: net.Socket, context: tls.SecureContext): tls.TLSSocket {
  return new tls.TLSSocket(socket, { isServer: true, secureContext: context });
}
