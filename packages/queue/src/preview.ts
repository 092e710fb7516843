// A held message made safe to look at: its header fields and a text preview (the text/plain part decoded, or
// HTML reduced to text). Trusts nothing in the message: pure string work, never renders, never fetches anything.
import { Buffer } from 'node:buffer';

export interface MessagePreview {
  /** Header fields in order: unfolded, RFC 2047 words decoded, control characters escaped, each bounded. */
  headers: { name: string; value: string }[];
  /** The preview text: control characters other than newline and tab escaped as \xNN, at most maxChars. */
  text: string;
  /** Where the text came from. */
  source: 'text/plain' | 'text/html' | 'none';
  truncated: boolean;
  /** Other parts (attachments, images), by type and file name: listed, never opened. */
  attachments: { type: string; name?: string | undefined }[];
}

const MAX_SCAN = 2 * 1024 * 1024;
const MAX_HEADERS = 100;
const MAX_VALUE = 500;
const MAX_DEPTH = 8;
const MAX_PARTS = 100;

/**
 * Terminal and page safety: C0/C1 controls (not \n, \t) as \xNN; bidi overrides and isolates as \u{NNNN}
 * (text that reads differently than it is, "Trojan Source").
 */
export function escapeControls(s: string, keepNewlines = true): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (keepNewlines && (c === '\n' || c === '\t')) return c;
    const n = c.charCodeAt(0);
    return n > 0xff ? `\\u{${n.toString(16)}}` : `\\x${n.toString(16).padStart(2, '0')}`;
  });
}

interface Entity {
  headers: { name: string; value: string }[];
  body: Buffer;
}

function splitEntity(buf: Buffer): Entity {
  let end = buf.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = buf.indexOf('\n\n');
  if (end < 0 || (lf >= 0 && lf < end)) {
    end = lf;
    sep = 2;
  }
  const head = (end < 0 ? buf : buf.subarray(0, end)).toString('utf8');
  const body = end < 0 ? Buffer.alloc(0) : buf.subarray(end + sep);
  const headers: { name: string; value: string }[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1]!.value += ` ${line.trim()}`;
    else {
      const i = line.indexOf(':');
      if (i > 0 && headers.length < MAX_HEADERS) headers.push({ name: line.slice(0, i).trim(), value: line.slice(i + 1).trim() });
    }
  }
  return { headers, body };
}

const field = (e: Entity, name: string) => e.headers.find((h) => h.name.toLowerCase() === name)?.value;

/** `text/plain; charset="utf-8"` into its type and lower-cased parameters. */
function parseContentType(v: string | undefined): { type: string; params: Record<string, string> } {
  const [type = 'text/plain', ...rest] = (v ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const m = /^\s*([A-Za-z0-9*_-]+)\s*=\s*(?:"([^"]*)"|([^\s;]*))/.exec(p);
    if (m) params[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? '';
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

function decodeCharset(b: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset?.trim() || 'utf-8', { fatal: false }).decode(b);
  } catch {
    return b.toString('latin1'); // an unknown charset: bytes as Latin-1, still escaped
  }
}

function decodeQp(s: string): Buffer {
  const bytes: number[] = [];
  const t = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(t.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(t.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0) & 0xff);
  }
  return Buffer.from(bytes);
}

