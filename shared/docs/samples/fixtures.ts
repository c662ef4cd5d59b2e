/**
 * The fixed inputs the samples share: part 4's example configurations, read
 * and checked by part 4's own code, their backends, and a refused connect.
 *
 * What it leaves out: anything that runs. A sample builds what it shows from
 * these, in this process.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configFromText } from '../../../part4-balancing/config/load.ts';
import type { Config } from '../../../part4-balancing/config.ts';
import { Backend } from '../../../part4-balancing/pools/pool.ts';
import { ROOT } from '../../lib/programs.ts';

/** A configuration file of part 4, by its name in part4-balancing/, as `--config` would read it. */
export function exampleConfig(name = 'example.config.json'): Config {
  const file = path.join('part4-balancing', name);
  return configFromText(readFileSync(path.join(ROOT, file), 'utf8'), file);
}

/** The backends of a configuration's pool, as the proxy builds them (no probe runs). */
export function backendsOf(config: Config, pool: string): Backend[] {
  const poolConfig = config.pools[pool];
  if (!poolConfig) throw new Error(`no pool ${pool} in ${config.source}`);
  return poolConfig.backends.map((backend) => new Backend(backend, poolConfig));
}

/** An error as a refused connect raises it. */
export const REFUSED = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
