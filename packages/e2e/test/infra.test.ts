// The stack's plumbing: every service healthy, Unbound answering the rbldnsd test zones and refusing the
// rest of the world, Redis, spamd (GTUBE over SPAMC through the published port) and policyd's port.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { GTUBE } from './smtp.ts';
import { execIn, portOf, projectContainers, stack } from './stack.ts';

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

describe('test stack infrastructure', () => {
  it('runs every service, healthy', async () => {
    const cs = await projectContainers(stack().project);
    expect(cs.map((c) => c.service).sort()).toEqual(['mx', 'policyd', 'rbldnsd', 'redis', 'spamassassin', 'unbound']);
    for (const c of cs) expect(c, c.service).toMatchObject({ state: 'running', health: 'healthy' });
  });

  it('publishes only SMTP, submission, policy (and spamd in the test profile), on loopback', async () => {
    const cs = await projectContainers(stack().project);
    const published = cs.flatMap((c) => [...c.ports.matchAll(/([\d.]+):\d+->(\d+)\/tcp/g)].map((m) => `${c.service}:${m[2]}@${m[1]}`));
    expect(published.sort()).toEqual(['mx:25@127.0.0.1', 'mx:587@127.0.0.1', 'policyd:10023@127.0.0.1', 'spamassassin:783@127.0.0.1']);
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

  it('Redis answers on the stack network', async () => {
    expect((await execIn('redis', 'redis-cli', 'ping')).trim()).toBe('PONG');
  });

  it('spamd scores GTUBE as spam (SPAMC/1.5 CHECK on the published test port)', async () => {
    const msg = `Subject: gtube\r\n\r\n${GTUBE}\r\n`;
    const req = `CHECK SPAMC/1.5\r\nContent-length: ${Buffer.byteLength(msg)}\r\n\r\n${msg}`;
    const reply = await exchange(await portOf('spamassassin', 783), req, (g) => /Spam: /.test(g) && g.includes('\r\n\r\n'));
    expect(reply).toMatch(/^SPAMD\/1\.\d 0 EX_OK/);
    expect(reply).toMatch(/Spam: True ; \d+(\.\d+)? \/ /);
  });

  it('policyd answers a Postfix policy request on its published port', async () => {
    const req =
      'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.66\n' +
      'client_name=unknown\nhelo_name=mail.example.net\nsender=someone@example.net\nrecipient=alice@moat.test\n\n';
    const reply = await exchange(stack().policyPort, req, (g) => g.includes('\n\n'));
    expect(reply).toMatch(/^action=/);
    // 192.0.2.66 is on bl.moat.test: the same engine rejects it with the list's reason.
    expect(reply).toMatch(/^action=(REJECT|5\d\d)/);
    expect(reply).toContain('bl.moat.test');
  });
});
