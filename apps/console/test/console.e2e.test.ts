// End to end in headless Chromium: the console as its own process against real redis-server, rbldnsd and a spool;
// decisions made by runtime's buildEngine + recordDecision (what mx/policyd run) and journaled through the hook.
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { loadConfig } from '@moat/config';
import { createJournal, type Journal, journalOptionsFromConfig } from '@moat/journal';
import { Counter, createLogger, createRegistry, Gauge, serveMetrics } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { decodeQueueFile, openQueue } from '@moat/queue';
import { createRateLimiter } from '@moat/ratelimit';
import { type BuiltEngine, buildEngine, createDecisionMetrics, recordDecision } from '@moat/runtime';
import { type Daemon, freePort, type RbldnsdServer, type RedisServer, SmtpClient, spawnDaemon, startRbldnsd, startRedis, tmpDir, waitForPort } from '@moat/testkit';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '@moat/auth';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const mxMain = new URL('../../mx/src/main.ts', import.meta.url).pathname;
const logger = createLogger('test', { level: 'silent' });
const PASSWORD = 'correct horse battery staple';

let redis: RedisServer;
let rbl: RbldnsdServer;
let dir: { path: string; remove(): Promise<void> };
let consoleProc: Daemon;
let mxProc: Daemon;
let mxPort: number;
let shotDir: string;
let consoleUrl: string;
let built: BuiltEngine;
let journal: Journal;
let metricsServer: Server;
let browser: BrowserContext;
let page: Page;
let queuedId: string;
let held: { spam: string; other: string };
const requested: string[] = [];
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
  const file = join(shotDir, `${name}.png`);
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
    reject_rbl_client dead.moat.test,
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
    dead.moat.test: { kind: ip }
greylist:
  redis: { url: "${redis.url}" }
  delay: 1s
queue:
  dir: ${join(dir.path, 'spool')}
