/**
 * The configuration on its own (../config.ts, ../fields.ts, ../config/ and
 * each chapter's fields.ts): defaults, every field read, one error line per
 * mistake naming the file and the field, the file read's guards, and the
 * quick-start command line's one pool.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { checkQuickStart } from '../config/checks.ts';
import { loadConfigFile, MAX_FILE_BYTES } from '../config/load.ts';
import { parseConfig } from '../config/parse.ts';
import { configFromAddresses, DEFAULTS, overrideFromText } from '../config.ts';
import { ConfigError } from '../fields.ts';
import { STRATEGY_NAMES } from '../pools/strategies/index.ts';

const EXAMPLE = path.join(import.meta.dirname, '..', 'example.config.json');

// biome-ignore lint/suspicious/noExplicitAny: the error cases edit these freely, typing them adds nothing
type Json = Record<string, any>;

/** The smallest valid config; each error case changes one thing in a fresh copy. */
function minimal(): Json {
  return {
    listen: [{ port: 8000, pool: 'web' }],
    pools: { web: { backends: [{ address: '127.0.0.1:8881' }] } },
  };
}

/** The one-line message parseConfig throws for `json`. */
function errorFor(json: unknown): string {
  try {
    parseConfig(json, 'test.json');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message;
  }
  throw new Error('no ConfigError');
}

t.test(
  'example.config.json loads: three weighted backends, a health check, a status port',
  async (t) => {
    const config = await loadConfigFile(EXAMPLE);
    t.equal(config.source, EXAMPLE);
    t.has(config.listeners, [{ port: 8000, pool: 'web', protocol: 'tcp' }]);
    t.notOk('statusListen' in config, 'no status port in the file: chapter 6 adds it');
    // As Run it starts it: `--config example.config.json --status-port 8081`.
    const withStatus = { ...config, ...overrideFromText('--status-port', 'statusListen', '8081') };
    t.same(withStatus.statusListen, { host: '127.0.0.1', port: 8081 }, 'on loopback');
    const web = config.pools.web;
    t.same(
      web.backends.map((b) => [b.id, b.host, b.port, b.weight]),
      [
        ['127.0.0.1:8881', '127.0.0.1', 8881, 3],
        ['127.0.0.1:8882', '127.0.0.1', 8882, 2],
        ['127.0.0.1:8883', '127.0.0.1', 8883, 1],
      ],
    );
    t.same(web.healthCheck, { intervalMs: 2000, timeoutMs: 1000, path: '/' });
  },
);

t.test('defaults fill in everything left out', async (t) => {
  const config = parseConfig(minimal(), 'test.json');
  t.same(config, {
    source: 'test.json',
    listeners: [
      {
        port: 8000,
        pool: 'web',
        protocol: 'tcp',
        headTimeoutMs: 10_000,
        maxRequestLineBytes: 8192,
        maxHeadBytes: 16_384,
        maxHelloBytes: 16_384,
        acceptProxyProtocol: false,
        routerTimeoutMs: 1000,
      },
    ],
    idleTimeoutMs: 60_000,
    shutdownTimeoutMs: 10_000,
    maxConnections: DEFAULTS.maxConnections,
    maxConnectionsPerClient: 0,
    workers: 1,
    verbose: false,
    pools: {
      web: {
        name: 'web',
        strategy: 'round-robin',
        backends: [{ id: '127.0.0.1:8881', host: '127.0.0.1', port: 8881, weight: 1 }],
        maxFails: 1,
        failTimeoutMs: 10_000,
        connectTimeoutMs: 3000,
        firstByteTimeoutMs: 0,
      },
    },
  });
  t.notOk('statusListen' in config, 'no status endpoint unless asked for');
  t.notOk('healthCheck' in config.pools.web, 'no active checks unless asked for');

  const json = minimal();
  json.pools.web.healthCheck = {};
  t.same(
    parseConfig(json, 'test.json').pools.web.healthCheck,
    { intervalMs: 2000, timeoutMs: 1000 },
    'an empty healthCheck: a TCP probe at the default interval and timeout',
  );
});

