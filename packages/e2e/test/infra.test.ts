// The stack's plumbing: every service healthy, Unbound answering the rbldnsd test zones and refusing the
// rest of the world, Redis, spamd (GTUBE over SPAMC through the published port), policyd's port and the
// web console (login with the test profile's password, then its JSON API).
import net from 'node:net';
import { GTUBE } from '@moat/testkit';
import { describe, expect, it } from 'vitest';
import { execIn, portOf, projectContainers, redisShell, stack } from './stack.ts';

/** The console's test login: compose/test.env holds the scrypt hash of this password. */
const CONSOLE_USER = 'admin';
const CONSOLE_PASSWORD = 'e2e-console-password';

/** One exchange on a fresh TCP connection to 127.0.0.1:port; resolves with everything the server sent. */
function exchange(port: number, request: string, until: (got: string) => boolean): Promise<string> {
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
      if (until(got)) {
        clearTimeout(t);
        s.end();
        resolve(got);
      }
    });
    s.on('end', () => {
      clearTimeout(t);
      resolve(got);
    });
    s.on('error', reject);
  });
}

/** Every greylist key (prefix moat:grey:, greylist.redis.prefix) with its type and value, sorted. */
async function greylistState(): Promise<string[]> {
  const script =
    "redis-cli --scan --pattern 'moat:grey:*' | sort | while read -r k; do " +
    'case $(redis-cli type "$k") in ' +
    'string) v=$(redis-cli get "$k");; hash) v=$(redis-cli hgetall "$k" | tr "\\n" " ");; ' +
    'zset) v=$(redis-cli zrange "$k" 0 -1 withscores | tr "\\n" " ");; set) v=$(redis-cli smembers "$k" | sort | tr "\\n" " ");; ' +
    '*) v=$(redis-cli type "$k");; esac; printf "%s=%s\\n" "$k" "$v"; done';
  return (await redisShell(script)).split('\n').filter(Boolean);
}

