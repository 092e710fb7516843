// Is this a mail message worth teaching Bayes? A cheap structural check of RFC 5322 framing, done
// before anything is sent to spamd. Pure; trusts nothing in the bytes and never parses MIME.

export type NotAMessageReason = 'empty' | 'too-large' | 'binary' | 'no-header' | 'no-from';

export type MessageCheck = { ok: true; headerFields: number } | { ok: false; reason: NotAMessageReason; detail: string };

/** Header fields looked at, at most (a header section longer than this is not a mail client's export). */
const MAX_HEADER_FIELDS = 1000;
const fieldName = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * RFC 5322 framing: a header section of `Name: value` fields (folded lines allowed), then an empty line
 * or the end. An mbox `From ` separator line in front is allowed (mail clients save messages that way).
 * Refused: empty input, more than maxBytes, NUL bytes anywhere (binary), a first line that is no header
 * field, a broken header line, and a message without From (RFC 5322 section 3.6 requires it).
 */
export function checkMessage(raw: Buffer, maxBytes: number): MessageCheck {
  if (raw.length === 0 || raw.every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a)) {
    return { ok: false, reason: 'empty', detail: 'the input is empty' };
  }
  if (raw.length > maxBytes) {
    return { ok: false, reason: 'too-large', detail: `${raw.length} bytes is over the limit of ${maxBytes} (spamd.max_size: spamd never scans bigger messages)` };
  }
  const nul = raw.indexOf(0);
  if (nul >= 0) return { ok: false, reason: 'binary', detail: `a NUL byte at offset ${nul}: binary data, not a mail message` };
  const lines = headerLines(raw);
  let i = 0;
  if (lines[0]?.startsWith('From ')) i = 1;
  let fields = 0;
  let hasFrom = false;
  for (; i < lines.length && fields <= MAX_HEADER_FIELDS; i++) {
    const line = lines[i]!;
    if (line === '') break;
    if (/^[ \t]/.test(line)) {
      if (fields === 0) return { ok: false, reason: 'no-header', detail: 'the first line is a continuation, not a header field' };
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trimEnd() : '';
    if (!fieldName.test(name)) {
      const where = fields === 0 ? 'the first line is not a header field' : `header line ${i + 1} is not a "Name: value" field`;
      return { ok: false, reason: 'no-header', detail: `${where}: ${JSON.stringify(line.slice(0, 60))}` };
    }
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return { ok: false, reason: 'binary', detail: `header line ${i + 1} holds control characters` };
    fields++;
    if (name.toLowerCase() === 'from') hasFrom = true;
  }
  if (fields === 0) return { ok: false, reason: 'no-header', detail: 'no header section' };
  if (!hasFrom) return { ok: false, reason: 'no-from', detail: 'no From: header field (RFC 5322 requires one)' };
  return { ok: true, headerFields: fields };
}

/** The lines up to the first empty one (CRLF or bare LF), as latin1 text; the body is not split. */
function headerLines(raw: Buffer): string[] {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf, lf].filter((x) => x >= 0);
  const end = ends.length ? Math.min(...ends) : raw.length;
  const lines = raw.subarray(0, end).toString('latin1').split(/\r?\n/);
  lines.push('');
  return lines;
}
