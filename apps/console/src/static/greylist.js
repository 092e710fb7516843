// The dashboard's stuck greylisted senders, each with a button that whitelists its network (POST with the CSRF token).
// Senders, recipients and addresses are untrusted journal data, set as text.
import { post } from './api.js';
import { $, dur, el, fill, flash, row, time } from './dom.js';

// Networks whitelisted from this page: their stuck rows stay listed until the triplets expire, marked done.
const whitelisted = new Set();

/** `refresh` redraws the slow tables after a whitelist. */
export function stuck(s, refresh) {
  $('greylist-note').textContent = s.enabled ? 'Deferred, past the greylisting delay, and never passed: senders that retry from elsewhere or change their envelope on every try.' : 'Greylisting is not in the policy.';
  fill(
    $('stuck-table').tBodies[0],
    s.stuck.map((t) => {
      const pattern = t.attempts > 1 ? `every ~${dur(t.meanGap)}, last ${dur(t.sinceLast)} ago` : `once, ${dur(t.sinceLast)} ago`;
      const cidr = t.network || `${t.client}/32`;
      if (whitelisted.has(cidr)) return row([t.client || '-', `<${t.sender || ''}>`, `<${t.recipient || ''}>`, t.attempts, time(t.firstSeen * 1000), pattern, el('span', `${cidr} whitelisted`, 'done')]);
      const b = el('button', `Whitelist ${cidr}`);
      b.type = 'button';
      b.className = 'whitelist';
      b.dataset.cidr = cidr;
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          const r = await post('/api/greylist/whitelist', { cidr: b.dataset.cidr });
          whitelisted.add(r.whitelisted);
          flash(`Whitelisted ${r.whitelisted} for ${r.days} days: its next retry passes.`);
        } catch (e) {
          flash(`Whitelist failed: ${e.message}`, true);
          b.disabled = false;
        }
        refresh();
      });
      return row([t.client || '-', `<${t.sender || ''}>`, `<${t.recipient || ''}>`, t.attempts, time(t.firstSeen * 1000), pattern, b]);
    }),
    'no sender is stuck',
    7,
  );
}
