// `moat dkim check`: is the published record the one our key needs? Looked up through the given resolver.
// Trusts the operator's key; the DNS answer is untrusted text, parsed and compared, never executed.
import { type DkimKeyType, dkimRecord, parseDkimRecord } from './keys.ts';

export interface TxtResolver {
  /** TXT records of a name, each as its character-strings (node:dns resolveTxt's shape). Throws on failure. */
  resolveTxt(name: string): Promise<string[][]>;
}

export type DkimCheck =
  | { status: 'ok'; name: string }
  | { status: 'missing'; name: string; expected: string }
  | { status: 'mismatch'; name: string; expected: string; published: string; reason: string }
  | { status: 'error'; name: string; expected: string; reason: string };

export async function checkDkimRecord(
  domain: string,
  selector: string,
  key: { type: DkimKeyType; publicKey: string },
  resolver: TxtResolver,
): Promise<DkimCheck> {
  const want = dkimRecord(domain, selector, key);
  let answers: string[][];
  try {
    answers = await resolver.resolveTxt(want.name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { status: 'missing', name: want.name, expected: want.value };
    return { status: 'error', name: want.name, expected: want.value, reason: `${code ?? ''} ${(e as Error).message}`.trim() };
  }
  const records = answers.map((r) => r.join('')).filter((t) => /(^|;)\s*(v=DKIM1|p=)/i.test(t) || t.includes('p='));
  if (records.length === 0) return { status: 'missing', name: want.name, expected: want.value };
  if (records.length > 1) return { status: 'mismatch', name: want.name, expected: want.value, published: records.join(' | '), reason: 'more than one key record at this name' };
  const published = records[0]!;
  const tags = parseDkimRecord(published);
  const k = (tags.get('k') ?? 'rsa').toLowerCase();
  if (tags.has('v') && tags.get('v') !== 'DKIM1') return { status: 'mismatch', name: want.name, expected: want.value, published, reason: `v=${tags.get('v')}, expected DKIM1` };
  if (!tags.get('p')) return { status: 'mismatch', name: want.name, expected: want.value, published, reason: 'the key is revoked (empty p=)' };
  if (k !== key.type) return { status: 'mismatch', name: want.name, expected: want.value, published, reason: `k=${k}, our key is ${key.type}` };
  if (tags.get('p') !== key.publicKey) return { status: 'mismatch', name: want.name, expected: want.value, published, reason: 'p= is another public key' };
  return { status: 'ok', name: want.name };
}
