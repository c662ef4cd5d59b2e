/**
 * The pool's connect, in this process against a server of its own: the
 * client's address (a getpeername() system call on a real client) is read only
 * for a strategy that picks by it.
 */
import net from 'node:net';
import t from 'tap';
import { configFromAddresses } from '../config.ts';
import { Pool } from '../pools/pool.ts';
import type { StrategyName } from '../pools/strategies/index.ts';

t.test("the client's address is read for ip-hash alone", async (t) => {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const { pools } = configFromAddresses(0, [`127.0.0.1:${port}`]);

  const reads: [StrategyName, number][] = [
    ['round-robin', 0],
    ['least-connections', 0],
    ['two-random-choices', 0],
    ['ip-hash', 1],
  ];
  for (const [strategy, expected] of reads) {
    let asked = 0;
    const clientIp = () => {
      asked++;
      return '192.0.2.7';
    };
    const connection = await new Pool({ ...pools.default, strategy }).connect(clientIp);
    connection?.socket.destroy();
    t.ok(connection, `${strategy}: connected`);
    t.equal(asked, expected, `${strategy}: the address read ${expected} time(s)`);
  }
});
