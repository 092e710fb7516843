import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRestriction, parseRestrictions } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { compileConfig } from './compile.ts';
import { DEFAULT_RECIPIENT_RESTRICTIONS_TEXT } from './default-policy.ts';
import { ENV_OVERRIDES } from './env.ts';
import { ConfigError, type ConfigIssue, formatConfigErrors, loadConfig, parseConfig } from './load.ts';
import { configSchema } from './schema.ts';

const EXAMPLE = fileURLToPath(new URL('../../../moat.example.yaml', import.meta.url));
const MINIMAL = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n';

function issuesOf(text: string, env: Record<string, string> = {}): ConfigIssue[] {
  try {
    parseConfig(text, { file: 'moat.yaml', env });
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  throw new Error('config unexpectedly valid');
}

describe('loadConfig', () => {
  it('loads the checked-in moat.example.yaml', () => {
    const c = loadConfig(EXAMPLE, { env: {} });
    expect(c.policy.hostname).toBe('mx1.example.org');
    expect(c.recipients.domains).toEqual(['example.org', 'example.net']);
    expect(c.greylist.delay).toBe(60_000);
    expect(c.dns.timeout).toBe(1500);
    expect(c.queue.max_lifetime).toBe(7 * 86_400_000);
    const compiled = compileConfig(c);
    expect(compiled.spec.recipientRestrictions).toHaveLength(30);
    expect(compiled.accessTables['cidr:/etc/moat/rbl_override']?.entries).toHaveLength(2);
  });

  it('moat.example.yaml shows every section of the schema', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const sections = Object.keys((configSchema as unknown as { _zod: { def: { in: { shape: Record<string, unknown> } } } })._zod.def.in.shape);
    expect(sections.length).toBeGreaterThan(8);
    for (const s of sections) expect(text, s).toMatch(new RegExp(`^${s}:`, 'm'));
  });

  it('an almost empty file gets every default, and the shipped seed policy', () => {
    const c = parseConfig(MINIMAL, { env: {} });
    expect(c.policy.delay_reject).toBe(true);
    expect(c.policy.strict_rfc821_envelopes).toBe(true);
    expect(c.policy.relay_restrictions.map(formatRestriction)).toEqual(['permit_mynetworks', 'permit_sasl_authenticated', 'reject_unauth_destination']);
    expect(c.policy.recipient_restrictions).toEqual(parseRestrictions(DEFAULT_RECIPIENT_RESTRICTIONS_TEXT.replace('@CLIENT_ACCESS@', '')));
    expect(c.mx.hostname).toBe('mx.example.org');
    expect(c.mx.size_limit).toBe(81_920_000);
    expect(c.dns.resolver).toBe('127.0.0.1:53');
    expect(c.dns.budget).toBe(3000);
    expect(c.greylist).toMatchObject({ delay: 60_000, confirmed_ttl: 35 * 86_400_000, auto_whitelist_count: 5, network_prefix: { v4: 24, v6: 64 }, timeout: 200 });
    expect(c.spamd.on_failure).toBe('accept');
    expect(c.queue.delay_warning).toBe(3_600_000);
  });

  it('is deeply frozen', () => {
    const c = parseConfig(MINIMAL, { env: {} });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.greylist.whitelist.clients)).toBe(true);
    expect(Object.isFrozen(c.policy.recipient_restrictions[0])).toBe(true);
    expect(() => {
      (c.greylist as { delay: number }).delay = 1;
    }).toThrow(TypeError);
  });

  it('takes its path from MOAT_CONFIG, and names a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-config-'));
    const file = join(dir, 'moat.yaml');
    writeFileSync(file, MINIMAL);
    expect(loadConfig(undefined, { env: { MOAT_CONFIG: file } }).source.file).toBe(file);
    try {
      loadConfig(join(dir, 'nope.yaml'), { env: {} });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect(formatConfigErrors(e as ConfigError)).toBe(`${join(dir, 'nope.yaml')}: (document): a readable YAML file; found no such file`);
    }
  });

  it('applies environment overrides for secrets and addresses', () => {
    const c = parseConfig('recipients:\n  domains: [example.org]\n', {
      env: {
        MOAT_HOSTNAME: 'mx9.example.org',
        MOAT_REDIS_URL: 'redis://:secret@10.0.0.5:6379/2',
        MOAT_RESOLVER: '10.0.0.53:53',
        MOAT_SMTP_LISTEN: '0.0.0.0:2525, [::]:2525',
        MOAT_SPAMD_PORT: '1783',
      },
    });
    expect(c.policy.hostname).toBe('mx9.example.org');
    expect(c.mx.hostname).toBe('mx9.example.org');
    expect(c.greylist.redis.url).toBe('redis://:secret@10.0.0.5:6379/2');
    expect(c.dns.resolver).toBe('10.0.0.53:53');
    expect(c.mx.listen.smtp).toEqual(['0.0.0.0:2525', '[::]:2525']);
    expect(c.spamd.port).toBe(1783);
    expect(c.source.env['greylist.redis.url']).toBe('MOAT_REDIS_URL');
    expect(ENV_OVERRIDES.every((o) => o.env.startsWith('MOAT_'))).toBe(true);
  });
});

