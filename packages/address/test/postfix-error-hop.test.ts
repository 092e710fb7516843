// Differential test: `error:` and `retry:` entries in transport_maps, in a private Postfix (Debian's) and in the resolver.
// For each entry: smtpd's reply refusing it as a recipient and as a sender, and what error(8) / retry(8) log when an
// alias target resolves to it (dsn= and the text). Then the reply codes check_rcpt_maps picks by class
// (unknown_*_reject_code: relay, virtual alias, local with its postmaster/MAILER-DAEMON/double-bounce exemptions, virtual
// mailbox), through the policy engine over the resolver. Talks only to the daemons it starts.
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PostfixInstance, type SmtpSink, smtpTransaction, startPostfix, startSmtpSink, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, createManualClock, createMemoryAccessMaps, createMemoryDnsList, createMemoryGreylist, DEFAULT_RELAY_RESTRICTIONS, type Facts, parseRestrictions, replyLine } from '@moat/policy';
import { errorBounceStatus, retryDeferStatus } from '../src/error-hop.ts';
import { createMemoryTable } from '../src/memory-table.ts';
import { parseNextHop } from '../src/next-hop.ts';
import { recipientPortFromResolver } from '../src/recipient-port.ts';
import { createAddressResolver } from '../src/resolver.ts';
import type { ResolverSpec } from '../src/types.ts';

/** domain -> transport_maps value; `alias` is the virtual alias whose target is x@domain (bounced at delivery). */
const ENTRIES: Array<[string, string]> = [
  ['two.example', 'error:2.0.0 all fine'],
  ['twob.example', 'error:2.1.5 done here'],
  ['soft.example', 'error:4.2.0 try later'],
  ['softb.example', 'error:4.7.1 not now'],
  ['bare.example', 'error:'],
  ['text.example', 'error:mailbox closed'],
  ['hard.example', 'error:5.7.1 go away'],
  ['user.example', 'error:5.1.1 moved away'],
  // Only a status: Postfix 3.7's reply and bounce text are then whatever its buffer held (seen: blanks, "??A");
  // moat says "Address is undeliverable" (docs/postfix-keys.md). Statuses compared, text not.
  ['codeonly.example', 'error:5.1.1'],
];
const STATUS_ONLY = new Set(['codeonly.example']);
/** retry(8): refused with 450 at RCPT, deferred at delivery. */
const RETRY: Array<[string, string]> = [
  ['rsoft.example', 'retry:4.3.0 disk full'],
  ['rhard.example', 'retry:5.1.1 moved'],
  ['rbare.example', 'retry:'],
  ['rtext.example', 'retry:mailbox busy'],
  ['rtwo.example', 'retry:2.0.0 fine'],
];
/** A relay domain with relay_recipient_maps, for unknown_relay_recipient_reject_code. */
const LISTED = 'listed.example';
const CODES = { unknown_relay_recipient_reject_code: '450', unknown_virtual_alias_reject_code: '551' };
const alias = (d: string) => `to-${d.split('.')[0]}@alias.example`;

let pf: PostfixInstance;
let sink: SmtpSink;
let dir: { path: string; remove(): Promise<void> };
const spec: ResolverSpec = {
  myhostname: 'mx.moat.test',
  myorigin: 'moat.test',
  mydestination: [],
  aliasMaps: [],
  virtualAliasDomains: ['alias.example'],
  virtualAliasMaps: [createMemoryTable('texthash:virtual', [...ENTRIES, ...RETRY].map(([d]) => [alias(d), `x@${d}`] as const))],
  virtualMailboxDomains: [],
  virtualMailboxMaps: [],
  relayDomains: [...ENTRIES, ...RETRY].map(([d]) => d).concat(LISTED),
  relayRecipientMaps: [createMemoryTable('texthash:relay_recipients', [[`known@${LISTED}`, 'x']])],
  transportMaps: [createMemoryTable('texthash:transport', [...ENTRIES, ...RETRY])],
  recipientDelimiter: '',
  localTransport: parseNextHop('discard:'),
  virtualTransport: parseNextHop('discard:'),
  relayTransport: parseNextHop('smtp:[127.0.0.1]:2525'),
  defaultTransport: parseNextHop('smtp:[127.0.0.1]:2525'),
  virtualAliasRecursionLimit: 1000,
  virtualAliasExpansionLimit: 1000,
};