t.test('every setting is read, not just defaulted', async (t) => {
  const config = parseConfig(
    {
      listen: [
        { port: 0, pool: 'web' },
        { port: 9000, pool: 'api' },
      ],
      statusPort: 9001,
      idleTimeoutMs: 5,
      shutdownTimeoutMs: 0,
      pools: {
        web: { backends: [{ address: 'localhost:1', weight: 1000 }] },
        api: {
          strategy: 'ip-hash',
          backends: [{ address: '[::1]:65535' }],
          maxFails: 3,
          failTimeoutMs: 7,
          connectTimeoutMs: 8,
          firstByteTimeoutMs: 9,
          healthCheck: { intervalMs: 100, timeoutMs: 10 },
        },
      },
    },
    'test.json',
  );
  t.has(config.listeners, [
    { port: 0, pool: 'web' },
    { port: 9000, pool: 'api' },
  ]);
  t.same(
    [config.statusListen, config.idleTimeoutMs, config.shutdownTimeoutMs],
    [{ host: '127.0.0.1', port: 9001 }, 5, 0],
  );
  t.same(config.pools.web.backends[0], {
    id: 'localhost:1',
    host: 'localhost',
    port: 1,
    weight: 1000,
  });
  const api = config.pools.api;
  t.same(api.backends[0], { id: '[::1]:65535', host: '::1', port: 65535, weight: 1 });
  t.same(
    [api.strategy, api.maxFails, api.failTimeoutMs, api.connectTimeoutMs, api.firstByteTimeoutMs],
    ['ip-hash', 3, 7, 8, 9],
  );
  t.same(api.healthCheck, { intervalMs: 100, timeoutMs: 10 }, 'no path: a TCP probe');
});

