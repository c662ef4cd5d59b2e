/**
 * The blog series' part 0, "site X goes to backend Y": a table of sites and
 * their backends, kept in a JSON file and read again whenever it changes, so
 * that moving a site is an edit, without a reload:
 *
 *   { "www.example.org": "127.0.0.1:8881", "blog.example.org": "127.0.0.1:8882" }
 *
 * The file is sites.json beside this one, or the one the environment
 * variable SITES_FILE names. A site in the table goes to its backend (one
 * connect, no retry: a 502 if it is down); any other name goes where the
 * listener sends it.
 *
 * Reading the file blocks, but only this router's thread, for a moment: the
 * proxy's thread relays on. A file that cannot be read or is not such a table
 * keeps the table there was, with one line in the log.
 */
import { readFileSync, watch } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouteDecision, RouteRequest } from '../types.ts';

const FILE = process.env.SITES_FILE ?? fileURLToPath(new URL('./sites.json', import.meta.url));

/** The table, by site name in lower case (as a request's name comes). */
let sites = readSites();

// The folder, not the file: an editor saves by writing a new file in its place.
watch(path.dirname(FILE), (_event, changed) => {
  if (changed !== path.basename(FILE)) return;
  try {
    sites = readSites();
  } catch (err) {
    console.log(`${FILE}: ${(err as Error).message}; the last table stays.`);
  }
}).unref();

function readSites(): Map<string, string> {
  const json: unknown = JSON.parse(readFileSync(FILE, 'utf8'));
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('expected an object of "site": "host:port"');
  }
  return new Map(Object.entries(json).map(([site, backend]) => [site.toLowerCase(), `${backend}`]));
}

export default function bySite(request: RouteRequest): RouteDecision {
  const backend = request.name === undefined ? undefined : sites.get(request.name);
  return backend === undefined ? undefined : { backend };
}
