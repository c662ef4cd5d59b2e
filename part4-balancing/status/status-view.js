// @ts-check
/**
 * The status page's view: a status snapshot in, HTML out. It is plain
 * JavaScript, not TypeScript, so that one copy runs in two places:
 *
 *   the server (status-page.ts)            the browser (the page's script)
 *   imports view() and renders the         gets this file's text inline, and
 *   first paint: the whole page for a      live() fetches /status.json every
 *   reader with JavaScript off             second and calls the same view()
 *
 * TypeScript still checks it, through the JSDoc types (the `@ts-check` above).
 * It imports nothing and touches no browser global: live() is handed the one
 * element it fills.
 *
 * Escaping is the default, not a habit: every `${...}` in an html`...`
 * template is escaped unless it is itself html`...`. Backend addresses, and
 * later host names, come from files and from Redis; a name that looks like a
 * tag shows as text. (The server adds a Content-Security-Policy that lets no
 * other script run, in case this ever slips.)
 *
 * What it leaves out: history beyond the last minute of rates (the browser
 * keeps it; a reload starts afresh), charts beyond a sparkline, and controls.
 */

/**
 * The JSON it renders, as snapshot.ts defines it: the same types status.ts
 * builds it with, so a field renamed there is an error here. The view shows
 * routes, the link to Redis and the workers when the JSON has them.
 * @typedef {import('./snapshot.ts').Snapshot} Snapshot
 * @typedef {import('./snapshot.ts').PoolStatus} PoolStatus
 * @typedef {import('./snapshot.ts').BackendStatus} BackendStatus
 * @typedef {import('./snapshot.ts').RouteStatus} RouteStatus
 * @typedef {import('./snapshot.ts').WorkerStatus} WorkerStatus
 * @typedef {import('./snapshot.ts').RedisLink} RedisLink
 */
/**
 * One backend's recent past, as live() measures it between polls.
 * @typedef {{ uptimeMs: number, total: number, rates: number[] }} Recent
 */

/** Rates a sparkline shows: a minute, at one poll a second. */
const SAMPLES = 60;

/**
 * The page's body for one snapshot. `note` says how fresh it is; `recent` holds
 * each backend's requests per second (only live() has them).
 * @param {Snapshot} status
 * @param {{ note: string, recent?: Map<string, Recent> }} extras
 * @returns {string}
 */
export function view(status, { note, recent = new Map() }) {
  return html`<header>
  <h1>part4-balancing: status</h1>
  <p class="note">${note}</p>
</header>
<div class="overview">
${processSection(status)}
${connectionsSection(status)}
${eventsSection(status)}
</div>
${listenersSection(status)}
${routesSection(status.routes, status.redis)}
${Object.entries(status.pools).map(([name, pool]) => poolSection(name, pool, recent, status.timingBoundsMs ?? []))}
${workersSection(status.workers)}`.text;
}

/** @param {Snapshot} s */
function processSection(s) {
  return html`<section>
  <h2>Process</h2>
  <dl>
    <dt>pid</dt><dd>${s.pid}</dd>
    <dt>up for</dt><dd>${duration(s.uptimeMs)}</dd>
    <dt>started</dt><dd>${stamp(new Date(s.startedAt))}</dd>
    <dt>last reload</dt><dd>${s.reloadedAt ? stamp(new Date(s.reloadedAt)) : 'none'}</dd>
    <dt>configuration</dt><dd>${s.config}</dd>
  </dl>
</section>`;
}

/** @param {Snapshot} s */
function listenersSection(s) {
  const rows = s.listeners.map(
    (l) => html`<tr>
      <td>${hostPort(l.host, l.port)}</td><td>${l.pool}</td>
      <td class="n">${l.open}</td><td class="n">${l.maxConnections ?? '-'}</td>
    </tr>`,
  );
  return html`<section>
  <h2>Listeners</h2>
  <table>
    <thead><tr><th>address</th><th>pool</th><th class="n">open</th><th class="n">max</th></tr></thead>
    <tbody>${rows}</tbody>
  </table>
</section>`;
}

/**
 * @param {string} name
 * @param {PoolStatus} pool
 * @param {Map<string, Recent>} recent
 * @param {number[]} bounds the upper bounds, in ms, of a backend's timing counts
 */
function poolSection(name, pool, recent, bounds) {
  const ratesOf = (/** @type {BackendStatus} */ b) =>
    recent.get(backendKey(name, b.id))?.rates ?? [];
  // One scale for the pool, so the lines compare: weights 3:2:1 look 3:2:1.
  const peak = Math.max(1, ...pool.backends.flatMap(ratesOf));
  const rows = pool.backends.map((b) => {
    const [state, words] = stateOf(b);
    return html`<tr data-backend="${b.id}" data-state="${state}">
      <td class="id">${b.id}</td><td class="state">${words}</td>
      <td class="n">${b.weight}</td><td class="n">${b.activeConnections}</td>
      <td class="n total">${b.totalConnections}</td><td class="n">${b.failures}</td>
      <td class="n">${percentiles(b.timings?.connect, bounds)}</td>
      <td class="n">${percentiles(b.timings?.firstByte, bounds)}</td>
      <td>${sparkline(ratesOf(b), peak)}</td>
    </tr>`;
  });
  return html`<section data-pool="${name}">
  <h2>Pool ${name}</h2>
  <p class="muted">${pool.strategy}; health check: ${pool.healthCheck}</p>
  <table>
    <thead><tr>
      <th>backend</th><th>state</th><th class="n">weight</th><th class="n">active</th>
      <th class="n">total</th><th class="n">failures</th>
      <th class="n">connect ms, p50 / p99</th><th class="n">first byte ms, p50 / p99</th>
      <th>requests/s, last minute</th>
    </tr></thead>
    <tbody>${rows}</tbody>
  </table>
</section>`;
}

