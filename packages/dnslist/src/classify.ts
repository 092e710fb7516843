// Applies a provider profile to the A records a list answered: listings, operator errors, dropped codes.
// Trusts the profile (vetted data); treats every answered code as untrusted input.
import { type CompiledCodeFilter, matchesCode, parseCodeFilter } from '@moat/policy';
import { type CodeRule, OUT_OF_RANGE, type ProviderProfile } from './profiles.ts';

export interface ClassifiedCode {
  code: string;
  meaning: string;
}

export interface Classified {
  /** Codes that count as listings for this query. */
  listings: Array<ClassifiedCode & { weight: number }>;
  /** Operator error answers (zone-health warning). */
  errors: ClassifiedCode[];
  /** Codes outside 127.0.0.0/8 (zone-health warning). */
  outOfRange: ClassifiedCode[];
  /** Codes known but not listings for this query (informational, other use, not in `only`). */
  dropped: ClassifiedCode[];
}

const compiled = new WeakMap<CodeRule, CompiledCodeFilter>();
function spec(rule: CodeRule): CompiledCodeFilter {
  let s = compiled.get(rule);
  if (!s) {
    s = parseCodeFilter(rule.codes);
    compiled.set(rule, s);
  }
  return s;
}

function find(rules: readonly CodeRule[] | undefined, code: string): CodeRule | undefined {
  return rules?.find((r) => matchesCode(spec(r), code));
}

/** Parse every filter of a profile now, so a bad operator profile fails at start, not per query. */
export function validateProfile(p: ProviderProfile): void {
  for (const r of [...p.listings, ...p.errors, ...(p.info ?? [])]) spec(r);
  if (p.health.positiveCodes) parseCodeFilter(p.health.positiveCodes);
}

export function isErrorCode(p: ProviderProfile, code: string): boolean {
  return !!find(p.errors, code);
}

/** What an operator error code means (`Spamhaus: query via a public/open resolver (refused)`), or undefined. */
export function errorMeaning(p: ProviderProfile, code: string): string | undefined {
  return find(p.errors, code)?.meaning;
}

/**
 * Sort answered codes: errors first (never listings, even if the admin's filter would match), then
 * listings valid for this use, then everything else dropped. `only` narrows the listings further
 * (the zone's "only count these codes").
 */
export function classify(
  p: ProviderProfile,
  codes: readonly string[],
  use?: 'allow' | 'block' | undefined,
  only?: CompiledCodeFilter | undefined,
): Classified {
  const out: Classified = { listings: [], errors: [], outOfRange: [], dropped: [] };
  for (const code of codes) {
    if (!code.startsWith('127.')) {
      out.outOfRange.push({ code, meaning: OUT_OF_RANGE });
      continue;
    }
    const err = find(p.errors, code);
    if (err) {
      out.errors.push({ code, meaning: err.meaning });
      continue;
    }
    const hit = find(p.listings, code);
    if (hit) {
      if (use && hit.use && hit.use !== use) {
        out.dropped.push({ code, meaning: `${hit.meaning}: not a ${use} listing` });
      } else if (only && !matchesCode(only, code)) {
        out.dropped.push({ code, meaning: `${hit.meaning}: not counted by this zone's config` });
      } else out.listings.push({ code, meaning: hit.meaning, weight: hit.weight ?? 1 });
      continue;
    }
    const info = find(p.info, code);
    out.dropped.push({ code, meaning: info?.meaning ?? `unknown code for ${p.name}` });
  }
  return out;
}