/** [what is wrong, how to break the minimal config, the message expected]. */
const BROKEN: [string, (json: Json) => unknown, string][] = [
  ['not an object', () => [], 'test.json: top level: expected an object, got []'],
  [
    'unknown top-level key',
    (json) => {
      json.listeners = [];
    },
    'test.json: listeners: unknown key (expected listen, pools, verbose, idleTimeoutMs, maxConnections, maxConnectionsPerClient, shutdownTimeoutMs, statusListen, routeSource, workers, statusPort)',
  ],
  [
    'listen missing',
    (json) => {
      delete json.listen;
    },
    'test.json: listen: missing',
  ],
  [
    'listen empty',
    (json) => {
      json.listen = [];
    },
    'test.json: listen: expected a list of at least one, got []',
  ],
  [
    'listener port out of range',
    (json) => {
      json.listen[0].port = 65536;
    },
    'test.json: listen[0].port: expected an integer from 0 to 65535, got 65536',
  ],
  [
    'listener port as a string',
    (json) => {
      json.listen[0].port = '8000';
    },
    'test.json: listen[0].port: expected an integer from 0 to 65535, got "8000"',
  ],
  [
    'listener names no existing pool',
    (json) => {
      json.listen[0].pool = 'api';
    },
    'test.json: listen[0].pool: no pool named "api" (pools: web)',
  ],
  [
    'unknown listener key',
    (json) => {
      json.listen[0].host = 'example.com';
    },
    'test.json: listen[0].host: unknown key (expected port, pool, address, maxConnections, protocol, hosts, headTimeoutMs, maxRequestLineBytes, maxHeadBytes, maxHelloBytes, acceptProxyProtocol, trustedProxies, router, routerTimeoutMs)',
  ],
  [
    'two listeners on one port',
    (json) => {
      json.listen.push({ port: 8000, pool: 'web' });
    },
    'test.json: listen[1].port: port 8000 is already used by listen[0].port',
  ],
  [
    'status port taken by a listener',
    (json) => {
      json.statusPort = 8000;
    },
    'test.json: statusPort: port 8000 is already used by listen[0].port',
  ],
  [
    'idle timeout negative',
    (json) => {
      json.idleTimeoutMs = -1;
    },
    'test.json: idleTimeoutMs: expected an integer from 0 to 86400000, got -1',
  ],
  [
    'no pools',
    (json) => {
      json.pools = {};
    },
    'test.json: pools: expected at least one pool',
  ],
  [
    'bad pool name',
    (json) => {
      json.pools['w b'] = json.pools.web;
    },
    'test.json: pools.w b: expected a name of letters, digits, "_", "." and "-", starting with a letter or digit',
  ],
  [
    'a pool named __proto__',
    () => JSON.parse('{"listen": [{"port": 1, "pool": "x"}], "pools": {"__proto__": {}}}'),
    'test.json: pools.__proto__: expected a name of letters, digits, "_", "." and "-", starting with a letter or digit',
  ],
  [
    'a listener naming a property every object has',
    (json) => {
      json.listen[0].pool = 'constructor';
    },
    'test.json: listen[0].pool: no pool named "constructor" (pools: web)',
  ],
  [
    'unknown strategy',
    (json) => {
      // Not 'random': chapter 1's exercise adds that one (and its name to the list).
      json.pools.web.strategy = 'least-time';
    },
    `test.json: pools.web.strategy: expected one of ${STRATEGY_NAMES.join(', ')}, got "least-time"`,
  ],
  [
    'a typo in a pool key',
    (json) => {
      json.pools.web.maxFail = 2;
    },
    'test.json: pools.web.maxFail: unknown key (expected backends, strategy, connectTimeoutMs, maxFails, failTimeoutMs, firstByteTimeoutMs, healthCheck, proxyProtocol)',
  ],
  [
    'no backends',
    (json) => {
      json.pools.web.backends = [];
    },
    'test.json: pools.web.backends: expected a list of at least one, got []',
  ],
  [
    'backend without a port',
    (json) => {
      json.pools.web.backends.push({ address: 'x' });
    },
    'test.json: pools.web.backends[1].address: expected "host:port", got "x"',
  ],
  [
    'backend port 0',
    (json) => {
      json.pools.web.backends[0].address = '127.0.0.1:0';
    },
    'test.json: pools.web.backends[0].address: expected "host:port", got "127.0.0.1:0"',
  ],
  [
    'backend address missing',
    (json) => {
      json.pools.web.backends[0] = { weight: 2 };
    },
    'test.json: pools.web.backends[0].address: missing',
  ],
  [
    'backend as a bare string',
    (json) => {
      json.pools.web.backends[0] = '127.0.0.1:8881';
    },
    'test.json: pools.web.backends[0]: expected an object, got "127.0.0.1:8881"',
  ],
  [
    'the same backend twice',
    (json) => {
      json.pools.web.backends.push({ address: '127.0.0.1:8881' });
    },
    'test.json: pools.web.backends[1].address: "127.0.0.1:8881" is already backend 1 of this pool',
  ],
  [
    'weight zero',
    (json) => {
      json.pools.web.backends[0].weight = 0;
    },
    'test.json: pools.web.backends[0].weight: expected an integer from 1 to 1000, got 0',
  ],
  [
    'weight not an integer',
    (json) => {
      json.pools.web.backends[0].weight = 1.5;
    },
    'test.json: pools.web.backends[0].weight: expected an integer from 1 to 1000, got 1.5',
  ],
  [
    'maxFails zero',
    (json) => {
      json.pools.web.maxFails = 0;
    },
    'test.json: pools.web.maxFails: expected an integer from 1 to 1000, got 0',
  ],
  [
    'connect timeout negative',
    (json) => {
      json.pools.web.connectTimeoutMs = -1;
    },
    'test.json: pools.web.connectTimeoutMs: expected an integer from 1 to 86400000, got -1',
  ],
  [
    'first-byte timeout not a whole number',
    (json) => {
      json.pools.web.firstByteTimeoutMs = 0.5;
    },
    'test.json: pools.web.firstByteTimeoutMs: expected an integer from 0 to 86400000, got 0.5',
  ],
  [
    'health check path without a slash',
    (json) => {
      json.pools.web.healthCheck = { path: 'health' };
    },
    'test.json: pools.web.healthCheck.path: expected a path like "/health", got "health"',
  ],
  [
    'health check path with a space',
    (json) => {
      json.pools.web.healthCheck = { path: '/a b' };
    },
    'test.json: pools.web.healthCheck.path: expected a path like "/health", got "/a b"',
  ],
  [
    'a router that is not a module',
    (json) => {
      json.listen[0].router = './route.py';
    },
    'test.json: listen[0].router: expected a .ts, .js or .mjs file, got "./route.py"',
  ],
  [
    'unknown health check key',
    (json) => {
      json.pools.web.healthCheck = { interval: 5 };
    },
    'test.json: pools.web.healthCheck.interval: unknown key (expected intervalMs, timeoutMs, path)',
  ],
];

t.test("a router's path is read from the configuration file's folder", async (t) => {
  const json = minimal();
  json.listen[0].router = './routers/by-path.ts';
  const [listener] = parseConfig(json, 'conf/test.json').listeners;
  t.equal(listener.router, path.resolve('conf/routers/by-path.ts'));
  t.equal(listener.routerTimeoutMs, 1000, 'a second to decide, by default');
  const quick = configFromAddresses(8000, ['127.0.0.1:8881']).listeners[0];
  t.equal(quick.router, undefined, 'none in the quick start unless --router names one');
});