/**
 * The three states of health.ts, and what the page says of each.
 * @param {BackendStatus} b
 * @returns {[state: 'up' | 'passive-down' | 'probe-down', words: string]}
 */
function stateOf(b) {
  if (b.probeFailure !== undefined) {
    return ['probe-down', `down: health check failed (${b.probeFailure})`];
  }
  if (b.retryInMs !== undefined) {
    return ['passive-down', `down: failed connects; tried again in ${seconds(b.retryInMs)}`];
  }
  return ['up', 'up'];
}

/**
 * The median and the 99th percentile of counted times, each as the bound of
 * the count it falls in ("≤ 1" ms; "> 5000" past the last bound).
 * @param {number[] | undefined} counts
 * @param {number[]} bounds
 */
function percentiles(counts, bounds) {
  const total = (counts ?? []).reduce((a, b) => a + b, 0);
  if (!counts || total === 0) return '-';
  const at = (/** @type {number} */ q) => {
    let seen = 0;
    for (const [i, n] of counts.entries()) {
      seen += n;
      if (seen >= q * total) return i < bounds.length ? `≤ ${bounds[i]}` : `> ${bounds.at(-1)}`;
    }
    return '-';
  };
  return `${at(0.5)} / ${at(0.99)}`;
}

/**
 * Requests per second as a line, newest on the right, `peak` at the top.
 * @param {number[]} rates
 * @param {number} peak
 */
function sparkline(rates, peak) {
  if (rates.length === 0) return html`<span class="muted">-</span>`;
  const [width, height] = [120, 20];
  const x = (/** @type {number} */ i) => ((SAMPLES - rates.length + i) * width) / (SAMPLES - 1);
  const y = (/** @type {number} */ rate) => height - 1 - (rate / peak) * (height - 2);
  const points = rates.map((rate, i) => `${x(i).toFixed(1)},${y(rate).toFixed(1)}`).join(' ');
  return html`<svg width="${width}" height="${height}" aria-hidden="true">
    <line x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}"/>
    <polyline points="${points}"/></svg>
    <span class="n">${(rates.at(-1) ?? 0).toFixed(1)}</span>`;
}

/** @param {Snapshot} s */
function connectionsSection(s) {
  const { limits, totals } = s;
  return html`<section>
  <h2>Connections</h2>
  <dl>
    <dt>open</dt><dd>${limits.open} (process limit ${limits.maxConnections})</dd>
    <dt>per client address</dt><dd>${limits.maxConnectionsPerClient || 'no limit'}</dd>
    <dt>relayed</dt><dd>${totals.totalConnections}</dd>
    <dt>failed connects</dt><dd>${totals.failures}</dd>
    <dt>no backend</dt><dd>${totals.noBackend}</dd>
  </dl>
</section>`;
}

/** @param {Snapshot} s */
function eventsSection(s) {
  const events = Object.entries(s.events).map(
    ([kind, count]) => html`<dt>${kind}</dt><dd>${count}</dd>`,
  );
  return html`<section>
  <h2>Events since start</h2>
  <dl>${events}</dl>
</section>`;
}

// --- Routes and workers ---------------------------------------------------------
// Virtual hosts and the Redis fleet add `routes` to the JSON, --workers adds
// `workers`; a configuration without them leaves these sections out.

/**
 * @param {RedisLink} redis
 * @returns {string}
 */
function linkText(redis) {
  //> 4.9
  // Through Sentinel: which server the fleet follows now.
  const { primary, ...link } = redis;
  if (primary !== undefined)
    return `${linkText(link)}; the primary is ${primary}, as Sentinel names it`;
  //< 4.9
  if (redis.state === 'up') return 'connected, routes live';
  const how =
    redis.state === 'silent'
      ? `silent for ${Math.round((redis.silentForMs ?? 0) / 1000)} s (no answer to PING)`
      : 'not connected';
  return `${how}, serving the last routes it gave`;
}

/**
 * @param {RouteStatus[] | undefined} routes
 * @param {RedisLink | undefined} redis
 */
function routesSection(routes, redis) {
  if (routes === undefined) return '';
  // Fleet mode: routes from Redis are live, or the last ones it gave.
  const source = redis === undefined ? '' : html`<p>Redis: ${linkText(redis)}</p>`;
  const rows = routes.map(
    (r) => html`<tr><td>${r.host}</td><td>${r.pool}</td><td>${r.source}</td></tr>`,
  );
  return html`<section>
  <h2>Routes</h2>
  ${source}
  <table>
    <thead><tr><th>host</th><th>pool</th><th>from</th></tr></thead>
    <tbody>${rows}</tbody>
  </table>
</section>`;
}

