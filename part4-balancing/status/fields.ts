/**
 * Where the status endpoint of chapter 6 listens: statusListen ("host:port",
 * or a port alone on 127.0.0.1), also `--status-port`; or, in a file, its
 * older spelling statusPort, a port alone. Neither: no status endpoint.
 */
import { type Address, type Fields, listenAddress, type Place, port } from '../fields.ts';

export const STATUS_TOP = {
  statusListen: {
    about: 'where the status endpoint listens: "host:port", or a port on 127.0.0.1; absent: none',
    check: (at: Place, value: unknown) => listenAddress(at, value, '127.0.0.1'),
  },
} satisfies Fields;

/** A field of the file only: the command line's --status-port is statusListen. */
export const STATUS_PORT = {
  statusPort: {
    about: 'the older spelling of statusListen with a port alone (on 127.0.0.1)',
    check: (at: Place, value: unknown) => ({ host: '127.0.0.1', port: port(0)(at, value) }),
  },
} satisfies Fields;

/**
 * A file's statusPort becomes statusListen, the one field the proxy reads;
 * both at once is a mistake. Returns the field the file used, for the errors
 * that name it later.
 */
export function useStatusPort(
  top: Place,
  settings: { statusListen?: Address; statusPort?: Address },
): string {
  if (settings.statusPort === undefined) return 'statusListen';
  if (settings.statusListen !== undefined) {
    top.at('statusPort').fail('give statusListen or statusPort, not both');
  }
  settings.statusListen = settings.statusPort;
  delete settings.statusPort;
  return 'statusPort';
}
