// End-of-DATA scanning with a real spamd: GTUBE refused at SMTP time, ham accepted with X-Spam headers,
// spamd down or silent handled per the configured policy (accept unchecked, or 451), forged X-Spam-* and
// Authentication-Results removed, and mail our backup MX already scanned kept as it is.
import { createServer, type Socket } from 'node:net';
import type { Facts, Verdict } from '@moat/policy';
import { freePort, GTUBE, type SpamdDaemon, startSpamd } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendAs, startTestMx, type TestMx } from './harness.ts';

const message = (body: string) =>
  [
    'From: Alice <alice@sender.example>',
    'To: rcpt@example.org',
    'Subject: thursday',
    // now, not a fixed date: SpamAssassin scores a Date hours in the past (DATE_IN_PAST_*)
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'Message-ID: <20261124.1@sender.example>',
    '',
    body,
    '',
  ].join('\r\n');
const ham = message('Hi, shall we meet at noon on Thursday at the usual place?\r\n\r\nAlice');

/** 198.51.100.20 is on wl2.test: skips greylisting. */
const send = (t: TestMx, body: string, client = '198.51.100.20') => sendAs(t, body, client);

// the decision journal as the mx feeds it: every decision, DATA-stage refusals included
const journaled: { facts: Facts; verdict: Verdict; reply?: string | undefined }[] = [];
const journal = { record: (facts: Facts, verdict: Verdict, x: { reply?: string | undefined }) => void journaled.push({ facts, verdict, reply: x.reply }), linkQueueId: () => {} };
const dataStage = async () => {
  await expect.poll(() => journaled.filter((j) => j.facts.stage === 'end-of-data').length).toBeGreaterThan(0);
  return journaled.filter((j) => j.facts.stage === 'end-of-data').splice(-1)[0]!;
};

let spamd: SpamdDaemon;
let t: TestMx;
beforeAll(async () => {
  spamd = await startSpamd();
  // 192.0.2.5: one of our relays (mx.trusted_relays); 192.0.2.6: in mynetworks only
  t = await startTestMx({ spamd: { host: spamd.host, port: spamd.port }, mx: { trusted_relays: ['192.0.2.5/32'] }, journal });
}, 90_000);
afterAll(async () => {
  await t?.close();
  await spamd?.close();
});

describe('spamd at end of DATA', () => {
  it('GTUBE: 550 5.7.1 at SMTP time, nothing queued', async () => {
    const r = await send(t, message(`spam spam\r\n${GTUBE}`));
    expect(r.reply).toMatch(/^550 5\.7\.1 Message content rejected as spam \(score 10\d\d\.\d\)$/);
    expect(r.queued).toHaveLength(0);
    expect(await t.registry.getSingleMetricAsString('moat_mx_messages_total')).toMatch(/outcome="rejected-spam"} 1/);
    // journaled as a decision: a reject at end of DATA, decided by spamassassin, with the reply the client got
    const j = await dataStage();
    expect(j.facts).toMatchObject({ stage: 'end-of-data', clientAddress: '198.51.100.20', sender: 'alice@sender.example', recipient: 'rcpt@example.org' });
    expect(j.verdict).toMatchObject({ action: 'reject', status: '5.7.1', decidedBy: 'spamassassin', smtpCode: 550 });
    expect(j.verdict.trace[0]?.reason).toMatch(/^score 10\d\d\.\d, threshold \d+\.\d$/);
    expect(j.reply).toBe(r.reply);
    journaled.length = 0;
  });

  it('ham: accepted with X-Spam-Flag/Score/Status', async () => {
    const r = await send(t, ham);
    expect(r.reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const headers = r.queued[0]!.prepend!;
    expect(headers, headers.join('\n')).toContain('X-Spam-Flag: NO');
    expect(headers.find((h) => h.startsWith('X-Spam-Score: '))).toMatch(/^X-Spam-Score: -?\d+\.\d$/);
    expect(headers.find((h) => h.startsWith('X-Spam-Status: '))).toMatch(/^X-Spam-Status: No, score=-?\d+\.\d required=5\.0$/);
  });
});

