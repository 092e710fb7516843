import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNextHop } from './next-hop.ts';
import { createAddressResolver } from './resolver.ts';
import { memoryTable } from './test-tables.ts';
import type { ResolverSpec } from './types.ts';

const maildir = parseNextHop('maildir:/var/mail/moat');
const base: ResolverSpec = {
  myhostname: 'mx.example.org',
  mydestination: ['mx.example.org', 'localhost'],
  localRecipientMaps: [memoryTable({ root: 'x', postmaster: 'x' })],
  aliasMaps: [memoryTable({ root: 'admin@remote.example', loopa: 'loopb', loopb: 'loopa' })],
  virtualAliasDomains: ['alias.example'],
  virtualAliasMaps: [
    memoryTable({
      'team@alias.example': 'a@remote.example, b@hosted.example',
      'x@alias.example': 'y@alias.example',
      'y@alias.example': 'x@alias.example',
      '@old.example': '@hosted.example',
      'b@hosted.example': 'b@hosted.example, c@relay.example',
    }),
  ],
  virtualMailboxDomains: ['hosted.example', 'old.example'],
  virtualMailboxMaps: [memoryTable({ 'b@hosted.example': 'x', 'alice@hosted.example': 'x' })],
  relayDomains: ['relay.example'],
  relayRecipientMaps: [memoryTable({ 'c@relay.example': 'x' })],
  transportMaps: [memoryTable({ 'relay.example': 'smtp:[primary.relay.example]', '.remote.example': 'lmtp:[10.0.0.1]:24' })],
  recipientDelimiter: '+-',
  localTransport: maildir,
  virtualTransport: maildir,
  relayTransport: parseNextHop('relay:'),
  defaultTransport: parseNextHop('smtp:'),
  virtualAliasRecursionLimit: 20,
  virtualAliasExpansionLimit: 20,
};
const r = createAddressResolver(base);

const local = fc.constantFrom('team', 'x', 'b', 'alice', 'root', 'postmaster', 'loopa', 'nobody', 'Alice', '"a b"', 'owner-x', 'a.b', '');
const ext = fc.constantFrom('', '+t', '-t', '+', '+a-b', '--');
const domain = fc.constantFrom('alias.example', 'hosted.example', 'old.example', 'relay.example', 'remote.example', 'x.remote.example', 'mx.example.org', 'LOCALHOST.', '');
const address = fc.tuple(local, ext, fc.constantFrom('@', ''), domain).map(([l, e, at, d]) => `${l}${e}${at}${d}`);

describe('resolver properties', () => {
  it('never throws, on any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        r.resolve(s);
        r.verify(s);
        r.classify(s);
      }),
      { numRuns: 3000 },
    );
  });
  it('verify (RCPT) and resolve (delivery) agree: refused by one is refused by the other with the same status', () => {
    fc.assert(
      fc.property(address, (a) => {
        const v = r.verify(a);
        const res = r.resolve(a);
        if (!v.accepted) expect(res, a).toMatchObject({ ok: false, status: v.status, text: v.text });
        else if (!res.ok) expect(['loop', 'too-many'], `${a}: ${res.reason}`).toContain(res.reason);
        expect(res.class, a).toBe(r.classify(a));
      }),
      { numRuns: 2000 },
    );
  });
  it('a resolved recipient is never a local mailbox of a remote domain', () => {
    fc.assert(
      fc.property(address, (a) => {
        const res = r.resolve(a);
        if (!res.ok) return;
        for (const f of res.recipients) {
          if (f.class === 'remote' || f.class === 'relay') expect(f.nextHop.transport, `${a} -> ${f.address}`).not.toBe('maildir');
          expect(r.classify(f.address), `${a} -> ${f.address}`).toBe(f.class);
        }
      }),
      { numRuns: 2000 },
    );
  });
  it('an unmatched extension is carried to every alias result', () => {
    const tag = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    fc.assert(
      fc.property(tag, (t) => {
        const res = r.resolve(`team+${t}@alias.example`);
        expect(res.ok && res.recipients.map((f) => f.address)).toEqual([`a+${t}@remote.example`, `b+${t}@hosted.example`, `c+${t}@relay.example`]);
        if (res.ok) for (const f of res.recipients) expect(f.extension).toBe(t);
      }),
    );
  });
});
