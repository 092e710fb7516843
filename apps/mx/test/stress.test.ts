// Stress-adaptive limits under a cheap lock-out: 2,000 idle connections from 200 addresses fill the session
// limit; the listener goes under stress (logged, counted, gauge), a new client is still greeted (a silent
// session makes room), and once the holders are gone the stress ends.
import { connect, type Socket } from 'node:net';
import { SmtpClient } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestMx, type TestMx } from './harness.ts';

let t: TestMx;
const holders: Socket[] = [];
beforeAll(async () => {
  t = await startTestMx({ logs: true, mx: { limits: { per_ip_concurrency: 10, per_ip_rate: 1000, max_connections: 500 } } });
});
afterAll(async () => {
  for (const h of holders) h.destroy();
  await t?.close();
});

const metric = async (name: string) => (await t.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#')).join('\n');

it('2,000 idle connections from 200 addresses: stress on, a new client is greeted within 15 s, stress off after', async () => {
  // open them round-robin over the addresses, a batch at a time; each waits for its first reply or its close
  const first: Promise<string>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 2000; i++) {
    const host = `127.0.${1 + Math.floor((i % 200) / 100)}.${1 + (i % 100)}`;
    const sock = connect({ port: t.port, host: '127.0.0.1', localAddress: host });
    sock.on('error', () => undefined);
    holders.push(sock);
    first.push(
      new Promise<string>((resolve) => {
        sock.once('data', (d: Buffer) => resolve(d.toString('latin1').slice(0, 3)));
        sock.once('close', () => resolve('closed'));
      }),
    );
    // a batch at a time: 2,000 SYNs at once overflow the listen backlog, and the kernel's SYN retries take seconds
    if (i % 100 === 99) await Promise.all(first.slice(-100));
  }
  const replies = await Promise.all(first);
  const greeted = replies.filter((r) => r === '220').length;
  console.log(`2,000 connections answered in ${Math.round(performance.now() - t0)} ms: ${greeted} greeted`);
  expect(greeted).toBeGreaterThan(0);
  expect(await metric('moat_mx_stress')).toContain('moat_mx_stress{listener="smtp"} 1');
  expect(t.logs.some((l) => l.event === 'stress-on')).toBe(true);

  // the newcomer: greeted (not 421) with a generous bound
  const c = await SmtpClient.connect(t.port, { timeoutMs: 15_000 });
  const hello = await c.read(15_000);
  expect(hello.code).toBe(220);
  expect((await c.cmd('EHLO newcomer.example')).code).toBe(250);
  await c.quit();
  expect(await metric('moat_mx_stress_dropped_total')).toMatch(/moat_mx_stress_dropped_total\{listener="smtp"\} [1-9]/);

  for (const h of holders) h.destroy();
  const until = Date.now() + 15_000;
  while (!(await metric('moat_mx_stress')).includes('moat_mx_stress{listener="smtp"} 0') && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await metric('moat_mx_stress')).toContain('moat_mx_stress{listener="smtp"} 0');
  expect(await metric('moat_mx_stress_switches_total')).toContain('moat_mx_stress_switches_total{listener="smtp",to="off"} 1');
}, 60_000);
