/**
 * npm run build: part 4 compiled ahead of time into plain JavaScript, which
 * `node` runs without tsx:
 *
 *   npm run build                      into build/part4-balancing/ (ignored by git)
 *   npm run build -- --out DIR         into DIR/part4-balancing/
 *   node build/part4-balancing/proxy.js 8000 127.0.0.1:8881   the command line of npm run part4
 *
 * Read and change part 4 with tsx (`npm run part4`: no build step between an
 * edit and a run); run it for real from the build. tsx compiles each file as
 * it is loaded (with an esbuild process beside the proxy when its cache does
 * not have the file yet) and stays in the process for its whole life, in
 * every worker of `--workers N` too: `npm run bench:start` measures what
 * that costs at start and at rest.
 *
 * What the folder holds, all of it needed at run time:
 *
 *   proxy.js        proxy.ts and everything it imports, prom-client included
 *   chunk-*.js      what proxy.ts imports only when asked (fleet mode, with the Redis
 *                   client), and the code that shares with proxy.js (esbuild's splitting)
 *   thread.js       router/thread.js as it is: router.ts starts it as a thread, by its
 *                   URL beside the code that starts it
 *   status-view.js  status/status-view.js as it is: bundled into proxy.js, and also read
 *                   as text beside it, the script status-page.ts sends to browsers
 *   package.json    {"type": "module"}: node reads the files as ES modules wherever the
 *                   folder is copied
 *
 * Dependencies (prom-client, redis) are bundled, not left external: the
 * folder is the whole proxy, to copy to a machine that has node and nothing
 * else, with no node_modules to install and keep in step with the code.
 * Splitting keeps the Redis client in a chunk of its own, loaded in fleet
 * mode only, as proxy.ts's dynamic import does under tsx. Both are CommonJS,
 * and their require() of Node's modules needs a real `require` in an ES
 * module: the banner makes one.
 *
 * One thing stays outside: tsx. A router in TypeScript needs it in the
 * router's thread; thread.js loads it when it is installed where the folder
 * is (in this repository it is), and refuses with one line otherwise.
 *
 * What it leaves out: minifying (the code stays readable, and a stack trace
 * names its functions; `node --enable-source-maps` maps it to the .ts files
 * with the .map files beside it), and parts 1 to 3, which are for reading.
 */
import { cp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { exitWith, isMain, parseOrExit } from '../lib/cli.ts';
import { ROOT } from '../lib/programs.ts';

const SCRIPT = 'build.ts';
const USAGE = 'usage: build.ts [--out DIR]';

/** Where `npm run build` writes, unless --out says otherwise. */
const BUILD_DIR = path.join(ROOT, 'build');
export const PART4 = 'part4-balancing';

/** Files node loads from disk at run time, by a URL beside the code: copied as they are. */
const PART4_COPIES = ['router/thread.js', 'status/status-view.js'];

/** A `require` for the bundled CommonJS code: an ES module has none. */
const BANNER = `import { createRequire as createRequireForBundle } from 'node:module';
const require = createRequireForBundle(import.meta.url);`;

export interface Built {
  /** The folder, and the program in it to start with node. */
  dir: string;
  entry: string;
  /** Every file written, relative to `dir`. */
  files: string[];
}

/**
 * Compiles `entry` (relative to the root) and what it imports into `dir`
 * (emptied first), with `copies` (relative to the entry's folder) beside it.
 */
export async function buildProgram(entry: string, dir: string, copies: string[] = []) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const result = await build({
    entryPoints: [path.join(ROOT, entry)],
    outdir: dir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunk-[hash]',
    sourcemap: 'linked',
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'silent',
  });
  for (const copy of copies) {
    await cp(path.join(ROOT, path.dirname(entry), copy), path.join(dir, path.basename(copy)));
  }
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  const written = Object.keys(result.metafile.outputs).map((file) =>
    path.relative(dir, path.resolve(file)),
  );
  const files = [...written, ...copies.map((copy) => path.basename(copy)), 'package.json'];
  const name = `${path.basename(entry, path.extname(entry))}.js`;
  return { dir, entry: path.join(dir, name), files: files.sort() } satisfies Built;
}

/** Part 4, into `root`/part4-balancing/. */
export const buildPart4 = (root = BUILD_DIR) =>
  buildProgram(`${PART4}/proxy.ts`, path.join(root, PART4), PART4_COPIES);

/** The size of the JavaScript (the source maps left out), in MB, for the report. */
async function megabytes(built: Built): Promise<string> {
  let bytes = 0;
  for (const file of built.files.filter((each) => each.endsWith('.js'))) {
    bytes += (await stat(path.join(built.dir, file))).size;
  }
  return (bytes / 1e6).toFixed(1);
}

async function main(): Promise<void> {
  const { out } = parseOrExit(SCRIPT, USAGE, (argv) => {
    const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } } });
    if (values.out === '') throw new Error('--out needs a folder');
    return values;
  });
  // A relative --out is read from where `npm run` was typed, not from the root where it runs.
  const root = out === undefined ? BUILD_DIR : path.resolve(process.env.INIT_CWD ?? '.', out);
  try {
    const built = await buildPart4(root);
    const shown = (file: string) => path.relative(process.env.INIT_CWD ?? process.cwd(), file);
    const code = built.files.filter((file) => !file.endsWith('.map'));
    console.log(
      `Built ${shown(built.dir)}/ (${await megabytes(built)} MB of JavaScript): ${code.join(', ')}.`,
    );
    console.log(`Run it: node ${shown(built.entry)} [listen-port] host:port [host:port ...]`);
  } catch (err) {
    exitWith(SCRIPT, err, 1);
  }
}

if (isMain(import.meta.url)) await main();
