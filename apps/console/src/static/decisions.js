// The recent list: one row per session with its final outcome; a click opens its steps, a step's click its trace
// (verdict, trace table, address resolution, Bayes form). Rows are journal data (untrusted), set as text.
import { $, el, fill, row, time } from './dom.js';
import { learnForm } from './learn.js';

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

// rows opened by a click (sessions, steps, decisions): kept across the redraws of every poll
const open = new Set();

/** Single decisions (a session or queue id searched for), each opening to its trace. */
export function decisions(list) {
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

export function sessions(list) {
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
