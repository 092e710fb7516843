// moat console, quarantine: every node's held messages, one shown as text (headers and the escaped preview, set
// with textContent: no HTML of the message ever reaches the DOM), release / delete buttons. Own origin only.
import { call, pollMs, postOrLogin } from './api.js';
import { $, el, fill, flash, row, time } from './dom.js';

const post = (value) => postOrLogin('/api/quarantine', value);

function act(m, action, learn) {
  return async (ev) => {
    ev.stopPropagation();
    const what = `${action === 'release' ? 'Release' : 'Delete'} ${m.id} on ${m.node}${learn ? (action === 'release' ? ' and learn it as ham' : ' and learn it as spam') : ''}?`;
    if (!window.confirm(what)) return;
    try {
      const r = await post({ action, id: m.id, node: m.node, learn });
      flash(`${r.action === 'released' ? 'Released' : 'Deleted'} ${r.id} on ${r.node}${r.learned ? ` (learned as ${r.learned})` : ''}${r.learnError ? ` (learning failed: ${r.learnError})` : ''}`, !!r.learnError);
      if ($('quarantine-show-id').textContent === m.id) $('quarantine-show').hidden = true;
    } catch (e) {
      flash(`${action} ${m.id}: ${e.message}`, true);
    }
    refresh();
  };
}

async function show(m) {
  try {
    const d = await call(`/api/quarantine/show?id=${encodeURIComponent(m.id)}&node=${encodeURIComponent(m.node)}`);
    $('quarantine-show-id').textContent = `${d.id} on ${d.node}`;
    const h = d.hold || {};
    $('quarantine-show-hold').textContent = `held ${time(h.time)} by ${h.check}${h.score === undefined ? '' : ` (score ${h.score})`}: ${h.reason}; from <${d.sender}> to ${d.recipients.map((r) => `<${r}>`).join(', ')}; expires ${time(d.expires)}`;
    $('quarantine-headers').textContent = d.preview.headers.map((x) => `${x.name}: ${x.value}`).join('\n');
    const attach = d.preview.attachments.map((a) => `\n[attachment ${a.type}${a.name ? ` ${a.name}` : ''}, not opened]`).join('');
    $('quarantine-preview').textContent = `--- ${d.preview.source === 'none' ? 'no text part' : `${d.preview.source} part as text`}${d.preview.truncated ? ', cut short' : ''} ---\n${d.preview.text}${attach}`;
    $('quarantine-show').hidden = false;
  } catch (e) {
    flash(`show ${m.id}: ${e.message}`, true);
  }
}

function render({ rows, failures }) {
  const body = $('quarantine-table').tBodies[0];
  const trs = rows.map((m) => {
    const h = m.hold || {};
    const tr = row([m.node, m.damaged ? `${m.id} (damaged)` : m.id, time(h.time), h.check || '?', h.score === undefined ? '-' : h.score, m.sender === '' ? 'MAILER-DAEMON' : m.sender, m.subject || '']);
    tr.className = 'held';
    tr.dataset.id = m.id;
    tr.dataset.node = m.node;
    const td = document.createElement('td');
    const buttons = [
      ['Show', 'show', () => show(m)],
      ['Release', 'release', act(m, 'release', false)],
      ['Release + learn ham', 'release-ham', act(m, 'release', true)],
      ['Delete', 'delete', act(m, 'delete', false)],
      ['Delete + learn spam', 'delete-spam', act(m, 'delete', true)],
    ];
    for (const [label, cls, fn] of buttons) {
      const b = el('button', label, cls);
      b.type = 'button';
      b.addEventListener('click', fn);
      td.append(b);
    }
    tr.append(td);
    return tr;
  });
  fill(body, trs, 'nothing is held', 8);
  const down = failures.filter((f) => !f.absent);
  $('quarantine-note').textContent = down.length ? `Not asked (unreachable): ${down.map((f) => f.error).join('; ')}` : '';
  $('quarantine-note').className = down.length ? 'note bad' : 'note';
}

async function refresh() {
  try {
    render(await call('/api/quarantine'));
  } catch (e) {
    flash(`quarantine: ${e.message}`, true);
  }
}
$('quarantine-show-close').addEventListener('click', () => {
  $('quarantine-show').hidden = true;
});
refresh();
setInterval(refresh, pollMs * 5); // held mail changes slowly; every poll asks every node
