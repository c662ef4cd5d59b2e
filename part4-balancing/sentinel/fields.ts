/**
 * The fields of chapter 9: routeSource.sentinel and routeSource.master, a
 * Sentinel set to ask where the primary is instead of one Redis URL. And the
 * reading of a HOST:PORT list, which the command line (--redis-sentinel) and
 * the configuration share.
 *
 * What it leaves out: passwords and TLS for the Sentinels.
 */
import { type Place, show, text } from '../fields.ts';

export interface SentinelNode {
  host: string;
  port: number;
}

/** Both required once either is given: routeSource reads them only with `sentinel` (fleet/fields.ts). */
export const SENTINEL_SOURCE = {
  sentinel: {
    required: true as const,
    about: 'HOST:PORT[,HOST:PORT...]: a Sentinel set that names the primary (instead of redis)',
    check: (at: Place, value: unknown) => {
      const list = text(at, value);
      if (parseSentinels(list) === undefined)
        at.fail(`expected HOST:PORT[,HOST:PORT...], got ${show(list)}`);
      return list;
    },
  },
  master: {
    required: true as const,
    about: 'the name the Sentinel set knows the primary by (with sentinel)',
    check: (at: Place, value: unknown) => {
      const name = text(at, value);
      if (!/^[\w.-]{1,64}$/.test(name)) at.fail(`expected a master name, got ${show(name)}`);
      return name;
    },
  },
};

/** "a:1,b:2" as nodes; undefined when any part is not HOST:PORT with a port from 1 to 65535. */
export function parseSentinels(list: string): SentinelNode[] | undefined {
  const nodes: SentinelNode[] = [];
  for (const part of list.split(',')) {
    const match = /^([\w.-]+|\[[\da-fA-F:.]+\]):(\d{1,5})$/.exec(part.trim());
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) return undefined;
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}