function decodeBody(e: Entity): string {
  const cte = (field(e, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  const raw = e.body.toString('latin1');
  const bytes = cte === 'base64' ? Buffer.from(raw.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') : cte === 'quoted-printable' ? decodeQp(raw) : e.body;
  return decodeCharset(bytes, parseContentType(field(e, 'content-type')).params.charset);
}

/** RFC 2047 encoded words (`=?utf-8?B?...?=`, `=?iso-8859-1?Q?...?=`) in a header value. */
export function decodeWords(v: string): string {
  return v.replace(/=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=(\s+(?==\?))?/g, (_all, charset: string, enc: string, text: string) => {
    const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQp(text.replace(/_/g, ' '));
    return decodeCharset(bytes, charset.split('*')[0]);
  });
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', copy: '©', reg: '®', hellip: '…', mdash: '—', ndash: '–' };

/** The HTML a preview reads: its text needs no more, and the scans below stay short on hostile input. */
const HTML_MAX = 256 * 1024;

/**
 * `html` without the spans from each `open` to the next `close` and, for a closing tag, on to its `>` (an
 * unclosed span runs to the end). Linear: each character is looked at a bounded number of times.
 */
function dropSpans(html: string, open: RegExp, close: (m: RegExpExecArray) => string, toTagEnd: boolean): string {
  const lower = html.toLowerCase();
  let out = '';
  let at = 0;
  open.lastIndex = 0;
  for (let m = open.exec(html); m; m = open.exec(html)) {
    out += html.slice(at, m.index);
    const c = close(m);
    const end = lower.indexOf(c, m.index + m[0].length);
    if (end < 0) return out;
    at = end + c.length;
    if (toTagEnd) {
      const gt = html.indexOf('>', at);
      if (gt < 0) return out;
      at = gt + 1;
    }
    open.lastIndex = at;
  }
  return out + html.slice(at);
}

/**
 * HTML reduced to text: scripts, styles and comments dropped, block ends as line breaks, tags removed, entities
 * decoded. Never rendered, and linear in its input (a quarantined message is hostile: no pattern here may
 * backtrack over an unclosed `<`, `<!--` or `<script`).
 */
export function htmlToText(input: string): string {
  const html = input.length > HTML_MAX ? input.slice(0, HTML_MAX) : input;
  const noComments = dropSpans(html, /<!--/g, () => '-->', false);
  const noScripts = dropSpans(noComments, /<(script|style|head|title)\b/gi, (m) => `</${(m[1] ?? '').toLowerCase()}`, true);
  return noScripts
    .replace(/<(br|\/p|\/div|\/tr|\/h[1-6]|\/li|\/table)\b[^<>]*>/gi, '\n')
    .replace(/<li\b[^<>]*>/gi, '\n- ')
    .replace(/<[^<>]*>/g, '')
    .replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (all, name: string) => {
      if (name[0] === '#') {
        const n = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : '';
      }
      return ENTITIES[name.toLowerCase()] ?? all;
    })
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

interface Found {
  plain?: string;
  html?: string;
  attachments: { type: string; name?: string | undefined }[];
  parts: number;
}

function walk(e: Entity, depth: number, found: Found): void {
  if (++found.parts > MAX_PARTS) return;
  const ct = parseContentType(field(e, 'content-type'));
  const disposition = (field(e, 'content-disposition') ?? '').toLowerCase();
  if (ct.type.startsWith('multipart/') && ct.params.boundary && depth < MAX_DEPTH) {
    const delim = `--${ct.params.boundary}`;
    const text = e.body.toString('latin1');
    const pieces = text.split(new RegExp(`(?:^|\\r?\\n)${delim.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*(?:\\r?\\n|$)`));
    // pieces[0] is the preamble; a piece after the closing delimiter is the epilogue (mostly empty)
    for (const piece of pieces.slice(1)) {
      if (piece.trim() === '') continue;
      walk(splitEntity(Buffer.from(piece, 'latin1')), depth + 1, found);
    }
    return;
  }
  const isAttachment = disposition.startsWith('attachment');
  if (!isAttachment && ct.type === 'text/plain' && found.plain === undefined) found.plain = decodeBody(e);
  else if (!isAttachment && ct.type === 'text/html' && found.html === undefined) found.html = decodeBody(e);
  else if (ct.type === 'message/rfc822' && depth < MAX_DEPTH) walk(splitEntity(e.body), depth + 1, found);
  else {
    const name = /filename\*?="?([^";]+)/i.exec(field(e, 'content-disposition') ?? '')?.[1] ?? ct.params.name;
    found.attachments.push({ type: escapeControls(ct.type, false).slice(0, 100), ...(name ? { name: escapeControls(decodeWords(name), false).slice(0, 200) } : {}) });
  }
}

/** Header fields and a bounded, escaped text preview of a message (CRLF or LF line ends). */
export function messagePreview(message: Buffer, opts: { maxChars?: number } = {}): MessagePreview {
  const maxChars = opts.maxChars ?? 4000;
  const top = splitEntity(message.length > MAX_SCAN ? message.subarray(0, MAX_SCAN) : message);
  const found: Found = { attachments: [], parts: 0 };
  walk(top, 0, found);
  const source = found.plain !== undefined ? 'text/plain' : found.html !== undefined ? 'text/html' : 'none';
  const full = source === 'text/plain' ? found.plain!.replace(/\r\n/g, '\n') : source === 'text/html' ? htmlToText(found.html!.replace(/\r\n/g, '\n')) : '';
  const truncated = full.length > maxChars;
  return {
    headers: top.headers.map((h) => ({ name: escapeControls(h.name, false).slice(0, 100), value: escapeControls(decodeWords(h.value), false).slice(0, MAX_VALUE) })),
    text: escapeControls(truncated ? full.slice(0, maxChars) : full),
    source,
    truncated,
    attachments: found.attachments.slice(0, 50),
  };
}
