import { describe, expect, it } from 'vitest';
import { RecipientLookupError, recipientPortFromResolver } from './recipient-port.ts';
import { createAddressResolver } from './resolver.ts';
import { TableError } from '@moat/maps';
import { brokenTable, memoryTable, testSpec } from './test-tables.ts';
import type { ResolverSpec } from './types.ts';

const spec = (over: Partial<ResolverSpec> = {}): ResolverSpec =>
  testSpec({
    virtualAliasDomains: ['alias.example'],
    virtualAliasMaps: [memoryTable({ 'info@alias.example': 'a@hosted.example', 'loop@alias.example': 'loop2@alias.example', 'loop2@alias.example': 'loop@alias.example' })],
    virtualMailboxDomains: ['hosted.example'],
    virtualMailboxMaps: [memoryTable({ 'a@hosted.example': 'OK' })],
    relayDomains: ['backup.example'],
    ...over,
  });

describe('recipientPortFromResolver', () => {
  it('answers as smtpd would at RCPT', async () => {
    const p = recipientPortFromResolver(createAddressResolver(spec()));
    expect(p.classifySync('a+x@hosted.example')).toBe('local');
    expect(p.classifySync('b@hosted.example')).toBe('unknown-user');
    expect(p.classifySync('info@alias.example')).toBe('local');
    expect(p.classifySync('nobody@alias.example')).toBe('unknown-user');
    expect(p.classifySync('anyone@backup.example')).toBe('local');
    expect(p.classifySync('x@elsewhere.example')).toBe('remote');
    // Postfix accepts an alias key at RCPT and fails the loop at delivery.
    expect(p.classifySync('loop@alias.example')).toBe('local');
    expect(await p.classify('b@hosted.example')).toBe('unknown-user');
    expect(p.verifySync('b@hosted.example')).toEqual({ accepted: false, class: 'virtual-mailbox', status: '5.1.1', text: 'User unknown in virtual mailbox table', by: 'table' });
  });
  it('when verify() throws and resolve() answers, the refusal keeps what refused (retry, error hop, table)', () => {
    const real = createAddressResolver(spec({ transportMaps: [memoryTable({ 'held@hosted.example': 'retry:4.2.1 moving', 'gone@hosted.example': 'error:5.1.1 left' })] }));
    const p = recipientPortFromResolver({
      ...real,
      tables: undefined,
      verify: () => {
        throw new Error('verify broke');
      },
    });
    expect(p.verifySync('held@hosted.example')).toMatchObject({ accepted: false, status: '4.2.1', by: 'retry' });
    expect(p.verifySync('gone@hosted.example')).toMatchObject({ accepted: false, status: '5.1.1', text: 'left', by: 'error' });
    expect(p.verifySync('nobody@alias.example')).toMatchObject({ accepted: false, by: 'error' });
    expect(p.verifySync('b@hosted.example')).toMatchObject({ accepted: false, by: 'table' });
    expect(p.verifySync('a@hosted.example')).toEqual({ accepted: true, class: 'virtual-mailbox' });
  });
  it('refuses unknown users of relay domains when relay_recipient_maps is set', () => {
    const p = recipientPortFromResolver(createAddressResolver(spec({ relayRecipientMaps: [memoryTable({ '@backup.example': 'x', 'u@sub.backup.example': 'x' })] })));
    expect(p.classifySync('anyone@backup.example')).toBe('local');
    expect(p.classifySync('u@sub.backup.example')).toBe('local');
    expect(p.classifySync('v@sub.backup.example')).toBe('unknown-user');
  });
  it('a table that cannot answer throws (the engine answers 451 4.3.0)', async () => {
    const p = recipientPortFromResolver(createAddressResolver(spec({ virtualMailboxMaps: [brokenTable()] })));
    expect(() => p.classifySync('a@hosted.example')).toThrow(RecipientLookupError);
    await expect(p.classify('a@hosted.example')).rejects.toThrow(/4\.3\.0/);
    const q = recipientPortFromResolver(createAddressResolver(spec({ relayDomainMaps: [brokenTable()] })));
    expect(() => q.classifySync('x@elsewhere.example')).toThrow(RecipientLookupError);
  });

  describe('the RCPT memo', () => {
    /** A reloadable mailbox table: `reload` swaps its entries and counts a generation, as @moat/maps does. */
    const reloadable = (entries: Record<string, string>) => {
      let rows = new Map(Object.entries(entries));
      let failing = false;
      let generation = 0;
      const asked: string[] = [];
      return {
        spec: 'hash:/test/mailboxes',
        type: 'hash' as const,
        pattern: false,
        asked,
        get generation() {
          return generation;
        },
        lookup(key: string) {
          asked.push(key);
          if (failing) throw new TableError('TABLE_UNAVAILABLE', 'hash:/test/mailboxes: not loaded');
          return rows.get(key.toLowerCase());
        },
        reload(next: Record<string, string>) {
          rows = new Map(Object.entries(next));
          generation++;
        },
        fail(on: boolean) {
          failing = on;
        },
      };
    };
    it('answers a repeated recipient without asking the tables again', () => {
      const t = reloadable({ 'a@hosted.example': 'OK' });
      const p = recipientPortFromResolver(createAddressResolver(spec({ virtualMailboxMaps: [t] })));
      expect(p.verifySync('a@hosted.example')).toEqual({ accepted: true, class: 'virtual-mailbox' });
      expect(p.verifySync('b@hosted.example')).toMatchObject({ accepted: false, status: '5.1.1', text: 'User unknown in virtual mailbox table' });
      // Kept the second time an address is asked (the first time might be its only one).
      const once = t.asked.length;
      expect(p.classifySync('a@hosted.example')).toBe('local');
      expect(t.asked.length).toBeGreaterThan(once);
      expect(p.classifySync('b@hosted.example')).toBe('unknown-user');
      const asked = t.asked.length;
      expect(p.classifySync('a@hosted.example')).toBe('local');
      expect(p.classifySync('b@hosted.example')).toBe('unknown-user');
      expect(p.verifySync('b@hosted.example')).toMatchObject({ accepted: false, text: 'User unknown in virtual mailbox table' });
      expect(t.asked.length).toBe(asked);
    });
    it('starts over when any table reloads (its generation changes)', () => {
      const t = reloadable({ 'a@hosted.example': 'OK' });
      const p = recipientPortFromResolver(createAddressResolver(spec({ virtualMailboxMaps: [t] })));
      expect(p.classifySync('b@hosted.example')).toBe('unknown-user');
      t.reload({ 'a@hosted.example': 'OK', 'b@hosted.example': 'OK' });
      expect(p.classifySync('b@hosted.example')).toBe('local');
      t.reload({});
      expect(p.classifySync('a@hosted.example')).toBe('unknown-user');
    });
    it('holds at most memoSize addresses, dropping the least recently used (two generations of memoSize / 2)', () => {
      const t = reloadable({ 'a@hosted.example': 'OK' });
      const p = recipientPortFromResolver(createAddressResolver(spec({ virtualMailboxMaps: [t] })), { memoSize: 4 });
      const asks = (address: string) => {
        const before = t.asked.length;
        p.classifySync(address);
        return t.asked.length - before;
      };
      // Each address is asked twice to be kept (the second sighting).
      const twice = (address: string) => asks(address) + asks(address);
      expect(twice('a@hosted.example')).toBeGreaterThan(0);
      expect(twice('b@hosted.example')).toBeGreaterThan(0);
      expect(asks('a@hosted.example')).toBe(0); // a is now the most recent
      expect(twice('c@hosted.example')).toBeGreaterThan(0);
      expect(asks('a@hosted.example')).toBe(0); // kept; b, not used since, was dropped
      expect(asks('b@hosted.example')).toBeGreaterThan(0);
      for (const x of ['e', 'f', 'g', 'h']) twice(`${x}@hosted.example`);
      expect(asks('a@hosted.example')).toBeGreaterThan(0); // never more than 4 kept
      const unbounded = recipientPortFromResolver(createAddressResolver(spec({ virtualMailboxMaps: [t] })), { memoSize: 0 });
      unbounded.classifySync('a@hosted.example');
      const before = t.asked.length;
      unbounded.classifySync('a@hosted.example');
      expect(t.asked.length).toBeGreaterThan(before); // memoSize 0: no memo
    });
    it('never keeps a lookup failure: the next RCPT asks the tables again', () => {
      const t = reloadable({ 'a@hosted.example': 'OK' });
      const p = recipientPortFromResolver(createAddressResolver(spec({ virtualMailboxMaps: [t] })));
      t.fail(true);
      expect(() => p.classifySync('a@hosted.example')).toThrow(RecipientLookupError);
      expect(() => p.classifySync('a@hosted.example')).toThrow(RecipientLookupError);
      t.fail(false); // the table answers again, without a reload
      expect(p.classifySync('a@hosted.example')).toBe('local');
    });
  });
});
