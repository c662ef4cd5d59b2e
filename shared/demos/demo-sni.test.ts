/**
 * npm run demo:sni shows what it claims: a real hello walked to the server
 * name, part 4's reader agreeing, and both PROXY headers.
 */
import t from 'tap';
import { runProgram } from '../lib/programs.ts';

t.test(
  'demo:sni walks a real ClientHello down to the name, and shows PROXY v1 and v2',
  async (t) => {
    // At once, each with a long deadline: both only wait for their program to exit.
    const [run, bad] = await Promise.all([
      runProgram('shared/demos/demo-sni.ts', ['--name', 'shop.example.org'], 60_000),
      runProgram('shared/demos/demo-sni.ts', ['--nme', 'x'], 60_000),
    ]);
    t.equal(run.code, 0, run.stderr);
    t.match(run.stdout, /record type 0x16 \(22 = handshake\)/);
    t.match(run.stdout, /extension 0 server_name, \d+ bytes: .*name 16: "shop\.example\.org"/);
    t.match(run.stdout, /Part 4's reader \(client-hello\.ts\): SNI "shop\.example\.org"/);
    t.match(run.stdout, /"PROXY TCP4 203\.0\.113\.7 192\.0\.2\.1 56324 443\\r\\n"/);
    t.match(
      run.stdout,
      /0000 {2}0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11/,
      'the v2 signature, PROXY, TCP4',
    );
    t.equal(bad.code, 2, 'a bad option: exit 2');
  },
);
