/**
 * The request head reader (../vhosts/http-head.ts) on its own: the Host it
 * finds and where the head ends, whatever the chunking; 400, 414 and 431 and
 * their boundaries; the error responses, read by a real HTTP client.
 */
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { listenUntilTeardown } from '../../shared/test/harness.ts';
import { httpErrorResponse, type ProxyStatus } from '../refuse.ts';
import { HttpHeadReader, type HttpHeadResult, readHttpHead } from '../vhosts/http-head.ts';

const read = (text: string) => readHttpHead(Buffer.from(text, 'latin1'));

/** The answer for `text` pushed one byte at a time, and every answer before it. */
function byteByByte(text: string): { answers: HttpHeadResult[]; last: HttpHeadResult } {
  const reader = new HttpHeadReader();
  const answers: HttpHeadResult[] = [];
  for (const byte of Buffer.from(text, 'latin1')) {
    answers.push(reader.push(Buffer.from([byte])));
    if (answers.at(-1)?.state !== 'need-more') break;
  }
  return { answers, last: answers.at(-1) as HttpHeadResult };
}

function statusOf(result: HttpHeadResult): number | string {
  return result.state === 'error' ? result.status : result.state;
}

const GET = 'GET /index.html HTTP/1.1\r\nHost: www.example.org\r\nAccept: */*\r\n\r\n';

t.test('a GET with a Host: done, with the Host and where the head ends', async (t) => {
  const result = read(`${GET}and then a body`);
  t.match(result, {
    state: 'done',
    host: 'www.example.org',
    method: 'GET',
    target: '/index.html',
    version: '1.1',
    headLength: GET.length,
  });
  if (result.state === 'done') {
    t.equal(result.bytes.toString('latin1'), `${GET}and then a body`, 'every byte, to forward');
  }
});

t.test('a head arriving one byte at a time: need-more until its last byte', async (t) => {
  const { answers, last } = byteByByte(GET);
  t.equal(answers.length, GET.length);
  t.ok(answers.slice(0, -1).every((a) => a.state === 'need-more'));
  t.match(last, { state: 'done', host: 'www.example.org', headLength: GET.length });
});

t.test('once done or failed, the reader keeps its answer', async (t) => {
  const reader = new HttpHeadReader();
  const done = reader.push(Buffer.from(GET));
  t.equal(reader.push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), done);
  const failing = new HttpHeadReader();
  const failed = failing.push(Buffer.from('BAD\r\n'));
  t.equal(failing.push(Buffer.from(GET)), failed);
});

t.test('the Host is returned as sent, without the spaces around it', async (t) => {
  t.match(read('GET / HTTP/1.1\r\nhOsT: \t Example.ORG:8080 \t\r\n\r\n'), {
    state: 'done',
    host: 'Example.ORG:8080',
  });
  t.match(read('GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n'), { host: '[::1]:8080' });
  t.match(read('GET / HTTP/1.1\r\nHost:\r\n\r\n'), { state: 'done', host: '' }, 'empty is valid');
});

t.test('HTTP/1.0 without a Host is fine: no host, the default pool', async (t) => {
  t.match(read('GET / HTTP/1.0\r\n\r\n'), { state: 'done', host: undefined, version: '1.0' });
  t.match(read('GET / HTTP/1.0\r\nHost: a.example\r\n\r\n'), { state: 'done', host: 'a.example' });
});

t.test('HTTP/1.1 without a Host is a 400', async (t) => {
  t.match(read('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'), {
    state: 'error',
    status: 400,
    reason: 'no Host header',
  });
});

t.test('an absolute-form target names the host, over the Host header', async (t) => {
  t.match(read('GET http://api.example.org:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n'), {
    state: 'done',
    host: 'api.example.org:8080',
  });
  t.match(read('GET http://user@evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n'), {
    status: 400,
  });
});

t.test('empty lines before the request line are skipped', async (t) => {
  t.match(read(`\r\n\r\n${GET}`), { state: 'done', headLength: GET.length + 4 });
});

t.test('malformed heads are 400s', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['bad request line', 'GET /\r\nHost: a\r\n\r\n', /request line/],
    ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', /request line/],
    ['lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n', /request line/],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', /request line/],
    ['NUL in the target', 'GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n', /request line/],
    ['bare LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n', /bare LF/],
    ['bare LF at the end', 'GET / HTTP/1.1\r\nHost: a\r\n\n', /bare LF/],
    ['bare CR', 'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n', /bare CR/],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n', /obs-fold/],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', /header line/],
    ['no colon', 'GET / HTTP/1.1\r\nHost a\r\n\r\n', /header line/],
    ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: \0\r\n\r\n', /header line/],
    ['DEL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n', /header line/],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n', /two Host/],
    ['two equal Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', /two Host/],
    ['space in the Host', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', /Host header/],
    ['userinfo in the Host', 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', /Host header/],
    ['a second port', 'GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n', /Host header/],
  ];
  for (const [name, head, reason] of cases) {
    t.match(read(head), { state: 'error', status: 400, reason }, name);
  }
});

