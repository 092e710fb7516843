// The "Why?" payload: /api/decisions for a session carries each recipient's address resolution beside the
// trace, from runtime's resolver over a real config (the console in-process; the journal is a stand-in).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '@moat/auth';
import { parseConfig } from '@moat/config';
import type { JournalEntry } from '@moat/journal';
import { createLogger, createRegistry } from '@moat/observe';
import { type BuiltRouting, buildRouting } from '@moat/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningConsole, startConsole } from '../src/server.ts';
import type { ConsoleServices } from '../src/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-console-why-'));
let routing: BuiltRouting;
let running: RunningConsole;

const verdict = { action: 'defer', status: '4.7.1', text: 'Greylisted', decidedBy: 'check_policy_service inet:127.0.0.1:10023', greylisted: true, prepend: [], trace: [] } as unknown as JournalEntry['verdict'];
const entry = (id: string, stage: string, recipient: string | undefined): JournalEntry =>
  ({ id, time: 1_700_000_000_000, node: 'mx-a', session: 'S1', facts: { stage, clientAddress: '198.51.100.9', helo: 'h.example', sender: 'x@example.net', recipient, tls: false, sessionId: 'S1' }, verdict }) as unknown as JournalEntry;
const ENTRIES = [entry('1', 'mail', undefined), entry('2', 'rcpt', 'team@alias.example'), entry('3', 'rcpt', 'nobody@example.org'), entry('4', 'rcpt', 'team@alias.example')];

beforeAll(async () => {
  writeFileSync(join(dir, 'virtual'), 'team@alias.example  alice+x@example.org, bob@elsewhere.example\n');
  const config = parseConfig(
    'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n  users: [alice@example.org]\nrouting:\n  virtual_alias_domains: [alias.example]\n  virtual_alias_maps: texthash:virtual\n',
    { file: join(dir, 'moat.yaml'), env: {} },
  );
  routing = buildRouting(config);
  const services = {
    journal: { bySession: async (s: string) => (s === 'S1' ? ENTRIES : []), byQueueId: async () => [], recent: async () => ENTRIES },
    explainAddress: (a: string) => routing.explainAddress(a),
  } as unknown as ConsoleServices;
  running = await startConsole({
    settings: { host: '127.0.0.1', port: 0, user: 'admin', passwordHash: await hashPassword('pw', { N: 1024 }), metricsUrls: [], secureCookie: false, pollMs: 2000 },
    services,
    hostname: 'mx.example.org',
    logger: createLogger('why-test', { level: 'silent' }),
    registry: createRegistry(),
  });
});
afterAll(async () => {
  await running?.close();
  routing?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Logs in as the form does (pre-login CSRF cookie + token), returns the session cookie. */
async function login(): Promise<string> {
  const form = await fetch(`${running.url}/login`);
  const pre = /moat_login=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!;
  const res = await fetch(`${running.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `moat_login=${pre}` },
    body: new URLSearchParams({ csrf: pre, user: 'admin', password: 'pw' }).toString(),
  });
  expect(res.status).toBe(303);
  return /moat_session=[^;]+/.exec(res.headers.getSetCookie().join('; '))![0];
}

describe('the console\'s "Why?" view', () => {
  it('sends each RCPT decision with its recipient\'s class, rewrites and next hops, or the refusal', async () => {
    const cookie = await login();
    const res = await fetch(`${running.url}/api/decisions?session=S1`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const list = (await res.json()) as Array<JournalEntry & { resolution?: Record<string, unknown> }>;
    expect(list.map((e) => e.id)).toEqual(['1', '2', '3', '4']);
    expect(list[0]!.resolution).toBeUndefined();
    expect(list[1]!.resolution).toEqual({
      address: 'team@alias.example',
      class: 'virtual-alias',
      accepted: true,
      steps: [
        'team@alias.example: class virtual-alias',
        'virtual_alias_maps: team@alias.example -> alice+x@example.org, bob@elsewhere.example (key team@alias.example)',
        'recipient_delimiter: alice+x@example.org is alice@example.org, extension "x"',
      ],
      recipients: [
        { address: 'alice+x@example.org', class: 'virtual-mailbox', extension: 'x', user: 'alice@example.org', transport: 'maildir', nextHop: 'maildir /var/mail/moat (mailbox of example.org)', raw: 'maildir:/var/mail/moat' },
        { address: 'bob@elsewhere.example', class: 'remote', transport: 'smtp', nextHop: 'smtp by MX lookup of elsewhere.example', raw: 'smtp' },
      ],
    });
    expect(list[2]!.resolution).toMatchObject({ accepted: false, refused: { reason: 'unknown-user', status: '5.1.1', text: 'User unknown in virtual mailbox table' } });
    expect(list[3]!.resolution).toEqual(list[1]!.resolution);
  });
  it('the page renders the resolution beside the trace (decisions.js, textContent only)', async () => {
    const js = await (await fetch(`${running.url}/static/decisions.js`)).text();
    expect(js).toContain('if (e.resolution) td.append(resolution(e.resolution));');
    expect(js).toContain('Address resolution (current config)');
    expect(js).not.toMatch(/innerHTML/);
  });
});