beforeAll(async () => {
  dir = await tmpDir('error-hop-oracle');
  await chmod(dir.path, 0o755);
  const write = async (name: string, lines: Array<readonly [string, string]>) => {
    const file = join(dir.path, name);
    await writeFile(file, `${lines.map(([k, v]) => `${k} ${v}`).join('\n')}\n`);
    await chmod(file, 0o644);
    return `texthash:${file}`;
  };
  sink = await startSmtpSink();
  pf = await startPostfix({
    listeners: { plain: '' },
    domains: [...ENTRIES, ...RETRY].map(([d]) => d).concat(LISTED),
    relay: { host: sink.host, port: sink.port },
    main: {
      transport_maps: await write('transport', [...ENTRIES, ...RETRY]),
      virtual_alias_domains: 'alias.example',
      virtual_alias_maps: await write('virtual', [...ENTRIES, ...RETRY].map(([d]) => [alias(d), `x@${d}`] as const)),
      relay_recipient_maps: await write('relay_recipients', [[`known@${LISTED}`, 'x']]),
      smtpd_reject_unlisted_sender: 'yes',
      ...CODES,
    },
  });
}, 60_000);

afterAll(async () => {
  await pf?.stop();
  await sink?.stop();
  await dir?.remove();
});

/** error(8)'s log line for the alias target x@domain: its dsn= and reason. */
async function bounced(domain: string): Promise<{ dsn: string; text: string } | undefined> {
  const re = new RegExp(`postfix/error\\[\\d+\\]: \\w+: to=<x@${domain.replace(/\./g, '\\.')}>, orig_to=<[^>]*>, .*dsn=(\\S+), status=bounced \\((.*)\\)$`, 'm');
  for (let i = 0; i < 100; i++) {
    const m = re.exec(await pf.log());
    if (m) return { dsn: m[1] as string, text: m[2] as string };
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

describe('error: in transport_maps against Postfix (smtpd at RCPT, error(8) at delivery)', () => {
  for (const [domain, entry] of ENTRIES) {
    it(entry, async () => {
      const resolver = createAddressResolver(spec);
      const port = pf.ports.plain as number;
      const msg = 'Subject: error hop\r\n\r\nbody\r\n';
      for (const as of ['recipient', 'sender'] as const) {
        const addr = `${as === 'sender' ? 'y' : 'x'}@${domain}`;
        const out = as === 'sender' ? await smtpTransaction({ port, from: addr, to: 'x@hard.example', message: msg }) : await smtpTransaction({ port, from: 's@sender.example', to: addr, message: msg });
        const v = resolver.verify(addr, as);
        const word = as === 'sender' ? 'Sender' : 'Recipient';
        expect(v.accepted, entry).toBe(false);
        if (v.accepted) return;
        expect([out.stage, out.code], JSON.stringify(out)).toEqual(['rcpt', 550]);
        expect(out.text.slice(0, 6), JSON.stringify(out)).toBe(`${v.status} `);
        if (!STATUS_ONLY.has(domain)) expect(out.text, JSON.stringify(out)).toBe(`${v.status} <${addr}>: ${word} address rejected: ${v.text}`);
      }
      // mx refuses at RCPT through resolve() with the same status
      const r = resolver.resolve(`x@${domain}`);
      const v = resolver.verify(`x@${domain}`);
      expect(r.ok ? 'accepted' : r.status).toBe(v.accepted ? 'accepted' : v.status);
      // an alias target resolving to it is accepted, then bounced by error(8)
      const out = await smtpTransaction({ port, from: 's@sender.example', to: alias(domain), message: msg });
      expect(out.stage, JSON.stringify(out)).toBe('done');
      const got = await bounced(domain);
      expect(got, (await pf.log()).split('\n').slice(-10).join('\n')).toBeDefined();
      const res = resolver.resolve(alias(domain));
      expect(res.ok).toBe(true);
      const hop = res.ok ? res.recipients[0]?.nextHop : undefined;
      if (hop?.transport !== 'error') throw new Error(`expected an error hop, got ${JSON.stringify(hop)}`);
      expect(errorBounceStatus(hop.status)).toBe(got?.dsn);
      if (!STATUS_ONLY.has(domain)) expect(hop.text).toBe(got?.text);
    }, 40_000);
  }
});

/** retry(8)'s log line (the error program, so logged as postfix/error) for the alias target x@domain: dsn= and reason. */
async function deferred(domain: string): Promise<{ dsn: string; text: string } | undefined> {
  const re = new RegExp(`postfix/(?:error|retry)\\[\\d+\\]: \\w+: to=<x@${domain.replace(/\./g, '\\.')}>, orig_to=<[^>]*>, .*dsn=(\\S+), status=deferred \\((.*)\\)$`, 'm');
  for (let i = 0; i < 100; i++) {
    const m = re.exec(await pf.log());
    if (m) return { dsn: m[1] as string, text: m[2] as string };
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

describe('retry: in transport_maps against Postfix (450 at RCPT, retry(8) defers at delivery)', () => {
  for (const [domain, entry] of RETRY) {
    it(entry, async () => {
      const resolver = createAddressResolver(spec);
      const port = pf.ports.plain as number;
      const msg = 'Subject: retry hop\r\n\r\nbody\r\n';
      for (const as of ['recipient', 'sender'] as const) {
        const addr = `${as === 'sender' ? 'y' : 'x'}@${domain}`;
        const out = as === 'sender' ? await smtpTransaction({ port, from: addr, to: `known@${LISTED}`, message: msg }) : await smtpTransaction({ port, from: 's@sender.example', to: addr, message: msg });
        const v = resolver.verify(addr, as);
        const word = as === 'sender' ? 'Sender' : 'Recipient';
        expect(v, entry).toMatchObject({ accepted: false, by: 'retry' });
        if (v.accepted) return;
        expect([out.stage, out.code], JSON.stringify(out)).toEqual(['rcpt', 450]);
        expect(out.text, JSON.stringify(out)).toBe(`${v.status} <${addr}>: ${word} address rejected: ${v.text}`);
      }
      const r = resolver.resolve(`x@${domain}`);
      expect(r).toMatchObject({ ok: false, reason: 'retry', status: resolver.verify(`x@${domain}`).accepted ? '' : (resolver.verify(`x@${domain}`) as { status: string }).status });
      // an alias target resolving to it is accepted, then deferred by retry(8)
      const out = await smtpTransaction({ port, from: 's@sender.example', to: alias(domain), message: msg });
      expect(out.stage, JSON.stringify(out)).toBe('done');
      const got = await deferred(domain);
      expect(got, (await pf.log()).split('\n').filter((l) => /retry|deferred|rsoft/.test(l)).slice(-10).join('\n')).toBeDefined();
      const res = resolver.resolve(alias(domain));
      const hop = res.ok ? res.recipients[0]?.nextHop : undefined;
      if (hop?.transport !== 'retry') throw new Error(`expected a retry hop, got ${JSON.stringify(hop)}`);
      expect(retryDeferStatus(hop.status)).toBe(got?.dsn);
      expect(hop.text).toBe(got?.text);
    }, 40_000);
  }
});

describe('check_rcpt_maps reply codes by class (unknown_relay_recipient_reject_code 450, unknown_virtual_alias_reject_code 551)', () => {
  // moat's side: the policy engine's implicit reject_unlisted_recipient over the resolver's recipient port
  const engine = () =>
    createEngine(
      {
        myHostname: 'mx.moat.test',
        myAddresses: [],
        myNetworks: ['127.0.0.0/8'],
        delayReject: true,
        strictRfc821Envelopes: false,
        relayRestrictions: DEFAULT_RELAY_RESTRICTIONS,
        recipientRestrictions: parseRestrictions('permit'),
        rejectUnlistedSender: true,
        unknownRelayRecipientRejectCode: Number(CODES.unknown_relay_recipient_reject_code),
        unknownVirtualAliasRejectCode: Number(CODES.unknown_virtual_alias_reject_code),
      },
      { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock: createManualClock() }), recipients: recipientPortFromResolver(createAddressResolver(spec)), accessMaps: createMemoryAccessMaps({}), clock: createManualClock() },
    );
  const cases: Array<[string, string, string]> = [
    ['an unknown user of a relay domain (relay recipient table)', 's@sender.example', `nobody@${LISTED}`],
    ['a known one', 's@sender.example', `known@${LISTED}`],
    ['an unknown user of a virtual alias domain', 's@sender.example', 'nobody@alias.example'],
    ['an error: hop in a relay domain: 550 whatever the relay code', 's@sender.example', 'x@soft.example'],
    ['a retry: hop: 450', 's@sender.example', 'x@rhard.example'],
    ['an unknown sender of a relay domain', `nobody@${LISTED}`, `known@${LISTED}`],
    ['an unknown sender of a virtual alias domain', 'nobody@alias.example', `known@${LISTED}`],
  ];
  for (const [what, from, to] of cases) {
    it(what, async () => {
      const out = await smtpTransaction({ port: pf.ports.plain as number, from, to, message: 'Subject: codes\r\n\r\nbody\r\n' });
      const theirs = out.stage === 'rcpt' ? `${out.code} ${out.text}` : `${out.stage}`;
      const v = await engine().evaluate({ stage: 'rcpt', clientAddress: '127.0.0.1', clientName: 'localhost', reverseClientName: 'localhost', helo: 'localhost', sender: from, recipient: to } as Facts);
      const ours = v.action === 'permit' || v.action === 'continue' ? 'done' : replyLine(v);
      expect(ours).toBe(theirs);
    }, 40_000);
  }
});
