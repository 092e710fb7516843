// The MTA-STS policy cache on disk, so a restart keeps enforcing what it learnt (RFC 8461 5.1: a policy stays in
// force until max_age, even when the policy host is gone). Trusts only files it wrote; a damaged one is ignored.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@moat/files';
import type { Logger } from '@moat/observe';
import type { StsPolicy } from './mta-sts.ts';

export interface StoredSts {
  id: string;
  policy: StsPolicy;
  /** ms since epoch after which the policy must not be used without a fresh fetch. */
  expires: number;
}

export interface StsStore {
  load(domain: string): Promise<StoredSts | undefined>;
  save(domain: string, entry: StoredSts): Promise<void>;
}

/** Domain names as file names: what the resolver accepts, lowercased, nothing that walks out of the directory. */
const SAFE = /^(?!\.)[a-z0-9._-]{1,253}$/;

function valid(x: unknown): x is StoredSts {
  const e = x as StoredSts;
  return (
    typeof e?.id === 'string' &&
    typeof e.expires === 'number' &&
    ['enforce', 'testing', 'none'].includes(e.policy?.mode) &&
    Array.isArray(e.policy.mx) &&
    e.policy.mx.every((m) => typeof m === 'string') &&
    typeof e.policy.maxAge === 'number'
  );
}

/**
 * One file per policy domain in `dir` (the spool's `mta-sts/`), replaced as @moat/files replaces a file: a temp
 * file, fsync, rename, fsync of the directory. A save that fails is logged; the policy still applies in memory.
 */
export function fileStsStore(dir: string, logger?: Logger): StsStore {
  let made = false;
  const fileOf = (domain: string) => (SAFE.test(domain) && !domain.includes('..') ? join(dir, `${domain}.json`) : undefined);
  return {
    async load(domain) {
      const f = fileOf(domain);
      if (!f) return undefined;
      let text: string;
      try {
        text = await readFile(f, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger?.warn({ domain, err: (e as Error).message, decided_by: 'mta-sts' }, 'cannot read the stored MTA-STS policy');
        return undefined;
      }
      try {
        const entry: unknown = JSON.parse(text);
        if (valid(entry)) return entry;
      } catch {
        // fall through: a damaged file is the same as none (the next fetch replaces it)
      }
      logger?.warn({ domain, file: f, decided_by: 'mta-sts' }, 'stored MTA-STS policy unreadable: ignored');
      return undefined;
    },
    async save(domain, entry) {
      const f = fileOf(domain);
      if (!f) return;
      try {
        await writeFileAtomic(f, JSON.stringify(entry), { mode: 0o600, ...(!made && { dirMode: 0o700 }) });
        made = true;
      } catch (e) {
        logger?.error({ domain, err: (e as Error).message, decided_by: 'mta-sts' }, 'cannot store the MTA-STS policy (kept in memory only)');
      }
    },
  };
}
