// End to end in headless Chromium: the console as its own process against real redis-server, rbldnsd and a spool;
// decisions made by runtime's buildEngine + recordDecision (what mx/policyd run) and journaled through the hook.
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { loadConfig } from '@moat/config';
import { createJournal, type Journal, journalOptionsFromConfig } from '@moat/journal';
import { createLogger, createRegistry, serveMetrics } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { openQueue } from '@moat/queue';
import { createRateLimiter } from '@moat/ratelimit';
import { type BuiltEngine, buildEngine, createDecisionMetrics, recordDecision } from '@moat/runtime';
import { type Daemon, freePort, type RbldnsdServer, type RedisServer, spawnDaemon, startRbldnsd, startRedis, tmpDir, waitForPort } from '@moat/testkit';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '@moat/auth';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const logger = createLogger('test', { level: 'silent' });
const PASSWORD = 'correct horse battery staple';

let redis: RedisServer;
let rbl: RbldnsdServer;
let dir: { path: string; remove(): Promise<void> };
let consoleProc: Daemon;
let consoleUrl: string;
let built: BuiltEngine;
let journal: Journal;
let metricsServer: Server;
let browser: BrowserContext;
let page: Page;
let queuedId: string;
const registry = createRegistry();
const shots: string[] = [];

/** One decision as mx/policyd make it: evaluate, then one log line + metrics + a journal entry. */
async function decide(session: string, over: Partial<Facts>): Promise<Verdict> {
  const facts: Facts = { stage: 'rcpt', clientAddress: '198.51.100.10', helo: 'mta7.monitor.example.com', sender: 'alerts-kqx@monitor.example.com', recipient: 'b@example.org', tls: true, sessionId: session, ...over };
  const verdict = await built.engine.evaluate(facts);
  recordDecision(logger, createDecisionMetrics(registry), facts, verdict, { reply: verdict.action, sink: journal });
  await journal.flush();
  return verdict;
}

