// @ts-check
/**
 * Loaded into every Node process of `npm run bench -- --mode hold --heap`
 * (through NODE_OPTIONS=--import, so the proxies themselves are unchanged):
 * on SIGUSR2, two full collections, then the JavaScript heap still in use
 * written to $RSP_HEAP_PROBE_DIR/PID.json. What a held connection keeps, read
 * this way, leaves out what the resident figure also counts: the heap's own
 * growth (V8 sizes its young generation from how fast a process allocates),
 * garbage not yet collected, and memory outside the heap.
 *
 * It is plain JavaScript because it is loaded before anything else, tsx
 * included, and into part4-built, which runs without tsx.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

const dir = process.env.RSP_HEAP_PROBE_DIR;
if (dir) {
  // V8 hands a new context its gc() once the flag is set: no --expose-gc on the command line.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  process.on('SIGUSR2', () => {
    gc();
    gc();
    const { heapUsed } = process.memoryUsage();
    // Written whole, then renamed: the reader never sees half a file.
    const file = path.join(dir, `${process.pid}.json`);
    writeFileSync(`${file}.part`, JSON.stringify({ heapUsed }));
    renameSync(`${file}.part`, file);
  });
}