t.test('a bad field: one line naming the file and the field', async (t) => {
  for (const [what, breakIt, expected] of BROKEN) {
    const json = minimal();
    const replaced = breakIt(json);
    t.equal(errorFor(replaced ?? json), expected, what);
  }
  t.match(
    errorFor({ ...minimal(), statusPort: 'x'.repeat(100) }),
    /got "x{36}\.\.\.$/,
    'long values are cut short',
  );
});

t.test('loadConfigFile: a missing file cannot be opened', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'missing.json');
  await t.rejects(loadConfigFile(file), {
    name: 'ConfigError',
    message: `${file}: cannot open: ENOENT: no such file or directory`,
  });
  await t.rejects(loadConfigFile(dir), {
    message: `${dir}: not a regular file`,
  });
});

t.test('loadConfigFile: invalid JSON says the line and column', async (t) => {
  const cases: [string, string, string][] = [
    ['empty', '', 'line 1 column 1: Unexpected end of JSON input'],
    [
      'unexpected token',
      '{\n  "listen": [],\n  "pools": }\n}',
      "line 3 column 12: Unexpected token '}'",
    ],
    [
      'trailing comma',
      '{\n  "listen": [1, 2],\n}',
      'line 3 column 1: Expected double-quoted property name',
    ],
    ['missing colon', '{\n  "a" 1\n}', "line 2 column 7: Expected ':' after property name"],
    ['cut short', '{\n  "listen": [', 'line 2 column 14: Unexpected end of JSON input'],
    ['bad literal', '{ "a": tru}', "line 1 column 11: Unexpected token '}'"],
    [
      'text after the end',
      '{}\n{}',
      'line 2 column 1: Unexpected non-whitespace character after JSON',
    ],
  ];
  const dir = t.testdir(Object.fromEntries(cases.map(([name, text]) => [`${name}.json`, text])));
  for (const [name, , where] of cases) {
    const file = path.join(dir, `${name}.json`);
    await t.rejects(loadConfigFile(file), { message: `${file}: invalid JSON at ${where}` }, name);
  }
});

t.test('loadConfigFile: a valid file is checked like any config', async (t) => {
  const json = minimal();
  json.pools.web.backends[0].weight = 0;
  const dir = t.testdir({ 'bad-weight.json': JSON.stringify(json) });
  const file = path.join(dir, 'bad-weight.json');
  await t.rejects(loadConfigFile(file), {
    message: `${file}: pools.web.backends[0].weight: expected an integer from 1 to 1000, got 0`,
  });
});

t.test('configFromAddresses: quick start is one round-robin pool with the defaults', async (t) => {
  const config = configFromAddresses(8000, ['127.0.0.1:8881', 'localhost:8882']);
  t.equal(config.source, 'command line');
  t.has(config.listeners, [{ port: 8000, pool: 'default', protocol: 'tcp' }]);
  t.same(Object.keys(config.pools), ['default']);
  const pool = config.pools.default;
  t.same(
    [pool.strategy, pool.maxFails, pool.failTimeoutMs, pool.connectTimeoutMs, pool.healthCheck],
    ['round-robin', 1, 10_000, 3000, undefined],
  );
  t.same(
    pool.backends.map((b) => [b.id, b.host, b.port, b.weight]),
    [
      ['127.0.0.1:8881', '127.0.0.1', 8881, 1],
      ['localhost:8882', 'localhost', 8882, 1],
    ],
  );
  t.equal(config.statusListen, undefined);
});

t.test('configFromAddresses: a bad address names the argument', async (t) => {
  t.throws(() => configFromAddresses(0, ['127.0.0.1:8881', 'nonsense']), {
    name: 'ConfigError',
    message: 'command line: backend 2: expected "host:port", got "nonsense"',
  });
  // From chapter 3 on, cli.ts checks the quick start as the file is checked.
  t.throws(() => checkQuickStart(configFromAddresses(0, ['a:1', 'a:1'])), {
    message: 'command line: backend 2: "a:1" is already backend 1 of this pool',
  });
  t.throws(() => configFromAddresses(0, []), {
    message: 'command line: backends: none given (expected host:port)',
  });
  t.throws(() => configFromAddresses(70_000, ['a:1']), {
    message: 'command line: listen-port: expected an integer from 0 to 65535, got 70000',
  });
});

