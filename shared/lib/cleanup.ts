/**
 * Clean-up for programs that start other programs (the benchmark, the demos,
 * the trace): everything started registers how to stop it, and it is stopped
 * at the end, or on Ctrl-C, newest first.
 *
 * It has the shape of tap's `t.teardown`, so the test harness's start functions
 * work in a program exactly as in a test. What it leaves out: timeouts; a step
 * that hangs holds up the rest.
 */
/** The subset of tap's Test that the harness uses, so its start functions work with either. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Collects clean-up steps (the harness registers its kills here) and runs them last-in first-out. */
export class Cleanup implements Teardown {
  private readonly steps: (() => unknown)[] = [];

  teardown(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      await Promise.resolve()
        .then(step)
        .catch(() => {});
    }
  }

  /**
   * Until the returned function is called, Ctrl-C or SIGTERM runs the clean-up
   * and exits 130, so no nginx or temporary directory outlives an interrupted run.
   */
  onSignals(): () => void {
    // Ctrl-C reaches npm, tsx and the program at once, and npm and tsx pass it
    // on again: a second SIGINT must not cut the clean-up short (Node's
    // default would end the process there).
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void this.run().then(() => process.exit(130));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    };
  }
}

/**
 * Runs `work` with a Cleanup that Ctrl-C or SIGTERM runs too (onSignals), and
 * runs it when `work` is done, whatever happened.
 */
export async function withCleanup<T>(work: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  const release = cleanup.onSignals();
  try {
    return await work(cleanup);
  } finally {
    release();
    await cleanup.run();
  }
}
