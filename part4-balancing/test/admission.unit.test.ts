/**
 * admit() in this process, through a real listener and pool: the client's
 * address (a getpeername() system call per accepted client) is read only
 * under maxConnectionsPerClient, the one limit that needs it.
 */
import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { configFromAddresses } from '../config.ts';
import { Pool } from '../pools/pool.ts';
import { routingFor } from '../route.ts';
import { listen } from '../serve.ts';
import { RunningState } from '../state.ts';

t.test("the client's address is read under maxConnectionsPerClient alone", async (t) => {
  const backend = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end('HTTP/1.0 200 OK\r\n\r\nok'));
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.teardown(() => backend.close());
  const { port } = backend.address() as net.AddressInfo;

  // Every getpeername() of a socket in this process: the proxy's accepted clients are the ones that ask.
  const socketProto = net.Socket.prototype as unknown as { _getpeername(): unknown };
  const getpeername = socketProto._getpeername;
  let asked = 0;
  socketProto._getpeername = function (this: net.Socket) {
    asked++;
    return getpeername.call(this);
  };
  t.teardown(() => {
    socketProto._getpeername = getpeername;
  });

  for (const [perClient, expected] of [
    [0, 0],
    [2, 1],
  ]) {
    const config = {
      ...configFromAddresses(0, [`127.0.0.1:${port}`]),
      maxConnectionsPerClient: perClient,
    };
    const running = new RunningState();
    running.config = config;
    const pools = new Map(Object.values(config.pools).map((each) => [each.name, new Pool(each)]));
    let finished = 0;
    const listener = await listen(
      running,
      routingFor(config.listeners[0], pools),
      () => finished++,
    );
    asked = 0;
    const client = net.connect(listener.port, '127.0.0.1');
    client.end('GET / HTTP/1.0\r\n\r\n');
    let answer = '';
    client.on('data', (chunk) => {
      answer += chunk;
    });
    await once(client, 'close');
    t.match(answer, /^HTTP\/1\.0 200 OK/, `maxConnectionsPerClient ${perClient}: answered`);
    t.equal(
      asked,
      expected,
      `maxConnectionsPerClient ${perClient}: the address read ${expected} time(s)`,
    );
    await new Promise((resolve) => listener.server.close(resolve));
    t.equal(finished, 1, 'the client closed and counted out');
    t.same(running.openPerAddress.size, 0, 'no address left counted');
  }
});
