/**
 * The ready test of this chapter's first exercise: while it holds data for its
 * clients, part 2 logs how much, once a second, in a line like
 * `Buffering 25165824 bytes for 2 clients.`
 *
 * `npm test` leaves it out; `npm run exercise -- 2` runs it. It fails until the
 * exercise is done in proxy.ts. What it leaves out: the other exercises.
 */
import t from 'tap';
import { serveBackend, slowReaders, startPart, waitFor } from '../shared/test/harness.ts';

const PART = 'part2-epoll-style';
const skip = process.env.EXERCISE === '2' ? false : 'an exercise: npm run exercise -- 2';
const MiB = 1024 * 1024;
const BUFFERING = /Buffering (\d+) bytes/g;

t.test(
  'with two clients that read nothing, the log shows the bytes piling up',
  { skip },
  async (t) => {
    const backend = await serveBackend(t);
    const proxy = await startPart(t, PART, ['0', '127.0.0.1', String(backend.port)]);
    // 48 MiB asked for; the kernel's socket buffers take a few MiB, the rest waits in part 2.
    await slowReaders(t, proxy.port, 2, `/?size=${24 * MiB}`);
    const most = () =>
      Math.max(0, ...[...proxy.output().matchAll(BUFFERING)].map((m) => Number(m[1])));
    await waitFor(() => most() > 16 * MiB, { timeoutMs: 10_000 }).catch(() => {});
    t.ok(most() > 16 * MiB, `the largest "Buffering N bytes" was ${most()} (> 16 MiB)`);
  },
);
