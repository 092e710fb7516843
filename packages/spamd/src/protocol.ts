// SPAMC/1.5 framing: build a request head, parse a SPAMD/1.x reply. Pure; no sockets.
// Trusts nothing in the reply: every field is checked and a malformed reply is a protocol error.
import { SpamdError } from './errors.ts';

export type SpamdCommand = 'CHECK' | 'SYMBOLS' | 'REPORT' | 'HEADERS' | 'PING' | 'TELL';

/** What TELL teaches Bayes: the message class spamc's `-L spam|ham` sends. */
export type LearnClass = 'spam' | 'ham';

export interface SpamdReply {
  /** The spamd protocol version in the status line (`1.1`, `1.5`). */
  version: string;
  /** EX_* status number (0 = EX_OK). */
  status: number;
  /** EX_* status text (`EX_OK`, `PONG`). */
  message: string;
  /** Reply headers, names lower-cased. */
  headers: Map<string, string>;
  /** Reply body (SYMBOLS: list, REPORT: report, HEADERS: rewritten headers). */
  body: string;
}

export interface SpamVerdict {
  isSpam: boolean;
  score: number;
  threshold: number;
}

/** The request head: command line, headers, blank line. The message follows it. */
export function requestHead(command: SpamdCommand, length: number, user?: string, learn?: LearnClass): Buffer {
  const lines = [`${command} SPAMC/1.5`];
  if (command !== 'PING') lines.push(`Content-length: ${length}`);
  if (user) {
    if (!/^[\w.@+-]{1,64}$/.test(user)) throw new TypeError('spamd user name must be a plain word');
    lines.push(`User: ${user}`);
  }
  if (command === 'TELL') {
    if (learn !== 'spam' && learn !== 'ham') throw new TypeError('TELL needs a message class, spam or ham');
    // spamc -L spam|ham: learn into the local Bayes store (not a remote report such as Razor)
    lines.push(`Message-class: ${learn}`, 'Set: local');
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

const statusLine = /^SPAMD\/(\d+\.\d+) (\d+) (.*)$/;

/** Parse a complete reply (spamd closes the connection after it). */
export function parseReply(raw: Buffer): SpamdReply {
  const end = raw.indexOf('\r\n\r\n');
  // PING's reply may be a bare status line with a single CRLF
  const headEnd = end >= 0 ? end : raw.length;
  const head = raw.subarray(0, headEnd).toString('latin1');
  const [first = '', ...rest] = head.split('\r\n');
  const m = statusLine.exec(first.trim());
  if (!m) throw new SpamdError('ESPAMD_PROTOCOL', `bad status line ${JSON.stringify(first.slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of rest) {
    if (!line) continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new SpamdError('ESPAMD_PROTOCOL', `bad header ${JSON.stringify(line.slice(0, 80))}`);
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  let body = end >= 0 ? raw.subarray(end + 4) : Buffer.alloc(0);
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    const n = Number(cl);
    if (!Number.isInteger(n) || n < 0) throw new SpamdError('ESPAMD_PROTOCOL', `bad Content-length ${cl}`);
    if (body.length < n) throw new SpamdError('ESPAMD_PROTOCOL', `short body: ${body.length} of ${n} bytes`);
    body = body.subarray(0, n);
  }
  return { version: m[1]!, status: Number(m[2]), message: m[3]!.trim(), headers, body: body.toString('utf8') };
}

const spamHeader = /^(True|False|Yes|No)\s*;\s*(-?\d+(?:\.\d+)?)\s*\/\s*(-?\d+(?:\.\d+)?)$/i;

/** `Spam: True ; 1005.2 / 5.0` -> { isSpam, score, threshold }. */
export function parseSpamHeader(value: string | undefined): SpamVerdict {
  const m = value === undefined ? null : spamHeader.exec(value.trim());
  if (!m) throw new SpamdError('ESPAMD_PROTOCOL', `bad Spam header ${JSON.stringify(value?.slice(0, 80))}`);
  const flag = m[1]!.toLowerCase();
  return { isSpam: flag === 'true' || flag === 'yes', score: Number(m[2]), threshold: Number(m[3]) };
}

/**
 * TELL's answer: spamd names what it did in `DidSet: local`; without it, Bayes did nothing (the
 * message was already learned as this class, or Bayes is off in spamd's config: spamd does not say which).
 */
export function didLearn(reply: SpamdReply): boolean {
  return reply.headers.get('didset')?.split(',').some((x) => x.trim() === 'local') ?? false;
}

/** SYMBOLS body: `GTUBE,MISSING_DATE,...` -> names. */
export function parseSymbols(body: string): string[] {
  return body
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => /^[\w.-]+$/.test(s));
}

/** HEADERS body: the rewritten header block -> `Name: value` lines with folding kept (CRLF inside). */
export function parseHeaderBlock(body: string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  const text = body.replace(/\r?\n\r?\n[\s\S]*$/, '');
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    if (/^[ \t]/.test(line) && out.length > 0) {
      const last = out[out.length - 1]!;
      last.value += `\r\n${line}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out.push({ name: line.slice(0, i), value: line.slice(i + 1).replace(/^ /, '') });
  }
  return out;
}