/** @param {WorkerStatus[] | undefined} workers */
function workersSection(workers) {
  if (workers === undefined) return '';
  // Whatever else a worker reports is shown as it comes: "pid 4321, activeConnections 3, ...".
  const items = workers.map(({ pid, ...more }) => {
    const rest = Object.entries(more).map(([key, value]) => {
      const shown = typeof value === 'object' ? JSON.stringify(value) : String(value);
      return html`, ${key} ${shown}`;
    });
    return html`<li>pid ${pid}${rest}</li>`;
  });
  return html`<section>
  <h2>Workers</h2>
  <ul>${items}</ul>
</section>`;
}

// --- In the browser ------------------------------------------------------------

/**
 * Fetches /status.json every `everyMs` and renders it into `target`. Each
 * poll starts when the last one is done, so a slow answer never piles up
 * requests. Rates come from totalConnections between two polls, divided by
 * the server's own uptime between them: a late poll shows no false spike.
 * When the proxy stops answering, the last picture stays with a note, and the
 * polling goes on (it may be restarting).
 * @param {{ innerHTML: string }} target
 */
export function live(target, everyMs = 1000) {
  /** @type {Map<string, Recent>} */
  let recent = new Map();
  /** @type {Snapshot | undefined} */
  let last;
  /** @type {Date | undefined} */
  let failingSince;
  const poll = async () => {
    let note;
    try {
      // The server says no-store: every poll is a fresh snapshot.
      const response = await fetch('status.json', { signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      last = /** @type {Snapshot} */ (await response.json());
      recent = measure(recent, last);
      failingSince = undefined;
      note = `Live: updated every second, last at ${stamp(new Date()).slice(11)}.`;
    } catch (err) {
      failingSince ??= new Date();
      const why = err instanceof Error ? err.message : String(err);
      note = `No answer since ${stamp(failingSince).slice(11)} (${why}); still asking every second.`;
    }
    if (last) target.innerHTML = view(last, { note, recent });
    setTimeout(poll, everyMs);
  };
  void poll();
}

/**
 * Each backend's rate since the previous poll, appended to its last SAMPLES.
 * A backend that left the configuration is forgotten; a restarted proxy (its
 * uptime went back) starts every line afresh.
 * @param {Map<string, Recent>} before
 * @param {Snapshot} status
 * @returns {Map<string, Recent>}
 */
function measure(before, status) {
  /** @type {Map<string, Recent>} */
  const after = new Map();
  for (const [name, pool] of Object.entries(status.pools)) {
    for (const backend of pool.backends) {
      const key = backendKey(name, backend.id);
      const then = before.get(key);
      const total = backend.totalConnections;
      const elapsedMs = status.uptimeMs - (then?.uptimeMs ?? 0);
      /** @type {number[]} */
      let rates = [];
      if (then && elapsedMs > 0 && total >= then.total) {
        rates = [...then.rates, ((total - then.total) * 1000) / elapsedMs].slice(-SAMPLES);
      }
      after.set(key, { uptimeMs: status.uptimeMs, total, rates });
    }
  }
  return after;
}

// --- Small helpers ---------------------------------------------------------------

/** HTML that is safe as it is: what html`...` returns, and inserts unescaped. */
class Html {
  /** @param {string} text */
  constructor(text) {
    this.text = text;
  }
}

/**
 * The template tag: escapes every value, except Html (and arrays of Html,
 * for lists of rows). undefined, null and false render as nothing.
 * @param {TemplateStringsArray} strings
 * @param {...unknown} values
 */
function html(strings, ...values) {
  /** @param {unknown} value @returns {string} */
  const render = (value) => {
    if (value instanceof Html) return value.text;
    if (Array.isArray(value)) return value.map(render).join('');
    if (value === undefined || value === null || value === false) return '';
    return escapeHtml(String(value));
  };
  return new Html(strings.reduce((out, text, i) => out + render(values[i - 1]) + text));
}

/** @type {Record<string, string>} */
const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe inside an element and inside a quoted attribute. @param {string} text */
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** How a backend is known across polls. @param {string} pool @param {string} id */
function backendKey(pool, id) {
  return `${pool} ${id}`;
}

/** @param {string} host @param {number} port */
function hostPort(host, port) {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Local time as the log lines show it: 2026-11-27 08:12:03. @param {Date} d */
function stamp(d) {
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
  );
}

/** @param {number} ms */
function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "42 s", "3 min 5 s", "2 h 14 min", "3 d 1 h". @param {number} ms */
function duration(ms) {
  const s = Math.floor(ms / 1000);
  const [m, h, d] = [Math.floor(s / 60), Math.floor(s / 3600), Math.floor(s / 86400)];
  if (s < 60) return `${s} s`;
  if (h < 1) return `${m} min ${s % 60} s`;
  if (d < 1) return `${h} h ${m % 60} min`;
  return `${d} d ${h % 24} h`;
}