/** The headers a backup MX (in mynetworks, 192.0.2.0/28) added after scanning, and a forged set. */
const vouched = (id: string, score: string) => [
  `Authentication-Results: ${id}; spf=pass smtp.mailfrom=sender.example`,
  'X-Spam-Flag: NO',
  `X-Spam-Score: ${score}`,
  `X-Spam-Status: No, score=${score} required=5.0`,
];
const withHeaders = (headers: string[], body = ham) => `${headers.join('\r\n')}\r\n${body}`;
const text = (m: unknown) => (m as Buffer).toString('latin1');
const scans = async (t: TestMx) => Number(/moat_mx_spam_score_count (\d+)/.exec(await t.registry.getSingleMetricAsString('moat_mx_spam_score'))?.[1] ?? 0);

describe('headers we vouch for', () => {
  it('forged from an untrusted client: X-Spam-* and our Authentication-Results removed before the scan, others kept', async () => {
    const forged = [...vouched('mx.example.org', '-50.0'), 'Authentication-Results: elsewhere.example; dkim=pass header.d=bank.example'];
    const r = await send(t, withHeaders(forged));
    expect(r.reply).toMatch(/^250 /);
    const q = r.queued[0]!;
    expect(text(q.message)).not.toMatch(/^(X-Spam-|Authentication-Results: mx\.example\.org)/im);
    expect(text(q.message)).toMatch(/^Authentication-Results: elsewhere\.example; dkim=pass/m);
    // ours, from this hop: one verdict, one Authentication-Results
    expect(q.prepend!.filter((h) => h.startsWith('X-Spam-Status: '))).toHaveLength(1);
    expect(q.prepend!.find((h) => h.startsWith('X-Spam-Score: '))).not.toBe('X-Spam-Score: -50.0');
    expect(q.prepend!.filter((h) => h.startsWith('Authentication-Results: mx.example.org;'))).toHaveLength(1);
    const removed = await t.registry.getSingleMetricAsString('moat_mx_forged_headers_removed_total');
    expect(removed).toMatch(/header="x-spam\*"} 3/);
    expect(removed).toMatch(/header="authentication-results"} 1/);
  });

  it('from our backup MX (mx.trusted_relays) after its scan: its headers stay, no second scan, no second Authentication-Results', async () => {
    const before = await scans(t);
    const r = await send(t, withHeaders(vouched('mx2.example.org', '1.2')), '192.0.2.5');
    expect(r.reply).toMatch(/^250 /);
    const q = r.queued[0]!;
    for (const h of vouched('mx2.example.org', '1.2')) expect(text(q.message)).toContain(`${h}\r\n`);
    expect(q.prepend!.some((h) => /^(X-Spam-|Authentication-Results:)/.test(h)), q.prepend!.join('\n')).toBe(false);
    expect(await scans(t)).toBe(before);
  });

  it('from a mynetworks host that is not one of our relays (a list server, say): its X-Spam* removed, scanned as usual', async () => {
    const before = await scans(t);
    const r = await send(t, withHeaders(vouched('example.org', '-20.0')), '192.0.2.6');
    expect(r.reply).toMatch(/^250 /);
    const q = r.queued[0]!;
    expect(text(q.message)).not.toMatch(/^X-Spam/im);
    expect(q.prepend).toContain('X-Spam-Flag: NO');
    expect(q.prepend!.find((h) => h.startsWith('X-Spam-Score: '))).not.toBe('X-Spam-Score: -20.0');
    expect(await scans(t)).toBe(before + 1);
  });

  it('one authserv-id for a cluster: ours is written with it, forged ones naming any host under it are removed', async () => {
    const node = await startTestMx({ mx: { auth_results: { authserv_id: 'Example.ORG' } } });
    try {
      const r = await send(node, withHeaders(['Authentication-Results: mx9.example.org; dmarc=pass header.from=bank.example']));
      expect(r.reply).toMatch(/^250 /);
      const q = r.queued[0]!;
      expect(text(q.message)).not.toContain('mx9.example.org');
      expect(q.prepend!.filter((h) => h.startsWith('Authentication-Results: '))).toEqual([expect.stringMatching(/^Authentication-Results: Example\.ORG; dkim=none .*spf=fail \(mx\.example\.org: /)]);
      // SPF's own record still names the node
      expect(q.prepend!.find((h) => h.startsWith('Received-SPF: '))).toContain('mx.example.org');
    } finally {
      await node.close();
    }
  });

  it('a header block over 1 MiB is refused with 552 5.3.4 before anything parses it', async () => {
    const big = withHeaders(Array.from({ length: 20_000 }, (_, i) => `X-Spam-${i}: ${'y'.repeat(60)}`));
    const r = await send(t, big);
    expect(r.reply).toMatch(/^552 5\.3\.4 Message header block too large \(header block larger than 1048576 bytes\)$/);
    expect(r.queued).toHaveLength(0);
    journaled.length = 0;
    const again = await send(t, big);
    expect(again.reply).toBe(r.reply);
    const j = await dataStage();
    expect(j.verdict).toMatchObject({ action: 'reject', decidedBy: 'header_size_limit', smtpCode: 552 });
    expect(j.reply).toBe(r.reply);
  });

  it('from our backup MX whose spamd was down (unchecked): scanned here, its stale X-Spam-* replaced, its Authentication-Results kept', async () => {
    const before = await scans(t);
    const relayed = ['Authentication-Results: mx2.example.org; spf=pass smtp.mailfrom=sender.example', 'X-Spam-Status: unchecked (scanner unavailable)'];
    const r = await send(t, withHeaders(relayed), '192.0.2.5');
    expect(r.reply).toMatch(/^250 /);
    const q = r.queued[0]!;
    expect(text(q.message)).not.toMatch(/^X-Spam-/im);
    expect(text(q.message)).toContain(`${relayed[0]}\r\n`);
    expect(q.prepend!.filter((h) => h.startsWith('X-Spam-Status: No, score='))).toHaveLength(1);
    expect(q.prepend!.some((h) => h.startsWith('Authentication-Results:'))).toBe(false);
    expect(await scans(t)).toBe(before + 1);
  });
});

