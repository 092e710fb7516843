// The DKIM signing table's keys, checked when the config is compiled: each must be a readable RSA or Ed25519
// PEM. Reads the key files the config names; never prints a key, only its path and what is wrong with it.
import { describePrivateKey } from '@moat/dkim';
import { ConfigError, type ConfigIssue } from './load.ts';
import type { Config } from './schema.ts';

export function checkDkimKeys(config: Config, read: (path: string) => string, abs: (p: string) => string): void {
  const issues: ConfigIssue[] = [];
  config.queue.dkim.forEach((k, i) => {
    const path = abs(k.key);
    let pem: string;
    try {
      pem = read(path);
    } catch (e) {
      issues.push({ file: config.source.file, path: ['queue', 'dkim', i, 'key'], expected: `a readable PEM private key for ${k.selector}._domainkey.${k.domain}`, found: (e as Error).message });
      return;
    }
    try {
      describePrivateKey(pem);
    } catch (e) {
      issues.push({ file: config.source.file, path: ['queue', 'dkim', i, 'key'], expected: 'an RSA or Ed25519 private key in PEM (moat dkim keygen writes one)', found: `${path}: ${(e as Error).message.split('\n')[0]}` });
    }
  });
  if (issues.length) throw new ConfigError(config.source.file, issues);
}
