// Runs one case as one SMTP session and reads where each accepted message ended (the sinks' dumps).
// Talks to a server under test on loopback; its replies are untrusted text, only codes are compared.
import { SmtpClient, type SmtpReply } from '@moat/testkit';
import type { Case } from './cases.ts';

export interface Replies {
  rcpt: string;
  /** The end-of-DATA reply, or '-' when RCPT was not accepted. */
  data: string;
}

/** `250 2.1.5`: the code and the enhanced status (texts differ between servers by design). */
const short = (r: SmtpReply): string => {
  const m = /^(\d\.\d{1,3}\.\d{1,3})\b/.exec(r.text);
  return m ? `${r.code} ${m[1]}` : String(r.code);
};

export async function runCase(port: number, c: Case, n: number): Promise<Replies & { transcript: string[] }> {
  const client = await SmtpClient.connect(port, { timeoutMs: 20_000 });
  try {
    await client.read();
    await client.cmd('EHLO differential.test');
    const x = await client.cmd(`XCLIENT ${c.client.xclient}`);
    if (x.code !== 220) throw new Error(`XCLIENT refused: ${x.code} ${x.text}`);
    await client.cmd('EHLO client.example.com');
    const mail = await client.cmd(`MAIL FROM:${c.sender}`);
    if (mail.code >= 400) return { rcpt: `mail ${short(mail)}`, data: '-', transcript: client.transcript };
    const rcpt = await client.cmd(`RCPT TO:${c.recipient}`);
    if (rcpt.code >= 400) return { rcpt: short(rcpt), data: '-', transcript: client.transcript };
    const data = await client.data(`X-Case: ${n}\r\nSubject: differential case ${n}\r\nMessage-ID: <case-${n}@differential.test>\r\n\r\n${c.id}\r\n`);
    return { rcpt: short(rcpt), data: short(data), transcript: client.transcript };
  } finally {
    await client.quit();
  }
}

export interface Arrival {
  hop: string;
  /** The envelope recipient as the sink saw it. */
  rcpt: string;
  /** Sent with the null sender: a delivery status notification, or the case's own null-sender message. */
  nullSender: boolean;
}

/** Reads smtp-sink -d dumps: envelope records (X-Mail-Args, X-Rcpt-Args), then the message. */
export function arrivals(hop: string, dumps: readonly string[]): Map<number, Arrival[]> {
  const out = new Map<number, Arrival[]>();
  for (const d of dumps) {
    const n = /X-Case: (\d+)/.exec(d);
    if (!n) continue;
    const from = /^X-Mail-Args: <([^>]*)>/m.exec(d)?.[1] ?? '?';
    const list = out.get(Number(n[1])) ?? [];
    for (const m of d.matchAll(/^X-Rcpt-Args: <([^>]*)>/gm)) list.push({ hop, rcpt: m[1]!, nullSender: from === '' });
    out.set(Number(n[1]), list);
  }
  return out;
}

export const formatArrivals = (list: readonly Arrival[] | undefined): string =>
  (list ?? [])
    .map((a) => `${a.hop}:${a.rcpt}${a.nullSender ? '(from <>)' : ''}`)
    .sort()
    .join(' ') || 'nowhere';