t.test('an error is reported as soon as the bad line is complete', async (t) => {
  const { last, answers } = byteByByte(
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nthe rest never comes',
  );
  t.match(last, { status: 400 });
  t.equal(answers.length, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n'.length);
});

t.test(
  '414: a request line over 8 KiB, decided at byte 8192 without waiting for its end',
  async (t) => {
    const reader = new HttpHeadReader();
    t.equal(reader.push(Buffer.from(`GET /${'a'.repeat(8186)}`)).state, 'need-more', '8191 bytes');
    t.match(reader.push(Buffer.from('a')), { state: 'error', status: 414 }, '8192 bytes, no LF');
  },
);

t.test('414 boundary: a request line of exactly 8 KiB with its CRLF is accepted', async (t) => {
  const line = `GET /${'a'.repeat(8192 - 'GET / HTTP/1.1\r\n'.length)} HTTP/1.1\r\n`;
  t.equal(line.length, 8192);
  t.match(read(`${line}Host: a\r\n\r\n`), { state: 'done' });
  const longer = `GET /a${line.slice(5)}`;
  t.match(read(`${longer}Host: a\r\n\r\n`), { status: 414 });
});

t.test('431: a head over 16 KiB, decided at byte 16384', async (t) => {
  const reader = new HttpHeadReader();
  const start = 'GET / HTTP/1.1\r\nHost: a\r\nX: ';
  t.equal(reader.push(Buffer.from(start + 'b'.repeat(16383 - start.length))).state, 'need-more');
  t.match(reader.push(Buffer.from('b')), { state: 'error', status: 431 });
});

t.test('431 boundary: a head of exactly 16 KiB is accepted', async (t) => {
  const start = 'GET / HTTP/1.1\r\nHost: a\r\nX: ';
  const head = `${start}${'b'.repeat(16384 - start.length - 4)}\r\n\r\n`;
  t.equal(head.length, 16384);
  t.match(read(`${head}more`), { state: 'done', headLength: 16384 });
  t.match(read(`${start}b${head.slice(start.length)}`), { status: 431 });
});

t.test('a large chunk past the limit is refused at once, not kept', async (t) => {
  const reader = new HttpHeadReader();
  t.match(reader.push(Buffer.alloc(64 * 1024, 'a')), { state: 'error', status: 414 });
  t.match(readHttpHead(Buffer.from(`GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(4000)}`)), {
    status: 431,
  });
});

t.test('limits are options', async (t) => {
  const options = { maxRequestLineBytes: 32, maxHeadBytes: 64 };
  t.match(readHttpHead(Buffer.from(`GET /${'a'.repeat(40)}`), options), { status: 414 });
  t.match(readHttpHead(Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'b'.repeat(50)}`), options), {
    status: 431,
  });
  t.match(readHttpHead(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), options), {
    state: 'done',
  });
  // A request line limit over the head limit: the head limit is what is hit.
  t.match(readHttpHead(Buffer.from('G'.repeat(100)), { maxHeadBytes: 50 }), { status: 431 });
});

t.test('the same answers whatever the chunking, for each case above', async (t) => {
  const heads = [
    GET,
    'GET / HTTP/1.0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n',
    `GET /${'a'.repeat(9000)}`,
  ];
  for (const head of heads) {
    t.same(statusOf(byteByByte(head).last), statusOf(read(head)), head.slice(0, 30));
  }
});

t.test('error responses: a real HTTP client reads status, body, Connection: close', async (t) => {
  const statuses: ProxyStatus[] = [400, 404, 408, 414, 431, 502];
  const server = net.createServer((socket) => {
    socket.once('data', (request) => {
      const status = Number(/^GET \/(\d+)/.exec(request.toString())?.[1]) as ProxyStatus;
      socket.end(httpErrorResponse(status));
    });
  });
  const port = await listenUntilTeardown(t, server);
  for (const status of statuses) {
    const response = await new Promise<{
      status?: number;
      headers: http.IncomingHttpHeaders;
      body: string;
    }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `/${status}`, agent: false }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
        })
        .on('error', reject);
    });
    t.equal(response.status, status);
    t.equal(response.headers.connection, 'close', `${status}: Connection: close`);
    t.equal(response.headers['content-type'], 'text/plain');
    t.ok(response.body.length > 0 && response.body.endsWith('\n'), `${status}: a short text body`);
  }
  t.match(
    httpErrorResponse(404, 'No pool serves that host.\n').toString(),
    /\r\n\r\nNo pool serves that host\.\n$/,
  );
});