describe('test stack infrastructure', () => {
  it('runs every service, healthy', async () => {
    const cs = await projectContainers(stack().project);
    expect(cs.map((c) => c.service).sort()).toEqual(['console', 'mx', 'policyd', 'rbldnsd', 'redis', 'remote', 'spamassassin', 'unbound']);
    for (const c of cs) expect(c, c.service).toMatchObject({ state: 'running', health: 'healthy' });
  });

  it('publishes only SMTP, submission, the console, each app\'s /metrics, and in the test profile policy (opt-in file) and spamd, on loopback', async () => {
    const cs = await projectContainers(stack().project);
    const published = cs.flatMap((c) => [...c.ports.matchAll(/([\d.]+):\d+->(\d+)\/tcp/g)].map((m) => `${c.service}:${m[2]}@${m[1]}`));
    expect(published.sort()).toEqual([
      'console:9465@127.0.0.1',
      'console:9480@127.0.0.1',
      'mx:25@127.0.0.1',
      'mx:587@127.0.0.1',
      'mx:9465@127.0.0.1',
      'policyd:10023@127.0.0.1',
      'policyd:9465@127.0.0.1',
      'spamassassin:783@127.0.0.1',
    ]);
  });

  it('Unbound answers the test zones from rbldnsd, TXT reason included', async () => {
    const a = await execIn('unbound', 'drill', '-Q', '@127.0.0.1', '66.2.0.192.bl.moat.test', 'A');
    expect(a.trim()).toBe('127.0.0.2');
    const txt = await execIn('unbound', 'drill', '-Q', '@127.0.0.1', '66.2.0.192.bl.moat.test', 'TXT');
    expect(txt).toContain('Blocked by bl.moat.test: 192.0.2.66');
    const rhs = await execIn('unbound', 'drill', '-Q', '@127.0.0.1', 'spammer.example.rhsbl.moat.test', 'A');
    expect(rhs.trim()).toBe('127.0.0.2');
    const unlisted = await execIn('unbound', 'drill', '@127.0.0.1', '1.0.0.127.bl.moat.test', 'A');
    expect(unlisted).toMatch(/rcode: NXDOMAIN/);
  });

  it('Unbound sends no query to the internet: names outside the test zones are refused', async () => {
    const out = await execIn('unbound', 'drill', '@127.0.0.1', 'example.com', 'A');
    expect(out).toMatch(/rcode: (REFUSED|NXDOMAIN|SERVFAIL)/);
    expect(out).not.toMatch(/ANSWER: [1-9]/);
  });

  it('Redis answers on the stack network, to a client with the password only', async () => {
    expect((await redisShell('redis-cli ping')).trim()).toBe('PONG');
    expect((await execIn('redis', 'sh', '-c', 'redis-cli ping 2>&1')).trim()).toMatch(/NOAUTH/);
  });

  it('spamd scores GTUBE as spam (SPAMC/1.5 CHECK on the published test port)', async () => {
    const msg = `Subject: gtube\r\n\r\n${GTUBE}\r\n`;
    const req = `CHECK SPAMC/1.5\r\nContent-length: ${Buffer.byteLength(msg)}\r\n\r\n${msg}`;
    const reply = await exchange(await portOf('spamassassin', 783), req, (g) => /Spam: /.test(g) && g.includes('\r\n\r\n'));
    expect(reply).toMatch(/^SPAMD\/1\.\d 0 EX_OK/);
    expect(reply).toMatch(/Spam: True ; \d+(\.\d+)? \/ /);
  });

  it('policyd answers a Postfix policy request on its published port (the host is in policyd.clients)', async () => {
    const req =
      'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.66\n' +
      'client_name=unknown\nhelo_name=mail.example.net\nsender=someone@example.net\nrecipient=alice@moat.test\n\n';
    const reply = await exchange(stack().policyPort, req, (g) => g.includes('\n\n'));
    expect(reply).toMatch(/^action=/);
    // 192.0.2.66 is on bl.moat.test: the same engine rejects it with the list's reason.
    expect(reply).toMatch(/^action=(REJECT|5\d\d)/);
    expect(reply).toContain('bl.moat.test');
  });

  it('policyd closes a connection from outside policyd.clients (the mx container): no answer, greylist unchanged, counted', async () => {
    // a client address no other test uses, so its triplet can only come from this request
    const client = `198.51.100.${100 + Math.floor(Math.random() * 100)}`;
    const req =
      `request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=${client}\n` +
      'client_name=unknown\nhelo_name=mail.example.net\nsender=door@example.net\nrecipient=alice@moat.test\n\n';
    const script =
      `const s = require('node:net').connect(10023, 'policyd'); let got = '';` +
      `s.on('connect', () => s.write(${JSON.stringify(req)}, () => {})); s.on('data', (d) => { got += d; });` +
      `s.on('error', () => {}); s.on('close', () => { console.log(JSON.stringify({ got })); });` +
      `setTimeout(() => s.destroy(), 10000);`;
    // the whole greylist before and after: every key with its value (nothing else writes it meanwhile: the
    // suite runs one file at a time, and no mail of this test reaches the greylist)
    const before = await greylistState();
    for (let i = 0; i < 2; i++) {
      const out = JSON.parse((await execIn('mx', 'node', '-e', script)).trim()) as { got: string };
      expect(out.got).toBe('');
    }
    const keys = await redisShell(`redis-cli --scan --pattern '*${client.split('.').slice(0, 3).join('.')}.*'`);
    expect(keys.trim()).toBe('');
    expect(await greylistState(), 'the refused requests changed no greylist entry').toEqual(before);
    const metrics = await execIn('mx', 'node', '-e', "fetch('http://policyd:9465/metrics').then((r) => r.text()).then((t) => console.log(t))");
    expect(Number(/^moat_policyd_connections_refused_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('serves the web console behind its login: the test password opens the JSON API', async () => {
    const base = `http://127.0.0.1:${await portOf('console', 9480)}`;
    const cookie = (r: Response, name: string) => new RegExp(`(?:^|[;,]\\s*)${name}=([^;]*)`).exec(r.headers.getSetCookie().join(', '))?.[1];
    // Without a session: / sends the browser to the login page and the API refuses.
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(303);
    expect(root.headers.get('location')).toBe('/login');
    expect((await fetch(`${base}/api/decisions`)).status).toBe(401);
    // The login form carries a double-submit token: the same value in its cookie and its hidden field.
    const form = await fetch(`${base}/login`);
    const page = await form.text();
    expect(form.status).toBe(200);
    expect(page).toContain('name="password"');
    const pre = cookie(form, 'moat_login');
    expect(pre).toBeTruthy();
    const login = (password: string) =>
      fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `moat_login=${pre}` },
        body: new URLSearchParams({ user: CONSOLE_USER, password, csrf: pre ?? '' }).toString(),
      });
    expect((await login('not-the-password')).status).toBe(401);
    const ok = await login(CONSOLE_PASSWORD);
    expect(ok.status).toBe(303);
    const session = cookie(ok, 'moat_session');
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const api = await fetch(`${base}/api/decisions?count=5`, { headers: { cookie: `moat_session=${session}` } });
    expect(api.status).toBe(200);
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Array.isArray(await api.json())).toBe(true);
    // mx's and policyd's /metrics are read over the stack's network.
    const overview = (await (await fetch(`${base}/api/overview`, { headers: { cookie: `moat_session=${session}` } })).json()) as {
      metrics: { sources: { url: string; ok: boolean }[] };
    };
    expect(overview.metrics.sources.length).toBe(2);
    for (const src of overview.metrics.sources) expect(src, src.url).toMatchObject({ ok: true });
    // every node's quarantine, asked with the stack's generated admin token: mx answers, policyd has none
    const held = (await (await fetch(`${base}/api/quarantine`, { headers: { cookie: `moat_session=${session}` } })).json()) as {
      rows: unknown[];
      failures: { node: string; error: string; absent?: boolean }[];
    };
    expect(Array.isArray(held.rows)).toBe(true);
    expect(held.failures.filter((f) => !f.absent)).toEqual([]);
    // and without the token, mx's admin listener gives nothing away (its /metrics port is published on loopback)
    const bare = await fetch(`http://127.0.0.1:${await portOf('mx', 9465)}/-/quarantine`, { headers: { 'x-moat-quarantine': '1' } });
    expect(bare.status).toBe(401);
  });

  // Written without a Docker engine to run it on (the ops branch): check it on the first integration run.
  it('moat reload (the CLI in mx) reaches mx and policyd on their metrics listeners: both re-apply the running config', async () => {
    const out = await execIn('mx', 'node', '/usr/local/lib/moat/cli/main.js', 'reload', '--json');
    const reports = JSON.parse(out) as Array<{ target: string; service: string; outcome: string; generation: number; needsRestart: string[] }>;
    expect(new Set(reports.map((r) => r.target))).toEqual(new Set(['mx', 'policyd']));
    for (const r of reports) {
      expect(r, r.target).toMatchObject({ outcome: 'applied', needsRestart: [] });
      expect(r.generation).toBeGreaterThanOrEqual(2);
    }
    // counted where Prometheus (and the console) read it
    const metrics = await execIn('mx', 'node', '-e', "fetch('http://127.0.0.1:9465/metrics').then(async (r) => console.log(await r.text()))");
    expect(metrics).toMatch(/^moat_reload_total\{outcome="applied"\} [1-9]/m);
    expect(metrics).toMatch(/^moat_config_last_reload_successful 1$/m);
  });
});