t.test('idleTimeoutMs 0 turns the idle timeout off, as --idle-timeout 0 does', async (t) => {
  const json = minimal();
  json.idleTimeoutMs = 0;
  t.equal(parseConfig(json, 'test.json').idleTimeoutMs, 0);
});

t.test('hostile values: one line each, naming the field', async (t) => {
  const cases: [string, (json: Json) => unknown, string | RegExp][] = [
    [
      'port -0 is not port 0 (a reload would move the listener to a random port)',
      (json) => JSON.parse(JSON.stringify(json).replace('"port":8000', '"port":-0')),
      'test.json: listen[0].port: expected an integer from 0 to 65535, got -0',
    ],
    [
      'one backend under two spellings of the same IPv6 address',
      (json) => {
        json.pools.web.backends = [
          { address: '[::1]:8881' },
          { address: '[0:0:0:0:0:0:0:1]:8881' },
        ];
      },
      'test.json: pools.web.backends[1].address: "[0:0:0:0:0:0:0:1]:8881" is already backend 1 of this pool ([::1]:8881)',
    ],
    [
      'a host name in two cases',
      (json) => {
        json.pools.web.backends = [{ address: 'Example.COM:80' }, { address: 'example.com:80' }];
      },
      /backends\[1\]\.address: "example\.com:80" is already backend 1 of this pool/,
    ],
    [
      "a backend that is the proxy's own listener",
      (json) => {
        json.pools.web.backends[0].address = '127.0.0.1:8000';
      },
      `test.json: pools.web.backends[0].address: "127.0.0.1:8000" is this proxy's own listener: clients would loop`,
    ],
    [
      'the same loop through localhost',
      (json) => {
        json.pools.web.backends[0].address = 'localhost:8000';
      },
      /is this proxy's own listener/,
    ],
    [
      'an unknown key with a newline and a terminal escape is escaped',
      (json) => {
        json['x\n[2026-01-01 00:00:00] forged\u001b[2J'] = 1;
      },
      /^test\.json: x\\x0a\[2026-01-01 00:00:00\] forged\\x1b\[2J: unknown key/,
    ],
    [
      'a health check every millisecond',
      (json) => {
        json.pools.web.healthCheck = { intervalMs: 1 };
      },
      'test.json: pools.web.healthCheck.intervalMs: expected an integer from 100 to 86400000, got 1',
    ],
    [
      'a listener with both a port and an address',
      (json) => {
        json.listen[0].address = '127.0.0.1:8001';
      },
      'test.json: listen[0]: expected either "port" (every address) or "address" ("host:port")',
    ],
    [
      'statusListen and statusPort together',
      (json) => {
        json.statusListen = '127.0.0.1:9000';
        json.statusPort = 9001;
      },
      'test.json: statusPort: give statusListen or statusPort, not both',
    ],
    [
      'maxConnections zero',
      (json) => {
        json.maxConnections = 0;
      },
      'test.json: maxConnections: expected an integer from 1 to 1000000, got 0',
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    const json = minimal();
    const message = errorFor(breakIt(json) ?? json);
    if (typeof expected === 'string') t.equal(message, expected, what);
    else t.match(message, expected, what);
    t.notOk(message.includes('\n'), `${what}: one line`);
  }
});

t.test('listeners on one address, and limits, are read', async (t) => {
  const json = minimal();
  json.listen = [
    { address: '127.0.0.1:8000', pool: 'web', maxConnections: 10 },
    { address: '[::1]:8000', pool: 'web' },
  ];
  json.statusListen = '0.0.0.0:9000';
  json.maxConnections = 100;
  json.maxConnectionsPerClient = 5;
  const config = parseConfig(json, 'test.json');
  t.has(config.listeners, [
    { host: '127.0.0.1', port: 8000, pool: 'web', maxConnections: 10 },
    { host: '::1', port: 8000, pool: 'web' },
  ]);
  t.same(config.statusListen, { host: '0.0.0.0', port: 9000 });
  t.same([config.maxConnections, config.maxConnectionsPerClient], [100, 5]);
  t.ok(DEFAULTS.maxConnections >= 1, `maxConnections defaults to ${DEFAULTS.maxConnections}`);
});

t.test('loadConfigFile: only a regular file, only up to 1 MiB, never a stack trace', async (t) => {
  const dir = t.testdir({});
  const fifo = path.join(dir, 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  // Opened without O_NONBLOCK, a FIFO would block until a writer came.
  await t.rejects(loadConfigFile(fifo), { message: `${fifo}: not a regular file` }, 'a FIFO');
  await t.rejects(
    loadConfigFile('/dev/zero'),
    { message: '/dev/zero: not a regular file' },
    '/dev/zero',
  );
  const big = path.join(dir, 'big.json');
  writeFileSync(big, `{"listen": [], "x": "${'x'.repeat(MAX_FILE_BYTES)}"}`);
  await t.rejects(loadConfigFile(big), { message: `${big}: larger than 1048576 bytes, not read` });
  const deep = path.join(dir, 'deep.json');
  writeFileSync(deep, `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
  await t.rejects(
    loadConfigFile(deep),
    { name: 'ConfigError', message: new RegExp(`^${deep}: `) },
    '200,000 nested arrays: a ConfigError naming the file',
  );
});

t.test(
  'vhosts.config.json loads: two HTTP names, two TLS names, and nothing of the PROXY protocol',
  async (t) => {
    const config = await loadConfigFile(path.join(import.meta.dirname, '..', 'vhosts.config.json'));
    t.has(config.listeners, [
      {
        port: 8080,
        protocol: 'http',
        hosts: { 'www.example.org': 'www', '*.example.org': 'apps' },
      },
      {
        port: 8443,
        protocol: 'tls',
        hosts: { 'secure.example.org': 'secure', '*.example.org': 'shop' },
      },
    ]);
    t.equal(config.pools.apps.proxyProtocol, undefined, "chapter 5's field: step 4.4 has none");
  },
);

t.test(
  'proxy.config.json loads: PROXY v1 to one pool, and a listener that takes a PROXY header',
  async (t) => {
    const config = await loadConfigFile(path.join(import.meta.dirname, '..', 'proxy.config.json'));
    t.equal(config.pools.apps.proxyProtocol, 'v1');
    t.equal(config.pools.www.proxyProtocol, undefined);
    t.has(config.listeners[1], {
      port: 8090,
      pool: 'www',
      acceptProxyProtocol: true,
      trustedProxies: ['127.0.0.1/32'],
    });
  },
);

t.test('virtual hosts and the PROXY protocol: mistakes name the field', async (t) => {
  const cases: [string, (json: Json) => void, string][] = [
    [
      'hosts on a tcp listener',
      (json) => {
        json.listen[0].hosts = { 'a.example': 'web' };
      },
      'test.json: listen[0].hosts: only for protocol http or tls (this listener: tcp)',
    ],
    [
      'a host naming no pool',
      (json) => {
        json.listen[0] = { port: 8000, protocol: 'http', hosts: { 'a.example': 'nope' } };
      },
      'test.json: listen[0].hosts.a.example: no pool named "nope" (pools: web)',
    ],
    [
      'a wildcard in the middle',
      (json) => {
        json.listen[0] = { port: 8000, protocol: 'tls', hosts: { 'a.*.example': 'web' } };
      },
      'test.json: listen[0].hosts.a.*.example: ',
    ],
    [
      'an http listener with neither hosts nor pool',
      (json) => {
        json.listen[0] = { port: 8000, protocol: 'http' };
      },
      'test.json: listen[0].pool: missing (or give hosts)',
    ],
    [
      'acceptProxyProtocol without trustedProxies',
      (json) => {
        json.listen[0].acceptProxyProtocol = true;
      },
      'test.json: listen[0].trustedProxies: missing (acceptProxyProtocol takes headers from these only)',
    ],
    [
      'a bad trusted range',
      (json) => {
        json.listen[0].acceptProxyProtocol = true;
        json.listen[0].trustedProxies = ['10.0.0.0/33'];
      },
      'test.json: listen[0].trustedProxies[0]: expected an address or "address/bits", got "10.0.0.0/33"',
    ],
    [
      'a PROXY protocol version 3',
      (json) => {
        json.pools.web.proxyProtocol = 'v3';
      },
      'test.json: pools.web.proxyProtocol: expected one of v1, v2, got "v3"',
    ],
    [
      'maxHeadBytes on a tls listener',
      (json) => {
        json.listen[0] = { port: 8000, protocol: 'tls', pool: 'web', maxHeadBytes: 1000 };
      },
      'test.json: listen[0].maxHeadBytes: only for protocol http (this listener: tls)',
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    const json = minimal();
    breakIt(json);
    t.ok(errorFor(json).startsWith(expected), `${what}: ${errorFor(json)}`);
  }
});

t.test('fleet mode and workers: routeSource and workers are read and checked', async (t) => {
  const json = minimal();
  json.listen.push({ port: 8080, protocol: 'http' });
  json.routeSource = { redis: 'redis://127.0.0.1:6379', pool: { strategy: 'least-connections' } };
  json.workers = 'auto';
  const config = parseConfig(json, 'test.json');
  t.same(config.routeSource, {
    redis: 'redis://127.0.0.1:6379',
    keyPrefix: 'hostnames:',
    pingIntervalMs: 2000,
    pingTimeoutMs: 2000,
    pool: {
      strategy: 'least-connections',
      maxFails: 1,
      failTimeoutMs: 10_000,
      connectTimeoutMs: 3000,
      firstByteTimeoutMs: 0,
    },
  });
  t.ok(config.workers >= 1, `"auto" is one worker per core: ${config.workers}`);

  const cases: [string, (json: Json) => void, string][] = [
    [
      'an http listener without hosts or pool, outside fleet mode',
      (json) => {
        json.listen[0] = { port: 8000, protocol: 'http' };
      },
      'test.json: listen[0].pool: missing (or give hosts)',
    ],
    [
      'a routeSource that is not a Redis URL',
      (json) => {
        json.routeSource = { redis: 'http://x' };
      },
      'test.json: routeSource.redis: expected redis://host:port[/db], got "http://x"',
    ],
    [
      'a pool setting of the fleet misspelled',
      (json) => {
        json.routeSource = { redis: 'redis://x:1', pool: { strategy: 'nope' } };
      },
      'test.json: routeSource.pool.strategy: expected one of',
    ],
    [
      'a PING deadline of zero',
      (json) => {
        json.routeSource = { redis: 'redis://x:1', pingTimeoutMs: 0 };
      },
      'test.json: routeSource.pingTimeoutMs: expected an integer from 100 to 86400000, got 0',
    ],
    [
      'sixty-five workers',
      (json) => {
        json.workers = 65;
      },
      'test.json: workers: expected an integer from 1 to 64, got 65',
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    const broken = minimal();
    breakIt(broken);
    t.ok(errorFor(broken).startsWith(expected), `${what}: ${errorFor(broken)}`);
  }
});

t.test('backend and listener hosts: compared as the host table compares names', async (t) => {
  const cases: [string, (json: Json) => void, string][] = [
    [
      'a trailing dot and capitals spell the same backend',
      (json) => {
        json.pools.web.backends = [
          { address: 'backend.example:80' },
          { address: 'Backend.Example.:80' },
        ];
      },
      'test.json: pools.web.backends[1].address: "Backend.Example.:80" is already backend 1 of this pool (backend.example:80)',
    ],
    [
      'the IPv4-mapped loopback on our own port is a loop',
      (json) => {
        json.pools.web.backends = [{ address: '[::ffff:127.0.0.1]:8000' }];
      },
      'test.json: pools.web.backends[0].address: "[::ffff:127.0.0.1]:8000" is this proxy\'s own listener',
    ],
    [
      'a backend host that is neither a name nor an address',
      (json) => {
        json.pools.web.backends = [{ address: 'a..b:80' }];
      },
      'test.json: pools.web.backends[0].address: expected "host:port", got "a..b:80"',
    ],
    [
      'brackets around something else than an IPv6 address',
      (json) => {
        json.pools.web.backends = [{ address: '[10.0.0.1]:80' }];
      },
      'test.json: pools.web.backends[0].address: expected "host:port", got "[10.0.0.1]:80"',
    ],
    [
      'a listener address that is neither a name nor an address',
      (json) => {
        json.listen[0] = { address: 'exa%6dple:8000', pool: 'web' };
      },
      'test.json: listen[0].address: expected "host:port", got "exa%6dple:8000"',
    ],
    [
      'a Redis URL whose database is not a number',
      (json) => {
        json.routeSource = { redis: 'redis://h:1/abc' };
      },
      'test.json: routeSource.redis: expected redis://host:port[/db], got "redis://h:1/abc"',
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    const broken = minimal();
    breakIt(broken);
    t.ok(errorFor(broken).startsWith(expected), `${what}: ${errorFor(broken)}`);
  }
});