async function shot(name: string): Promise<string> {
  const file = join(dir.path, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
  return file;
}

beforeAll(async () => {
  [redis, rbl, dir] = await Promise.all([
    startRedis(),
    startRbldnsd({ zones: { 'bl.moat.test': ':127.0.0.2:listed at bl.moat.test\n127.0.0.2\n192.0.2.66\n' } }),
    tmpDir('console-e2e'),
  ]);
  const configFile = join(dir.path, 'moat.yaml');
  await writeFile(
    configFile,
    `policy:
  hostname: mx.moat.test
  recipient_restrictions: |
    reject_non_fqdn_sender,
    reject_unlisted_recipient,
    reject_rbl_client bl.moat.test,
    check_policy_service inet:127.0.0.1:10023,
    permit
recipients:
  domains: [example.org]
  users: [b@example.org]
dns:
  resolver: 127.0.0.1:${rbl.port}
  timeout: 500ms
  zones:
    bl.moat.test: { kind: ip }
greylist:
  redis: { url: "${redis.url}" }
  delay: 1s
queue:
  dir: ${join(dir.path, 'spool')}
metrics:
  enabled: false
`,
  );
  const config = loadConfig(configFile);
  built = await buildEngine(config, { registry, logger });
  journal = createJournal({ ...journalOptionsFromConfig(config), node: 'mx-e2e', registry, logger });
  const metricsPort = await freePort();
  metricsServer = await serveMetrics(registry, { host: '127.0.0.1', port: metricsPort });

  const q = await openQueue({ dir: join(dir.path, 'spool'), logger, registry: createRegistry() });
  queuedId = (await q.enqueue({ sender: 'a@example.net', recipients: ['b@example.org'], message: Buffer.from('Subject: queued\r\n\r\nhello\r\n') })).id;
  await q.close();

  const port = await freePort();
  consoleUrl = `http://127.0.0.1:${port}`;
  consoleProc = spawnDaemon(process.execPath, [main], {
    env: {
      ...process.env,
      MOAT_CONFIG: configFile,
      MOAT_CONSOLE_LISTEN: `127.0.0.1:${port}`,
      MOAT_CONSOLE_PASSWORD_HASH: await hashPassword(PASSWORD, { N: 1024 }),
      MOAT_CONSOLE_METRICS: `http://127.0.0.1:${metricsPort}/metrics`,
      MOAT_CONSOLE_POLL_MS: '500',
      MOAT_LOG_LEVEL: 'warn',
    },
  });
  try {
    await waitForPort(port, '127.0.0.1', 30_000);
  } catch (e) {
    throw new Error(`console did not start: ${(e as Error).message}\n${consoleProc.output()}`);
  }

  browser = await chromium.launchPersistentContext(join(dir.path, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close();
  await consoleProc?.stop();
  await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
  await journal?.close();
  await built?.close();
  await Promise.all([redis?.stop(), rbl?.stop()]);
  if (process.env.MOAT_KEEP_SCREENSHOTS) process.stdout.write(`screenshots kept in ${dir.path}\n`);
  else await dir?.remove();
});

describe('the console in Chromium', () => {
  it('refuses a wrong password, then logs in with a HttpOnly SameSite=Strict session cookie', async () => {
    await page.goto(consoleUrl);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#user', 'admin');
    await page.fill('#password', 'wrong password');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.error')).toContain('Wrong user name or password');
    await shot('login-failed');

    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('#decision-table');
    expect(new URL(page.url()).pathname).toBe('/');
    const cookie = (await browser.cookies()).find((c) => c.name === 'moat_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('shows a decision made by a test session, with its trace', async () => {
    expect((await decide('S-reject', { clientAddress: '192.0.2.66', helo: 'spam.example' })).action).toBe('reject');
    const v = await decide('S-first', {});
    expect(v).toMatchObject({ action: 'defer', greylisted: true });

    const row = page.locator('tr.decision[data-session="S-first"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('check_policy_service inet:127.0.0.1:10023');
    await row.click();
    const trace = page.locator('td.trace').first();
    await expect.poll(() => trace.textContent()).toMatch(/reject_rbl_client bl\.moat\.test\s*dunno/);
    expect(await trace.textContent()).toContain('DEFER 4.7.1');
    // beside the trace: where b@example.org goes once accepted
    expect(await trace.locator('.resolution').textContent()).toMatch(/Address resolution \(current config\): <b@example\.org> class virtual-mailbox.*maildir/);

    // "Why was this deferred?": look the session up; only its decisions remain.
    await page.fill('#search-id', 'S-first');
    await page.click('#search button[type=submit]');
    await expect.poll(() => page.textContent('#search-note')).toContain('1 decision(s) for session S-first');
    expect(await page.locator('tr.decision').count()).toBe(1);
    await page.click('#search-clear');
    await expect.poll(() => page.locator('tr.decision').count()).toBe(2);

    // Counters: from the journal, and from the deciding node's /metrics.
    const counters = page.locator('#restrictions tbody');
    await expect.poll(() => counters.textContent()).toMatch(/reject_rbl_client bl\.moat\.test\s*reject\s*1\s*1/);
    await expect.poll(() => page.locator('#zone-counters tbody').textContent()).toMatch(/bl\.moat\.test\s*2\s*1\s*0/);
    await expect.poll(() => page.locator('#zone-table tbody').textContent()).toContain('healthy');
    await shot('dashboard');
  });

  it('whitelists a stuck greylisted client in one click; its next retry passes', async () => {
    // The sender changes its envelope on every try, so a plain retry never matches: it stays stuck.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await decide('S-retry-1', { sender: 'alerts-zpy@monitor.example.com' })).toMatchObject({ action: 'defer', greylisted: true });

    const button = page.locator('#stuck-table button.whitelist').first();
    await button.waitFor();
    expect(await page.locator('#stuck-table tbody').textContent()).toContain('198.51.100.10');
    expect(await button.getAttribute('data-cidr')).toBe('198.51.100.0/24');
    await shot('stuck');
    await button.click();
    await expect.poll(() => page.textContent('#flash')).toContain('Whitelisted 198.51.100.0/24');
    await expect.poll(() => page.locator('#stuck-table tbody').textContent()).toContain('198.51.100.0/24 whitelisted');

    // The deciding node re-reads the shared whitelist on its refresh timer; trigger it now.
    await built.greylist!.refreshWhitelist();
    const passed = await decide('S-retry-2', { sender: 'alerts-wvu@monitor.example.com' });
    expect(passed.action).toBe('permit');
    expect(passed.trace.find((t) => t.restriction.startsWith('check_policy_service'))?.reason).toMatch(/whitelist/);

    const row = page.locator('tr.decision[data-session="S-retry-2"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('permit');
    await row.click();
    await expect.poll(() => page.locator('td.trace').first().textContent()).toMatch(/whitelist/);
    await shot('after-whitelist');
  });

  it('acts on the queue: hold, then release', async () => {
    const row = page.locator(`#queue-table tr[data-id="${queuedId}"]`);
    await row.waitFor();
    const state = row.locator('.state');
    expect(await state.textContent()).toMatch(/^(incoming|deferred)$/);
    await row.locator('button[data-action="hold"]').click();
    await expect.poll(() => state.textContent()).toBe('hold');
    await row.locator('button[data-action="release"]').click();
    await expect.poll(() => state.textContent()).not.toBe('hold');
    await shot('queue');
  });

  it('shows who the shared rate limits refuse now: a login over its limit on some MX', async () => {
    // an MX with its own limits, counting in the same Redis (the console itself turns no limit on)
    const mx = createRateLimiter({ redis: { url: redis.url }, limits: { sasl_user_message_rate_limit: 2 }, registry: createRegistry(), logger });
    try {
      for (let i = 0; i < 3; i++) await mx.mail({ client: '203.0.113.9', user: 'mallory', service: 'submission' });
    } finally {
      await mx.close();
    }
    const table = page.locator('#ratelimit-table tbody');
    await expect.poll(() => table.textContent(), { timeout: 20_000 }).toContain('mallory');
    const text = await table.textContent();
    expect(text).toContain('sasl_user_message_rate_limit');
    expect(text).toContain('3 / 2');
    await shot('ratelimits');
  });

  it('refuses API calls without a session or without the CSRF token', async () => {
    expect((await fetch(`${consoleUrl}/api/overview`)).status).toBe(401);
    const cookie = (await browser.cookies()).find((c) => c.name === 'moat_session')!;
    const noCsrf = await fetch(`${consoleUrl}/api/greylist/whitelist`, {
      method: 'POST',
      headers: { cookie: `moat_session=${cookie.value}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cidr: '0.0.0.0/0' }),
    });
    expect(noCsrf.status).toBe(403);
    const res = await fetch(`${consoleUrl}/`, { headers: { cookie: `moat_session=${cookie.value}` } });
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('saved real screenshots', async () => {
    expect(shots.length).toBeGreaterThanOrEqual(4);
    for (const f of shots) {
      const head = (await readFile(f)).subarray(0, 8);
      expect(head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
      expect((await stat(f)).size).toBeGreaterThan(10_000);
    }
  });
});
