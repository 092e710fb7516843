// The header fields an MX vouches for: its Authentication-Results (RFC 8601), its X-Spam* verdict and its
// X-Moat-DNSBL-Score / X-Moat-DMARC (a SpamAssassin rule and mail filters read them).
// Forged copies from outside must not reach a mailbox looking like ours (RFC 8601 section 5: remove them
// before adding our own); copies our own relays (mx.trusted_relays: the other moat nodes) added are kept.
// Pure; the message is untrusted bytes, malformed header blocks included.

export interface VouchedStrip {
  /** The message without the removed fields (the same Buffer when nothing was removed). */
  message: Buffer;
  /** Lowercased names of the removed fields, one entry per field. */
  removed: string[];
}

/** A header block larger than this is refused before anything parses it (Postfix's header_size_limit is 100 KB per field). */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** Header fields per message, at most. */
export const MAX_HEADER_FIELDS = 10_000;

/** Cheap pre-check: can the header block hold a field we may remove? (most messages: no). */
const CANDIDATE = /(^|\r)[ \t]*(x-spam|x-moat-|authentication-results)/im;

/** Our own X-Moat-* verdict fields (X-Moat-DNSBL-Score feeds SpamAssassin: a forged `-10` would buy a lower score). */
const MOAT_FIELDS: ReadonlySet<string> = new Set(['x-moat-dnsbl-score', 'x-moat-dmarc']);

/**
 * The authserv-id of an Authentication-Results value (`example.org; spf=pass ...`, `example.org 1; ...`):
 * the first token after whitespace and comments, lowercased, a quoted-string unquoted, a final dot dropped.
 */
export function authservId(value: string): string | undefined {
  let i = 0;
  for (;;) {
    while (i < value.length && /\s/.test(value[i]!)) i++;
    if (value[i] !== '(') break;
    // a comment, possibly nested: `(...)`
    let depth = 0;
    for (; i < value.length; i++) {
      if (value[i] === '\\') i++;
      else if (value[i] === '(') depth++;
      else if (value[i] === ')' && --depth === 0) {
        i++;
        break;
      }
    }
  }
  let id: string;
  if (value[i] === '"') {
    let j = i + 1;
    id = '';
    for (; j < value.length && value[j] !== '"'; j++) id += value[j] === '\\' ? (value[++j] ?? '') : value[j];
    if (j >= value.length) return undefined;
  } else {
    id = /^[^\s;()"]*/.exec(value.slice(i))?.[0] ?? '';
  }
  id = id.trim().toLowerCase().replace(/\.$/, '');
  return id || undefined;
}

/** True when `id` is one of ours: equal to, or a subdomain of, an entry (the whole ADMD, RFC 8601 section 5). */
export function isOurId(id: string | undefined, ours: ReadonlySet<string>): boolean {
  if (!id) return false;
  for (const o of ours) if (id === o || id.endsWith(`.${o}`)) return true;
  return false;
}

/**
 * Where the header block ends: just after the LF of the last header line, i.e. at the empty line (`\n\n`,
 * `\n\r\n`, `\r\n\r\n`), searched in the bytes; the message length when there is no empty line. Bare CRs never
 * end it: a parser that ignores them must not find header fields after our end.
 */
export function headerEnd(message: Buffer): number {
  if (message[0] === 0x0a || (message[0] === 0x0d && message[1] === 0x0a)) return 0;
  for (let at = message.indexOf(0x0a); at >= 0; at = message.indexOf(0x0a, at + 1)) {
    const next = message[at + 1];
    if (next === 0x0a || (next === 0x0d && message[at + 2] === 0x0a)) return at + 1;
  }
  return message.length;
}

interface Field {
  start: number;
  end: number;
  /** Every name the field could be read as: its own, and any after a bare CR (some parsers break lines there). */
  names: string[];
  /** The values that go with `names`, unfolded. */
  values: string[];
}

/** The header fields of the block as [start, end) byte ranges (each with its continuation lines and line end). */
function fields(text: string, end: number): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < end) {
    let next = text.indexOf('\n', at);
    next = next < 0 || next >= end ? end : next + 1;
    // continuation lines (starting with SP or HT) belong to the field
    while (next < end && (text[next] === ' ' || text[next] === '\t')) {
      const n = text.indexOf('\n', next);
      next = n < 0 || n >= end ? end : n + 1;
    }
    const names: string[] = [];
    const values: string[] = [];
    for (const part of text.slice(at, next).split(/\r(?!\n)/)) {
      const colon = part.indexOf(':');
      if (colon <= 0) continue;
      names.push(part.slice(0, colon).trim().toLowerCase());
      values.push(part.slice(colon + 1).replace(/\r?\n/g, ''));
    }
    out.push({ start: at, end: next, names, values });
    at = next;
  }
  return out;
}

/** The unfolded value of the first header field of this name (case-insensitive), if there is one. */
export function headerValue(message: Buffer, name: string): string | undefined {
  const end = Math.min(headerEnd(message), MAX_HEADER_BYTES);
  const lower = name.toLowerCase();
  for (const f of fields(message.toString('latin1', 0, end), end)) {
    const i = f.names.indexOf(lower);
    if (i >= 0) return f.values[i]!.trim();
  }
  return undefined;
}

/** Why a header block cannot be handled (then the message is refused), or undefined. */
export function headerBlockProblem(message: Buffer): string | undefined {
  const end = headerEnd(message);
  if (end > MAX_HEADER_BYTES) return `header block larger than ${MAX_HEADER_BYTES} bytes`;
  let lines = 0;
  for (let at = message.indexOf(0x0a); at >= 0 && at < end; at = message.indexOf(0x0a, at + 1)) {
    if (++lines > MAX_HEADER_FIELDS) return `more than ${MAX_HEADER_FIELDS} header lines`;
  }
  return undefined;
}

/**
 * Removes X-Spam* fields, our X-Moat-* verdicts and Authentication-Results fields naming one of `ourIds` (lowercased authserv-ids,
 * subdomains included) from the header block; the body is never touched. A field is removed whole when any
 * name it could be read as (after a bare CR too) is one of those. Call headerBlockProblem first.
 */
export function stripVouchedHeaders(message: Buffer, ourIds: ReadonlySet<string>): VouchedStrip {
  // latin1: one char per byte, so string offsets are byte offsets
  const end = Math.min(headerEnd(message), MAX_HEADER_BYTES);
  const text = message.toString('latin1', 0, end);
  if (!CANDIDATE.test(text)) return { message, removed: [] };
  const removed: string[] = [];
  const keep: Buffer[] = [];
  let from = 0;
  for (const f of fields(text, end)) {
    const hit = f.names.findIndex(
      (name, i) => name.startsWith('x-spam') || MOAT_FIELDS.has(name) || (name === 'authentication-results' && isOurId(authservId(f.values[i]!), ourIds)),
    );
    if (hit < 0) continue;
    removed.push(f.names[hit]!);
    keep.push(message.subarray(from, f.start));
    from = f.end;
  }
  if (removed.length === 0) return { message, removed };
  keep.push(message.subarray(from));
  return { message: Buffer.concat(keep), removed };
}

/** The removed names for a log line: each once with its count, names cut to 40 characters, at most 10. */
export function removedSummary(removed: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  let names = 0;
  for (const n of removed) {
    const key = n.replace(/[^\x21-\x7e]/g, '?').slice(0, 40);
    if (!(key in counts)) {
      if (names >= 10) continue;
      names++;
      counts[key] = 0;
    }
    counts[key]!++;
  }
  return counts;
}
