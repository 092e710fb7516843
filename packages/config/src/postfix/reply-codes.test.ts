import { describe, expect, it } from 'vitest';
import { compileConfig } from '../compile.ts';
import { ConfigError, formatConfigErrors, parseConfig } from '../load.ts';
import { importMainCf } from './import.ts';
import { FIXED_CODE_KEYS, REPLY_CODE_KEYS } from './reply-codes.ts';

const IFACES = [{ address: '127.0.0.1', prefix: 8, family: 'IPv4' as const }];
const imp = (text: string) => importMainCf(`myhostname = mx.example.org\n${text}`, '/etc/postfix/main.cf', { interfaces: IFACES, host: 'box', routingSection: true });
const load = (mainCf: string, yaml = '') =>
  parseConfig(`postfix:\n  main_cf: main.cf\nrecipients:\n  domains: [example.org]\n${yaml}`, {
    file: '/srv/moat/moat.yaml',
    env: {},
    readFile: (p: string) => {
      if (p === '/srv/moat/main.cf') return `myhostname = mx.example.org\n${mainCf}`;
      throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
    },
  });

describe('main.cf reply codes (smtpd_check.c)', () => {
  it('each *_reject_code of a check moat implements goes to policy.<same name>, and on into the engine spec', () => {
    const text = Object.keys(REPLY_CODE_KEYS)
      .map((k, i) => `${k} = ${450 + i}`)
      .join('\n');
    const r = imp(text);
    expect(r.errors).toEqual([]);
    Object.keys(REPLY_CODE_KEYS).forEach((k, i) => {
      expect(r.input.policy![k], k).toBe(450 + i);
      expect(r.used.find((u) => u.name === k)?.note, k).toMatch(new RegExp(`^policy\\.${k} = ${450 + i}: the reply code of `));
    });
    const spec = compileConfig(load(text)).spec;
    expect(spec).toMatchObject({
      unknownLocalRecipientRejectCode: 450,
      unknownVirtualAliasRejectCode: 451,
      unknownVirtualMailboxRejectCode: 452,
      unknownRelayRecipientRejectCode: 453,
      unknownAddressRejectCode: 454,
      unknownClientRejectCode: 455,
    });
  });
  it('unset: Postfix\'s defaults (postconf -d: 550 for unknown users, 450 for unknown domains and clients)', () => {
    expect(compileConfig(load('')).spec).toMatchObject({
      unknownLocalRecipientRejectCode: 550,
      unknownVirtualAliasRejectCode: 550,
      unknownVirtualMailboxRejectCode: 550,
      unknownRelayRecipientRejectCode: 550,
      unknownAddressRejectCode: 450,
      unknownAddressTempfailAction: 'defer_if_permit',
      unknownClientRejectCode: 450,
    });
  });
  it('$name expansion applies, and a value that is not a 4xx/5xx code is an error naming its line', () => {
    expect(imp('code = 551\nunknown_relay_recipient_reject_code = $code').input.policy!.unknown_relay_recipient_reject_code).toBe(551);
    for (const bad of ['250', 'five', '600', '']) {
      const r = imp(`unknown_virtual_alias_reject_code = ${bad}`);
      expect(r.errors, bad).toEqual([{ name: 'unknown_virtual_alias_reject_code', line: 2, expected: 'an SMTP reply code from 400 to 599', found: JSON.stringify(bad) }]);
    }
    try {
      load('', 'policy:\n  hostname: mx.example.org\n  unknown_local_recipient_reject_code: 250\n');
      throw new Error('no error');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      expect(formatConfigErrors(e)).toMatch(/unknown_local_recipient_reject_code: an SMTP reply code from 400 to 599/);
    }
  });
  it('unknown_address_tempfail_action, also through its default $reject_tempfail_action', () => {
    expect(imp('unknown_address_tempfail_action = defer').input.policy!.unknown_address_tempfail_action).toBe('defer');
    const viaDefault = imp('reject_tempfail_action = defer');
    expect(viaDefault.input.policy!.unknown_address_tempfail_action).toBe('defer');
    expect(viaDefault.used.map((u) => u.name)).toContain('reject_tempfail_action');
    // name_code compares case-insensitively (smtpd_check.c NAME_CODE_FLAG_NONE)
    expect(imp('unknown_address_tempfail_action = DEFER').input.policy!.unknown_address_tempfail_action).toBe('defer');
    expect(imp('reject_tempfail_action = Defer_If_Permit').input.policy!.unknown_address_tempfail_action).toBe('defer_if_permit');
    expect(imp('unknown_address_tempfail_action = reject').errors[0]).toMatchObject({ name: 'unknown_address_tempfail_action', expected: 'defer_if_permit or defer' });
    expect(compileConfig(load('reject_tempfail_action = defer\n')).spec.unknownAddressTempfailAction).toBe('defer');
  });
  it('codes of checks moat does not implement are listed as ignored, saying which check they govern', () => {
    const r = imp('unknown_hostname_reject_code = 550\nunverified_recipient_reject_code = 550');
    expect(r.ignored).toEqual([
      { name: 'unknown_hostname_reject_code', line: 2, class: 'other', note: expect.stringMatching(/reject_unknown_helo_hostname, which moat does not implement/) },
      { name: 'unverified_recipient_reject_code', line: 3, class: 'other', note: expect.stringMatching(/reject_unverified_recipient/) },
    ]);
  });
  it('codes moat answers with Postfix\'s default only: the default is read, another of its class warned about, another class refused', () => {
    for (const [name, { code }] of Object.entries(FIXED_CODE_KEYS)) {
      expect(imp(`${name} = ${code}`).used.find((u) => u.name === name)?.note, name).toMatch(/^read: moat answers .* with \d+, Postfix's default$/);
      const same = imp(`${name} = ${code + 1}`);
      expect([same.errors, same.warnings.filter((w) => w.name === name).length], name).toEqual([[], 1]);
      const other = imp(`${name} = ${code < 500 ? 550 : 450}`);
      expect(other.errors.map((e) => [e.name, e.line]), name).toEqual([[name, 2]]);
    }
  });
  it('the fixed codes are Postfix\'s defaults (postconf -d), as the restrictions answer them', () => {
    // the restriction modules' rejectCode comments name these keys; the differential test checks postconf -d
    expect(Object.fromEntries(Object.entries(FIXED_CODE_KEYS).map(([k, v]) => [k, v.code]))).toEqual({
      access_map_reject_code: 554,
      access_map_defer_code: 450,
      relay_domains_reject_code: 554,
      maps_rbl_reject_code: 554,
      invalid_hostname_reject_code: 501,
      non_fqdn_reject_code: 504,
      reject_code: 554,
      defer_code: 450,
    });
  });
});
