// A domain's MTA-STS policy as delivery should apply it: TXT id, fetch, and a cache kept within max_age.
// Trusts the validating resolver and the WebPKI for the fetch; a timeout is an error (the message waits), never "none".
import type { Logger } from '@moat/observe';
import { parseStsTxt, type StsPolicy } from './mta-sts.ts';
import { DnsLookupError, type SecureResolver } from './secure-resolver.ts';
import { fetchStsPolicy, StsFetchError, type StsFetchOptions } from './sts-fetch.ts';
import type { StsStore } from './sts-store.ts';

export interface CachedSts {
  id: string;
  policy: StsPolicy;
  /** ms since epoch after which the policy must not be used without a fresh fetch. */
  expires: number;
}

/** A temporary failure to learn the policy: deliver later, never without one (the rule; see docs/tls.md). */
export class StsUnavailableError extends Error {
  readonly code = 'sts-unavailable';
}

export interface StsSourceOptions extends Omit<StsFetchOptions, 'resolver'> {
  resolver: SecureResolver;
  logger?: Logger | undefined;
  now?: () => number;
  /** Where policies outlive a restart (sts-store.ts); without it the cache is this process's memory only. */
  store?: StsStore | undefined;
  /** Called when a published policy was unusable (fetched but bad, too big, HTTP error): for TLS-RPT. */
  onInvalid?: (domain: string, kind: 'sts-policy-invalid' | 'sts-policy-fetch-error', detail: string) => void;
}

export interface StsSource {
  /** The policy in force for `domain`, or undefined when it has none. Throws StsUnavailableError on timeouts. */
  policyFor(domain: string): Promise<{ id: string; policy: StsPolicy } | undefined>;
}

export function stsSource(o: StsSourceOptions): StsSource {
  const cache = new Map<string, CachedSts>();
  const loaded = new Set<string>();
  const now = o.now ?? Date.now;
  // a domain's stored policy is read once, the first time the domain is asked for after a start
  const restore = async (domain: string) => {
    if (!o.store || loaded.has(domain)) return;
    loaded.add(domain);
    const stored = await o.store.load(domain);
    if (stored && !cache.has(domain) && stored.expires > now()) {
      cache.set(domain, stored);
      o.logger?.info({ domain, id: stored.id, mode: stored.policy.mode, expires: new Date(stored.expires).toISOString(), decided_by: 'mta-sts' }, 'MTA-STS policy restored from disk');
    }
  };
  const valid = (d: string) => {
    const c = cache.get(d);
    return c && c.expires > now() ? c : undefined;
  };
  return {
    async policyFor(domain) {
      await restore(domain);
      const cached = valid(domain);
      let id: string | undefined;
      try {
        id = parseStsTxt((await o.resolver.txt(`_mta-sts.${domain}`)).records);
      } catch (e) {
        // RFC 8461 5: a failed TXT lookup keeps a cached policy in force
        if (cached) return cached;
        const kind = e instanceof DnsLookupError ? e.kind : 'failed';
        // a timeout defers (docs/tls.md: an attacker who can delay answers must not strip a first contact's
        // policy); any other failure is "no policy", as RFC 8461 5 says: many domains' DNS answers SERVFAIL
        // for names that do not exist, and their mail must not wait on a record they never published
        if (kind === 'timeout') throw new StsUnavailableError(`MTA-STS TXT lookup for ${domain} failed (${kind}): ${(e as Error).message}`);
        o.logger?.warn({ domain, kind, err: (e as Error).message, decided_by: 'mta-sts' }, 'MTA-STS TXT lookup failed; delivering as without a policy');
        return undefined;
      }
      if (!id) return cached; // no record now: a cached policy stays until its max_age (RFC 8461 5.1)
      if (cached && cached.id === id) return cached;
      try {
        const policy = await fetchStsPolicy(domain, { ...o, resolver: o.resolver });
        const entry = { id, policy, expires: now() + policy.maxAge * 1000 };
        cache.set(domain, entry);
        await o.store?.save(domain, entry);
        o.logger?.info({ domain, id, mode: policy.mode, mx: policy.mx, maxAge: policy.maxAge, decided_by: 'mta-sts' }, 'MTA-STS policy fetched');
        return entry;
      } catch (e) {
        const err = e instanceof StsFetchError ? e : new StsFetchError('absent', String((e as Error)?.message ?? e));
        if (err.kind === 'timeout') {
          if (cached) return cached;
          throw new StsUnavailableError(`MTA-STS policy fetch for ${domain} timed out: ${err.message}`);
        }
        // RFC 8461 3.3/5: an unusable policy is treated as absent (a cached one still applies)
        o.logger?.warn({ domain, id, err: err.message, decided_by: 'mta-sts' }, 'MTA-STS policy unusable; treated as absent');
        o.onInvalid?.(domain, /bad policy/.test(err.message) ? 'sts-policy-invalid' : 'sts-policy-fetch-error', err.message);
        return cached;
      }
    },
  };
}