quarantine: { admin_token: console-e2e-admin-token }
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

  shotDir = await mkdtemp(join(tmpdir(), 'moat-console-shots-'));
  // Another node's metrics, as policyd shows them after a config reload that failed validation.
  new Gauge({ name: 'moat_config_last_reload_successful', help: 'test', registers: [registry] }).set(0);
  const reloads = new Counter({ name: 'moat_reload_total', help: 'test', labelNames: ['outcome'] as const, registers: [registry] });
  reloads.inc({ outcome: 'success' });
  reloads.inc({ outcome: 'failure' });
  // ... and whose ACME renewal fails (the mx keeps the old certificate): the console must say so
  new Gauge({ name: 'moat_acme_renewal_failing', help: 'test', registers: [registry] }).set(1);
  new Gauge({ name: 'moat_tls_cert_expiry_days', help: 'test', registers: [registry] }).set(20.5);

  // A real mx (its own config: a small size limit, few connections) journaling into the same Redis.
  mxPort = await freePort();
  const mxMetricsPort = await freePort();
  const mxConfig = join(dir.path, 'mx.yaml');
  await writeFile(
    mxConfig,
    `policy:
  hostname: mx.moat.test
  recipient_restrictions: reject_unlisted_recipient, permit
recipients:
  domains: [example.org]
  users: [b@example.org]
dns:
  resolver: 127.0.0.1:${rbl.port}
  timeout: 300ms
mx:
  size_limit: 2048
  limits: { max_connections: 5 }
  tls: { state_dir: ${join(dir.path, 'mx-tls')} }
spamd: { enabled: false }
greylist: { redis: { url: "${redis.url}" } }
queue: { dir: ${join(dir.path, 'mx-spool')}, transport: "smtp://127.0.0.1:${await freePort()}" }
quarantine: { admin_token: console-e2e-admin-token }
metrics: { enabled: true, listen: "127.0.0.1:${mxMetricsPort}" }
`,
  );
  mxProc = spawnDaemon(process.execPath, [mxMain, '--config', mxConfig, '--listen', `127.0.0.1:${mxPort}`], { env: { ...process.env, MOAT_LOG_LEVEL: 'warn' } });
  try {
    await waitForPort(mxPort, '127.0.0.1', 30_000);
  } catch (e) {
    throw new Error(`mx did not start: ${(e as Error).message}\n${mxProc.output()}`);
  }

  // the quarantine of the real mx: two held messages in its spool, as its DMARC / spam-band hold writes them
  const mxQueue = await openQueue({ dir: join(dir.path, 'mx-spool'), logger, registry: createRegistry(), node: 'mx-e2e' });
  const hostileHtml =
    'From: "Your Bank\u001b[31m" <alerts@bank.example>\r\nSubject: Verify your account\r\nContent-Type: text/html\r\n\r\n' +
    '<html><body onload="steal()"><script>document.title="pwned"</script><p>Dear customer, <b>click</b> <a href="http://evil.test/login">here</a></p>' +
    '<img src="http://evil.test/track.gif"><iframe src="http://evil.test/frame"></iframe></body></html>\r\n';
  held = {
    spam: (await mxQueue.enqueue({ sender: 'alerts@bank.example', recipients: ['b@example.org'], message: Buffer.from(hostileHtml), hold: { check: 'dmarc', reason: 'p=quarantine (bank.example)', score: 6.2 } })).id,
    other: (await mxQueue.enqueue({ sender: 'news@list.example', recipients: ['b@example.org'], message: Buffer.from('Subject: Newsletter\r\n\r\nweekly news\r\n'), hold: { check: 'spamd', reason: 'score 6.0 in the quarantine band', score: 6 } })).id,
  };
  await mxQueue.close();

  const port = await freePort();
  consoleUrl = `http://127.0.0.1:${port}`;
  consoleProc = spawnDaemon(process.execPath, [main], {
    env: {
      ...process.env,
      MOAT_CONFIG: configFile,
      MOAT_CONSOLE_LISTEN: `127.0.0.1:${port}`,
      MOAT_CONSOLE_PASSWORD_HASH: await hashPassword(PASSWORD, { N: 1024 }),
      MOAT_CONSOLE_METRICS: `http://127.0.0.1:${metricsPort}/metrics,http://127.0.0.1:${mxMetricsPort}/metrics`,
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
  page.on('request', (r) => requested.push(r.url()));
  page.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close();
  await consoleProc?.stop();
  await mxProc?.stop();
  await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
  await journal?.close();
  await built?.close();
  await Promise.all([redis?.stop(), rbl?.stop()]);
  await dir?.remove();
  // the screenshots stay for a human to look at (never committed)
  if (shotDir) process.stdout.write(`console e2e screenshots: ${shotDir} (${shots.map((f) => f.slice(shotDir.length + 1)).join(', ')})\n`);
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

    // one row per session, its final outcome at its stage; a click opens its steps, a step's click its trace
    const row = page.locator('tr.session[data-session="S-first"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('check_policy_service inet:127.0.0.1:10023');
    expect(await row.getAttribute('data-action')).toBe('defer');
    await row.click();
    const step = page.locator('tr.step[data-stage="rcpt"]').first();
    await step.click();
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
    await expect.poll(() => page.locator('tr.session').count()).toBe(2);

    // Counters: from the journal, and from the deciding node's /metrics.
    const counters = page.locator('#restrictions tbody');
    await expect.poll(() => counters.textContent()).toMatch(/reject_rbl_client bl\.moat\.test\s*reject\s*1\s*1/);
    await expect.poll(() => page.locator('#zone-counters tr[data-zone="bl.moat.test"]').textContent()).toMatch(/bl\.moat\.test\s*healthy\s*2\s*1\s*0/);
    await expect.poll(() => page.locator('#zone-table tr[data-zone="bl.moat.test"]').textContent()).toContain('healthy');
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

    const row = page.locator('tr.session[data-session="S-retry-2"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('permit');
    await row.click();
    await page.locator('tr.step[data-stage="rcpt"]').first().click();
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

  it('shows every node\'s quarantine; a held message as text only; release and delete record the console user', async () => {
    const rows = page.locator('#quarantine-table tr.held');
    await expect.poll(() => rows.count()).toBe(2);
    const spam = page.locator(`#quarantine-table tr[data-id="${held.spam}"]`);
    const text = await spam.textContent();
    expect(text).toMatch(/127\.0\.0\.1:\d+/); // the node: the mx's admin listener
    expect(text).toContain('dmarc');
    expect(text).toContain('6.2');
    expect(text).toContain('Verify your account');
    // the test's other metrics endpoint serves no quarantine: not an error
    expect(await page.textContent('#quarantine-note')).toBe('');

    await spam.locator('button.show').click();
    const preview = page.locator('#quarantine-preview');
    await expect.poll(() => preview.textContent()).toContain('Dear customer, click here');
    expect(await preview.textContent()).toContain('text/html part as text');
    expect(await page.textContent('#quarantine-headers')).toContain('From: "Your Bank\\x1b[31m" <alerts@bank.example>');
    // nothing of the message became markup, nothing was fetched, no script ran
    expect(await page.locator('#quarantine img, #quarantine iframe, #quarantine script, #quarantine a').count()).toBe(0);
    expect(requested.filter((u) => u.includes('evil.test'))).toEqual([]);
    expect(await page.title()).not.toBe('pwned');
    await shot('quarantine');

    page.on('dialog', (d) => void d.accept());
    // this mx's spamd is off, so learning cannot happen: the admin is told, and the message stays
    await spam.locator('button.delete-spam').click();
    await expect.poll(() => page.textContent('#flash')).toContain('spamd is not enabled');
    expect(await rows.count()).toBe(2);
    await spam.locator('button.delete').click();
    await expect.poll(() => page.textContent('#flash')).toContain(`Deleted ${held.spam} on 127.0.0.1:`);
    await page.locator(`#quarantine-table tr[data-id="${held.other}"] button.release`).click();
    await expect.poll(() => page.textContent('#flash')).toContain(`Released ${held.other}`);
    await expect.poll(() => rows.count()).toBe(0);
    // released into the mx's queue (its next hop is down: deferred), stamped with who released it
    const spool = join(dir.path, 'mx-spool');
    const releasedBy = async () => {
      for (const s of ['incoming', 'active', 'deferred']) {
        for (const n of await readdir(join(spool, s))) {
          if (!n.startsWith(held.other)) continue;
          try {
            return decodeQueueFile(await readFile(join(spool, s, n))).envelope.released?.by;
          } catch {
            /* moved on between the listing and the read */
          }
        }
      }
      return undefined;
    };
    await expect
      .poll(releasedBy)
      .toBe('console:admin');
    expect(await readdir(join(spool, 'hold'))).toEqual([]);
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

  it('shows a message the real mx refused at end of DATA as a reject, decided by the size limit, and counts it', async () => {
    const rejects = page.locator('.card.reject strong');
    const before = Number(await rejects.textContent());
    const c = await SmtpClient.connect(mxPort);
    await c.read();
    expect((await c.cmd('EHLO client.example.net')).code).toBe(250);
    expect((await c.cmd('MAIL FROM:<a@example.net>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<b@example.org>')).code).toBe(250);
    const r = await c.data(`From: a@example.net\r\nSubject: too big\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(1).concat(`${'y'.repeat(70)}\r\n`.repeat(60)));
    expect(r.code).toBe(552);
    await c.quit();

    // one row for the session, its final outcome the DATA-stage refusal, not the RCPT permit
    const row = page.locator('tr.session[data-stage="end-of-data"]');
    await row.waitFor();
    expect(await row.getAttribute('data-action')).toBe('reject');
    const text = await row.textContent();
    expect(text).toContain('reject at end-of-data');
    expect(text).toContain('message_size_limit');
    expect(text).toContain('(also 1 permit)');
    expect(text).toContain('<a@example.net>');
    // counted as a reject: in the journal's totals and per restriction (journal 1, the mx's counter since start 1)
    await expect.poll(async () => Number(await rejects.textContent())).toBe(before + 1);
    await expect.poll(() => page.locator('#restrictions tbody').textContent()).toMatch(/message_size_limit\s*reject\s*1\s*1/);
    // its steps: the RCPT permit, then the refusal with the reply the client got
    await row.click();
    const session = await row.getAttribute('data-session');
    const steps = page.locator(`tr.step[data-session="${session}"]`);
    await expect.poll(() => steps.count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator(`tr.step[data-session="${session}"][data-stage="rcpt"]`).count()).toBe(1);
    await page.locator(`tr.step[data-session="${session}"][data-stage="end-of-data"]`).click();
    await expect.poll(() => page.locator('td.trace').first().textContent()).toContain('reply 552 5.3.4 Message size exceeds fixed maximum message size');
    // HELO/MAIL "continue" steps never make a row of their own
    expect(await page.locator('tr.session[data-action="continue"]').count()).toBe(0);
    // a message's trace offers to teach Bayes with the message file; here no spamd answers, and the page says so
    const trace = page.locator('td.trace').first();
    await trace.locator('button.learn-spam').click();
    await expect.poll(() => page.textContent('#flash')).toContain('Choose the message file (.eml) first');
    await trace.locator('input.learn-file').setInputFiles({ name: 'spam.eml', mimeType: 'message/rfc822', buffer: Buffer.from('From: a@example.net\r\nSubject: too big\r\n\r\nbuy now\r\n') });
    await trace.locator('button.learn-spam').click();
    await expect.poll(() => page.textContent('#flash')).toMatch(/^Learning failed: .*spamd/);
    await shot('data-reject');
    await row.click();
  });

  it('shows the zone errors the health table reports: a zone whose every lookup fails is not "errors 0"', async () => {
    const counters = page.locator('#zone-counters tr[data-zone="dead.moat.test"]');
    const health = page.locator('#zone-table tr[data-zone="dead.moat.test"]');
    await counters.waitFor();
    await expect.poll(() => health.locator('.state').textContent()).toMatch(/unreachable|disabled/);
    const cells = await counters.locator('td').allTextContents();
    expect(cells[1]).toMatch(/unreachable|disabled/);
    const checked = Number(cells[2]);
    expect(checked).toBeGreaterThan(0);
    // every lookup failed: as many errors as lookups, and the nodes' counters say how (refused)
    expect(Number(cells[4])).toBe(checked);
    expect(cells[5]).toMatch(/refused \d+/);
    expect(await health.textContent()).toContain(`${checked} in the journal`);
    await shot('zones');
  });

  it('shows the mx stress state and the last config reload outcome per node', async () => {
    const nodes = page.locator('#node-table tbody');
    await expect.poll(() => nodes.textContent()).toContain('normal (0 switch(es) since start)');
    // the reload metrics of a node whose last reload failed validation
    expect(await nodes.textContent()).toContain('FAILED: old config still in force (success 1, failure 1)');
    expect(await nodes.textContent()).toContain('ACME renewal FAILING: keeping the current certificate (expires in 20 days)');
    expect(await page.locator('#node-table tr.cert-warning .cert.bad').count()).toBe(1);
    // four idle connections reach 80 % of max_connections 5: the mx switches to stress mode
    const idle = await Promise.all(Array.from({ length: 4 }, () => SmtpClient.connect(mxPort)));
    await Promise.all(idle.map((c) => c.read()));
    await expect.poll(() => nodes.textContent()).toMatch(/STRESS on \w+: short timeouts/);
    expect(await page.locator('#node-table tr.stressed').count()).toBe(1);
    await shot('stress');
    for (const c of idle) c.destroy();
    await expect.poll(() => nodes.textContent()).toContain('normal (2 switch(es) since start)');
  });

  for (const width of [1400, 800]) {
    it(`reads at ${width} px: no horizontal scrolling, times on one line, the key parts visible`, async () => {
      await page.setViewportSize({ width, height: 900 });
      await page.locator('tr.session').first().waitFor();
      // open a session with its steps and a trace: the widest content the page has
      await page.locator('tr.session[data-stage="end-of-data"]').click();
      await page.locator('tr.step[data-stage="end-of-data"]').click();
      await page.locator('td.trace').first().waitFor();
      const m: { scrollWidth: number; innerWidth: number; height: number; wideSections: string[]; wrappedTimes: number; times: number } = await page.evaluate(`(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        height: document.documentElement.scrollHeight,
        // sections scroll on their own when too wide: that counts as horizontal scrolling too
        wideSections: [...document.querySelectorAll('section')].filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => s.id),
        wrappedTimes: [...document.querySelectorAll('td .time')].filter((t) => t.getClientRects().length > 1 || t.getBoundingClientRect().height > 24).length,
        times: document.querySelectorAll('td .time').length,
      }))()`);
      expect(m.scrollWidth).toBeLessThanOrEqual(m.innerWidth);
      expect(m.wideSections).toEqual([]);
      expect(m.times).toBeGreaterThan(3);
      expect(m.wrappedTimes).toBe(0);
      expect(m.height).toBeLessThan(width === 1400 ? 3500 : 6000);
      for (const sel of ['#cards', '#restrictions', '#zone-counters', '#node-table', '#decision-table', '#zone-table', '#queue-table', '#stuck-table']) {
        expect(await page.locator(sel).isVisible(), sel).toBe(true);
      }
      await shot(`layout-${width}`);
      await page.locator('tr.session[data-stage="end-of-data"]').click();
    });
  }

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
