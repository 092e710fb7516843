// The seed's eleven steps through a real smtp-server, the real engine and a real queue, with exact replies
// (golden, like Postfix's smtpd_check.ref). XCLIENT (trusted from 127.0.0.1 here) sets the client address.
import { SmtpClient } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMx, type TestMx } from './harness.ts';

let t: TestMx;
beforeAll(async () => {
  t = await startTestMx();
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** Run command lines; returns `CMD => CODE TEXT` lines (the golden format). */
async function transcript(lines: string[], xclient?: string): Promise<string[]> {
  const c = await SmtpClient.connect(t.port);
  const out: string[] = [];
  const greet = await c.read();
  expect(greet.code).toBe(220);
  if (xclient) expect((await c.cmd(`XCLIENT ${xclient}`)).code).toBe(220);
  for (const l of lines) {
    const r = await c.cmd(l);
    out.push(`${l} => ${r.code} ${r.lines[0]}`);
  }
  await c.quit();
  return out;
}

const ehlo = 'EHLO mail.sender.example';
const from = 'MAIL FROM:<alice@sender.example>';
const rcpt = 'RCPT TO:<rcpt@example.org>';

describe('the seed steps, golden replies', () => {
  it('1. no HELO: 503 5.5.1', async () => {
    expect(await transcript([from])).toEqual([`${from} => 503 5.5.1 Error: send HELO/EHLO first`]);
  });

  it('2. invalid / non-FQDN HELO: rejected at RCPT (delayed), the recipient logged', async () => {
    expect(await transcript(['EHLO bad_host!', from, rcpt])).toEqual([
      'EHLO bad_host! => 250 mx.example.org',
      `${from} => 250 2.1.0 Accepted`,
      `${rcpt} => 501 5.5.2 <bad_host!>: Helo command rejected: Invalid name`,
    ]);
    expect((await transcript(['EHLO localhost', from, rcpt]))[2]).toBe(
      `${rcpt} => 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname`,
    );
  });

  it('3. sender not <user@domain.domain>: 501 syntax at MAIL, 504 non-FQDN at RCPT', async () => {
    expect(await transcript([ehlo, 'MAIL FROM:alice@sender.example', 'MAIL FROM:<alice>', 'MAIL FROM:<alice@sender>', rcpt])).toEqual([
      `${ehlo} => 250 mx.example.org`,
      'MAIL FROM:alice@sender.example => 501 5.1.7 Error: Bad sender address syntax',
      'MAIL FROM:<alice> => 501 5.1.7 Error: Bad sender address syntax',
      'MAIL FROM:<alice@sender> => 250 2.1.0 Accepted',
      `${rcpt} => 504 5.5.2 <alice@sender>: Sender address rejected: need fully-qualified address`,
    ]);
    // what smtp-server lets through, the engine's strict_rfc821_envelopes refuses as written (a comment in
    // the path): at MAIL, whatever delay_reject says, and at RCPT; parameters and a space after the colon pass
    expect(await transcript([ehlo, 'MAIL FROM:<alice(c)@sender.example>', 'MAIL FROM: <alice@sender.example> SIZE=100', 'RCPT TO:<rcpt(c)@example.org>', 'RCPT TO:<rcpt@example.org> NOTIFY=NEVER'], 'ADDR=198.51.100.20')).toEqual([
      `${ehlo} => 250 mx.example.org`,
      'MAIL FROM:<alice(c)@sender.example> => 501 5.1.7 Bad sender address syntax',
      'MAIL FROM: <alice@sender.example> SIZE=100 => 250 2.1.0 Accepted',
      'RCPT TO:<rcpt(c)@example.org> => 501 5.1.3 Bad recipient address syntax',
      'RCPT TO:<rcpt@example.org> NOTIFY=NEVER => 250 2.1.5 Accepted',
    ]);
    // a second MAIL that smtp-server refuses (nested) leaves the transaction's own path in force
    expect((await transcript([ehlo, from, 'MAIL FROM:<x(c)@sender.example>', rcpt], 'ADDR=198.51.100.20')).slice(2)).toEqual([
      'MAIL FROM:<x(c)@sender.example> => 503 5.5.1 Error: nested MAIL command',
      `${rcpt} => 250 2.1.5 Accepted`,
    ]);
  });

  it('4. unknown recipient: 550 5.1.1', async () => {
    expect((await transcript([ehlo, from, 'RCPT TO:<nobody@example.org>']))[2]).toBe(
      'RCPT TO:<nobody@example.org> => 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table',
    );
  });

  it('relay control: a stranger may not relay (554 5.7.1)', async () => {
    expect((await transcript([ehlo, from, 'RCPT TO:<x@elsewhere.example>']))[2]).toBe(
      'RCPT TO:<x@elsewhere.example> => 554 5.7.1 <x@elsewhere.example>: Relay access denied',
    );
  });

  it('5. mynetworks: relays and skips the lists (listed in bl.test, still accepted)', async () => {
    expect((await transcript([ehlo, from, 'RCPT TO:<x@elsewhere.example>', rcpt], 'ADDR=192.0.2.5 NAME=[UNAVAILABLE]')).slice(2)).toEqual([
      'RCPT TO:<x@elsewhere.example> => 250 2.1.5 Accepted',
      `${rcpt} => 250 2.1.5 Accepted`,
    ]);
  });

  it('7. first DNS whitelist wins over the blacklist', async () => {
    expect((await transcript([ehlo, from, rcpt], 'ADDR=203.0.113.77'))[2]).toBe(`${rcpt} => 250 2.1.5 Accepted`);
  });

  it('8. DNS blacklists: client and sender domain, 554 5.7.1', async () => {
    expect((await transcript([ehlo, from, rcpt], 'ADDR=203.0.113.66'))[2]).toBe(
      `${rcpt} => 554 5.7.1 Service unavailable; Client host [203.0.113.66] blocked using bl.test`,
    );
    expect((await transcript([ehlo, 'MAIL FROM:<x@spam.example>', rcpt], 'ADDR=203.0.113.10'))[2]).toBe(
      `${rcpt} => 554 5.7.1 Service unavailable; Sender address [spam.example] blocked using dbl.test`,
    );
  });

  it('9. second DNS whitelist skips greylisting', async () => {
    expect((await transcript([ehlo, from, rcpt], 'ADDR=198.51.100.20'))[2]).toBe(`${rcpt} => 250 2.1.5 Accepted`);
    expect([...t.greylist.seen].some((k) => k.startsWith('198.51.100.20/'))).toBe(false);
  });

  it('10. greylisting: 450 4.7.1 first, accepted on retry, X-Greylist on the message; 11. accept + 250 with queue id', async () => {
    const c = await SmtpClient.connect(t.port);
    await c.read();
    expect((await c.cmd('XCLIENT ADDR=198.51.100.30')).code).toBe(220);
    await c.cmd(ehlo);
    await c.cmd(from);
    const first = await c.cmd(rcpt);
    expect(first.code).toBe(450);
    expect(first.text).toMatch(/^4\.7\.1 <rcpt@example\.org>: Recipient address rejected: Greylisted, please try again in 60 seconds/);
    await c.cmd('RSET');
    expect((await c.cmd(from)).code).toBe(250);
    expect((await c.cmd(rcpt)).text).toBe('2.1.5 Accepted');
    const n = t.enqueued.length;
    const done = await c.data('From: alice@sender.example\r\nTo: rcpt@example.org\r\nSubject: hi\r\n\r\nhello\r\n');
    expect(done.code).toBe(250);
    expect(done.text).toMatch(/^2\.0\.0 Ok: queued as \S+$/);
    await c.quit();
    const q = t.enqueued[n]!;
    expect(q.sender).toBe('alice@sender.example');
    expect(q.recipients).toEqual(['rcpt@example.org']);
    expect(q.route).toBe('local');
    expect(q.prepend?.[0]).toMatch(/^Received: from mail\.sender\.example \(unknown \[198\.51\.100\.30\]\) by mx\.example\.org \(moat\) with ESMTP id \S+ for <rcpt@example\.org>; \w{3}, /);
    expect(q.prepend).toContain('X-Greylist: delayed 61 seconds by moat-test');
    expect(q.prepend?.some((h) => h.startsWith('Authentication-Results: mx.example.org;'))).toBe(true);
  });
});

describe('protocol limits and hardening', () => {
  it('EHLO advertises SIZE, 8BITMIME, PIPELINING, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS; never AUTH in clear', async () => {
    const c = await SmtpClient.connect(t.port);
    await c.read();
    const r = await c.cmd('EHLO client.example');
    expect(r.lines).toEqual(expect.arrayContaining(['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'SIZE 81920000']));
    expect(r.lines.some((l) => l.startsWith('AUTH'))).toBe(false);
    expect(r.lines.some((l) => l.startsWith('VRFY') || l.startsWith('EXPN'))).toBe(false);
    await c.quit();
  });

  it('VRFY and EXPN: 502 5.5.1', async () => {
    expect(await transcript([ehlo, 'VRFY bob', 'EXPN staff'])).toEqual([
      `${ehlo} => 250 mx.example.org`,
      'VRFY bob => 502 5.5.1 Error: VRFY command is disabled',
      'EXPN staff => 502 5.5.1 Error: EXPN command is disabled',
    ]);
  });

  it('garbage commands: 500 5.5.2, the session goes on; binary junk does not crash the server', async () => {
    expect(await transcript(['FOO bar', '\x01\x02\xff junk', ehlo])).toEqual([
      'FOO bar => 500 5.5.2 Error: command not recognized',
      '\x01\x02\xff junk => 500 5.5.2 Error: command not recognized',
      `${ehlo} => 250 mx.example.org`,
    ]);
  });

  it('an overlong command line: 500 5.5.2 and the connection is closed; the server still serves others', async () => {
    const c = await SmtpClient.connect(t.port);
    await c.read();
    const r = await c.cmd(`EHLO ${'a'.repeat(10_000)}`);
    expect(r.code).toBe(500);
    expect(r.text).toBe('5.5.2 Error: command line too long');
    await new Promise((ok) => setTimeout(ok, 100));
    expect(c.closed).toBe(true);
    expect((await transcript([ehlo]))[0]).toBe(`${ehlo} => 250 mx.example.org`);
  });

  it('SIZE: a declared size over the limit is refused at MAIL', async () => {
    expect((await transcript([ehlo, 'MAIL FROM:<alice@sender.example> SIZE=99999999999']))[1]).toBe(
      'MAIL FROM:<alice@sender.example> SIZE=99999999999 => 552 5.3.4 Error: message exceeds fixed maximum message size 81920000',
    );
  });

  it('recipients per message are limited', async () => {
    const small = await startTestMx({ mx: { limits: { recipients: 2, per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(small.port);
      await c.read();
      await c.cmd('XCLIENT ADDR=192.0.2.5');
      await c.cmd(ehlo);
      await c.cmd(from);
      expect((await c.cmd('RCPT TO:<a@elsewhere.example>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<b@elsewhere.example>')).code).toBe(250);
      const r = await c.cmd('RCPT TO:<c@elsewhere.example>');
      expect(r.code).toBe(452);
      await c.quit();
    } finally {
      await small.close();
    }
  });
});

describe('limits and trust', () => {
  it('oversize message: 552 5.3.4 at end of DATA, nothing queued', async () => {
    const small = await startTestMx({ mx: { size_limit: 2048, limits: { per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(small.port);
      await c.read();
      await c.cmd('XCLIENT ADDR=192.0.2.5');
      expect((await c.cmd(ehlo)).lines).toContain('SIZE 2048');
      await c.cmd(from);
      await c.cmd(rcpt);
      const r = await c.data(`Subject: big\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(60));
      expect(`${r.code} ${r.text}`).toBe('552 5.3.4 Message size exceeds fixed maximum message size');
      expect((await c.cmd('NOOP')).code).toBe(250);
      await c.quit();
      expect(small.enqueued).toHaveLength(0);
    } finally {
      await small.close();
    }
  });

  it('XCLIENT from an untrusted address: not advertised, 550 5.7.0', async () => {
    const strict = await startTestMx({ mx: { xclient: { trusted_networks: ['192.0.2.0/24'] }, limits: { per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(strict.port);
      await c.read();
      const e = await c.cmd(ehlo);
      expect(e.lines.some((l) => l.startsWith('XCLIENT'))).toBe(false);
      const r = await c.cmd('XCLIENT ADDR=192.0.2.5');
      expect(`${r.code} ${r.text}`).toBe('550 5.7.0 Error: insufficient authorization');
      await c.quit();
    } finally {
      await strict.close();
    }
  });

  it('per-IP concurrency: the next connection gets 421 4.7.0', async () => {
    const lim = await startTestMx({ mx: { limits: { per_ip_concurrency: 2, per_ip_rate: 1000 } } });
    try {
      const a = await SmtpClient.connect(lim.port);
      const b = await SmtpClient.connect(lim.port);
      expect((await a.read()).code).toBe(220);
      expect((await b.read()).code).toBe(220);
      const c = await SmtpClient.connect(lim.port);
      const r = await c.read();
      expect(`${r.code} ${r.text}`).toBe('421 4.7.0 Too many concurrent connections from your address, try again later');
      await a.quit();
      await new Promise((ok) => setTimeout(ok, 100));
      const d = await SmtpClient.connect(lim.port);
      expect((await d.read()).code).toBe(220);
      await Promise.all([b.quit(), d.quit(), c.quit()]);
      expect(await lim.registry.getSingleMetricAsString('moat_mx_connections_refused_total')).toMatch(/reason="concurrency"} 1/);
    } finally {
      await lim.close();
    }
  });

  it('per-IP connection rate: over the per-minute budget gets 421', async () => {
    const lim = await startTestMx({ mx: { limits: { per_ip_concurrency: 50, per_ip_rate: 2 } } });
    try {
      for (let i = 0; i < 2; i++) {
        const c = await SmtpClient.connect(lim.port);
        expect((await c.read()).code).toBe(220);
        await c.quit();
      }
      const c = await SmtpClient.connect(lim.port);
      expect((await c.read()).text).toBe('4.7.0 Too many connections from your address, slow down');
      await c.quit();
    } finally {
      await lim.close();
    }
  });

  it('greet pause: a client that talks before the greeting gets 421', async () => {
    const paused = await startTestMx({ mx: { timeouts: { greet_pause: 300 }, limits: { per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(paused.port);
      c.write('EHLO early.example\r\n');
      const first = await c.read();
      expect(first.code).toBe(421);
      expect(first.text).toMatch(/You talk too soon/);
      await c.quit();
      const polite = await SmtpClient.connect(paused.port);
      expect((await polite.read()).code).toBe(220);
      await polite.quit();
    } finally {
      await paused.close();
    }
  });

  it('error replies per session are limited (smtpd_hard_error_limit): 421 then close', async () => {
    const lim = await startTestMx({ mx: { limits: { errors: 3, per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(lim.port);
      await c.read();
      expect((await c.cmd('FOO')).code).toBe(500);
      expect((await c.cmd('VRFY x')).code).toBe(502);
      expect((await c.cmd('BAR')).code).toBe(500);
      const cut = await c.read();
      expect(`${cut.code} ${cut.text}`).toBe('421 4.7.0 Error: too many errors');
      await new Promise((ok) => setTimeout(ok, 100));
      expect(c.closed).toBe(true);
    } finally {
      await lim.close();
    }
  });

  it('slow clients: idle and whole-session time limits end the session with 421', async () => {
    const lim = await startTestMx({ mx: { timeouts: { session: 400, command: 60_000 }, limits: { per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(lim.port);
      await c.read();
      await c.cmd(ehlo);
      const cut = await c.read(3000);
      expect(`${cut.code} ${cut.text}`).toBe('421 4.4.2 Error: session time limit exceeded');
      await c.quit();
    } finally {
      await lim.close();
    }
    const idle = await startTestMx({ mx: { timeouts: { command: 300 }, limits: { per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(idle.port);
      await c.read();
      const cut = await c.read(3000);
      expect(cut.code).toBe(421);
      await c.quit();
    } finally {
      await idle.close();
    }
  });

  it('commands per session are limited: 421 then close', async () => {
    const lim = await startTestMx({ mx: { limits: { commands: 10, per_ip_concurrency: 50, per_ip_rate: 1000 } } });
    try {
      const c = await SmtpClient.connect(lim.port);
      await c.read();
      for (let i = 0; i < 10; i++) expect((await c.cmd('NOOP')).code).toBe(250);
      const r = await c.cmd('NOOP');
      expect(`${r.code} ${r.text}`).toBe('421 4.7.0 Error: too many commands');
      await c.quit();
    } finally {
      await lim.close();
    }
  });
});

describe('delay_reject off: HELO and MAIL restrictions answer their own command', () => {
  it('rejects a bad HELO at HELO, a non-FQDN sender at MAIL', async () => {
    const early = await startTestMx({ delayReject: false });
    try {
      const c = await SmtpClient.connect(early.port);
      await c.read();
      const bad = await c.cmd('EHLO bad_host!');
      expect(`${bad.code} ${bad.text}`).toBe('501 5.5.2 <bad_host!>: Helo command rejected: Invalid name');
      expect((await c.cmd('MAIL FROM:<alice@sender.example>')).code).toBe(503);
      const local = await c.cmd('HELO localhost');
      expect(`${local.code} ${local.text}`).toBe('504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname');
      expect((await c.cmd(ehlo)).code).toBe(250);
      const sender = await c.cmd('MAIL FROM:<alice@sender>');
      expect(`${sender.code} ${sender.text}`).toBe('504 5.5.2 <alice@sender>: Sender address rejected: need fully-qualified address');
      expect((await c.cmd(from)).code).toBe(250);
      expect((await c.cmd('RCPT TO:<x@elsewhere.example>')).code).toBe(554);
      await c.quit();
    } finally {
      await early.close();
    }
  });
});
