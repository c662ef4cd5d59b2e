/**
 * Two mistakes no single field can show, which a configuration file is checked
 * for (parse.ts) and the quick start's command line too: a pool that lists a
 * backend twice, and a backend that is one of our own listeners.
 *
 * What it leaves out: a name that resolves to this machine: names are not
 * looked up while the configuration is read.
 */
import { networkInterfaces } from 'node:os';
import type { Config } from '../config.ts';
import type { BackendConfig } from '../pools/fields.ts';
import { Place, show } from '../fields.ts';
import { canonicalHost } from '../ip.ts';

/**
 * The quick start's checks, the file's own (cli.ts calls them): its backends
 * as the command line numbers them ("backend 2"), then the loop.
 */
export function checkQuickStart(config: Config): void {
  const top = new Place(config.source, '');
  checkUniqueBackends(config.pools.default.backends, (i) => top.at(`backend ${i + 1}`));
  checkNoLoop(top, config);
}

/**
 * Refuses a backend the pool already has, however it is spelled: [::1] and
 * [0:0:0:0:0:0:0:1], Example.COM and example.com. `at(i)` is where backend i
 * is written.
 */
export function checkUniqueBackends(backends: BackendConfig[], at: (i: number) => Place): void {
  const keys = backends.map((backend) => `${canonicalHost(backend.host)}:${backend.port}`);
  for (const [i, backend] of backends.entries()) {
    const twin = keys.indexOf(keys[i]);
    if (twin < i) {
      const same = backends[twin].id === backend.id ? '' : ` (${backends[twin].id})`;
      at(i).fail(`${show(backend.id)} is already backend ${twin + 1} of this pool${same}`);
    }
  }
}

/**
 * A backend that is one of our own listeners would send every client round
 * the loop until the descriptors run out. Refuse a backend on a port we listen
 * on, at an address of this machine.
 */
export function checkNoLoop(top: Place, config: Config): void {
  for (const [name, pool] of Object.entries(config.pools)) {
    for (const [i, backend] of pool.backends.entries()) {
      const host = canonicalHost(backend.host);
      const listener = config.listeners.find(
        (l) =>
          l.port === backend.port &&
          (isOwnAddress(host) || (l.host !== undefined && canonicalHost(l.host) === host)),
      );
      if (listener === undefined) continue;
      const at =
        config.source === 'command line'
          ? top.at(`backend ${i + 1}`)
          : top.at('pools').at(name).at('backends').at(i).at('address');
      at.fail(`${show(backend.id)} is this proxy's own listener: clients would loop`);
    }
  }
}

/** Is `host` (canonical) this machine: loopback, "any", or an interface's address? */
function isOwnAddress(host: string | undefined): boolean {
  if (host === undefined) return false;
  if (['localhost', '0.0.0.0', '::', '::1'].includes(host) || /^(::ffff:)?127\./.test(host)) {
    return true;
  }
  return Object.values(networkInterfaces()).some((entries) =>
    (entries ?? []).some((entry) => canonicalHost(entry.address) === host),
  );
}
