// The closed policy door: policyd serves only policyd.clients (default mynetworks). A connection from anywhere
// else is closed before a byte is read, counted and logged, and the shared greylist in a real Redis never
// records its triplet. The control: the same request from an allowed client is greylisted and recorded.
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startPolicyd, startStack, variantConfig } from './helpers.ts';

const REQUEST =
  'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=198.51.100.7\n' +
  'client_name=mail.sender.example\nhelo_name=mail.sender.example\nsender=someone@sender.example\nrecipient=alice@example.org\ninstance=a1\n\n';

/** Sends one request and collects what comes back until the server closes (or 5 s pass). */
function ask(port: number): Promise<{ reply: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let reply = '';
    let closedByServer = false;
    const t = setTimeout(() => s.destroy(), 5000);
    s.on('connect', () => s.write(REQUEST, () => {}));
    s.on('data', (b) => {
      reply += b.toString();
      if (reply.endsWith('\n\n')) {
        clearTimeout(t);
        s.end();
      }
    });
    s.on('end', () => {
      closedByServer = !reply.endsWith('\n\n');
    });
    s.on('error', () => {
      closedByServer = true;
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve({ reply, closedByServer });
    });
  });
}

let stack: Stack;
const redisKeys = () => execFileSync('redis-cli', ['-h', stack.redis.host, '-p', String(stack.redis.port), '--scan'], { encoding: 'utf8' }).split('\n').filter(Boolean);

beforeAll(async () => {
  stack = await startStack({ greylistDelay: '60s' });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe('policyd.clients', () => {
  it('closes a connection from outside the list at once: no answer, counted, logged, greylist untouched', async () => {
    const cfg = await variantConfig(stack, 'closed', 'policyd:\n  clients: [192.0.2.0/24, "[2001:db8::]/32"]\n');
    const metricsPort = await freePort();
    const p = await startPolicyd(cfg, undefined, 'info', `127.0.0.1:${metricsPort}`);
    try {
      const refusedCount = async () =>
        Number(/^moat_policyd_connections_refused_total (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1]);
      // waitForPort's probe was the first stranger
      const counted = await refusedCount();
      const logged = () => p.daemon.output().split('\n').filter((l) => l.includes('"msg":"policy connection refused"'));
      const before = redisKeys();
      for (let i = 0; i < 3; i++) {
        const r = await ask(p.port);
        expect(r.reply).toBe('');
        expect(r.closedByServer).toBe(true);
      }
      expect(redisKeys()).toEqual(before);
      expect(redisKeys().some((k) => k.includes('198.51.100') || k.includes('sender.example'))).toBe(false);
      expect(await refusedCount()).toBe(counted + 3);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).not.toMatch(/^moat_policyd_replies_total\{/m);
      expect(metrics).not.toMatch(/^moat_decisions_total\{/m);
      // logged once per peer per minute (the probe's line); the counter has every connection
      for (let i = 0; i < 100 && logged().length < 1; i++) await new Promise((r) => setTimeout(r, 50));
      const refused = logged();
      expect(refused.length).toBe(1);
      expect(JSON.parse(refused[0]!)).toMatchObject({ event: 'refused', peer: '127.0.0.1', reason: 'not in policyd.clients', level: 40 });
    } finally {
      await p.stop();
    }
  });

  it('serves the default list, mynetworks (loopback here): the same request is greylisted and recorded', async () => {
    const p = await startPolicyd(stack.configFile);
    try {
      const r = await ask(p.port);
      expect(r.reply).toMatch(/^action=(DEFER|4\d\d)/);
      expect(redisKeys().length).toBeGreaterThan(0);
    } finally {
      await p.stop();
    }
  });
});
