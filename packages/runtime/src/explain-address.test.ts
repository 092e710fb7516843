// The resolution `moat explain` and the console show: built by buildEngine from moat.yaml's routing: section.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import { createMemoryDnsList, createMemoryGreylist } from '@moat/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltEngine, buildEngine } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-runtime-explain-'));
let built: BuiltEngine;
beforeAll(async () => {
  writeFileSync(join(dir, 'virtual'), 'team@alias.example  alice@example.org, bob@elsewhere.example\n');
  writeFileSync(join(dir, 'transport'), 'backup.example  smtp:[10.0.0.5]:2525\n');
  const config = parseConfig(
    [
      'policy:\n  hostname: mx.example.org',
      'recipients:\n  domains: [example.org]\n  users: [alice@example.org]',
      'routing:\n  virtual_alias_domains: [alias.example]\n  virtual_alias_maps: texthash:virtual\n  relay_domains: [backup.example]\n  transport_maps: texthash:transport',
      'queue:\n  transport: maildir:/var/mail/moat',
    ].join('\n'),
    { file: join(dir, 'moat.yaml'), env: {} },
  );
  built = await buildEngine(config, {
    registry: createRegistry(),
    logger: createLogger('explain-test', { level: 'silent' }),
    ports: { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock: { now: () => 0 } }) },
    watchMaps: false,
  });
});
afterAll(async () => {
  await built.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('explainAddress (BuiltEngine)', () => {
  it('a mailbox user with an extension: class, the delimiter split, the maildir', () => {
    expect(built.explainAddress('alice+news@example.org')).toEqual({
      address: 'alice+news@example.org',
      class: 'virtual-mailbox',
      accepted: true,
      steps: ['alice+news@example.org: class virtual-mailbox', 'recipient_delimiter: alice+news@example.org is alice@example.org, extension "news"'],
      recipients: [
        { address: 'alice+news@example.org', class: 'virtual-mailbox', extension: 'news', user: 'alice@example.org', transport: 'maildir', nextHop: 'maildir /var/mail/moat (mailbox of example.org)', raw: 'maildir:/var/mail/moat' },
      ],
    });
  });
  it('an alias fans out: each recipient with its own next hop', () => {
    const e = built.explainAddress('team@alias.example');
    expect(e.steps).toContain('virtual_alias_maps: team@alias.example -> alice@example.org, bob@elsewhere.example (key team@alias.example)');
    expect(e.recipients.map((r) => `${r.address} ${r.class} ${r.nextHop}`)).toEqual([
      'alice@example.org virtual-mailbox maildir /var/mail/moat (mailbox of example.org)',
      'bob@elsewhere.example remote smtp by MX lookup of elsewhere.example',
    ]);
  });
  it('a relay domain through transport_maps; an unknown user with its reason', () => {
    const relay = built.explainAddress('x@backup.example');
    expect(relay.recipients[0]).toMatchObject({ class: 'relay', transport: 'smtp', nextHop: 'smtp to [10.0.0.5]:2525', raw: 'smtp:[10.0.0.5]:2525' });
    expect(relay.steps).toContain('transport_maps: x@backup.example -> smtp:[10.0.0.5]:2525 (key backup.example)');
    expect(built.explainAddress('nobody@example.org')).toMatchObject({
      accepted: false,
      class: 'virtual-mailbox',
      recipients: [],
      refused: { reason: 'unknown-user', status: '5.1.1', text: 'User unknown in virtual mailbox table' },
    });
  });
});
