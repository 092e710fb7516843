// The dashboard's queue table and its operator actions (hold, release, delete, flush: POST with the CSRF token).
// Envelope addresses and errors are untrusted, set as text.
import { post } from './api.js';
import { $, el, fill, flash, row, time } from './dom.js';

/** A click handler that runs one queue action, says what it did, then calls `refresh`. */
export function queueAction(action, ids, refresh) {
  return async () => {
    try {
      const r = await post('/api/queue', { action, ids });
      flash(action === 'flush' ? `Flushed ${r.flushed} message(s).` : `${action}: ${r.done.join(' ') || 'nothing'}${r.missing.length ? `; not found: ${r.missing.join(' ')}` : ''}`);
    } catch (e) {
      flash(`${action} failed: ${e.message}`, true);
    }
    refresh();
  };
}

export function queue(list, refresh) {
  fill(
    $('queue-table').tBodies[0],
    list.map((m) => {
      const actions = el('span', undefined, 'actions');
      const acts = m.state === 'hold' ? ['release', 'delete'] : m.state === 'active' ? [] : ['hold', 'delete'];
      for (const a of acts) {
        const b = el('button', a);
        b.type = 'button';
        b.dataset.action = a;
        b.addEventListener('click', queueAction(a, [m.id], refresh));
        actions.append(b);
      }
      const r = row([el('code', m.id), el('span', m.state, `state ${m.state}`), m.size, time(m.arrival), m.sender === '' ? 'MAILER-DAEMON' : m.sender || '?', (m.recipients || []).map((x) => x.address).join(', '), m.state === 'deferred' ? `${time(m.nextRetry)} ${m.lastError || ''}` : m.lastError || '', actions]);
      r.dataset.id = m.id;
      return r;
    }),
    'the queue is empty',
    8,
  );
}
