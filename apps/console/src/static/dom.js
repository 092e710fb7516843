// The console pages' DOM helpers: elements made with textContent only, table rows, a table's empty state, the flash
// line, and the text formats (UTC times, rough durations). Trusts nothing it is given: every value is set as text.
export const $ = (id) => document.getElementById(id);

export const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
};
const wrap = (node) => {
  const td = document.createElement('td');
  td.append(node);
  return td;
};
/** A table row: a node goes in a cell as it is, any other value as the cell's text. */
export const row = (cells) => {
  const tr = document.createElement('tr');
  for (const c of cells) tr.append(c instanceof Node ? wrap(c) : el('td', c));
  return tr;
};
/** A table body's rows, or one row across `cols` columns saying it is empty. */
export const fill = (tbody, rows, empty, cols) => {
  tbody.replaceChildren(...rows);
  if (rows.length === 0) {
    const td = el('td', empty, 'empty');
    td.colSpan = cols;
    const tr = document.createElement('tr');
    tr.append(td);
    tbody.append(tr);
  }
};
export const flash = (text, bad) => {
  const f = $('flash');
  f.textContent = text;
  f.className = bad ? 'flash bad' : 'flash';
};

export const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
export const dur = (s) => (s === undefined || s === null ? '-' : s < 120 ? `${Math.round(s)}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`);
export const kinds = (m) => (m && Object.keys(m).length ? Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ') : '-');
