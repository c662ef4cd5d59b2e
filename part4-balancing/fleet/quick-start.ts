/**
 * Fleet mode's quick start, in the Go proxy's shape: `proxy.ts --redis URL
 * --http PORT --https PORT`, an http and a tls listener (either may be left
 * out) routed from Redis, every other setting at its default.
 */
import { parseConfig } from '../config/parse.ts';
import type { Config } from '../config.ts';
import { Place } from '../fields.ts';

export function fleetConfig(redis: string, ports: { http?: number; https?: number }): Config {
  const listen = [
    ...(ports.http === undefined ? [] : [{ port: ports.http, protocol: 'http' }]),
    ...(ports.https === undefined ? [] : [{ port: ports.https, protocol: 'tls' }]),
  ];
  if (listen.length === 0)
    new Place('command line', '--redis').fail('needs --http PORT or --https PORT');
  return parseConfig({ listen, pools: {}, routeSource: { redis } }, 'command line');
}