describe('config errors name the file, the path (line:col), what was expected and what was found', () => {
  it('wrong type, bad value, unknown key, enum', () => {
    const issues = issuesOf(`policy:
  hostname: mx.example.org
  mynetworks: [10.0.0.1/8]
  bogus: 1
recipients:
  domains: [example.org]
greylist:
  delay: soon
spamd:
  on_failure: maybe
  port: "783"
`);
    const text = formatConfigErrors(issues);
    expect(text).toContain('moat.yaml:3:16: policy.mynetworks[0]: expected a network');
    expect(text).toContain('found "10.0.0.1/8"');
    expect(text).toContain('moat.yaml:4:3: policy.bogus: a known key (hostname, my_addresses, mynetworks,');
    expect(text).toContain('found unknown key "bogus"');
    expect(text).toContain('moat.yaml:8:10: greylist.delay: expected a duration such as 1500ms, 60s');
    expect(text).toContain('found "soon"');
    expect(text).toContain('moat.yaml:10:15: spamd.on_failure: expected one of "accept", "tempfail"; found "maybe"');
    expect(text).toContain('moat.yaml:11:9: spamd.port: expected a number; found "783"');
    expect(issues).toHaveLength(5);
  });

  it('a host:port with a port over 65535 is a schema error at its line, not a throw from views.redis at startup', () => {
    const text = formatConfigErrors(issuesOf(`${MINIMAL}greylist:\n  redis:\n    sentinels: ["s1:26379", "s2:70000"]\n`));
    expect(text).toMatch(/^moat\.yaml:7:\d+: greylist\.redis\.sentinels\[1\]: expected a port from 1 to 65535/);
    expect(formatConfigErrors(issuesOf(`${MINIMAL}dns:\n  resolver: 127.0.0.1:0\n`))).toContain('dns.resolver: bad resolver port in "127.0.0.1:0"'); // @moat/dns parseResolver's words (the one reader)
  });

  it('DMARC enforcement defaults, and a quarantine band that must lie below the reject score', () => {
    const c = parseConfig(MINIMAL, { env: {} });
    expect(c.mx.dmarc).toEqual({ on_reject: 'enforce', on_quarantine: 'quarantine', trusted_arc_sealers: [] });
    expect(c.spamd.quarantine_threshold).toBeUndefined();
    expect(parseConfig(`${MINIMAL}spamd: { quarantine_threshold: 6 }\n`, { env: {} }).spamd.quarantine_threshold).toBe(6);
    const text = formatConfigErrors(issuesOf(`${MINIMAL}spamd:\n  reject_threshold: 8\n  quarantine_threshold: 8\n`));
    expect(text).toContain('spamd.quarantine_threshold: expected a score below spamd.reject_threshold (8), got 8');
    expect(formatConfigErrors(issuesOf(`${MINIMAL}mx: { dmarc: { on_quarantine: enforce } }\n`))).toContain('mx.dmarc.on_quarantine: expected one of "quarantine", "tag"');
  });

  it('required values: hostname, domains', () => {
    expect(formatConfigErrors(issuesOf(''))).toContain('moat.yaml: policy.hostname: expected text (required); found nothing');
    // the domains are checked once the sections parse (they may come from routing:, e.g. a main.cf's mydestination)
    expect(formatConfigErrors(issuesOf('policy: { hostname: mx.example.org }\n'))).toContain('moat.yaml: recipients.domains: expected at least one domain');
  });

  it('a list that is neither text nor a list, and an item of no known form', () => {
    expect(formatConfigErrors(issuesOf(`policy:\n  hostname: mx.example.org\n  recipient_restrictions: 5\nrecipients: { domains: [example.org] }\n`))).toBe(
      'moat.yaml:3:27: policy.recipient_restrictions: expected Postfix restriction text (as in main.cf) or a list of restrictions; found number 5',
    );
    expect(formatConfigErrors(issuesOf(`policy:\n  hostname: mx.example.org\n  recipient_restrictions:\n    - permit\n    - { a: 1 }\nrecipients: { domains: [example.org] }\n`))).toBe(
      'moat.yaml:5:7: policy.recipient_restrictions[1]: expected a restriction: "name arg", { name: arg } or { type, zone, filter, map, service } (argument values are text); found a mapping with keys a',
    );
  });

  it('mynetworks may be written as Postfix writes it', () => {
    const c = parseConfig(MINIMAL.replace('policy:\n', 'policy:\n  mynetworks: 127.0.0.0/8 [::1]/128, 192.0.2.0/24\n'), { env: {} });
    expect(c.policy.mynetworks).toEqual(['127.0.0.0/8', '[::1]/128', '192.0.2.0/24']);
  });

  it('a section of the wrong shape', () => {
    expect(formatConfigErrors(issuesOf(`${MINIMAL}greylist: [1, 2]\n`))).toBe('moat.yaml:5:11: greylist: expected a mapping; found a list of 2');
    expect(formatConfigErrors(issuesOf('- a\n- b\n'))).toBe('moat.yaml:1:1: (document): a mapping of sections (policy:, recipients:, ...); found a list of 2');
  });

  it('YAML syntax errors carry their position', () => {
    const [issue] = issuesOf('policy:\n  hostname: [mx\n');
    expect(issue).toMatchObject({ file: 'moat.yaml', expected: 'valid YAML' });
    expect(issue?.line).toBeGreaterThan(0);
  });

  it('a bad value from the environment names the variable', () => {
    expect(formatConfigErrors(issuesOf('recipients:\n  domains: [example.org]\n', { MOAT_HOSTNAME: 'not a name' }))).toBe(
      'environment variable MOAT_HOSTNAME: policy.hostname: expected a fully-qualified host name such as mx1.example.org; found "not a name"',
    );
  });

  it('Postfix text: an unknown restriction is named at its own line in a block scalar', () => {
    const [issue, ...rest] = issuesOf(`${MINIMAL}policy:
  hostname: mx.example.org
  recipient_restrictions: |
    permit_mynetworks,
    reject_rbl_clinet zen.spamhaus.org,
    permit
`.replace(/^policy:\n {2}hostname: mx.example.org\n/, ''));
    expect(rest).toEqual([]);
    expect(formatConfigErrors([issue!])).toMatch(/^moat\.yaml:7:5: policy\.recipient_restrictions: reject_rbl_clinet: unknown restriction \(known: permit, .*\); found "reject_rbl_clinet"$/);
  });

  it('Postfix text: a malformed return-code pattern names the item', () => {
    const text = formatConfigErrors(
      issuesOf(`policy:
  hostname: mx.example.org
  recipient_restrictions: permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11
recipients: { domains: [example.org] }
`),
    );
    expect(text).toContain('moat.yaml:3:27: policy.recipient_restrictions: reject_rbl_client zen.spamhaus.org=127.0.0.[2..11: malformed return-code filter');
    expect(text).toContain('(line 1 of the list)');
  });

  it('structured YAML: the failing element is the path', () => {
    const text = formatConfigErrors(
      issuesOf(`policy:
  hostname: mx.example.org
  recipient_restrictions:
    - permit_mynetworks
    - reject_rbl_client: zen.spamhaus.org=127.0.0.[2;x]
recipients: { domains: [example.org] }
`),
    );
    expect(text).toMatch(/^moat\.yaml:5:7: policy\.recipient_restrictions\[1\]: reject_rbl_client zen\.spamhaus\.org=127\.0\.0\.\[2;x\]: malformed return-code filter: "x" is not a number/);
    expect(formatConfigErrors(issuesOf(`policy:\n  hostname: mx.example.org\n  recipient_restrictions: [check_client_access]\nrecipients: { domains: [example.org] }\n`))).toContain(
      'policy.recipient_restrictions[0]: check_client_access: missing argument',
    );
  });

  it('access maps of a table type moat does not read are refused, naming the types it reads', () => {
    expect(formatConfigErrors(issuesOf(`${MINIMAL}  `.replace('policy:\n', 'policy:\n  recipient_restrictions: check_client_access mysql:/etc/postfix/access.cf\n')))).toContain(
      'policy.recipient_restrictions: item 1 (mysql:/etc/postfix/access.cf): mysql: a Postfix table type moat does not read (moat reads texthash, hash, btree, lmdb, cidr, regexp, pcre, inline, static)',
    );
    expect(formatConfigErrors(issuesOf(`${MINIMAL}  `.replace('policy:\n', 'policy:\n  client_access: ldap:/etc/postfix/ldap.cf\n')))).toContain('policy.client_access: ldap: a Postfix table type moat does not read');
  });
});

