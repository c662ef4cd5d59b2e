/**
 * The harness's dead ports: refused, out of the kernel's reach, one each.
 */
import net from 'node:net';
import t from 'tap';
import { deadPort } from './harness.ts';

t.test('deadPort: a refused port below 1024, a different one each call', async (t) => {
  const [a, b] = [await deadPort(), await deadPort()];
  t.ok(a < 1024 && b < 1024, `${a} and ${b}: never handed out for listen(0)`);
  t.not(a, b, 'two dead backends, two addresses');
  const socket = net.connect(a, '127.0.0.1');
  const err = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
  t.equal(err.code, 'ECONNREFUSED');
});
