import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigErrors, parseConfig } from '../load.ts';

const MINIMAL = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n';
const SENTINELS = `${MINIMAL}greylist:\n  redis:\n    sentinels: [10.0.0.1:26379, 10.0.0.2:26379]\n    name: mail\n`;

/** The formatted errors of a config that must not load. */
function errorsOf(text: string, env: Record<string, string> = {}): string {
  try {
    parseConfig(text, { file: 'moat.yaml', env });
  } catch (e) {
    if (e instanceof ConfigError) return formatConfigErrors(e);
    throw e;
  }
  throw new Error('config unexpectedly valid');
}

describe('greylist.redis logins', () => {
  it('none by default, in either mode', () => {
    for (const text of [MINIMAL, SENTINELS]) {
      const r = parseConfig(text, { env: {} }).greylist.redis;
      expect([r.password, r.username, r.sentinel_password, r.sentinel_username]).toEqual([undefined, undefined, undefined, undefined]);
    }
  });

  it('Sentinel mode: the master and the Sentinels each have their own, from the file', () => {
    const r = parseConfig(`${SENTINELS}    username: moat-mx\n    password: "p1 x"\n    sentinel_username: moat-sentinel\n    sentinel_password: p2\n`, { env: {} }).greylist.redis;
    expect(r).toMatchObject({ username: 'moat-mx', password: 'p1 x', sentinel_username: 'moat-sentinel', sentinel_password: 'p2' });
  });

  it('Sentinel mode from the environment alone (MOAT_REDIS_*), and source.env names the variables', () => {
    const c = parseConfig(MINIMAL, {
      env: {
        MOAT_REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379',
        MOAT_REDIS_SENTINEL_NAME: 'mail',
        MOAT_REDIS_USERNAME: 'moat-mx',
        MOAT_REDIS_PASSWORD: 'p1',
        MOAT_REDIS_SENTINEL_USERNAME: 'moat-sentinel',
        MOAT_REDIS_SENTINEL_PASSWORD: 'p2',
      },
    });
    expect(c.greylist.redis).toMatchObject({ sentinels: ['10.0.0.1:26379', '10.0.0.2:26379'], name: 'mail', username: 'moat-mx', password: 'p1', sentinel_username: 'moat-sentinel', sentinel_password: 'p2' });
    expect(c.source.env).toMatchObject({ 'greylist.redis.password': 'MOAT_REDIS_PASSWORD', 'greylist.redis.sentinel_password': 'MOAT_REDIS_SENTINEL_PASSWORD' });
    // the environment wins over the file, as for every override
    expect(parseConfig(`${SENTINELS}    password: from-file\n`, { env: { MOAT_REDIS_PASSWORD: 'from-env' } }).greylist.redis.password).toBe('from-env');
  });

  it('secrets from files (Docker and Swarm secrets): MOAT_REDIS_PASSWORD_FILE and friends, final line break dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-secret-'));
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const c = parseConfig(SENTINELS, {
      env: { MOAT_REDIS_PASSWORD_FILE: file('pw', 'p1 x\n'), MOAT_REDIS_SENTINEL_PASSWORD_FILE: file('spw', 'p2') },
    });
    expect(c.greylist.redis).toMatchObject({ password: 'p1 x', sentinel_password: 'p2' });
    expect(c.source.env).toMatchObject({ 'greylist.redis.password': 'MOAT_REDIS_PASSWORD_FILE', 'greylist.redis.sentinel_password': 'MOAT_REDIS_SENTINEL_PASSWORD_FILE' });
    expect(parseConfig(MINIMAL, { env: { MOAT_REDIS_URL_FILE: file('url', 'redis://:s3cret@10.0.0.5:6379/1\r\n') } }).greylist.redis.url).toBe('redis://:s3cret@10.0.0.5:6379/1');
    // variables that are not secrets have no _FILE form
    expect(parseConfig(SENTINELS, { env: { MOAT_REDIS_USERNAME_FILE: file('user', 'mx') } }).greylist.redis.username).toBeUndefined();

    // what cannot be used is refused by name, and the secret is never printed
    expect(errorsOf(SENTINELS, { MOAT_REDIS_PASSWORD: 'p1', MOAT_REDIS_PASSWORD_FILE: file('both', 'p9') })).toBe(
      'environment variable MOAT_REDIS_PASSWORD_FILE: greylist.redis.password: one of MOAT_REDIS_PASSWORD and MOAT_REDIS_PASSWORD_FILE; found both set',
    );
    expect(errorsOf(SENTINELS, { MOAT_REDIS_PASSWORD_FILE: join(dir, 'missing') })).toBe(
      `environment variable MOAT_REDIS_PASSWORD_FILE: greylist.redis.password: a readable file holding the secret; found ${JSON.stringify(join(dir, 'missing'))}: ENOENT`,
    );
    expect(errorsOf(SENTINELS, { MOAT_REDIS_PASSWORD_FILE: file('empty', '\n') })).toContain('a file holding one line: the secret; found');
    const twoLines = errorsOf(SENTINELS, { MOAT_REDIS_PASSWORD_FILE: file('two', 'first-secret\nsecond-secret\n') });
    expect(twoLines).toContain('several lines');
    expect(twoLines).not.toMatch(/first-secret|second-secret/);
    // a password (the stack's redis_password file) given where the URL belongs is not printed
    const urlErr = errorsOf(MINIMAL, { MOAT_REDIS_URL_FILE: file('bare', 'Zt8-hunter2\n') });
    expect(urlErr).toContain('environment variable MOAT_REDIS_URL_FILE: greylist.redis.url: expected a redis:// or rediss:// URL; found a value that is not a URL (not shown: it may be a secret)');
    expect(urlErr).not.toContain('hunter2');
    if (process.getuid?.() !== 0) {
      const locked = file('locked', 'p1');
      chmodSync(locked, 0o000);
      expect(errorsOf(SENTINELS, { MOAT_REDIS_PASSWORD_FILE: locked })).toContain(': EACCES');
    }
  });

  it('never prints a URL\'s login, even one with @ in its password, nor a non-URL in the URL field', () => {
    for (const url of ['rediss://:pa%2Fss@10.0.0.5:6379', 'redis://mx:p@ss@10.0.0.5:6379', 'redis://:s3cret@10.0.0.5:6379']) {
      const err = errorsOf(`${MINIMAL}greylist:\n  redis:\n    url: "${url}"\n    password: other\n`);
      expect(err).toMatch(/found a value \(not shown\)$/);
      const sentinelErr = errorsOf(`${SENTINELS}    url: "${url}"\n`);
      expect(sentinelErr).toMatch(/found "rediss?:\/\/\*\*\*@10\.0\.0\.5:6379"$/);
      expect(sentinelErr).not.toMatch(/pa%2Fss|p@ss|s3cret/);
    }
    expect(errorsOf(`${MINIMAL}greylist:\n  redis:\n    url: hunter2\n`)).toBe(
      'moat.yaml:7:10: greylist.redis.url: expected a redis:// or rediss:// URL; found a value that is not a URL (not shown: it may be a secret)',
    );
  });

  it('URL mode: the URL carries the login; a password key as well is refused, whichever way it is set', () => {
    expect(errorsOf(`${MINIMAL}greylist:\n  redis:\n    url: redis://:s3cret@10.0.0.5:6379\n    password: other\n`)).toBe(
      'moat.yaml:8:15: greylist.redis.password: set twice: greylist.redis.url already carries a password; password is for Sentinel mode (greylist.redis.sentinels) only, remove one of them; found a value (not shown)',
    );
    expect(errorsOf(MINIMAL, { MOAT_REDIS_URL: 'redis://:s3cret@10.0.0.5:6379', MOAT_REDIS_PASSWORD: 'other' })).toBe(
      'environment variable MOAT_REDIS_PASSWORD: greylist.redis.password: set twice: greylist.redis.url already carries a password; password is for Sentinel mode (greylist.redis.sentinels) only, remove one of them; found a value (not shown)',
    );
    // no password in the URL: still one place only, and the error says where it goes
    expect(errorsOf(MINIMAL, { MOAT_REDIS_PASSWORD: 'p1' })).toContain(
      'greylist.redis.password: only used with greylist.redis.sentinels; without Sentinels put it in the URL: redis://:PASSWORD@host:port (MOAT_REDIS_URL)',
    );
    expect(errorsOf(`${MINIMAL}greylist:\n  redis:\n    username: mx\n`)).toContain('greylist.redis.username: only used with greylist.redis.sentinels; without Sentinels put it in the URL: redis://USER:PASSWORD@host:port');
    expect(errorsOf(MINIMAL, { MOAT_REDIS_SENTINEL_PASSWORD: 'p2' })).toContain(
      "environment variable MOAT_REDIS_SENTINEL_PASSWORD: greylist.redis.sentinel_password: only used with greylist.redis.sentinels (the Sentinels' own login)",
    );
  });

  it('Sentinel mode: a login in the (unused) URL is refused rather than dropped, its credentials masked', () => {
    expect(errorsOf(SENTINELS, { MOAT_REDIS_URL: 'redis://:s3cret@10.0.0.5:6379' })).toBe(
      'environment variable MOAT_REDIS_URL: greylist.redis.url: not used with greylist.redis.sentinels, so its credentials would be ignored: set greylist.redis.password (MOAT_REDIS_PASSWORD) and drop them from the URL; found "redis://***@10.0.0.5:6379"',
    );
  });

  it('an ACL user needs its password', () => {
    const text = errorsOf(`${SENTINELS}    username: mx\n    sentinel_username: sen\n`);
    expect(text).toContain('moat.yaml:9:15: greylist.redis.username: an ACL user needs greylist.redis.password (MOAT_REDIS_PASSWORD)');
    expect(text).toContain('greylist.redis.sentinel_username: an ACL user needs greylist.redis.sentinel_password (MOAT_REDIS_SENTINEL_PASSWORD)');
  });

  it('errors about a password never show it', () => {
    const text = errorsOf(`${SENTINELS}    password: 123456\n    sentinel_password: ""\n`);
    expect(text).toContain('greylist.redis.password: expected text; found a YAML number (not shown; quote it to make it text)');
    expect(text).toContain('greylist.redis.sentinel_password: expected a non-empty password (leave the key out for none)');
    expect(text).not.toContain('123456');
    expect(errorsOf(`${SENTINELS}    url: "http://:s3cret@x"\n`)).not.toContain('s3cret');
  });
});
