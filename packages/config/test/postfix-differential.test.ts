// Differential test of the main.cf reader: each corpus file is read by moat and by Debian's postconf,
// and every compared parameter's raw and expanded value must agree. Skipped (with a note) without postconf.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Postfix ${name} expansions are the subject here, not JS templates
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createParams } from '../src/postfix/params.ts';
import { defaultMydomain, defaultMyhostname, HOST_DEPENDENT, POSTFIX_DEFAULTS } from '../src/postfix/defaults.ts';
import { parseMainCf } from '../src/postfix/main-cf.ts';
import { defaultNetworks } from '../src/postfix/mynetworks.ts';
import { importMainCf } from '../src/postfix/import.ts';
import { POSTFIX_PARAMETER_NAMES } from '../src/postfix/parameter-names.ts';
import { FIXED_CODE_KEYS, REPLY_CODE_KEYS } from '../src/postfix/reply-codes.ts';
import { policySection } from '../src/sections/policy.ts';
import { cidrContains, formatRestriction, parseCidr, parseIp, parseRestrictions } from '@moat/policy';

const POSTCONF = ['/usr/sbin/postconf', '/usr/bin/postconf'].find((p) => spawnSync(p, ['-d', 'mail_version'], { encoding: 'utf8' }).status === 0);
if (POSTCONF === undefined) console.warn('postfix-differential: postconf not found (install Debian\'s postfix); the differential tests are skipped');

/** postconf's own output normalises whitespace (postconf_print.c); compare the same way. */
const norm = (s: string) => s.replace(/[ \t\n\v\f\r]+/g, ' ').trim();

interface Postconf {
  ok: boolean;
  values: Map<string, string>;
  stderr: string;
}

function postconf(dir: string, flags: string[], keys: string[]): Postconf {
  const r = spawnSync(POSTCONF!, ['-c', dir, ...flags, ...keys], { encoding: 'utf8' });
  const values = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) =(?: (.*))?$/.exec(line);
    if (m) values.set(m[1]!, m[2] ?? '');
  }
  return { ok: r.status === 0, values, stderr: r.stderr };
}

/** Parameters compared in every case (besides those the case's file sets). */
const ALWAYS = ['myhostname', 'mydomain', 'myorigin', 'mydestination', 'relay_domains', 'smtpd_relay_restrictions', 'mynetworks_style', 'smtpd_banner', 'local_transport', 'virtual_alias_domains', 'local_recipient_maps', 'smtpd_timeout'];

