// Secrets are never echoed: the test profile lists clients on a DQS-style zone whose name carries a (fake)
// subscriber key, k3yabcdef123.dq.moat.test, shown everywhere as dq.moat.test (config-test/moat.yaml dns.zones).
// After mail and policy requests that hit it, every output the stack has is searched for the key and the
// other secrets the suite holds: SMTP and policy replies, the CLI, /metrics, the console's pages and API,
// the decision journal and everything else in Redis, and the logs of every container but rbldnsd (it stands
// for the list operator, whose own command line names the zone). Runs last (vitest.config.ts), so the
// logs hold the whole suite's run, faults included.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { authPlain } from '@moat/testkit';
import { describe, expect, it } from 'vitest';
import { COMPOSE_DIR } from '../../../scripts/stack.mjs';
import { clientAs, transact } from './session.ts';
import { execIn, portOf, projectContainers, redisShell, stack } from './stack.ts';

const DQS_KEY = 'k3yabcdef123';
/** On k3yabcdef123.dq.moat.test only (compose/rbldnsd/zones/dq). */
const DQS_LISTED = '192.0.2.88';
const SECRETS = join(COMPOSE_DIR, 'secrets-test');

/** What must never appear in any output, by name (the name goes in the failure message, never the value). */
function needles(): Array<[string, string]> {
  const { user, password } = stack();
  // the DKIM private key: any line of its base64 body would be a leak
  const pem = readFileSync(join(SECRETS, 'dkim', 'moat.test.default.pem'), 'utf8');
  const keyLines = pem.split('\n').filter((l) => /^[A-Za-z0-9+/]{60,}$/.test(l));
  return [
    ['the DQS key', DQS_KEY],
    // the test Redis's password (docker-compose.test.yml); the apps have it inside secrets-test/redis-url
    ['the Redis password', readFileSync(join(SECRETS, 'redis-password'), 'utf8').trim()],
    ['the AUTH password', password],
    ['the AUTH PLAIN blob', authPlain(user, password)],
    ['the console password', 'e2e-console-password'],
    ...keyLines.slice(0, 3).map((l, i): [string, string] => [`DKIM private key line ${i + 1}`, l]),
  ];
}

function expectClean(where: string, text: string): void {
  const lower = text.toLowerCase();
  for (const [name, value] of needles()) {
    expect(value.length, name).toBeGreaterThan(7);
    expect(lower.includes(value.toLowerCase()), `${where} contains ${name}`).toBe(false);
  }
}

function policyExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout; got ${JSON.stringify(got)}`));
    }, 30_000);
    s.on('connect', () => s.write(request));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\n\n')) {
        clearTimeout(t);
        s.end();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

async function consoleSession(base: string): Promise<string> {
  const form = await fetch(`${base}/login`);
  const pre = /(?:^|[;,]\s*)moat_login=([^;]*)/.exec(form.headers.getSetCookie().join(', '))?.[1] ?? '';
  const ok = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `moat_login=${pre}` },
    body: new URLSearchParams({ user: 'admin', password: 'e2e-console-password', csrf: pre }).toString(),
  });
  const session = /(?:^|[;,]\s*)moat_session=([^;]*)/.exec(ok.headers.getSetCookie().join(', '))?.[1];
  expect(session, 'console login').toBeTruthy();
  return `moat_session=${session}`;
}

describe('secrets are never echoed', () => {
  it('a client on the keyed zone is refused under its display name (SMTP and policy replies)', async () => {
    const c = await clientAs(DQS_LISTED);
    const t = await transact(c);
    await c.quit();
    expect(t.rcpt?.code, c.transcript.join('\n')).toBeGreaterThanOrEqual(500);
    expect(t.rcpt?.text).toContain('dq.moat.test');
    expectClean('the SMTP transcript', c.transcript.join('\n'));
    const reply = await policyExchange(
      stack().policyPort,
      `request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=${DQS_LISTED}\n` +
        'client_name=unknown\nhelo_name=mail.example.net\nsender=someone@example.net\nrecipient=alice@moat.test\n\n',
    );
    expect(reply).toMatch(/^action=(REJECT|5\d\d)/);
    expect(reply).toContain('dq.moat.test');
    expectClean('the policy reply', reply);
  });

  it('the CLI in the stack (zones, explain) names the zone by its display name', async () => {
    const cli = (...args: string[]) =>
      execIn('mx', 'sh', '-c', `MOAT_CONFIG=/etc/moat/conf/moat.yaml node /usr/local/lib/moat/cli/main.js "$@" 2>&1; true`, 'moat', ...args);
    const zones = await cli('zones');
    expect(zones).toContain('dq.moat.test');
    expectClean('moat zones', zones);
    // explain gives no verdict when its Redis probe times out (a loaded machine): that answer, which names the
    // Redis URL (masked), must be clean too; then it is asked again
    let explain = '';
    for (let i = 0; i < 3 && !explain.includes('=> '); i++) {
      explain = await cli('explain', '--client', DQS_LISTED, '--helo', 'mail.example.net', '--sender', 'someone@example.net', '--recipient', 'alice@moat.test');
      expectClean('moat explain', explain);
    }
    expect(explain).toContain('=> REJECT 5.7.1 by reject_rbl_client dq.moat.test');
  });

  it("no secret in /metrics, the console's pages and API, or anything in Redis (the decision journal)", async () => {
    const scrape = (url: string) => execIn('mx', 'node', '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`);
    const mxMetrics = await scrape('http://127.0.0.1:9465/metrics');
    expect(mxMetrics).toContain('dq.moat.test');
    expectClean('mx /metrics', mxMetrics);
    expectClean('policyd /metrics', await scrape('http://policyd:9465/metrics'));

    const base = `http://127.0.0.1:${await portOf('console', 9480)}`;
    const cookie = await consoleSession(base);
    const pages = ['/', '/api/overview', '/api/decisions?count=1000', '/api/zones', '/api/queue', '/api/greylist/stuck', '/api/ratelimits'];
    let sawZone = false;
    for (const p of pages) {
      const r = await fetch(`${base}${p}`, { headers: { cookie } });
      const body = await r.text();
      expect(r.status, p).toBe(200);
      sawZone ||= body.includes('dq.moat.test');
      expectClean(`console ${p}`, body);
    }
    expect(sawZone, 'the console shows the zone (by its display name)').toBe(true);

    const dump = await redisShell(
      'redis-cli --scan | while read -r k; do echo "$k"; case $(redis-cli type "$k") in ' +
        'string) redis-cli get "$k";; hash) redis-cli hgetall "$k";; list) redis-cli lrange "$k" 0 -1;; set) redis-cli smembers "$k";; ' +
        'zset) redis-cli zrange "$k" 0 -1;; stream) redis-cli xrange "$k" - +;; esac; done',
    );
    expect(dump, 'the journal recorded the refusal').toContain('dq.moat.test');
    expectClean('Redis (journal, greylist, rate limits)', dump);
  });

  it('no secret in the logs of any service', async () => {
    const cs = (await projectContainers(stack().project)).filter((c) => c.service !== 'rbldnsd');
    expect(cs.map((c) => c.service).sort()).toEqual(['console', 'mx', 'policyd', 'redis', 'remote', 'spamassassin', 'unbound']);
    let all = '';
    for (const c of cs) {
      // docker logs replays the container's stdout and stderr on its own two: read both
      const logs = await new Promise<string>((resolve, reject) =>
        execFile('docker', ['logs', c.name], { maxBuffer: 64 << 20 }, (e, out, err) => (e ? reject(e) : resolve(`${out}${err}`))),
      );
      all += logs;
      expectClean(`the logs of ${c.service}`, logs);
    }
    expect(all, 'the mx logged the refusal').toContain('dq.moat.test');
  });
});
