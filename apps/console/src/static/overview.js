// The dashboard's overview: the journal's counters as cards, decisions per minute as a stacked SVG chart, the
// restrictions table (journal and nodes' metrics), then the zone and node tables. Every value is shown as text.
import { $, el, fill, row, time } from './dom.js';
import { nodes } from './nodes.js';
import { zoneCounters, zoneHealth } from './zones.js';

function chart(perMinute) {
  const svg = $('chart');
  const ns = 'http://www.w3.org/2000/svg';
  const max = Math.max(1, ...perMinute.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0)));
  const w = 600 / perMinute.length;
  const parts = [];
  perMinute.forEach((b, i) => {
    let y = 80;
    for (const action of ['permit', 'continue', 'defer', 'reject']) {
      const n = b.counts[action] || 0;
      if (!n) continue;
      const h = (n / max) * 76;
      y -= h;
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', String(i * w + 1));
      r.setAttribute('y', String(y));
      r.setAttribute('width', String(Math.max(1, w - 2)));
      r.setAttribute('height', String(h));
      r.setAttribute('class', `bar ${action}`);
      const t = document.createElementNS(ns, 'title');
      t.textContent = `${time(b.t)}: ${n} ${action}`;
      r.append(t);
      parts.push(r);
    }
  });
  svg.replaceChildren(...parts);
}

export function overview(o) {
  const j = o.journal;
  $('window').textContent = j.decisions ? `last ${j.decisions} in the journal, since ${time(j.from)}` : 'journal empty';
  const cards = [['decisions', j.decisions]];
  for (const a of ['reject', 'defer', 'permit', 'continue']) cards.push([a, j.byAction[a] || 0]);
  $('cards').replaceChildren(
    ...cards.map(([name, n]) => {
      const c = el('div', undefined, `card ${name}`);
      c.append(el('strong', n), el('span', name));
      return c;
    }),
  );
  chart(j.perMinute);
  const since = new Map(o.metrics.decisions.map((d) => [`${d.restriction}\u0000${d.action}`, d.count]));
  const keys = new Map(j.byRestriction.map((r) => [`${r.restriction}\u0000${r.action}`, r]));
  for (const d of o.metrics.decisions) if (!keys.has(`${d.restriction}\u0000${d.action}`)) keys.set(`${d.restriction}\u0000${d.action}`, { restriction: d.restriction, action: d.action, count: 0 });
  const max = Math.max(1, ...[...keys.values()].map((r) => r.count));
  fill(
    $('restrictions').tBodies[0],
    [...keys.entries()].map(([k, r]) => {
      const bar = el('div', undefined, `hbar ${r.action}`);
      bar.style.width = `${Math.round((r.count / max) * 100)}%`;
      return row([el('code', r.restriction), el('span', r.action, `action ${r.action}`), r.count, since.has(k) ? since.get(k) : '-', bar]);
    }),
    'no decision yet',
    5,
  );
  zoneCounters(o.zones);
  zoneHealth(o.zones);
  nodes(o.metrics.sources);
  const bad = o.metrics.sources.filter((s) => !s.ok);
  $('sources').textContent = o.metrics.sources.length
    ? `metrics from ${o.metrics.sources.length} endpoint(s)${bad.length ? `; unreachable: ${bad.map((s) => `${s.url} (${s.error})`).join(', ')}` : ''}`
    : 'no metrics endpoint configured (MOAT_CONSOLE_METRICS)';
}