/** Known parameters used as carriers for expressions (postconf prints only parameters it knows). */
const CORPUS: Array<[string, string]> = [
  ['plain', 'myhostname = mx.example.org\nsmtpd_banner = $myhostname ESMTP ready\n'],
  ['braces and parens', 'myhostname = mx.example.org\nsmtpd_banner = ${myhostname}|$(myhostname)|$mydomain.\n'],
  ['$$ is a dollar', 'myhostname = mx.example.org\nsmtpd_banner = $$myhostname costs $$5\n'],
  ['later definitions win and lazy expansion', 'smtpd_banner = $myhostname\nmyhostname = first.example.org\nmyhostname = second.example.org\n'],
  ['continuation lines and comment lines inside', 'myhostname = mx.example.org\nmydestination = $myhostname,\n  localhost.$mydomain,\n# a comment between\n  # an indented comment\n\n   localhost\n'],
  ['blank line does not end a logical line', 'myhostname = mx.example.org\nrelay_domains = a.example\n\n b.example\n'],
  ['hash after a value is not a comment', 'myhostname = mx.example.org\nsmtpd_banner = hi # not a comment\nrelayhost = [smtp.example.net]:587 # nor this\n'],
  ['conditionals ? and :', 'myhostname = mx.example.org\nrelayhost =\nsmtpd_banner = [${relayhost?set}][${relayhost:unset}][${myhostname?set}][${myhostname:unset}]\n'],
  ['ternary {a}:{b}', 'myhostname = mx.example.org\nsmtpd_banner = ${myhostname?{ yes }:{ no }} ${relayhost?{yes}:{no}}\n'],
  ['old-style ? keeps colons', 'myhostname = mx.example.org\nsmtpd_banner = ${myhostname?a:b}\n'],
  ['undefined parameter is empty', 'myhostname = mx.example.org\nsmtpd_banner = [$no_such_parameter_here]\n'],
  ['user-defined parameter', 'myhostname = mx.example.org\nmy_own = custom value\nsmtpd_banner = <$my_own>\n'],
  ['relational == and numbers', 'myhostname = mx.example.org\nsmtpd_banner = ${{1} < {10} ? {num} : {str}} ${{a} == {a}?{eq}:{ne}} ${{b} != {b}?{ne}:{eq}}\n'],
  ['relational value alone', 'myhostname = mx.example.org\nsmtpd_banner = [${{x} == {x}}][${{x} == {y}}]\n'],
  ['compatibility level 3.6', 'compatibility_level = 3.6\nmyhostname = mx.example.org\n'],
  ['compatibility level 2', 'compatibility_level = 2\nmyhostname = mx.example.org\n'],
  ['compatibility level 1', 'compatibility_level = 1\nmyhostname = mx.example.org\n'],
  ['compatibility level 3.10 > 3.9', 'compatibility_level = 3.10\nmyhostname = mx.example.org\nsmtpd_banner = ${{$compatibility_level} <level {3.9} ? {older} : {newer}}\n'],
  ['default compatibility level', 'myhostname = mx.example.org\n'],
  ['no myhostname (host default)', 'smtpd_banner = $myhostname\n'],
  ['mydomain sets unqualified host default', 'mydomain = example.com\n'],
  ['myhostname with one dot', 'myhostname = example.org\n'],
  ['nested expansions', 'myhostname = mx.example.org\nvirtual_alias_maps = hash:$config_directory/virtual\nalias_maps = hash:/etc/aliases\nlocal_recipient_maps = $alias_maps $virtual_alias_maps\n'],
  ['data_directory in paths', 'myhostname = mx.example.org\nsmtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache\n'],
  ['CRLF line ends', 'myhostname = mx.example.org\r\nrelay_domains = a.example,\r\n  b.example\r\n'],
  ['tabs and spaces around =', 'myhostname\t=\tmx.example.org  \nrelay_domains=x.example\n'],
  ['empty value', 'myhostname = mx.example.org\nrelayhost =\nmydestination =\n'],
  ['leading whitespace line is ignored', ' smtpd_banner = ignored\nmyhostname = mx.example.org\n'],
  ['whitespace in ${ name }', 'myhostname = mx.example.org\nsmtpd_banner = [${ myhostname }][${myhostname ? x}]\n'],
  ['stress default', 'myhostname = mx.example.org\nstress = yes\n'],
  ['nested braces in ?', 'myhostname = mx.example.org\nsmtpd_banner = ${myhostname?{${relayhost:{none}}}}\n'],
  // errors: Postfix refuses; so must moat
  ['truncated reference', 'myhostname = mx.example.org\nsmtpd_banner = ${myhostname\n'],
  ['empty macro name', 'myhostname = mx.example.org\nsmtpd_banner = cost $ 5\n'],
  ['bad name', 'myhostname = mx.example.org\nsmtpd_banner = ${my-host}\n'],
  ['recursion loop', 'myhostname = mx.example.org\nsmtpd_banner = $relayhost\nrelayhost = $smtpd_banner\n'],
  ['garbage after ternary', 'myhostname = mx.example.org\nsmtpd_banner = ${myhostname:{a}:{b}}\n'],
  ['bad operator', 'myhostname = mx.example.org\nsmtpd_banner = ${{a} =~ {b}}\n'],
  ['line without =', 'myhostname = mx.example.org\nthis line has no equals sign\n'],
];

/** Names the case's file defines that postconf knows (it prints nothing for unknown ones). */
function namesOf(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/^([A-Za-z0-9_]+)[ \t]*=/gm)) if (m[1] !== 'my_own') out.add(m[1]!);
  return [...out];
}

/**
 * Postfix's interface-derived mynetworks lists every configured interface, up or down; moat reads them through
 * libuv, which lists running interfaces only (a stopped dockerd's bridge stays, down). Compared on those, each
 * network once: with containers up, every veth adds the same fe80::/64, which Postfix repeats per interface
 * (a repeat matches nothing more). Sorted: libuv and Postfix list the interfaces in different orders, and the
 * order of mynetworks decides nothing (any match permits).
 */
function onRunningInterfaces(list: string | undefined): string {
  const addrs = Object.values(networkInterfaces())
    .flat()
    .flatMap((a) => {
      const ip = a ? parseIp(a.address) : undefined;
      return ip ? [ip] : [];
    });
  return (list ?? '')
    .split(/\s+/)
    .filter((n) => {
      const c = n === '' ? undefined : parseCidr(n.replace(/^\[([^\]]+)\]/, '$1'));
      return c !== undefined && addrs.some((a) => cidrContains(c, a));
    })
    .filter((n, i, all) => all.indexOf(n) === i)
    .sort()
    .join(' ');
}

