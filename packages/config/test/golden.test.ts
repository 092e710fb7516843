// Golden test: the shipped default policy against scripted DNS answers; replies compared with seed.ref.
import { readFileSync, writeFileSync } from 'node:fs';
import { compileConfig, parseConfig } from '@moat/config';
import { createEngine, createManualClock, createMemoryDnsList, createMemoryGreylist, type DnsListing, type Facts, replyLine } from '@moat/policy';
import { expect, it } from 'vitest';

const IN = new URL('./golden/seed.in', import.meta.url);
const REF = new URL('./golden/seed.ref', import.meta.url);

const KEYS: Record<string, keyof Facts> = { client: 'clientAddress', name: 'clientName', rev: 'reverseClientName', helo: 'helo', from: 'sender', raw_from: 'rawSender', to: 'recipient', raw_to: 'rawRecipient', sasl: 'saslUsername' };

function parsePairs(text: string): Partial<Record<keyof Facts, string | undefined>> {
  const out: Partial<Record<keyof Facts, string | undefined>> = {};
  for (const m of text.matchAll(/(\w+)=(\S*)/g)) {
    const key = KEYS[m[1]!];
    if (!key) throw new Error(`unknown key ${m[1]}`);
    out[key] = m[2] === '' ? (key === 'sender' ? '' : undefined) : m[2];
  }
  return out;
}

it('the shipped policy gives the replies in seed.ref', async () => {
  const lines = readFileSync(IN, 'utf8').split('\n');
  const dns: Record<string, Record<string, DnsListing | 'unknown'>> = {};
  let defaults: Partial<Record<keyof Facts, string | undefined>> = {};
  const scenarios: Array<[string, Partial<Record<keyof Facts, string | undefined>>]> = [];
  for (const line of lines) {
    if (/^\s*(#|$)/.test(line)) continue;
    const dnsLine = /^dns (\S+) (\S+) (\S+)(?: (.*))?$/.exec(line);
    if (dnsLine) {
      const [, zone, key, codes, txt] = dnsLine;
      (dns[zone!] ??= {})[key!] = codes === 'unknown' ? 'unknown' : { codes: codes!.split(','), txt };
    } else if (line.startsWith('default ')) defaults = parsePairs(line.slice(8));
    else {
      const colon = line.indexOf(': ');
      scenarios.push([line.slice(0, colon), { ...defaults, ...parsePairs(line.slice(colon + 2)) }]);
    }
  }

  const config = parseConfig(
    `policy:
  hostname: mx.example.org
  my_addresses: [192.0.2.25]
  mynetworks: [127.0.0.0/8, 10.9.0.0/16]
  client_access: cidr:/etc/moat/rbl_override
  access_maps:
    cidr:/etc/moat/rbl_override: |
      203.0.113.0/28   OK
      203.0.113.64/28  REJECT listed in our own override table
recipients:
  domains: [example.org]
  users: [alice@example.org, postmaster@example.org]
`,
    { env: {} },
  );
  const compiled = compileConfig(config);
  const clock = createManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
  const engine = createEngine(compiled.spec, {
    dnslist: createMemoryDnsList(dns),
    greylist: createMemoryGreylist({ clock, delay: 60 }),
    recipients: compiled.recipients,
    accessMaps: compiled.accessMaps,
    clock,
  });

  const out: string[] = [];
  for (const [name, f] of scenarios) {
    const facts: Facts = { stage: 'rcpt', tls: true, clientAddress: '', ...(f as Partial<Facts>) };
    if (facts.rawSender === undefined && facts.sender !== undefined) facts.rawSender = `<${facts.sender}>`;
    if (facts.rawRecipient === undefined && facts.recipient !== undefined && !/[%!@:"[]/.test(facts.recipient.replace(/@[^@]*$/, ''))) facts.rawRecipient = `<${facts.recipient}>`;
    const v = await engine.evaluate(facts);
    out.push(`${name}\n  ${replyLine(v)}${v.decidedBy ? `\n  decided by: ${v.decidedBy}` : ''}`);
  }
  const actual = `${out.join('\n')}\n`;
  if (process.env.UPDATE_GOLDEN) writeFileSync(REF, actual);
  expect(actual).toBe(readFileSync(REF, 'utf8'));
});
