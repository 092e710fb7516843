// policyd behind a real, private Postfix (Debian's package): check_policy_service as admins write it.
import { loadConfig } from '@moat/config';
import { createJournal, journalOptionsFromConfig } from '@moat/journal';
import { createLogger, createRegistry } from '@moat/observe';
import { type PostfixInstance, type SmtpSink, startPostfix, startSmtpSink } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCKED_CLIENT, type Policyd, type Stack, startPolicyd, startStack, swaks, variantConfig } from './helpers.ts';

let stack: Stack;
let policyd: Policyd;
let quickIdle: Policyd;
let postfix: PostfixInstance;
let sink: SmtpSink;
let journalConfig: string;

beforeAll(async () => {
  stack = await startStack({ greylistDelay: '2s' });
  journalConfig = await variantConfig(stack, 'journal', 'policyd:\n  journal: true\n');
  policyd = await startPolicyd(journalConfig);
  quickIdle = await startPolicyd(await variantConfig(stack, 'idle', 'policyd:\n  idle_timeout: 1s\n'));
  const service = `inet:127.0.0.1:${policyd.port}`;
  sink = await startSmtpSink();
  postfix = await startPostfix({
    domains: ['example.org'],
    relay: { host: sink.host, port: sink.port },
    listeners: {
      // The README's snippet: fail open when policyd is unreachable.
      failopen: `reject_unauth_destination, check_policy_service { ${service}, default_action=DUNNO }`,
      // Postfix's default: 451 4.3.5 when the policy server is unreachable.
      tempfail: `reject_unauth_destination, check_policy_service ${service}`,
      // A policyd that closes idle connections after 1 s, well before Postfix's 300 s max_idle.
      idle: `reject_unauth_destination, check_policy_service inet:127.0.0.1:${quickIdle.port}`,
    },
  });
}, 90_000);

afterAll(async () => {
  await postfix?.stop();
  await sink?.stop();
  await policyd?.stop();
  await quickIdle?.stop();
  await stack?.stop();
});

const ports = () => postfix.ports as { failopen: number; tempfail: number; idle: number };

describe('policyd behind Postfix', () => {
  it('greylists a new triplet with 450, accepts its retry after the delay with 250', async () => {
    const mail = { client: '198.51.100.20', from: 'alice@sender.example', to: 'bob@example.org' };
    const first = await swaks(ports().failopen, mail);
    expect(first.rcpt, first.output).toBe(450);
    // Postfix adds the "<rcpt>: Recipient address rejected:" context itself: it must appear once.
    expect(first.output).toMatch(/450 4\.7\.1 <bob@example\.org>: Recipient address rejected: Greylisted, please try again in \d+ seconds/);
    expect(first.output.match(/Recipient address rejected/g)).toHaveLength(1);
    expect(first.output).toMatch(/450 4\.\d\.\d <bob@example\.org>: Recipient address rejected: .*/i);
    // Too early: still deferred.
    expect((await swaks(ports().failopen, mail)).rcpt).toBe(450);
    await new Promise((r) => setTimeout(r, 2600));
    const retry = await swaks(ports().failopen, mail);
    expect(retry.rcpt, retry.output).toBe(250);
    expect(retry.data, retry.output).toBe(250);
  });

  it('prepends X-Greylist once per message when several recipients pass their retry', async () => {
    const mail = { client: '198.51.100.50', from: 'erin@sender.example', to: 'r1@example.org,r2@example.org' };
    expect((await swaks(ports().failopen, mail)).rcpt).toBe(450);
    await new Promise((r) => setTimeout(r, 2600));
    const retry = await swaks(ports().failopen, mail);
    expect(retry.data, retry.output).toBe(250);
    let message: string | undefined;
    for (let i = 0; i < 100 && !message; i++) {
      message = (await sink.messages()).find((m) => m.includes('erin@sender.example'));
      if (!message) await new Promise((r) => setTimeout(r, 100));
    }
    expect(message, await postfix.log()).toBeDefined();
    expect(message!.match(/^X-Greylist: delayed \d+ seconds by moat-greylist at mx\.moat\.test; /gm)).toHaveLength(1);
  });

  it('journals its decisions when policyd.journal is on (moat explain and the console see them)', async () => {
    const config = loadConfig(journalConfig, { env: {} });
    const journal = createJournal({ ...journalOptionsFromConfig(config), registry: createRegistry(), logger: createLogger('t', { level: 'silent' }) });
    try {
      const recent = await journal.recent({ count: 200 });
      const mine = recent.filter((e) => e.facts.recipient === 'bob@example.org' && e.facts.clientAddress === '198.51.100.20');
      expect(mine.length).toBeGreaterThanOrEqual(3);
      expect(mine.some((e) => e.reply?.startsWith('DEFER_IF_PERMIT 4.7.1 Greylisted'))).toBe(true);
    } finally {
      await journal.close();
    }
  });

  it('rejects a client listed in the test DNS list with 554 and the list named', async () => {
    const r = await swaks(ports().failopen, { client: BLOCKED_CLIENT, from: 'spam@spam.example', to: 'bob@example.org' });
    expect(r.rcpt, r.output).toBe(554);
    expect(r.output).toMatch(/554 5\.7\.1 .*bl\.moat\.test/);
    expect(r.output).toMatch(/blocked using bl\.moat\.test; Listed in the moat test list, see https:\/\/moat\.test\/\?203\.0\.113\.66/);
  });

  it('does not relay: Postfix refuses foreign domains before asking policyd', async () => {
    const r = await swaks(ports().failopen, { client: '198.51.100.21', from: 'a@sender.example', to: 'x@elsewhere.example' });
    expect(r.rcpt, r.output).toBe(554);
    expect(r.output).toMatch(/Relay access denied/);
  });

  it('Postfix reuses its policy connection; when policyd closes it idle, Postfix reconnects without a warning or a delay', async () => {
    const mail = { client: '198.51.100.40', from: 'carol@sender.example', to: 'dave@example.org' };
    expect((await swaks(ports().idle, mail)).rcpt).toBe(450);
    await new Promise((r) => setTimeout(r, 3000)); // the greylist delay, and policyd's idle close
    const t0 = Date.now();
    const again = await swaks(ports().idle, mail);
    expect(again.rcpt, again.output).toBe(250);
    expect(Date.now() - t0).toBeLessThan(5000); // no retry_delay sleeps behind a stale connection
    expect(await postfix.log()).not.toMatch(/problem talking to server 127\.0\.0\.1:\d+/);
  });

  it('with policyd stopped, default_action=DUNNO keeps accepting mail; without it Postfix answers 451', async () => {
    await policyd.stop();
    const open = await swaks(ports().failopen, { client: '198.51.100.30', from: 'a@sender.example', to: 'bob@example.org' });
    expect(open.rcpt, open.output).toBe(250);
    expect(open.data, open.output).toBe(250);
    const temp = await swaks(ports().tempfail, { client: '198.51.100.31', from: 'a@sender.example', to: 'bob@example.org' });
    expect(temp.rcpt, temp.output).toBe(451);
    expect(temp.output).toMatch(/451 4\.3\.5/);
    expect(await postfix.log()).toMatch(/problem talking to server/);
  });
});