/**
 * Both sides of an interface-derived comparison, taken again while they differ (up to 5 times): containers
 * that start or stop between moat's read and postconf's change the interfaces, not the rule under test.
 */
function settled(read: () => [string, string]): [string, string] {
  let pair = read();
  for (let i = 0; i < 4 && pair[0] !== pair[1]; i++) pair = read();
  return pair;
}

describe.skipIf(POSTCONF === undefined)('main.cf reader vs postconf (Debian Postfix)', { timeout: 60_000 }, () => {
  for (const [name, text] of CORPUS) {
    it(name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
      try {
        writeFileSync(join(dir, 'main.cf'), text);
        writeFileSync(join(dir, 'master.cf'), '');
        const keys = [...new Set([...namesOf(text), ...ALWAYS])];
        const expanded = postconf(dir, ['-x'], keys);
        const rawOut = postconf(dir, [], keys);
        const cf = parseMainCf(text, 'main.cf');
        const params = createParams(cf, { defaults: { config_directory: dir } });
        const fatal = cf.problems.some((p) => p.severity === 'fatal');
        if (!expanded.ok) {
          // postconf refused the file or an expansion: moat must refuse too
          const failed = fatal || keys.some((k) => {
            try {
              params.get(k);
              return false;
            } catch {
              return true;
            }
          });
          expect(failed, `postconf failed (${expanded.stderr.trim()}) but moat did not`).toBe(true);
          return;
        }
        expect(fatal).toBe(false);
        for (const k of keys) {
          if (!expanded.values.has(k)) continue;
          expect(norm(params.get(k) ?? ''), `expanded ${k}`).toBe(expanded.values.get(k));
          expect(norm(params.raw(k) ?? ''), `raw ${k}`).toBe(rawOut.values.get(k));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  // Debian's own shipped main.cf files, where installed: real-world comments, continuations and values
  for (const path of ['/usr/share/postfix/main.cf.debian', '/usr/share/postfix/main.cf.dist', '/usr/share/postfix/main.cf.tls', '/etc/postfix/main.cf.proto']) {
    it.skipIf(!existsSync(path))(`Debian's ${path}`, () => {
      const text = readFileSync(path, 'utf8');
      const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
      try {
        writeFileSync(join(dir, 'main.cf'), text);
        writeFileSync(join(dir, 'master.cf'), '');
        const keys = [...new Set([...namesOf(text), ...ALWAYS])];
        const expanded = postconf(dir, ['-x'], keys);
        expect(expanded.ok).toBe(true);
        const params = createParams(parseMainCf(text), { defaults: { config_directory: dir } });
        // $process_name and $process_id exist only inside a running Postfix program (postconf fills in its own)
        const runtime = (k: string) => /\$\{?\(?process_(name|id)\b/.test(params.raw(k) ?? '');
        for (const k of keys) if (expanded.values.has(k) && !runtime(k)) expect(norm(params.get(k) ?? ''), k).toBe(expanded.values.get(k));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('the seed main.cf fixture', () => {
    const text = readFileSync(new URL('./fixtures/seed-main.cf', import.meta.url), 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
    try {
      writeFileSync(join(dir, 'main.cf'), text);
      writeFileSync(join(dir, 'master.cf'), '');
      const keys = [...new Set([...namesOf(text), ...ALWAYS, 'smtpd_recipient_restrictions', 'virtual_alias_maps', 'mynetworks'])];
      const expanded = postconf(dir, ['-x'], keys);
      expect(expanded.ok).toBe(true);
      const params = createParams(parseMainCf(text), { defaults: { config_directory: dir } });
      for (const k of keys) if (expanded.values.has(k)) expect(norm(params.get(k) ?? ''), k).toBe(expanded.values.get(k));
      // the inline "# Don't copy..." is part of the value, as postconf shows
      expect(params.get('smtpd_milters')).toContain('# Don');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [style, protocols] of [['host', 'all'], ['subnet', 'all'], ['class', 'all'], ['subnet', 'ipv4'], ['host', 'ipv6']] as const) {
    it(`mynetworks' default from this host's interfaces: mynetworks_style = ${style}, inet_protocols = ${protocols}`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
      try {
        writeFileSync(join(dir, 'main.cf'), `mynetworks_style = ${style}\ninet_protocols = ${protocols}\n`);
        const [ours, theirs] = settled(() => {
          const r = postconf(dir, ['-x'], ['mynetworks']);
          expect(r.ok).toBe(true);
          const mine = defaultNetworks(style, protocols);
          return [onRunningInterfaces(typeof mine === 'string' ? mine : mine.networks.join(' ')), onRunningInterfaces(r.values.get('mynetworks'))];
        });
        expect(ours).toBe(theirs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('the import hands on the values Postfix uses: the seed at the compatibility level moat assumes (3.6)', () => {
    const text = readFileSync(new URL('./fixtures/seed-main.cf', import.meta.url), 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
    try {
      writeFileSync(join(dir, 'main.cf'), `${text}compatibility_level = 3.6\n`);
      const keys = ['smtpd_relay_restrictions', 'smtpd_recipient_restrictions', 'mydestination', 'virtual_alias_domains', 'relay_domains', 'message_size_limit', 'smtpd_banner', 'myhostname'];
      const pc = postconf(dir, ['-x'], keys);
      expect(pc.ok).toBe(true);
      const r = importMainCf(text, join(dir, 'main.cf'), { routingSection: true });
      expect(r.errors).toEqual([]);
      const list = (k: string) => parseRestrictions(pc.values.get(k) ?? '').map(formatRestriction);
      expect(r.input.policy!.relay_restrictions).toEqual(list('smtpd_relay_restrictions'));
      expect(r.input.policy!.recipient_restrictions).toEqual(list('smtpd_recipient_restrictions'));
      for (const k of ['mydestination', 'virtual_alias_domains', 'relay_domains']) expect(r.input.routing![k], k).toEqual((pc.values.get(k) ?? '').split(/[\s,]+/).filter(Boolean));
      expect(r.input.mx!.size_limit).toBe(Number(pc.values.get('message_size_limit')));
      expect(`${pc.values.get('myhostname')} ESMTP ${r.input.mx!.banner}`).toBe(pc.values.get('smtpd_banner'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the parameter name list is `postconf -d`\'s', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
    try {
      writeFileSync(join(dir, 'main.cf'), '');
      const d = postconf(dir, ['-d'], []);
      expect(d.ok).toBe(true);
      expect([...POSTFIX_PARAMETER_NAMES].sort()).toEqual([...d.values.keys()].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the policy section\'s reply-code defaults are `postconf -d`\'s (moat.yaml without main.cf behaves as Postfix unset)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
    try {
      writeFileSync(join(dir, 'main.cf'), '');
      const keys = [...Object.keys(REPLY_CODE_KEYS), 'unknown_address_tempfail_action'];
      const d = postconf(dir, ['-dx'], keys);
      expect(d.ok).toBe(true);
      const policy = policySection.parse({ hostname: 'mx.example.org' }) as Record<string, unknown>;
      for (const k of keys) expect(String(policy[k]), k).toBe(d.values.get(k));
      const fixed = postconf(dir, ['-d'], Object.keys(FIXED_CODE_KEYS));
      for (const [k, v] of Object.entries(FIXED_CODE_KEYS)) expect(String(v.code), k).toBe(fixed.values.get(k));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the defaults table is `postconf -d` (every key moat reads)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-maincf-'));
    try {
      writeFileSync(join(dir, 'main.cf'), '');
      const keys = Object.keys(POSTFIX_DEFAULTS);
      const d = postconf(dir, ['-d'], keys);
      expect(d.ok).toBe(true);
      for (const k of keys) expect(POSTFIX_DEFAULTS[k], k).toBe(d.values.get(k));
      // the host-dependent ones, computed as Postfix computes them on this machine
      const h = postconf(dir, ['-d'], [...HOST_DEPENDENT, 'mynetworks_style']);
      expect(defaultMyhostname()).toBe(h.values.get('myhostname'));
      expect(defaultMydomain(defaultMyhostname())).toBe(h.values.get('mydomain'));
      const style = createParams(parseMainCf('')).get('mynetworks_style')!;
      const [ours, theirs] = settled(() => {
        const nets = defaultNetworks(style, POSTFIX_DEFAULTS.inet_protocols!);
        const again = postconf(dir, ['-d'], ['mynetworks']);
        return [onRunningInterfaces(typeof nets === 'string' ? nets : nets.networks.join(' ')), onRunningInterfaces(again.values.get('mynetworks'))];
      });
      expect(ours).toBe(theirs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
