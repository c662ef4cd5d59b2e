/**
 * A configuration file's JSON, checked, into the Config the proxy runs: its
 * listeners and pools, each read through its table (config.ts,
 * pools/fields.ts), then what no table can say alone: a listener's pool must
 * exist, two listeners cannot share a port, a pool cannot list a backend twice
 * or one of our own listeners. Everything is checked before anything listens,
 * so a mistake stops the proxy (or a reload) with one line that names the file
 * and the field. Unknown keys are errors too: they are usually typos
 * ("maxFail"), and a silently ignored setting is worse than a refusal.
 *
 * What it leaves out: reading the file (load.ts), includes and environment
 * variables.
 */
import { type Config, LISTENER, type ListenerConfig, TOP_SETTINGS } from '../config.ts';
import { type Fields, list, object, Place, readObject, show } from '../fields.ts';
import { canonicalHost } from '../ip.ts';
import { BACKEND, POOL_SETTINGS, type PoolConfig } from '../pools/fields.ts';
import { checkProxyListener } from '../proxy-protocol/fields.ts'; //> 4.5
import { STATUS_PORT, useStatusPort } from '../status/fields.ts'; //> 4.6
import { checkVhostsListener } from '../vhosts/fields.ts'; //> 4.4
import { checkNoLoop, checkUniqueBackends } from './checks.ts';

/** The file's top level: its listeners and pools, and every setting. */
export const TOP = {
  listen: {
    about: 'the listening sockets: a port or address, a protocol, and how clients find their pool',
    required: true,
    check: list,
  },
  pools: {
    about: 'the pools of backends, by name',
    required: true,
    check: (at: Place, value: unknown) => object(at, value),
  },
  ...TOP_SETTINGS,
  ...STATUS_PORT, //> 4.6
} satisfies Fields;

/** A pool of the file: its backends, and every setting (pools/fields.ts). */
export const POOL = {
  backends: {
    about: 'the backends, at least one',
    required: true,
    check: (at: Place, value: unknown) => list(at, value),
  },
  ...POOL_SETTINGS,
} satisfies Fields;

/** A port the configuration asks for, and the field that asks for it. */
interface PortClaim {
  host?: string;
  port: number;
  field: string;
}

/** Checks parsed JSON and fills in the defaults. Throws ConfigError. */
export function parseConfig(json: unknown, source: string): Config {
  const top = new Place(source, '');
  try {
    return parseTop(top, json);
  } catch (err) {
    // 200,000 nested arrays: too deep for any reader, ours included. One line all the same.
    if (err instanceof RangeError) top.fail('nested too deeply');
    throw err;
  }
}

function parseTop(top: Place, json: unknown): Config {
  const { listen, pools: poolsJson, ...settings } = readObject(top, json, TOP);
  const statusField = useStatusPort(top, settings); //> 4.6
  const pools: Record<string, PoolConfig> = {};
  for (const [name, value] of Object.entries(poolsJson)) {
    pools[name] = parsePool(top.at('pools').at(name), value);
  }
  const config: Config = { ...settings, source: top.source, listeners: [], pools };
  checkSomePool(top, config);
  config.listeners = listen.map((value, i) => parseListener(top.at('listen').at(i), value, config));

  const ports: PortClaim[] = config.listeners.map((listener, i) => ({
    host: listener.host,
    port: listener.port,
    field: `listen[${i}].${listener.host === undefined ? 'port' : 'address'}`,
  }));
  if (config.statusListen) ports.push({ ...config.statusListen, field: statusField }); //> 4.6
  checkPortsDistinct(top, ports);
  checkNoLoop(top, config);
  return config;
}

/** A file with no pool would serve nothing. */
function checkSomePool(top: Place, config: Config): void {
  //> 4.7
  // Unless its pools come from Redis: fleet mode.
  if (config.routeSource !== undefined) return;
  //< 4.7
  if (Object.keys(config.pools).length === 0) top.at('pools').fail('expected at least one pool');
}

function parseListener(at: Place, value: unknown, config: Config): ListenerConfig {
  const { address, port, ...read } = readObject(at, value, LISTENER);
  if ((address === undefined) === (port === undefined)) {
    at.fail('expected either "port" (every address) or "address" ("host:port")');
  }
  const listener = { ...read, ...(address ?? { port: port as number }) };
  checkVhostsListener(at, object(at, value), listener); //> 4.4
  checkProxyListener(at, listener); //> 4.5
  checkRoute(at, listener, config);
  return listener;
}

/** A listener's clients go somewhere: to a pool that exists. */
function checkRoute(at: Place, listener: ListenerConfig, config: Config): void {
  // hasOwn, not `in`: every object "has" a constructor, and "constructor" is no pool.
  const checkPool = (where: Place, name: string) => {
    if (!Object.hasOwn(config.pools, name)) {
      where.fail(`no pool named ${show(name)} (pools: ${Object.keys(config.pools).join(', ')})`);
    }
  };
  //> 4.4
  // Or to the pools of its host table, by name.
  for (const [name, pool] of Object.entries(listener.hosts ?? {})) {
    checkPool(at.at('hosts').at(name), pool);
  }
  //< 4.4
  if (listener.pool !== undefined) {
    checkPool(at.at('pool'), listener.pool);
    return;
  }
  if (listener.hosts !== undefined) return; //> 4.4
  //> 4.8
  // Or where its router sends them (a client it places nowhere finds no route).
  if (listener.router !== undefined) return;
  //< 4.8
  //> 4.7
  // In fleet mode an http or tls listener with neither takes its routes from Redis.
  if (config.routeSource !== undefined && listener.protocol !== 'tcp') return;
  //< 4.7
  if (listener.protocol !== 'tcp') at.at('pool').fail('missing (or give hosts)'); //> 4.4
  at.at('pool').fail('missing');
}

function parsePool(at: Place, value: unknown): PoolConfig {
  const name = at.key;
  // Starting with a letter or digit also keeps out "__proto__", which no object can hold as a key.
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) {
    at.fail(
      'expected a name of letters, digits, "_", "." and "-", starting with a letter or digit',
    );
  }
  const { backends, ...settings } = readObject(at, value, POOL);
  const read = backends.map((item, i) => {
    const { address, weight } = readObject(at.at('backends').at(i), item, BACKEND);
    return { ...address, weight };
  });
  checkUniqueBackends(read, (i) => at.at('backends').at(i).at('address'));
  return { ...settings, name, backends: read };
}

/**
 * Two listeners (or a listener and the status endpoint) cannot share a port; 0
 * means "any free one". Listeners on different addresses may share one, but
 * not with a listener on every address.
 */
function checkPortsDistinct(top: Place, ports: PortClaim[]): void {
  const seen: PortClaim[] = [];
  for (const claim of ports) {
    if (claim.port === 0) continue;
    const owner = seen.find(
      (other) =>
        other.port === claim.port &&
        (other.host === undefined ||
          claim.host === undefined ||
          canonicalHost(other.host) === canonicalHost(claim.host)),
    );
    if (owner) top.at(claim.field).fail(`port ${claim.port} is already used by ${owner.field}`);
    seen.push(claim);
  }
}
