/**
 * The status page, for people: what a browser gets at `GET /` on the status
 * port. One self-contained HTML page (no CDN, no framework, no build step):
 *
 *   <style>   a few lines of CSS
 *   <main>    the snapshot, rendered here by status-view.js: with JavaScript
 *             off, this is the page (reload it for a fresh one)
 *   <script>  status-view.js itself, inline: it fetches /status.json every
 *             second and renders <main> again with the same view()
 *
 * Which clients get the page is content negotiation (prefersHtml): a browser
 * ranks text/html above anything else; curl takes anything, and programs ask
 * for application/json or for nothing in particular: they keep the JSON.
 *
 * The page shows names that come from files (and later from Redis), so besides
 * escaping them (status-view.js), it is sent with a Content-Security-Policy
 * that allows exactly this script and this style, by their hashes, and
 * connections back to the status port only: markup that slipped through could
 * not run a script, load anything, or send anything elsewhere.
 *
 * What it leaves out: anything that needs a second request (icons, fonts,
 * script files), and authentication (it is on loopback; see status.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Snapshot } from './snapshot.ts';
import { view } from './status-view.js';

/**
 * The view's source, sent to the browser as it is (comments and all: view-source
 * shows them). Read beside this file; in a build, beside proxy.js (shared/tools/build.ts).
 */
const VIEW_SOURCE = readFileSync(new URL('./status-view.js', import.meta.url), 'utf8');

const SCRIPT = `${VIEW_SOURCE}
live(document.getElementById('status'));
`;
// Inside <script>, "</script" would end it early and "<!--" changes how it is parsed.
if (/<\/script|<!--/i.test(SCRIPT)) throw new Error('status-view.js: no "</script" or "<!--"');

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 1.5rem; max-width: 64rem; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 0.3rem; }
.overview { display: flex; flex-wrap: wrap; gap: 0 3rem; }
p { margin: 0.2rem 0 0.5rem; }
.note, .muted { color: #666; }
table { border-collapse: collapse; }
th, td { padding: 0.2rem 0.7rem 0.2rem 0; border-bottom: 1px solid #e2e2e2; text-align: left; }
th { font-weight: 600; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
td.id { font-family: ui-monospace, monospace; }
tr[data-state="up"] .state { color: #17692f; }
tr[data-state="passive-down"] .state { color: #8a5200; }
tr[data-state="probe-down"] .state { color: #b3261e; }
tr[data-state$="-down"] { background: #fdf3f1; }
svg { vertical-align: middle; }
polyline { fill: none; stroke: #2463c2; stroke-width: 1.5; }
line { stroke: #ddd; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.1rem 1rem; margin: 0; }
dt { color: #666; }
dd { margin: 0; overflow-wrap: anywhere; }
`;

/** For a policy: the 'sha256-...' source that allows exactly this inline text. */
const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Headers the page is sent with (the JSON needs none of them). */
export const PAGE_HEADERS = {
  'content-security-policy': [
    "default-src 'none'",
    `script-src ${hashOf(SCRIPT)}`,
    `style-src ${hashOf(STYLE)}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
};

/** The whole page for one snapshot. */
export function page(report: Snapshot): string {
  const note =
    `A snapshot taken at ${new Date().toTimeString().slice(0, 8)}. ` +
    'With JavaScript on, it updates itself every second; without, reload the page.';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>part4-balancing status</title>
<style>${STYLE}</style>
</head>
<body>
<main id="status">
${view(report, { note })}
</main>
<script type="module">${SCRIPT}</script>
</body>
</html>
`;
}

// Does this Accept header rank HTML above JSON? A browser's does
// (`text/html,...,*/*;q=0.8`); curl's `*/*` ranks them the same, and no header
// at all ranks neither: both of those get the JSON.
export function prefersHtml(accept: string | undefined): boolean {
  return quality(accept, 'text/html') > quality(accept, 'application/json');
}

// The quality an Accept header gives one media type: that of its most specific
// matching range (`text/html` over `text/*` over `*/*`), 1 unless it has a
// `q=`; 0 when nothing matches.
function quality(accept: string | undefined, mediaType: string): number {
  const [type] = mediaType.split('/');
  let best = { specificity: -1, q: 0 };
  for (const entry of (accept ?? '').toLowerCase().split(',')) {
    const [range, ...parameters] = entry.split(';').map((part) => part.trim());
    const specificity =
      range === mediaType ? 2 : range === `${type}/*` ? 1 : range === '*/*' ? 0 : -1;
    if (specificity <= best.specificity) continue;
    const q = parameters.find((p) => p.startsWith('q='));
    best = { specificity, q: q === undefined ? 1 : Number(q.slice(2)) || 0 };
  }
  return best.q;
}
