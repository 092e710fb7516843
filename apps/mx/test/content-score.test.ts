// Content scoring with a real spamd running the shipped compose/spamassassin/moat-dnsbl.cf: the weighted
// DNS-list sum the MX prepends scores in SpamAssassin (a forged copy does not), and the quarantine band holds.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDnsblSites } from '@moat/policy';
import { createSpamdClient } from '@moat/spamd';
import { SmtpClient, type SpamdDaemon, startSpamd } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendAs, startTestMx, type TestMx } from './harness.ts';

const RULES = readFileSync(new URL('../../../compose/spamassassin/moat-dnsbl.cf', import.meta.url), 'utf8');

const message = (extra: string[] = []) =>
  [
    'From: Alice <alice@sender.example>',
    'To: rcpt@example.org',
    'Subject: thursday',
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'Message-ID: <20261207.1@sender.example>',
    ...extra,
    '',
    'Hi, shall we meet at noon on Thursday at the usual place?',
    '',
    'Alice',
    '',
  ].join('\r\n');

let spamd: SpamdDaemon;
let t: TestMx;
beforeAll(async () => {
  spamd = await startSpamd({ localCf: RULES });
  // bl.test lists 203.0.113.66 (the harness's fake DNS lists): weighted *3, a threshold it never reaches
  t = await startTestMx({
    spamd: { host: spamd.host, port: spamd.port },
    recipientRestrictions: 'reject_unlisted_recipient, reject_dnsbl_score, permit',
    spec: { dnsblSites: parseDnsblSites('bl.test*3'), dnsblThreshold: 100 },
  });
}, 90_000);
afterAll(async () => {
  await t?.close();
  await spamd?.close();
});

const send = (body: string, client: string) => sendAs(t, body, client);
const header = (q: { prepend?: string[] | undefined }, name: string) => q.prepend?.find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const score = (q: { prepend?: string[] | undefined }) => Number(/score=(-?[\d.]+)/.exec(header(q, 'X-Spam-Status') ?? '')?.[1]);

describe('moat-dnsbl.cf in a real spamd', () => {
  it('each band of X-Moat-DNSBL-Score hits its rule, and only that one', async () => {
    const client = createSpamdClient({ host: spamd.host, port: spamd.port, timeoutMs: 30_000 });
    const cases: Array<[string, string[]]> = [
      ['-2 (list.dnswl.org -2)', ['MOAT_DNSBL_ALLOW']],
      ['0', []],
      ['2 (bl.test +2)', ['MOAT_DNSBL_LOW']],
      ['4 (zen.spamhaus.org +3, bl.spamcop.net +1)', ['MOAT_DNSBL_MID']],
      ['12 (zen.spamhaus.org +12)', ['MOAT_DNSBL_HIGH']],
    ];
    for (const [value, rules] of cases) {
      const r = await client.symbols(Buffer.from(message([`X-Moat-DNSBL-Score: ${value}`])));
      expect(r.symbols.filter((s) => s.startsWith('MOAT_')), value).toEqual(rules);
    }
    client.close();
  });

  it('through the MX: the weighted sum reaches spamd and adds the band score; a forged header is removed first', async () => {
    // 203.0.113.66 is on bl.test (+3); 198.51.100.30 on nothing (0): the same message otherwise
    const listed = await send(message(), '203.0.113.66');
    const clean = await send(message(), '198.51.100.30');
    expect(listed.reply).toMatch(/^250 /);
    expect(header(listed.queued[0]!, 'X-Moat-DNSBL-Score')).toBe('X-Moat-DNSBL-Score: 3 (bl.test +3)');
    expect(score(listed.queued[0]!) - score(clean.queued[0]!)).toBeCloseTo(2.5, 1);
    // a client claiming an allow-list score: its header goes, ours (0) stays, no MOAT_DNSBL_ALLOW credit
    const forged = await send(message(['X-Moat-DNSBL-Score: -20 (list.dnswl.org -20)']), '198.51.100.30');
    expect(forged.queued[0]!.prepend?.filter((h) => /^x-moat-dnsbl-score:/i.test(h))).toEqual(['X-Moat-DNSBL-Score: 0']);
    expect(forged.queued[0]!.message.toString()).not.toContain('-20 (list.dnswl.org');
    expect(score(forged.queued[0]!)).toBeCloseTo(score(clean.queued[0]!), 1);
  });
});

describe('the quarantine band (spamd.quarantine_threshold)', () => {
  it('a score between the quarantine and the reject threshold is queued with hold: spamassassin, its reason and score', async () => {
    const q = await startTestMx({
      spamd: { host: spamd.host, port: spamd.port },
      spamdConfig: { quarantine_threshold: -50, reject_threshold: 50 },
    });
    try {
      const c = await SmtpClient.connect(q.port);
      await c.read();
      await c.cmd('XCLIENT ADDR=198.51.100.20');
      await c.cmd('EHLO mail.sender.example');
      await c.cmd('MAIL FROM:<alice@sender.example>');
      await c.cmd('RCPT TO:<rcpt@example.org>');
      const r = await c.data(message());
      await c.quit();
      expect(r.code).toBe(250);
      const hold = q.enqueued[0]!.hold!;
      expect(hold).toMatchObject({ check: 'spamassassin', score: expect.any(Number) });
      expect(hold.reason).toMatch(/^score -?\d+\.\d, quarantine at -50\.0, reject at 50\.0$/);
      // the queue writes it into hold/ (the quarantine), with the hold record in its envelope
      const dir = join(q.spool, 'hold');
      const file = await readFile(join(dir, (await readdir(dir))[0]!), 'utf8');
      expect(file).toContain('"check":"spamassassin"');
    } finally {
      await q.close();
    }
  });
});
