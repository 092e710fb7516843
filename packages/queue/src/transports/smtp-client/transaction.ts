// One mail transaction on an open session: MAIL, RCPT per recipient, DATA and the message, pipelined when offered.
// The server's replies are untrusted text; each recipient's outcome is decided by its own reply code only.
import { statusFor } from '../types.ts';
import { enhancedOf, type Reply } from './conversation.ts';
import { dotStuffParts } from './dot-stuff.ts';
import { allRecipients, type Exchange, fromReply, type SmtpSendResult } from './exchange.ts';

/** MAIL FROM's parameters from the EHLO keywords, or the result that bounces an address the next hop cannot take. */
function mailParams(x: Exchange, has: (name: string) => boolean): string | SmtpSendResult {
  const { opts, conv: c } = x;
  let params = has('SIZE') ? ` SIZE=${opts.message.length}` : '';
  // 8-bit content goes out declared when the next hop knows 8BITMIME (as received otherwise).
  if (has('8BITMIME') && opts.message.some((b) => b > 0x7f)) params += ' BODY=8BITMIME';
  // RFC 6531: internationalised addresses need SMTPUTF8, and a next hop without it cannot take them.
  if ([opts.sender, ...opts.recipients].some((a) => /[^\x00-\x7f]/.test(a))) {
    if (!has('SMTPUTF8')) {
      return { results: allRecipients(opts, x.relay, 'bounced', '553 5.6.7 next hop does not support SMTPUTF8 (internationalised address)', 553), tls: c.secure };
    }
    params += ' SMTPUTF8';
  }
  return params;
}

/**
 * The transaction after EHLO: per-recipient results in `x.results` (kept there when the connection is lost)
 * and returned; `x.keep` says whether the session may be cached.
 */
export async function transaction(x: Exchange, ehlo: Reply): Promise<SmtpSendResult> {
  const { opts, conv: c, relay, results } = x;
  const ext = ` ${ehlo.text.replace(/^250 /, '')} `;
  const has = (name: string) => new RegExp(`\\s${name}[\\s=]`, 'i').test(ext);
  const params = mailParams(x, has);
  if (typeof params !== 'string') return params;
  x.stage = 'mail';
  // RFC 2920: MAIL, every RCPT and DATA leave in one write and their replies are read in order (one round
  // trip instead of two plus one per recipient); without PIPELINING, one command per reply as before.
  const pipelined = has('PIPELINING');
  const mail = `MAIL FROM:<${opts.sender}>${params}\r\n`;
  c.write(pipelined ? `${mail}${opts.recipients.map((rcpt) => `RCPT TO:<${rcpt}>\r\n`).join('')}DATA\r\n` : mail);
  let m = await c.reply();
  // pipelined, the RCPT and DATA replies are still to come: the session is not reused (conv.end below)
  if (m.code !== 250) return { results: fromReply(x, m), tls: c.secure };
  x.stage = 'rcpt';
  const accepted: string[] = [];
  for (const rcpt of opts.recipients) {
    const rr = pipelined ? await c.reply() : await c.command(`RCPT TO:<${rcpt}>`);
    if (rr.code === 250 || rr.code === 251) accepted.push(rcpt);
    else {
      const st = statusFor(rr.code);
      const en = enhancedOf(rr.text.slice(4));
      results.push({
        recipient: rcpt,
        status: st === 'sent' ? 'deferred' : st,
        code: rr.code,
        response: rr.text,
        relay,
        ...(en ? { enhanced: en } : {}),
      });
    }
  }
  x.stage = 'data';
  if (accepted.length === 0) {
    if (pipelined && (await c.reply()).code === 354) {
      // a server that opened DATA without a recipient (RFC 2920 says it must not): an empty message, never sent on
      c.write('.\r\n');
      await c.reply();
    }
    x.keep = !!opts.reuse;
    if (!x.keep) await c.command('QUIT').catch(() => undefined);
    return { results, tls: c.secure };
  }
  m = pipelined ? await c.reply() : await c.command('DATA');
  if (m.code !== 354) {
    const st = statusFor(m.code);
    for (const rcpt of accepted) {
      results.push({ recipient: rcpt, status: st === 'sent' ? 'deferred' : st, code: m.code, response: m.text, relay });
    }
    return { results, tls: c.secure };
  }
  x.stage = 'end of data';
  c.writeAll(dotStuffParts(opts.message));
  // SMTP: one reply for all; LMTP: one reply per accepted recipient, in RCPT order (RFC 2033).
  const replies = opts.lmtp ? accepted.length : 1;
  for (let i = 0; i < replies; i++) {
    const d = await c.reply();
    const en = enhancedOf(d.text.slice(4));
    const targets = opts.lmtp ? [accepted[i]!] : accepted;
    for (const rcpt of targets) {
      results.push({ recipient: rcpt, status: statusFor(d.code), code: d.code, response: d.text, relay, ...(en ? { enhanced: en } : {}) });
    }
  }
  x.keep = !!opts.reuse;
  if (!x.keep) {
    x.stage = 'quit';
    await c.command('QUIT').catch(() => undefined);
  }
  return { results, tls: c.secure };
}