describe('spamd unavailable', () => {
  it('down, default policy: accepted with X-Spam-Status: unchecked, counted', async () => {
    const port = await freePort();
    const down = await startTestMx({ spamd: { host: '127.0.0.1', port } });
    try {
      const r = await send(down, ham);
      expect(r.reply).toMatch(/^250 /);
      expect(r.queued[0]!.prepend).toContain('X-Spam-Status: unchecked (scanner unavailable)');
      expect(await down.registry.getSingleMetricAsString('moat_mx_spamd_failures_total')).toMatch(/code="ESPAMD_CONNECT"} 1/);
    } finally {
      await down.close();
    }
  });

  it('down, policy tempfail: 451 4.7.1', async () => {
    const port = await freePort();
    const down = await startTestMx({ spamd: { host: '127.0.0.1', port }, spamdConfig: { on_failure: 'tempfail' } });
    try {
      const r = await send(down, ham);
      expect(r.reply).toBe('451 4.7.1 Content scanner unavailable, try again later');
      expect(r.queued).toHaveLength(0);
    } finally {
      await down.close();
    }
  });

  it('slow (accepts, never answers): times out, accepted unchecked', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => {
      sockets.push(s);
      s.on('data', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const slow = await startTestMx({ spamd: { host: '127.0.0.1', port }, spamdConfig: { timeout: 500 } });
    try {
      const r = await send(slow, ham);
      expect(r.reply).toMatch(/^250 /);
      expect(r.queued[0]!.prepend).toContain('X-Spam-Status: unchecked (scanner unavailable)');
      expect(await slow.registry.getSingleMetricAsString('moat_mx_spamd_failures_total')).toMatch(/code="ESPAMD_TIMEOUT"} 1/);
    } finally {
      for (const s of sockets) s.destroy();
      await slow.close();
      await new Promise((r) => silent.close(r));
    }
  });
});
