/**
 * Figures from the other measuring commands' results files: the torture, the
 * soak, the demos, the profiler, the fuzzer, the router's costs, part 4's
 * start and memory at rest, and the tests that measure as they check (each
 * saves with SAVE_RESULTS=1). One module per command in measured/, each
 * listing its renderers; the benchmark's are in results.ts.
 *
 *   <!-- render: run soak-part3 -->   any results file's run: command, date, machine
 *
 * What it leaves out: running anything, as results.ts does.
 */

import type { Provenance } from '../lib/results.ts';
import { BACKPRESSURE_RENDERERS } from './measured/backpressure.ts';
import { CHAOS_RENDERERS } from './measured/chaos.ts';
import { COST_RENDERERS } from './measured/cost.ts';
import { FAULTS_RENDERERS } from './measured/faults.ts';
import { FLEET_RENDERERS } from './measured/fleet.ts';
import { FUZZ_RENDERERS } from './measured/fuzz.ts';
import { PROFILE_RENDERERS } from './measured/profile.ts';
import { ROUTER_RENDERERS } from './measured/router.ts';
import { SLOW_READERS_RENDERERS } from './measured/slow-readers.ts';
import { SOAK_RENDERERS } from './measured/soak.ts';
import { START_RENDERERS } from './measured/start.ts';
import { TORTURE_RENDERERS } from './measured/torture.ts';
import { describeRun, readResults } from './results.ts';

export const MEASURED_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  run: ([name], from) => describeRun(readResults<Provenance>(name), from, name),
  ...TORTURE_RENDERERS,
  ...SOAK_RENDERERS,
  ...BACKPRESSURE_RENDERERS,
  ...PROFILE_RENDERERS,
  ...COST_RENDERERS,
  ...FUZZ_RENDERERS,
  ...FAULTS_RENDERERS,
  ...SLOW_READERS_RENDERERS,
  ...FLEET_RENDERERS,
  ...CHAOS_RENDERERS,
  ...ROUTER_RENDERERS,
  ...START_RENDERERS,
};
