// Faults: one service stopped at a time while mail flows, the documented fail-open behaviour checked, then
// the service started again and the whole stack healthy. Redis -> greylist skipped; spamd -> policy applied
// (accept, marked unchecked); Unbound -> DNS lists fail open, sessions not held.
import { GTUBE } from '@moat/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { clientAs, delivered, headers, transact } from './session.ts';
import { freshClientIp, projectContainers, stack, startService, stopService, waitHealthy } from './stack.ts';

afterAll(async () => {
  // whatever failed above, leave every service running for the files after this one
  for (const c of await projectContainers(stack().project)) if (c.state !== 'running') await startService(c.service);
  await waitHealthy(stack().project, { timeoutMs: 180_000 });
});

describe('faults', () => {
  it('Redis stopped: mail is still accepted, greylisting skipped; Redis back: healthy, greylisting again', async () => {
    await stopService('redis');
    try {
      const c = await clientAs(freshClientIp());
      const t = await transact(c, { subject: 'while redis is down' });
      await c.quit();
      expect(t.rcpt?.code, c.transcript.join('\n')).toBe(250);
      expect(t.data?.code).toBe(250);
      const h = headers(await delivered(t.id));
      expect(h).not.toMatch(/^X-Greylist: delayed/im);
    } finally {
      await startService('redis');
    }
    // greylisting works again once Redis is back (the client reconnects by itself)
    let code = 0;
    for (let i = 0; i < 20 && code !== 450; i++) {
      const c = await clientAs(freshClientIp());
      code = (await transact(c)).rcpt?.code ?? 0;
      await c.quit();
      if (code !== 450) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(code).toBe(450);
  });

  it('spamd stopped: the configured policy applies (accept, X-Spam-Status: unchecked); spamd back: healthy', async () => {
    await stopService('spamassassin');
    try {
      const c = await clientAs('192.0.2.99');
      const t = await transact(c, { body: `unscanned\r\n${GTUBE}\r\n`, subject: 'while spamd is down' });
      await c.quit();
      expect(t.data?.code, c.transcript.join('\n')).toBe(250);
      const h = headers(await delivered(t.id));
      expect(h).toMatch(/^X-Spam-Status: unchecked/im);
    } finally {
      await startService('spamassassin');
    }
    const c = await clientAs('192.0.2.99');
    const t = await transact(c, { body: `scanned again\r\n${GTUBE}\r\n` });
    await c.quit();
    expect(t.data?.code, 'GTUBE is rejected again once spamd is back').toBe(550);
  });

  it('Unbound stopped: DNS lists fail open (a blacklisted client is not rejected) and quickly; Unbound back: healthy', async () => {
    await stopService('unbound');
    try {
      const c = await clientAs('192.0.2.66');
      const t0 = Date.now();
      const t = await transact(c);
      const ms = Date.now() - t0;
      await c.quit();
      // not listed as far as we can tell: the next steps decide (greylist defers a first-time triplet)
      expect([250, 450], c.transcript.join('\n')).toContain(t.rcpt?.code);
      expect(ms, 'the DNS budget bounds the wait').toBeLessThan(30_000);
    } finally {
      await startService('unbound');
    }
    const c = await clientAs('192.0.2.66');
    const t = await transact(c);
    await c.quit();
    expect(t.rcpt?.code, 'the blacklist applies again once Unbound is back').toBeGreaterThanOrEqual(500);
  });
});