describe('compileConfig', () => {
  it('reads cidr maps and users files relative to the config file, and names their errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-compile-'));
    writeFileSync(join(dir, 'override.cidr'), '192.0.2.0/24 OK\n');
    writeFileSync(join(dir, 'users.txt'), '# users\nalice@example.org\n\nbob@example.org # the admin\n');
    writeFileSync(
      join(dir, 'moat.yaml'),
      `${MINIMAL}  users_file: users.txt\n`.replace('policy:\n', 'policy:\n  client_access: cidr:override.cidr\n'),
    );
    const c = compileConfig(loadConfig(join(dir, 'moat.yaml'), { env: {} }));
    expect(c.spec.recipientRestrictions.map(formatRestriction).slice(5, 8)).toEqual(['permit_mynetworks', 'check_client_access cidr:override.cidr', 'permit_sasl_authenticated']);
    expect(c.tables.get('cidr:override.cidr')?.lookup('192.0.2.9')).toBe('OK');
    expect(c.accessMaps.lookupSync?.('cidr:override.cidr', '192.0.2.9')).toBe('OK');
    expect(c.recipientOptions.users).toEqual(['alice@example.org', 'bob@example.org']);
    expect(Object.isFrozen(c.spec)).toBe(true);

    writeFileSync(join(dir, 'override.cidr'), '192.0.2.0/24 OK\n192.0.2.1/24 OK\n');
    try {
      compileConfig(loadConfig(join(dir, 'moat.yaml'), { env: {} }));
      expect.unreachable();
    } catch (e) {
      expect(formatConfigErrors(e as ConfigError)).toBe(
        `${join(dir, 'override.cidr')}:2:1: policy.recipient_restrictions: a valid cidr table for check_client_access cidr:override.cidr; found ${join(dir, 'override.cidr')}:2: non-null host address bits (the address has bits set beyond the prefix length)`,
      );
    }
    // a right-hand side moat cannot act on is refused when the table is read
    writeFileSync(join(dir, 'override.cidr'), '192.0.2.0/24 OK\n198.51.100.0/24 HOLD\n');
    expect(() => compileConfig(loadConfig(join(dir, 'moat.yaml'), { env: {} }))).toThrow(/override\.cidr:2:1: .*unsupported access action/);
    // every table type is read from files now, relative to the config file
    writeFileSync(join(dir, 'access'), '192.0.2.7 REJECT listed\nexample.com OK\n');
    writeFileSync(join(dir, 'moat.yaml'), `${MINIMAL}`.replace('policy:\n', 'policy:\n  client_access: texthash:access\n'));
    const t = compileConfig(loadConfig(join(dir, 'moat.yaml'), { env: {} }));
    expect(t.accessMaps.lookupSync?.('texthash:access', '192.0.2.7')).toBe('REJECT listed');
    expect(t.accessMaps.lookupSync?.('texthash:access', 'EXAMPLE.COM')).toBe('OK');
    expect(() => t.accessMaps.lookupSync?.('texthash:other', 'x')).toThrow(/not loaded/);
    writeFileSync(join(dir, 'moat.yaml'), `${MINIMAL}`.replace('policy:\n', 'policy:\n  client_access: hash:missing\n'));
    expect(() => compileConfig(loadConfig(join(dir, 'moat.yaml'), { env: {} }))).toThrow(/missing: cannot read \(ENOENT\) \(moat reads the source text file that postmap compiles, not missing\.db\)/);
    writeFileSync(join(dir, 'moat.yaml'), `${MINIMAL}  users_file: users.txt\n`.replace('policy:\n', 'policy:\n  client_access: cidr:override.cidr\n'));
    writeFileSync(join(dir, 'users.txt'), 'alice\n');
    writeFileSync(join(dir, 'override.cidr'), '192.0.2.0/24 OK\n');
    expect(() => compileConfig(loadConfig(join(dir, 'moat.yaml'), { env: {} }))).toThrow(/users\.txt:1:1: recipients\.users_file: an address user@domain; found "alice"/);
  });
});
