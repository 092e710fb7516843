// moat console, quarantine: every node's held messages, one shown as text (headers and the escaped preview, set
// with textContent: no HTML of the message ever reaches the DOM), release / delete buttons. Own origin only.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const pollMs = Number(document.querySelector('meta[name="poll-ms"]').content) || 2000;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
  const flash = (text, bad) => {
    const f = $('flash');
    f.textContent = text;
    f.className = bad ? 'flash bad' : 'flash';
  };
  async function call(path, init) {
    const r = await fetch(path, { credentials: 'same-origin', ...init });
    if (r.status === 401) {
      location.href = '/login';
      throw new Error('logged out');
    }
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  }
  const post = (value) => call('/api/quarantine', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(value) });

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
      const tr = document.createElement('tr');
      tr.className = 'held';
      tr.dataset.id = m.id;
      tr.dataset.node = m.node;
      const h = m.hold || {};
      for (const c of [m.node, m.damaged ? `${m.id} (damaged)` : m.id, time(h.time), h.check || '?', h.score === undefined ? '-' : h.score, m.sender === '' ? 'MAILER-DAEMON' : m.sender, m.subject || '']) tr.append(el('td', c));
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
    body.replaceChildren(...trs);
    if (trs.length === 0) {
      const td = el('td', 'nothing is held', 'empty');
      td.colSpan = 8;
      const tr = document.createElement('tr');
      tr.append(td);
      body.append(tr);
    }
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
})();
