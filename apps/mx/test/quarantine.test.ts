// The quarantine end to end on the real moat-mx (main.ts) with its real queue thread and a maildir: held
// messages (written into the same spool as the gateway's hold would) are never delivered while normal mail
// is; the admin listener lists, shows, releases (delivered), deletes and expires them; a damaged one is refused.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, createRegistry } from '@moat/observe';
import { openQueue, type Queue } from '@moat/queue';
import { freePort, SmtpClient, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeGatewayConfig } from './gateway-config.ts';
import { type SpawnedMx, spawnMain } from './spawn-main.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: Awaited<ReturnType<typeof startRedis>>;
let mx: SpawnedMx;
let port: number;
let metricsPort: number;
let spool: string;
let writer: Queue;

const box = () => join(dir.path, 'mail', 'example.org', 'rcpt', 'new');
const deliveredSubjects = async () => {
  const out: string[] = [];
  for (const f of await readdir(box()).catch(() => [] as string[])) out.push(/Subject: (.*)\r\n/.exec(await readFile(join(box(), f), 'latin1'))?.[1] ?? '?');
  return out.sort();
};
async function waitFor(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1500 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 20));
  if (!(await cond())) throw new Error(`timed out waiting for ${what}\n${mx.log.text.slice(-3000)}`);
}
const TOKEN = 'mx-test-admin-token-42';
const api = async (path: string, method = 'GET', by?: string) => {
  const r = await fetch(`http://127.0.0.1:${metricsPort}/-/quarantine${path}`, {
    method,
    headers: { 'x-moat-quarantine': '1', authorization: `Bearer ${TOKEN}`, ...(by ? { 'x-moat-by': by } : {}) },
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> & Array<Record<string, unknown>> };
};
const hold = (subject: string) =>
  writer.enqueue({
    sender: 'spammer@sender.example',
    recipients: ['rcpt@example.org'],
    message: Buffer.from(`From: spammer@sender.example\r\nTo: rcpt@example.org\r\nSubject: ${subject}\r\n\r\nheld body of ${subject}\r\n`),
    hold: { check: 'dmarc', reason: 'p=quarantine (sender.example)', score: 5.5 },
  });

beforeAll(async () => {
  dir = await tmpDir('mx-quarantine');
  redis = await startRedis();
  spool = join(dir.path, 'spool');
  port = await freePort();
  metricsPort = await freePort();
  const cfg = await writeGatewayConfig({
    dir: dir.path,
    redisUrl: redis.url,
    spamd: '{ enabled: false }',
    queue: `{ dir: ${spool}, transport: "maildir:${dir.path}/mail" }`,
    extra: `quarantine: { retention: 3s, admin_token: ${TOKEN} }\n`,
    metrics: `{ enabled: true, listen: "127.0.0.1:${metricsPort}" }`,
  });
  mx = await spawnMain(cfg, port);
  // the gateway's hold (the DMARC / spam-score call site) writes through the same queue code into this spool
  writer = await openQueue({ dir: spool, logger: createLogger('test', { level: 'silent' }), registry: createRegistry(), node: 'mx-itest' });
}, 60_000);

afterAll(async () => {
  await mx?.stop();
  await redis?.stop();
  await dir?.remove();
});

it('held mail stays held while normal mail is delivered; release delivers it, delete and expiry remove it, a damaged one is refused', async () => {
  // the admin API wants the node's token: the metrics listener answers the whole stack network
  const bare = await fetch(`http://127.0.0.1:${metricsPort}/-/quarantine`, { headers: { 'x-moat-quarantine': '1' } });
  expect(bare.status).toBe(401);
  const a = await hold('held A');
  const b = await hold('held B');
  const c = await hold('held C');
  const client = await SmtpClient.connect(port);
  await client.read();
  await client.cmd('EHLO client.example');
  await client.cmd('MAIL FROM:<friend@sender.example>');
  expect((await client.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
  expect((await client.data('From: friend@sender.example\r\nSubject: normal\r\n\r\nhi\r\n')).code).toBe(250);
  await client.quit();
  await waitFor(async () => (await deliveredSubjects()).includes('normal'), 'normal mail');
  expect(await deliveredSubjects()).toEqual(['normal']); // the runner went past the held ones
  expect((await readdir(join(spool, 'hold'))).sort()).toEqual([a.id, b.id, c.id].sort());

  const refused = await fetch(`http://127.0.0.1:${metricsPort}/-/quarantine`);
  expect(refused.status).toBe(403);
  const list = await api('');
  expect(list.status).toBe(200);
  expect(list.body.map((e) => e.id)).toEqual([a.id, b.id, c.id]);
  expect(list.body[0]).toMatchObject({ sender: 'spammer@sender.example', hold: { check: 'dmarc', reason: 'p=quarantine (sender.example)', score: 5.5, node: 'mx-itest' } });
  const shown = await api(`/${a.id}`);
  expect(shown.body).toMatchObject({ id: a.id, preview: { text: 'held body of held A\n', source: 'text/plain' } });

  expect((await api(`/${a.id}/release`, 'POST')).status).toBe(400); // who acts is required
  expect((await api(`/${a.id}/release`, 'POST', 'itest-admin')).body).toEqual({ id: a.id, action: 'released' });
  await waitFor(async () => (await deliveredSubjects()).includes('held A'), 'the released message');
  expect((await api(`/${b.id}/delete`, 'POST', 'itest-admin')).body).toEqual({ id: b.id, action: 'deleted' });
  expect((await api(`/${b.id}`)).status).toBe(404);

  // a damaged held file: refused, moved to corrupt/, counted
  const path = join(spool, 'hold', c.id);
  await writeFile(path, (await readFile(path, 'latin1')).replace('held body', 'HELD BODY'), 'latin1');
  const bad = await api(`/${c.id}/release`, 'POST', 'itest-admin');
  expect(bad.status).toBe(409);
  expect(bad.body).toMatchObject({ code: 'EQUEUE_CORRUPT', error: expect.stringMatching(/failed its checksum.*not released/) });
  expect((await readdir(join(spool, 'corrupt'))).map((n) => n.split('.')[0])).toEqual([c.id]);
  expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toMatch(/^moat_quarantine_corrupt_total 1$/m);

  // expiry after quarantine.retention (3 s here; the library's test drives a clock)
  const d = await hold('held D');
  expect((await api('/expire', 'POST', 'itest-admin')).body).toEqual({ expired: [] });
  await new Promise((r) => setTimeout(r, 3100));
  expect((await api('/expire', 'POST', 'itest-admin')).body).toEqual({ expired: [d.id] });
  expect((await api('')).body).toEqual([]);

  await new Promise((r) => setTimeout(r, 300)); // let the runner scan once more: nothing else may arrive
  expect(await deliveredSubjects()).toEqual(['held A', 'normal']);
  const events = (await mx.logged(/"event":"quarantine-expire"/)).split('\n').filter((l) => l.includes('"event":"quarantine-'));
  expect(events.some((l) => l.includes('"event":"quarantine-release"') && l.includes('"by":"itest-admin"'))).toBe(true);
  expect(events.some((l) => l.includes('"event":"quarantine-delete"') && l.includes('"by":"itest-admin"'))).toBe(true);
  expect(events.some((l) => l.includes('"event":"quarantine-expire"') && l.includes('"by":"retention"'))).toBe(true);
}, 90_000);
