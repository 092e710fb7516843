// Differential test of the smtp_tls_policy_maps reader: each table source is read by moat's importer and dumped
// by Debian's `postmap -s`; every entry postmap has must be in queue.tls.policies with its level ([host] and
// [host]:port keys too: they are the relayhost's and smtp:[host]:port's). Skipped (with a note) without postmap.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importMainCf } from '../src/postfix/import.ts';

const POSTMAP = ['/usr/sbin/postmap', '/usr/bin/postmap'].find((p) => spawnSync(p, ['-h'], { encoding: 'utf8' }).error === undefined);
if (POSTMAP === undefined) console.warn('smtp-tls-postmap: postmap not found (install Debian\'s postfix); skipped');

const TABLES: Array<[string, string]> = [
  ['plain entries, tabs and spaces', 'example.com\tencrypt\n.example.net   secure\ndane.example dane-only\n'],
  ['comments, blank lines, continuation lines', '# TLS policies\n\nexample.com encrypt\n  protocols=TLSv1.2\n    ciphers=high\n# trailing\nother.example verify\n'],
  ['case folded, first duplicate wins', 'Example.COM encrypt\nexample.com verify\nMIXED.example.org secure\n'],
  ['non-MX next hops', '[relay.example]:587 may\n[mail.example] may\nexample.com may\n'],
];

describe.skipIf(POSTMAP === undefined)('smtp_tls_policy_maps vs postmap -s (Debian Postfix)', () => {
  for (const [name, table] of TABLES) {
    it(name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'moat-tlspolicy-'));
      try {
        writeFileSync(join(dir, 'main.cf'), '');
        writeFileSync(join(dir, 'tls_policy'), table);
        const dump = spawnSync(POSTMAP!, ['-c', dir, '-s', `texthash:${join(dir, 'tls_policy')}`], { encoding: 'utf8' });
        expect(dump.status, dump.stderr).toBe(0);
        const postfix = new Map(
          dump.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => {
              const [k, v = ''] = l.split('\t');
              return [k!, v.trim().split(/\s+/)[0]!] as const;
            }),
        );
        const r = importMainCf(`compatibility_level = 3.6\nmyhostname = mx.example.org\nsmtp_tls_policy_maps = texthash:${join(dir, 'tls_policy')}\n`, join(dir, 'main.cf'), {
          interfaces: [],
          host: 'box',
          readFile: (p) => readFileSync(p, 'utf8'),
        });
        expect(r.errors).toEqual([]);
        const moat = (r.input.queue as { tls: { policies: Record<string, string> } }).tls.policies;
        expect(moat).toEqual(Object.fromEntries(postfix));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
