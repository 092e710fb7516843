// The dashboard's two DNS list tables: per-zone counters with a bar, and each zone's health check.
// Both read the one view the server joins (journal, nodes' counters, health check): they cannot disagree.
import { $, el, fill, kinds, row, time } from './dom.js';

export function zoneCounters(list) {
  const zmax = Math.max(1, ...list.map((z) => z.checked));
  fill(
    $('zone-counters').tBodies[0],
    list.map((z) => {
      // Checked (grey) with the listed share (red) and the failed share (orange) drawn over it.
      const bar = el('div', undefined, 'zbar');
      bar.style.width = `${Math.round((z.checked / zmax) * 100)}%`;
      const hit = el('div', undefined, 'zbar-hits');
      hit.style.width = `${z.checked ? Math.round((z.hits / z.checked) * 100) : 0}%`;
      const err = el('div', undefined, 'zbar-errors');
      err.style.width = `${z.checked ? Math.round((z.errors / z.checked) * 100) : 0}%`;
      bar.append(hit, err);
      const r = row([el('code', z.zone), el('span', z.state || '-', `state ${z.state || ''}`), z.checked, z.hits, el('span', z.errors, z.errors ? 'errors bad' : 'errors'), kinds(z.failures), bar]);
      r.dataset.zone = z.zone;
      return r;
    }),
    'no DNS list consulted yet',
    7,
  );
}

export function zoneHealth(list) {
  const checked = list.filter((z) => z.state);
  fill(
    $('zone-table').tBodies[0],
    checked.map((z) => {
      const r = row([el('code', z.zone), el('span', z.state, `state ${z.state}`), z.profile, el('span', time(z.checkedAt), 'time'), `${z.errors} in the journal${z.failures && Object.keys(z.failures).length ? `; ${kinds(z.failures)} since start` : ''}`, z.reason || z.lastWarning || '']);
      r.dataset.zone = z.zone;
      return r;
    }),
    'no DNS list in the policy',
    6,
  );
}
