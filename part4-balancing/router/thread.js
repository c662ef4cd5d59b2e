// @ts-check
/**
 * The router's own thread: it loads the router module, then answers the
 * proxy's questions with its default export. router.ts starts one per
 * listener that has a router, and posts it one message per client:
 *
 *   proxy's thread                          this thread
 *   { id, request } ─────────────────────▶  route(request), awaited if it is a promise
 *                   ◀─────────────────────  { id, decision }, or { id, why } if it threw
 *
 * It is plain JavaScript, not TypeScript, because Node starts it as it is: a
 * thread does not inherit the loader that runs the proxy's .ts files (tsx),
 * so this file registers it for a router written in TypeScript, and only then
 * (a .js or .mjs router does without it, and without the memory it takes).
 * Part 4 built ahead of time (`npm run build`) has this file beside its
 * proxy.js, as it is, and a TypeScript router only where tsx is installed.
 *
 * Errors leave here as a line of text and a place: `TypeError: ...` at
 * line 12, column 5 of the first file of the reader's in the stack (for a
 * SyntaxError, which V8 keeps to itself, from `node --check`). Nothing else
 * crosses: the proxy never sees a stack trace.
 *
 * What it leaves out: checking the decision (router.ts does, where it is
 * used), and timing anything (the proxy measures this thread from outside).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * @typedef {import('./types.ts').Router} Router
 * @typedef {import('./types.ts').RouteRequest} RouteRequest
 * @typedef {{ file: string, line: number, column?: number }} Place   where in which file
 * @typedef {{ text: string, at?: Place }} Failure   an error in one line, and where it was
 */

/** A module that loads, but is no router: said in words, without an error's name. */
class NotARouter extends Error {}

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const { file } = /** @type {{ file: string }} */ (workerData);

/** @type {Router | Failure} */
const loaded = await load(file).catch((err) => loadFailure(err));
if (typeof loaded === 'function') {
  port.on('message', (/** @type {{ id: number, request: RouteRequest }} */ { id, request }) => {
    let decided;
    try {
      decided = loaded(request);
    } catch (err) {
      return answer(id, { why: failure(err) });
    }
    // A decision or a promise of one: the answer leaves once it is there.
    Promise.resolve(decided).then(
      (decision) => answer(id, { decision }),
      (err) => answer(id, { why: failure(err) }),
    );
  });
  port.postMessage({ loaded: true });
} else {
  port.postMessage({ loaded: false, why: loaded });
}

/** The module's default export, or an Error saying what it has instead. */
async function load(/** @type {string} */ file) {
  if (file.endsWith('.ts')) (await importTsx()).register();
  const module = await import(pathToFileURL(file).href);
  // A CommonJS module (a .js file outside a "type": "module" package) is its
  // module.exports; compiled from `export default`, that holds the function.
  let route = module.default;
  if (typeof route !== 'function' && typeof route?.default === 'function') route = route.default;
  if (route === undefined) throw new NotARouter('no default export (expected a function)');
  if (typeof route !== 'function') {
    throw new NotARouter(`its default export is a ${typeof route}, not a function`);
  }
  return /** @type {Router} */ (route);
}

/**
 * tsx's API, looked for from this file's folder. Under tsx it is there; a
 * proxy built ahead (`npm run build`) finds it only where tsx is installed
 * above the build, and otherwise says so in a line.
 */
async function importTsx() {
  try {
    return await import('tsx/esm/api');
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new NotARouter(
      'a router in TypeScript needs tsx, which is not installed where the proxy runs: ' +
        'compile the router to JavaScript (.mjs), or install tsx',
    );
  }
}

/** Sends an answer; a decision that cannot be copied (a function in it, say) is a failure. */
function answer(/** @type {number} */ id, /** @type {object} */ reply) {
  try {
    port.postMessage({ id, ...reply });
  } catch (err) {
    const text = `decided something that cannot leave its thread (${firstLine(err)})`;
    port.postMessage({ id, why: { text } });
  }
}

/** An error thrown (or a promise rejected) by the router, and where. */
function failure(/** @type {unknown} */ err) {
  if (!(err instanceof Error)) return { text: `threw ${firstLine(err)}` };
  return { text: firstLine(err), at: placeInStack(err.stack ?? '') };
}

/** Why loading failed, with the place when there is one. */
function loadFailure(/** @type {unknown} */ err) {
  if (err instanceof NotARouter) return { text: err.message };
  const e = /** @type {NodeJS.ErrnoException & { url?: string }} */ (err);
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && e.url === pathToFileURL(file).href) {
    return { text: 'no such file' };
  }
  // tsx compiles a .ts file with esbuild, whose error names the place: "x.ts:5:0: ERROR: ...".
  const compiled = /^(.+):(\d+):(\d+): ERROR: (.*)$/m.exec(e?.message ?? '');
  if (e?.name === 'TransformError' && compiled) {
    const [, where, line, column, message] = compiled;
    const at = { file: where, line: Number(line), column: Number(column) + 1 };
    return { text: `SyntaxError: ${message}`, at };
  }
  if (e?.name === 'SyntaxError') {
    return { text: firstLine(e), at: syntaxErrorPlace(file) ?? placeInStack(e.stack ?? '') };
  }
  return failure(err);
}

/**
 * Where V8 found a syntax error in `file`: an import() says what, never where,
 * but `node --check` parses the file the same way and prints the place
 * ("file:LINE", the line, and a caret under the column). Asked only once
 * loading has failed. Undefined when the file parses (the error was elsewhere).
 * @returns {Place | undefined}
 */
function syntaxErrorPlace(/** @type {string} */ file) {
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  const lines = check.stderr.split('\n');
  const line = /^.*:(\d+)$/.exec(lines[0] ?? '')?.[1];
  if (check.status === 0 || line === undefined) return undefined;
  const caret = lines.findIndex((text, i) => i > 0 && /^\s*\^+\s*$/.test(text));
  return {
    file,
    line: Number(line),
    ...(caret > 0 ? { column: lines[caret].indexOf('^') + 1 } : {}),
  };
}

/**
 * The first frame of a stack in a file of the reader's (not Node's, not a
 * package's, not this one's).
 * @returns {Place | undefined}
 */
function placeInStack(/** @type {string} */ stack) {
  const own = fileURLToPath(import.meta.url);
  for (const frame of stack.split('\n').slice(1)) {
    // "at f (/dir/x.ts:3:7)" or "at file:///dir/x.mjs:3:7"; Node's own are "node:internal/...".
    const place = /(?:\(|at )((?:file:\/\/)?\/[^()]*):(\d+):(\d+)\)?$/.exec(frame.trim());
    if (!place) continue;
    const where = place[1].startsWith('file:') ? fileURLToPath(place[1]) : place[1];
    if (where === own || where.includes('/node_modules/')) continue;
    return { file: where, line: Number(place[2]), column: Number(place[3]) };
  }
  return undefined;
}

/** The first line of what was thrown, as `name: message` for an Error. */
function firstLine(/** @type {unknown} */ value) {
  const text = value instanceof Error ? `${value.name}: ${value.message}` : String(value);
  return text.split('\n')[0];
}
