// `moat explain`'s resolution block, from a real config through runtime's resolver (no daemons).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@moat/config';
import { type BuiltRouting, buildRouting } from '@moat/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResolution } from './resolution.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-cli-resolution-'));
let routing: BuiltRouting;
beforeAll(() => {
  writeFileSync(join(dir, 'virtual'), 'team@alias.example  alice@example.org, bob@elsewhere.example\nloop1@alias.example loop2@alias.example\nloop2@alias.example loop1@alias.example\n');
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
  routing = buildRouting(config);
});
afterAll(() => {
  routing.close();
  rmSync(dir, { recursive: true, force: true });
});

const show = (address: string) => formatResolution(routing.explainAddress(address));

describe('moat explain: the address resolution beside the trace', () => {
  it('an alias: the expansion, then each recipient with its class and next hop', () => {
    expect(show('team@alias.example')).toBe(
      [
        'address resolution of <team@alias.example>: class virtual-alias',
        '  virtual_alias_maps: team@alias.example -> alice@example.org, bob@elsewhere.example (key team@alias.example)',
        '  recipient                class            extension  next hop',
        '  <alice@example.org>      virtual-mailbox  -          maildir /var/mail/moat (mailbox of example.org)',
        '  <bob@elsewhere.example>  remote           -          smtp by MX lookup of elsewhere.example',
      ].join('\n'),
    );
  });
  it('user+tag: the delimiter split, delivered for the user', () => {
    expect(show('Alice+News@Example.ORG')).toBe(
      [
        'address resolution of <Alice+News@Example.ORG>: class virtual-mailbox',
        '  recipient_delimiter: Alice+News@example.org is Alice@example.org, extension "News"',
        '  recipient                 class            extension  next hop',
        '  <Alice+News@example.org>  virtual-mailbox  News       maildir /var/mail/moat (mailbox of example.org)',
      ].join('\n'),
    );
  });
  it('a relay domain through transport_maps; an unknown user; a loop', () => {
    expect(show('x@backup.example')).toBe(
      [
        'address resolution of <x@backup.example>: class relay',
        '  transport_maps: x@backup.example -> smtp:[10.0.0.5]:2525 (key backup.example)',
        '  recipient           class  extension  next hop',
        '  <x@backup.example>  relay  -          smtp to [10.0.0.5]:2525',
      ].join('\n'),
    );
    expect(show('nobody@example.org')).toBe(
      ['address resolution of <nobody@example.org>: class virtual-mailbox', '  => refused: 5.1.1 User unknown in virtual mailbox table (unknown-user)'].join('\n'),
    );
    expect(show('loop1@alias.example')).toContain('  => refused: 5.4.6 ');
  });
  it('client input is printed escaped', () => {
    expect(formatResolution(routing.explainAddress('a\u001b[31m@elsewhere.example'))).toContain('<a\\x1b[31m@elsewhere.example>');
  });
});
