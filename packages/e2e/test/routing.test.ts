// Routing through the running stack (#15): remote mail leaves by MX lookup through the stack's Unbound to the
// `remote` MX (compose/remote), address extensions reach the user's mailbox, a virtual alias fans out.
import type { SmtpClient } from '@moat/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { clientAs, deliveredFiles, filesWith, headers, MAILDIR, transact } from './session.ts';
import { execIn, freshSender } from './stack.ts';

/** A client on the second whitelist (config-test/moat.yaml): skips greylisting, so its mail is accepted at once. */
const LISTED_CLIENT = '192.0.2.99';

let open: SmtpClient[] = [];
const track = (c: SmtpClient) => {
  open.push(c);
  return c;
};
afterEach(async () => {
  await Promise.all(open.map((c) => c.quit()));
  open = [];
});

describe('routing', () => {
  it("a mynetworks client's mail for remote.moat.test goes out by MX lookup to the remote MX, not into our maildir", async () => {
    // the MX record is the test Unbound's (unbound.test.conf): remote.moat.test MX 10 mx.remote.moat.test
    const mx = await execIn('unbound', 'drill', '-Q', '@127.0.0.1', 'remote.moat.test', 'MX');
    expect(mx.trim()).toBe('10 mx.remote.moat.test.');
    const c = track(await clientAs('203.0.113.21'));
    const t = await transact(c, { to: 'someone@remote.moat.test', subject: 'routing: remote' });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(250);
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
    const [file] = await deliveredFiles(t.id, { service: 'remote' });
    expect(file).toMatch(new RegExp(`^${MAILDIR}/remote\\.moat\\.test/someone/new/`));
    const h = headers(await execIn('remote', 'cat', file!));
    expect(h).toMatch(/^Delivered-To: someone@remote\.moat\.test$/im);
    // received by the remote MX from ours (its fixed address on the test network), over port 25
    expect(h).toMatch(/^Received: from mx\.moat\.test \([^)]*172\.29\.26\.25\]?\)/im);
    expect(await filesWith(t.id), 'the main MX kept no copy').toEqual([]);
  });

  it("alice+tag@moat.test lands in alice's inbox; alice+lists@ in her .lists folder once she has made it", async () => {
    const c = track(await clientAs(LISTED_CLIENT));
    const tagged = await transact(c, { to: 'alice+tag@moat.test', subject: 'routing: extension' });
    expect(tagged.data?.code, c.transcript.join('\n')).toBe(250);
    const [file] = await deliveredFiles(tagged.id);
    // no .tag folder exists: the extension is kept in Delivered-To, the mail goes to the inbox (never a new folder)
    expect(file).toMatch(new RegExp(`^${MAILDIR}/moat\\.test/alice/new/`));
    expect(headers(await execIn('mx', 'cat', file!))).toMatch(/^Delivered-To: alice\+tag@moat\.test$/im);
    expect(await execIn('mx', 'sh', '-c', `test -e ${MAILDIR}/moat.test/alice/.tag && echo made || echo none`)).toBe('none\n');
    // a Maildir++ folder named after the extension, made by the user (here: docker exec as the mx's user)
    await execIn('mx', 'mkdir', '-p', `${MAILDIR}/moat.test/alice/.lists/new`, `${MAILDIR}/moat.test/alice/.lists/cur`, `${MAILDIR}/moat.test/alice/.lists/tmp`);
    const listed = await transact(c, { to: 'alice+lists@moat.test', subject: 'routing: folder' });
    expect(listed.data?.code, c.transcript.join('\n')).toBe(250);
    const [inFolder] = await deliveredFiles(listed.id);
    expect(inFolder).toMatch(new RegExp(`^${MAILDIR}/moat\\.test/alice/\\.lists/new/`));
  });

  it('a virtual alias fans out: team@moat.test reaches alice and bob, one copy each', async () => {
    const c = track(await clientAs(LISTED_CLIENT));
    const t = await transact(c, { from: freshSender(), to: 'team@moat.test', subject: 'routing: alias' });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(250);
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
    const files = await deliveredFiles(t.id, { count: 2 });
    expect(files.map((f) => f.split('/').slice(-4, -2).join('/'))).toEqual(['moat.test/alice', 'moat.test/bob']);
    const to = await Promise.all(files.map(async (f) => /^Delivered-To: (.*)$/im.exec(headers(await execIn('mx', 'cat', f)))?.[1]));
    expect(to).toEqual(['alice@moat.test', 'bob@moat.test']);
    // nobody is called team: no such mailbox was made
    expect(await execIn('mx', 'sh', '-c', `test -e ${MAILDIR}/moat.test/team && echo made || echo none`)).toBe('none\n');
  });
});
