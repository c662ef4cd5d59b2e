/**
 * Runs a part under V8's sampling profiler, through node:inspector (the
 * `--cpu-prof` flag cannot be passed in NODE_OPTIONS, and the harness starts
 * programs with a fixed node command line). The part's proxy.ts runs as if
 * it were the program; SIGTERM stops the profiler, writes the profile to
 * $PROFILE_OUT, and exits.
 *
 *   PROFILE_OUT=FILE profile-run.ts PART-FOLDER [the part's arguments]
 *
 * What it leaves out: anything else; profile.ts drives it.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { ROOT } from '../lib/programs.ts';

const [folder, ...args] = process.argv.slice(2);
const out = process.env.PROFILE_OUT ?? 'part.cpuprofile';
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');

const script = path.join(ROOT, folder, 'proxy.ts');
process.argv = [process.argv[0], script, ...args];
await import(script);

// Ours alone: part 4's graceful stop would exit before the profile is written.
process.removeAllListeners('SIGTERM');
process.on('SIGTERM', async () => {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(out, JSON.stringify(profile));
  process.exit(0);
});
