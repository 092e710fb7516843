// POST /api/learn: the console teaches spamd's Bayes for the logged-in admin (CSRF token, JSON, base64
// message); what is not a message is 422 with its reason, and every action is logged with who did it.
import { PassThrough } from 'node:stream';
import { hashPassword } from '@moat/auth';
import { createLogger, createRegistry } from '@moat/observe';
import { SpamdError } from '@moat/spamd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningConsole, startConsole } from '../src/server.ts';
import type { ConsoleServices } from '../src/services.ts';

let running: RunningConsole;
const logs: string[] = [];
const taught: Array<{ as: string; bytes: number }> = [];
let fail = false;

beforeAll(async () => {
  const sink = new PassThrough();
  sink.on('data', (b: Buffer) => logs.push(...b.toString().split('\n').filter(Boolean)));
  const services = {
    learn: {
      maxBytes: 2000,
      async run(message: Buffer, as: string) {
        if (fail) throw new SpamdError('ESPAMD_TELL_DISABLED', '69 Service Unavailable');
        taught.push({ as, bytes: message.length });
        return { outcome: taught.length === 1 ? 'learned' : 'already-learned' };
      },
    },
  } as unknown as ConsoleServices;
  running = await startConsole({
    settings: { host: '127.0.0.1', port: 0, user: 'admin', passwordHash: await hashPassword('pw', { N: 1024 }), metricsUrls: [], secureCookie: false, pollMs: 2000 },
    services,
    hostname: 'mx.example.org',
    logger: createLogger('learn-test', { level: 'info', destination: sink }),
    registry: createRegistry(),
  });
});
afterAll(async () => {
  await running?.close();
});

async function login(): Promise<{ cookie: string; csrf: string }> {
  const form = await fetch(`${running.url}/login`);
  const pre = /moat_login=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!;
  const res = await fetch(`${running.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `moat_login=${pre}` },
    body: new URLSearchParams({ csrf: pre, user: 'admin', password: 'pw' }).toString(),
  });
  const cookie = /moat_session=[^;]+/.exec(res.headers.getSetCookie().join('; '))![0];
  const page = await (await fetch(`${running.url}/`, { headers: { cookie } })).text();
  const csrf = /data-csrf="([^"]+)"|name="csrf" value="([^"]+)"|csrf[^"]*"([A-Za-z0-9_-]{16,})"/.exec(page);
  return { cookie, csrf: (csrf?.[1] ?? csrf?.[2] ?? csrf?.[3])! };
}

const MSG = Buffer.from('From: a@example.org\r\nSubject: offer\r\n\r\ncheap pills\r\n');
const post = (auth: { cookie: string; csrf: string } | undefined, body: unknown) =>
  fetch(`${running.url}/api/learn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { cookie: auth.cookie, 'x-csrf-token': auth.csrf } : {}) },
    body: JSON.stringify(body),
  });

describe('POST /api/learn', () => {
  it('teaches spamd for the logged-in admin and logs who did it', async () => {
    const auth = await login();
    expect(auth.csrf).toBeTruthy();
    const r = await post(auth, { as: 'spam', message: MSG.toString('base64') });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ as: 'spam', outcome: 'learned' });
    expect(taught).toEqual([{ as: 'spam', bytes: MSG.length }]);
    const again = await post(auth, { as: 'spam', message: MSG.toString('base64') });
    expect(await again.json()).toEqual({ as: 'spam', outcome: 'already-learned' });
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.event === 'console-action' && l.action === 'learn');
    expect(line).toMatchObject({ user: 'admin', action: 'learn', result: 'learned', as: 'spam', bytes: MSG.length });
  });

  it('refuses what is not a message (422, reason), a bad class or encoding (400), and reports a spamd failure (502)', async () => {
    const auth = await login();
    const notMail = await post(auth, { as: 'ham', message: Buffer.from('%PDF-1.7\n...').toString('base64') });
    expect(notMail.status).toBe(422);
    expect(await notMail.json()).toMatchObject({ reason: 'no-header' });
    expect((await post(auth, { as: 'ham', message: Buffer.alloc(3000, 0x41).toString('base64') })).status).toBe(413);
    expect((await post(auth, { as: 'junk', message: MSG.toString('base64') })).status).toBe(400);
    expect((await post(auth, { as: 'ham', message: 'not base64!' })).status).toBe(400);
    fail = true;
    const down = await post(auth, { as: 'ham', message: MSG.toString('base64') });
    fail = false;
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({ code: 'ESPAMD_TELL_DISABLED' });
    expect(logs.some((l) => /"action":"learn","result":"refused"/.test(l))).toBe(true);
  });

  it('needs a session and its CSRF token', async () => {
    expect((await post(undefined, { as: 'spam', message: MSG.toString('base64') })).status).toBe(401);
    const auth = await login();
    expect((await post({ cookie: auth.cookie, csrf: 'wrong' }, { as: 'spam', message: MSG.toString('base64') })).status).toBe(403);
  });
});
