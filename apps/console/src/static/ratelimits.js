// The dashboard's rate limit table: clients and logins over a shared limit, until their window ends.
// Subjects are untrusted (client addresses, login names), set as text.
import { $, dur, fill, row, time } from './dom.js';

export function limited(r) {
  $('ratelimit-note').textContent =
    r.active.length || r.limited.length
      ? `Clients and logins over a shared rate limit (counted by every MX): their commands get 4.7.x until the window ends.${r.active.length ? ` Limits on here: ${r.active.join(', ')}.` : ''}`
      : 'No rate limit is on (mx.rate_limits; AUTH failures count once mx.auth.users_file is set).';
  fill(
    $('ratelimit-table').tBodies[0],
    r.limited.map((c) => row([c.limit, c.subject, c.service || 'any', `${c.count} / ${c.max}`, c.refused, `${time(c.windowEnd * 1000)} (in ${dur(Math.max(0, c.windowEnd - r.now))})`])),
    'nobody is being limited',
    6,
  );
}
