// DATA goes to a draft in the spool as it arrives: large messages are queued byte for byte (forged headers
// removed from the header block only), nothing is left in tmp/, a too-big message leaves no file, and a client
// that goes away mid-DATA is routine (an info line) and leaves no file either; a spool that cannot take a draft
// answers 451.
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SmtpClient } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestMx, type TestMx } from './harness.ts';

let t: TestMx;
beforeAll(async () => {
  t = await startTestMx({ logs: true, mx: { size_limit: 8_000_000 } });
});
afterAll(async () => {
  await t?.close();
});

const until = async (what: () => Promise<boolean> | boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

async function session(): Promise<SmtpClient> {
  const c = await SmtpClient.connect(t.port);
  await c.read();
  await c.cmd('XCLIENT ADDR=192.0.2.5');
  await c.cmd('EHLO client.example');
  expect((await c.cmd('MAIL FROM:<alice@sender.example>')).code).toBe(250);
  expect((await c.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
  return c;
}

it('queues a 5 MB message byte for byte from the draft, forged X-Spam removed, tmp/ left empty', async () => {
  const line = `${'0123456789'.repeat(7)}\r\n`;
  const body = line.repeat(Math.ceil(5_000_000 / line.length));
  const c = await session();
  const r = await c.data(`X-Spam-Status: No, forged\r\nSubject: big\r\n\r\n${body}`);
  expect(r.code).toBe(250);
  await c.quit();
  const q = t.enqueued.at(-1)!;
  expect((q.message as Buffer).toString('latin1')).toBe(`Subject: big\r\n\r\n${body}`);
  await until(async () => (await readdir(join(t.spool, 'tmp'))).length === 0);
  expect(await readdir(join(t.spool, 'incoming'))).toHaveLength(1);
});

it('a too-big message: 552 5.3.4 and no file anywhere', async () => {
  const before = t.enqueued.length;
  const c = await session();
  const r = await c.data(`Subject: huge\r\n\r\n${`${'y'.repeat(998)}\r\n`.repeat(8100)}`);
  expect(`${r.code} ${r.text}`).toBe('552 5.3.4 Message size exceeds fixed maximum message size');
  expect(await readdir(join(t.spool, 'tmp'))).toEqual([]);
  await c.quit();
  expect(t.enqueued.length).toBe(before);
});

it('a client gone mid-DATA is logged at info, not error, and leaves no draft', async () => {
  const before = t.enqueued.length;
  const c = await session();
  const go = await c.cmd('DATA');
  expect(go.code).toBe(354);
  c.write(`Subject: half\r\n\r\n${'z'.repeat(200_000)}\r\n`);
  await until(async () => (await readdir(join(t.spool, 'tmp'))).length === 1);
  c.destroy();
  await until(() => t.logs.some((l) => l.event === 'data-aborted'));
  const line = t.logs.find((l) => l.event === 'data-aborted')!;
  expect(line.level).toBe(30);
  expect(t.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
  await until(async () => (await readdir(join(t.spool, 'tmp'))).length === 0);
  expect(t.enqueued.length).toBe(before);
});

it('a draft that cannot be opened (tmp/ not a directory): 451 4.3.0 and a spool-failure line, nothing queued', async () => {
  const before = t.enqueued.length;
  const tmp = join(t.spool, 'tmp');
  await rename(tmp, `${tmp}.saved`);
  await writeFile(tmp, 'not a directory');
  try {
    const c = await session();
    const r = await c.data('Subject: nowhere\r\n\r\nbody\r\n');
    expect(`${r.code} ${r.text}`).toBe('451 4.3.0 Queue unavailable, try again later');
    await c.quit();
  } finally {
    await rm(tmp);
    await rename(`${tmp}.saved`, tmp);
  }
  const line = t.logs.find((l) => l.event === 'spool-failure');
  expect(line).toMatchObject({ level: 50, err: expect.stringContaining('ENOTDIR') });
  expect(t.enqueued.length).toBe(before);
});

it('mx.timeouts.data is the idle timeout during DATA (the command timeout is not)', async () => {
  const quick = await startTestMx({ mx: { timeouts: { command: 300_000, data: 300 }, limits: { per_ip_concurrency: 50, per_ip_rate: 1000 } } });
  try {
    const c = await SmtpClient.connect(quick.port);
    await c.read();
    await c.cmd('XCLIENT ADDR=192.0.2.5');
    await c.cmd('EHLO client.example');
    expect((await c.cmd('MAIL FROM:<alice@sender.example>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write('Subject: slow\r\n\r\nand then nothing');
    const r = await c.read(10_000);
    expect(r.code).toBe(421);
    await until(() => c.closed);
    await until(async () => (await readdir(join(quick.spool, 'tmp'))).length === 0);
  } finally {
    await quick.close();
  }
});

it('a 1 MB line inside DATA is accepted unchanged (as Postfix does) and counted', async () => {
  const long = 'L'.repeat(1_000_000);
  const c = await session();
  const r = await c.data(`Subject: long line\r\n\r\n${long}\r\nend\r\n`);
  expect(r.code).toBe(250);
  await c.quit();
  expect((t.enqueued.at(-1)!.message as Buffer).toString('latin1')).toBe(`Subject: long line\r\n\r\n${long}\r\nend\r\n`);
  expect(await t.registry.getSingleMetricAsString('moat_mx_long_line_messages_total')).toMatch(/moat_mx_long_line_messages_total 1$/m);
  expect(t.logs.find((l) => l.msg === 'message' && l.outcome === 'accepted' && (l.longestLine as number) === 1_000_002)).toBeDefined();
});
