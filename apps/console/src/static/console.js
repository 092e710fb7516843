// moat console: polls the JSON endpoints and renders with textContent only (every value shown is untrusted text).
// Talks only to its own origin; POSTs carry the session's CSRF token from the page's meta tag.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const pollMs = Number(document.querySelector('meta[name="poll-ms"]').content) || 2000;
  const $ = (id) => document.getElementById(id);
  const open = new Set();
  // Networks whitelisted from this page: their stuck rows stay listed until the triplets expire, marked done.
  const whitelisted = new Set();

  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const row = (cells) => {
    const tr = document.createElement('tr');
    for (const c of cells) tr.append(c instanceof Node ? wrap(c) : el('td', c));
    return tr;
  };
  const wrap = (node) => {
    const td = document.createElement('td');
    td.append(node);
    return td;
  };
  const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
  const dur = (s) => (s === undefined || s === null ? '-' : s < 120 ? `${Math.round(s)}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`);
  const fill = (tbody, rows, empty, cols) => {
    tbody.replaceChildren(...rows);
    if (rows.length === 0) {
      const td = el('td', empty, 'empty');
      td.colSpan = cols;
      const tr = document.createElement('tr');
      tr.append(td);
      tbody.append(tr);
    }
  };
  const flash = (text, bad) => {
    const f = $('flash');
    f.textContent = text;
    f.className = bad ? 'flash bad' : 'flash';
  };

  async function get(path) {
    const r = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (r.status === 401) {
      location.href = '/login';
      throw new Error('logged out');
    }
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  }
  async function post(path, value) {
    const r = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(value) });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  }

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

  function overview(o) {
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

  // Beside the trace: where the recipient goes once accepted, as the current config resolves it.
  function resolution(r) {
    const box = el('div', undefined, 'resolution');
    box.append(el('p', `Address resolution (current config): <${r.address}> class ${r.class}`));
    const steps = el('ul', undefined, 'steps');
    for (const s of r.steps.slice(1)) steps.append(el('li', s));
    if (steps.childElementCount) box.append(steps);
    if (r.refused) {
      box.append(el('p', `${r.refused.reason === 'lookup-failure' ? 'deferred' : 'refused'}: ${r.refused.status} ${r.refused.text} (${r.refused.reason})`, 'outcome reject'));
      return box;
    }
    const t = el('table');
    t.append(row([el('strong', 'recipient'), el('strong', 'class'), el('strong', 'extension'), el('strong', 'next hop')]));
    for (const x of r.recipients) t.append(row([`<${x.address}>`, x.class, x.extension === undefined ? '-' : x.extension, el('code', x.nextHop)]));
    box.append(t);
    return box;
  }

  function decisions(list) {
    const rows = [];
    for (const e of list) {
      const f = e.facts;
      const v = e.verdict;
      const tr = row([el('span', time(e.time), 'time'), e.node, e.session || '-', f.clientAddress, f.sender === undefined ? '-' : `<${f.sender}>`, f.recipient === undefined ? '-' : `<${f.recipient}>`, el('span', v.action, `action ${v.action}`), el('code', v.decidedBy || '-')]);
      tr.className = 'decision';
      tr.dataset.id = e.id;
      tr.dataset.session = e.session || '';
      tr.addEventListener('click', () => {
        if (open.has(e.id)) open.delete(e.id);
        else open.add(e.id);
        decisions(list);
      });
      rows.push(tr);
      if (open.has(e.id)) rows.push(traceCell(e));
    }
    fill($('decision-table').tBodies[0], rows, 'no decision journaled yet', 8);
  }

  function stuck(s) {
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
          refreshSlow();
        });
        return row([t.client || '-', `<${t.sender || ''}>`, `<${t.recipient || ''}>`, t.attempts, time(t.firstSeen * 1000), pattern, b]);
      }),
      'no sender is stuck',
      7,
    );
  }

  function queueAction(action, ids) {
    return async () => {
      try {
        const r = await post('/api/queue', { action, ids });
        flash(action === 'flush' ? `Flushed ${r.flushed} message(s).` : `${action}: ${r.done.join(' ') || 'nothing'}${r.missing.length ? `; not found: ${r.missing.join(' ')}` : ''}`);
      } catch (e) {
        flash(`${action} failed: ${e.message}`, true);
      }
      refreshSlow();
    };
  }

  function queue(list) {
    fill(
      $('queue-table').tBodies[0],
      list.map((m) => {
        const actions = el('span', undefined, 'actions');
        const acts = m.state === 'hold' ? ['release', 'delete'] : m.state === 'active' ? [] : ['hold', 'delete'];
        for (const a of acts) {
          const b = el('button', a);
          b.type = 'button';
          b.dataset.action = a;
          b.addEventListener('click', queueAction(a, [m.id]));
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

  // Both zone tables read the one view the server joins (journal, nodes' counters, health check): they cannot disagree.
  const kinds = (m) => (m && Object.keys(m).length ? Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ') : '-');
  function zoneCounters(list) {
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
  function zoneHealth(list) {
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
  // Each metrics endpoint is one node: is it under stress (mx), did its last config reload take, is its ACME
  // certificate renewing (a failing renewal or a near expiry is a warning the admin must see)?
  function nodes(sources) {
    fill(
      $('node-table').tBodies[0],
      sources.map((src) => {
        const st = src.state || {};
        const stress = st.stress
          ? st.stress.on.length
            ? el('span', `STRESS on ${st.stress.on.join(', ')}: short timeouts, tighter per-address limit`, 'stress on')
            : el('span', `normal (${st.stress.switches} switch(es) since start)`, 'stress off')
          : '-';
        let reload = '-';
        if (st.reload) {
          const counts = kinds(st.reload.outcomes);
          reload =
            st.reload.lastOk === false
              ? el('span', `FAILED: old config still in force (${counts})`, 'reload bad')
              : el('span', `${st.reload.lastOk === true ? 'ok' : 'unknown'} (${counts})`, 'reload ok');
        }
        const c = st.certificate;
        const cert = !c
          ? '-'
          : c.warning
            ? el('span', c.warning, 'cert bad')
            : el('span', c.expiryDays === undefined ? 'ACME: no certificate yet' : `ACME ok, expires in ${Math.floor(c.expiryDays)} days`, 'cert ok');
        const r = row([el('code', src.url), el('span', src.ok ? 'yes' : `no: ${src.error}`, src.ok ? 'state healthy' : 'state unreachable'), stress, reload, cert]);
        if (st.stress?.on.length) r.className = 'stressed';
        else if (c?.warning) r.className = 'cert-warning';
        return r;
      }),
      'no metrics endpoint configured (MOAT_CONSOLE_METRICS)',
      5,
    );
  }

  // The recent list: one row per session with its final outcome; a click opens its steps, a step's click its trace.
  function traceCell(e) {
    const f = e.facts;
    const v = e.verdict;
    const td = el('td', undefined, 'trace');
    td.colSpan = 8;
    const head = el('p', `${f.stage} stage, helo ${f.helo === undefined ? '-' : f.helo}${f.tls ? ', TLS' : ''}${e.queueId ? `, queue ${e.queueId}` : ''}: ${v.action.toUpperCase()} ${v.status} ${v.text || ''}${e.reply ? ` (reply ${e.reply})` : ''}`);
    const t = el('table');
    t.append(row([el('strong', '#'), el('strong', 'list'), el('strong', 'restriction'), el('strong', 'outcome'), el('strong', 'ms'), el('strong', 'reason')]));
    v.trace.forEach((x, i) => {
      t.append(row([i + 1, x.list, el('code', x.restriction), el('span', x.outcome, `outcome ${x.outcome}`), x.ms.toFixed(2), x.reason || '']));
    });
    td.append(head, t);
    if (e.resolution) td.append(resolution(e.resolution));
    // a message's decision: teach spamd's Bayes with that message (the journal keeps no message: the admin
    // gives the .eml the user saved or forwarded as an attachment; held messages learn from the quarantine)
    if (f.stage === 'end-of-data') td.append(learnForm(e.id));
    const tr = document.createElement('tr');
    tr.className = 'trace-row';
    tr.append(td);
    return tr;
  }
  /** base64 of a file's bytes (the API takes the message as base64 JSON). */
  async function base64(file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  }
  // the file chosen per trace: the list is redrawn every few seconds, and a file input cannot be refilled
  const learnFiles = new Map();
  function learnForm(key) {
    const box = el('p', undefined, 'learn');
    const file = document.createElement('input');
    file.type = 'file';
    file.accept = '.eml,message/rfc822,text/plain';
    file.className = 'learn-file';
    file.setAttribute('aria-label', 'the message (.eml) to learn from');
    const chosenName = el('span', learnFiles.has(key) ? ` ${learnFiles.get(key).name} ` : ' ', 'learn-chosen');
    file.addEventListener('change', () => {
      if (file.files?.[0]) learnFiles.set(key, file.files[0]);
      chosenName.textContent = learnFiles.has(key) ? ` ${learnFiles.get(key).name} ` : ' ';
    });
    box.append(el('span', 'Teach Bayes with this message (.eml): '), file, chosenName);
    for (const as of ['spam', 'ham']) {
      const b = el('button', `Learn as ${as}`, `learn-${as}`);
      b.type = 'button';
      b.addEventListener('click', async (ev) => {
        ev.stopPropagation();
        const chosen = file.files?.[0] || learnFiles.get(key);
        if (!chosen) return flash('Choose the message file (.eml) first', true);
        try {
          const r = await post('/api/learn', { as, message: await base64(chosen) });
          flash(r.outcome === 'learned' ? `Learned ${chosen.name} as ${as}` : `Nothing changed: ${chosen.name} was already learned as ${as}, or Bayes is off`);
        } catch (err) {
          flash(`Learning failed: ${err.message}`, true);
        }
      });
      box.append(b);
    }
    box.addEventListener('click', (ev) => ev.stopPropagation());
    return box;
  }
  function sessions(list) {
    const rows = [];
    for (const s of list) {
      const fin = s.final;
      const others = Object.entries(s.counts).filter(([a]) => a !== fin.action);
      const outcome = el('span', undefined, 'outcome-cell');
      outcome.append(el('span', fin.action, `action ${fin.action}`), el('span', ` at ${fin.stage}`, 'stage'));
      if (others.length) outcome.append(el('span', ` (also ${others.map(([a, n]) => `${n} ${a}`).join(', ')})`, 'note'));
      const rcpt = s.recipients.length ? `<${s.recipients[0]}>${s.recipients.length > 1 ? ` +${s.recipients.length - 1}` : ''}` : '-';
      const tr = row([el('span', time(s.to), 'time'), s.node, s.session, s.client, s.sender === undefined ? '-' : `<${s.sender}>`, rcpt, outcome, el('code', fin.decidedBy || '-')]);
      tr.className = 'session';
      tr.dataset.session = s.session;
      tr.dataset.action = fin.action;
      tr.dataset.stage = fin.stage;
      tr.addEventListener('click', () => {
        if (open.has(s.session)) open.delete(s.session);
        else open.add(s.session);
        sessions(list);
      });
      rows.push(tr);
      if (!open.has(s.session)) continue;
      for (const e of s.steps) {
        const v = e.verdict;
        const step = row([el('span', time(e.time), 'time'), '', e.facts.stage.toUpperCase(), '', '', e.facts.recipient === undefined ? '' : `<${e.facts.recipient}>`, el('span', v.action, `action ${v.action}`), el('code', v.decidedBy || '-')]);
        step.className = 'step';
        step.dataset.stage = e.facts.stage;
        step.dataset.session = s.session;
        const key = `step:${e.id}`;
        step.addEventListener('click', () => {
          if (open.has(key)) open.delete(key);
          else open.add(key);
          sessions(list);
        });
        rows.push(step);
        if (open.has(key)) rows.push(traceCell(e));
      }
    }
    fill($('decision-table').tBodies[0], rows, 'no decision journaled yet', 8);
  }

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
  function limited(r) {
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
  async function refreshSlow() {
    await Promise.all([
      get('/api/ratelimits').then(limited, (e) => flash(`rate limits: ${e.message}`, true)),
      get('/api/greylist/stuck').then(stuck, (e) => flash(`greylist: ${e.message}`, true)),
      get('/api/queue').then(queue, (e) => flash(`queue: ${e.message}`, true)),
    ]);
  }

  $('flush').addEventListener('click', queueAction('flush', []));
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
})();
