// Asking the resolver for a list's A and TXT records: a time limit per question, failures classified, and
// identical questions in flight sharing one query. Trusts nothing it is answered: TXT is sanitised.
import { type CachingDns, dnsFailureKind } from '@moat/dns';
import type { Raw } from './zone.ts';

export const TIMEOUT = Symbol('timeout');

export function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), TIMEOUT);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function failureOf(err: unknown): Raw {
  const code = (err as { code?: string }).code ?? '';
  switch (dnsFailureKind(err)) {
    case 'none':
      return { kind: 'none' };
    case 'timeout':
      return { kind: 'fail', reason: 'timeout', detail: 'resolver timed out' };
    case 'servfail':
      return { kind: 'fail', reason: 'servfail', detail: 'SERVFAIL (zone servers unreachable or broken)' };
    case 'refused':
      return { kind: 'fail', reason: 'refused', detail: `resolver refused (${code})` };
    default:
      return { kind: 'fail', reason: 'error', detail: `resolver error ${code || String(err)}` };
  }
}

/** TXT from a list is untrusted text headed for an SMTP reply: printable ASCII only, bounded. */
export function sanitiseTxt(records: string[][]): string | undefined {
  const text = records
    .map((r) => r.join(''))
    .join(' / ')
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return undefined;
  return text.length > 400 ? `${text.slice(0, 397)}...` : text;
}

export interface ListQueries {
  /** A records (the list's codes); `fresh` asks past @moat/dns's memo (health probes). */
  resolveA(name: string, ms: number, fresh?: boolean): Promise<Raw>;
  /** The TXT text, sanitised; undefined when none came in time. */
  resolveTxt(name: string, ms: number): Promise<string | undefined>;
}

export function createListQueries(dns: CachingDns): ListQueries {
  // In-flight coalescing: identical names asked at once (in one batch or across sessions) share one query.
  const inflight = new Map<string, Promise<Raw>>();
  function resolveA(name: string, ms: number, fresh = false): Promise<Raw> {
    const key = fresh ? `fresh ${name}` : name;
    const have = inflight.get(key);
    if (have) return have;
    const p = raceTimeout(
      (fresh ? dns.fresh : dns).resolve4(name).then(
        (codes): Raw => (codes.length > 0 ? { kind: 'codes', codes } : { kind: 'none' }),
        failureOf,
      ),
      ms,
    )
      .then((r): Raw => (r === TIMEOUT ? { kind: 'fail', reason: 'timeout', detail: `no answer within ${Math.round(ms)} ms` } : r))
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }
  const inflightTxt = new Map<string, Promise<string | undefined>>();
  function resolveTxt(name: string, ms: number): Promise<string | undefined> {
    const have = inflightTxt.get(name);
    if (have) return have;
    const p = raceTimeout(
      dns.resolveTxt(name).then(sanitiseTxt, () => undefined),
      ms,
    )
      .then((r) => (r === TIMEOUT ? undefined : r))
      .finally(() => inflightTxt.delete(name));
    inflightTxt.set(name, p);
    return p;
  }
  return { resolveA, resolveTxt };
}
