// moat console, the dashboard's entry: polls the JSON endpoints and hands each answer to its table's module, which
// renders with textContent only (every value shown is untrusted text). Own origin only; POSTs carry the CSRF token.
import { get, pollMs } from './api.js';
import { decisions, sessions } from './decisions.js';
import { $, flash } from './dom.js';
import { stuck } from './greylist.js';
import { overview } from './overview.js';
import { queue, queueAction } from './queue.js';
import { limited } from './ratelimits.js';

const status = (ok, text) => {
  const s = $('status');
  s.textContent = text;
  s.className = ok ? 'status ok' : 'status bad';
};

// A session or queue id being looked at ("why was this deferred?"), or null for the newest decisions.
let filter = null;
const decisionsUrl = () => (filter ? `/api/decisions?${filter.kind}=${encodeURIComponent(filter.id)}` : '/api/sessions?count=25');

async function refreshFast() {
  try {
    const [o, d] = await Promise.all([get('/api/overview'), get(decisionsUrl())]);
    $('search-note').textContent = filter ? `${d.length} decision(s) for ${filter.kind === 'session' ? 'session' : 'queue id'} ${filter.id}` : '';
    overview(o);
    if (filter) decisions(d);
    else sessions(d);
    status(true, `live, updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    status(false, `journal unavailable: ${e.message}`);
  }
}
async function refreshSlow() {
  await Promise.all([
    get('/api/ratelimits').then(limited, (e) => flash(`rate limits: ${e.message}`, true)),
    get('/api/greylist/stuck').then((s) => stuck(s, refreshSlow), (e) => flash(`greylist: ${e.message}`, true)),
    get('/api/queue').then((list) => queue(list, refreshSlow), (e) => flash(`queue: ${e.message}`, true)),
  ]);
}

$('flush').addEventListener('click', queueAction('flush', [], refreshSlow));
$('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = $('search-id').value.trim();
  filter = id ? { kind: $('search-kind').value === 'queueId' ? 'queueId' : 'session', id } : null;
  refreshFast();
});
$('search-clear').addEventListener('click', () => {
  filter = null;
  $('search-id').value = '';
  refreshFast();
});
refreshFast();
refreshSlow();
setInterval(refreshFast, pollMs);
setInterval(refreshSlow, pollMs * 2.5);
