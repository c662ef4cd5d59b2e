/**
 * The fields chapter 8 gives a listener: the router module that decides for
 * each of its clients, and how long it may take. In a file, the module's
 * path is read from the file's folder, as the other files a configuration
 * names would be; on the command line (`--router FILE`), from the current one.
 *
 * What it leaves out: loading the module (router.ts does, before the
 * configuration is used: one that fails to load is a mistake in it).
 */
import path from 'node:path';
import { type Fields, int, MAX_MS, type Place, show, text } from '../fields.ts';

export const ROUTER_LISTENER = {
  router: {
    about: "a module (.ts, .js or .mjs) whose default export picks each client's pool",
    check: routerFile,
  },
  routerTimeoutMs: {
    about: 'a router that has not decided within this long: the client gets a 500 or a close',
    default: 1000,
    check: int(1, MAX_MS),
  },
} satisfies Fields;

/** The router's path, absolute: from the configuration file's folder. */
function routerFile(at: Place, value: unknown): string {
  const file = text(at, value);
  if (!/\.(ts|js|mjs)$/.test(file)) at.fail(`expected a .ts, .js or .mjs file, got ${show(file)}`);
  const from = at.source === 'command line' ? '.' : path.dirname(at.source);
  return path.resolve(from, file);
}
