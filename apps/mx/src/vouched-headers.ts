// The header fields an MX vouches for: its Authentication-Results (RFC 8601) and its X-Spam-* verdict.
// Forged copies from outside must not reach a mailbox looking like ours (RFC 8601 section 5: remove them
// before adding our own); copies a trusted relay (our backup MX, seed step 5) added are genuine and kept.
// Pure; the message is untrusted bytes, malformed header blocks included.

export interface VouchedStrip {
  /** The message without the removed fields (the same Buffer when nothing was removed). */
  message: Buffer;
  /** Lowercased names of the removed fields, one entry per field. */
  removed: string[];
}

/** Cheap pre-check: can the header block hold a field we may remove? (most messages: no). */
const CANDIDATE = /^(x-spam|authentication-results)/im;

/**
 * The authserv-id of an Authentication-Results value (`example.org; spf=pass ...`, `example.org 1; ...`):
 * the first token after whitespace and comments, lowercased; a quoted-string is unquoted.
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
  if (value[i] === '"') {
    const end = value.indexOf('"', i + 1);
    return end < 0 ? undefined : value.slice(i + 1, end).toLowerCase() || undefined;
  }
  const m = /^[^\s;()"]+/.exec(value.slice(i));
  return m ? m[0].toLowerCase() : undefined;
}

/** Where the header block ends (the empty line's offset), or the message length: searched in the bytes. */
function headerEnd(message: Buffer): number {
  if (message[0] === 0x0a || (message[0] === 0x0d && message[1] === 0x0a)) return 0;
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  const end = Math.min(crlf < 0 ? Infinity : crlf + 2, lf < 0 ? Infinity : lf + 1);
  return end === Infinity ? message.length : end;
}

/** The header fields of the block as [start, end) byte ranges (each with its continuation lines and line end). */
function fields(text: string, end: number): Array<{ start: number; end: number; name: string; value: string }> {
  const out: Array<{ start: number; end: number; name: string; value: string }> = [];
  let at = 0;
  while (at < end) {
    let next = text.indexOf('\n', at);
    next = next < 0 || next >= end ? end : next + 1;
    // continuation lines (starting with SP or HT) belong to the field
    while (next < end && (text[next] === ' ' || text[next] === '\t')) {
      const n = text.indexOf('\n', next);
      next = n < 0 || n >= end ? end : n + 1;
    }
    const raw = text.slice(at, next);
    const colon = raw.indexOf(':');
    out.push({
      start: at,
      end: next,
      name: colon > 0 ? raw.slice(0, colon).trim().toLowerCase() : '',
      value: colon > 0 ? raw.slice(colon + 1).replace(/\r?\n/g, '') : '',
    });
    at = next;
  }
  return out;
}

/** The unfolded value of the first header field of this name (case-insensitive), if there is one. */
export function headerValue(message: Buffer, name: string): string | undefined {
  const end = headerEnd(message);
  const lower = name.toLowerCase();
  return fields(message.toString('latin1', 0, end), end).find((f) => f.name === lower)?.value.trim();
}

/**
 * Removes X-Spam-* fields and Authentication-Results fields naming one of `ourIds` (lowercased
 * authserv-ids) from the header block; the body is never touched.
 */
export function stripVouchedHeaders(message: Buffer, ourIds: ReadonlySet<string>): VouchedStrip {
  // latin1: one char per byte, so string offsets are byte offsets
  const end = headerEnd(message);
  const text = message.toString('latin1', 0, end);
  if (!CANDIDATE.test(text)) return { message, removed: [] };
  const removed: string[] = [];
  const keep: Buffer[] = [];
  let from = 0;
  for (const f of fields(text, end)) {
    const spam = f.name === 'x-spam' || f.name.startsWith('x-spam-');
    const ours = f.name === 'authentication-results' && ourIds.has(authservId(f.value) ?? '');
    if (!spam && !ours) continue;
    removed.push(f.name);
    keep.push(message.subarray(from, f.start));
    from = f.end;
  }
  if (removed.length === 0) return { message, removed };
  keep.push(message.subarray(from));
  return { message: Buffer.concat(keep), removed };
}
