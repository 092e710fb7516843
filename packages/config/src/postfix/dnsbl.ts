// The main.cf importer's postscreen_dnsbl_* keys: weighted DNS lists for reject_dnsbl_score / permit_dnsbl_score.
// Trusts the parsed main.cf; every entry and number is checked, an error names its line.
import { formatDnsblSite, PolicyError, parseDnsblSite } from '@moat/policy';

/** What the importer offers this handler (its own methods). */
export interface DnsblImportTarget {
  explicit(name: string): boolean;
  value(name: string): string | undefined;
  set(path: string, value: unknown, name: string): void;
  use(name: string, note: string): void;
  warn(name: string, note: string): void;
  error(name: string, expected: string, found: string, line?: number): void;
  itemLine(name: string, item: string): number | undefined;
}

/** main.cf keys this handler maps (the importer reports no other reason for them). */
export const DNSBL_KEYS = ['postscreen_dnsbl_sites', 'postscreen_dnsbl_threshold', 'postscreen_dnsbl_allowlist_threshold', 'postscreen_dnsbl_whitelist_threshold'] as const;

const signedInt = (v: string): number | undefined => (/^[+-]?\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : undefined);

/**
 * postscreen_dnsbl_sites and its thresholds become policy.dnsbl_*. postscreen itself is not run: the sum is
 * taken where the restriction lists name reject_dnsbl_score / permit_dnsbl_score (`listed` says whether they do).
 */
export function importDnsbl(imp: DnsblImportTarget, listed: boolean): void {
  const name = 'postscreen_dnsbl_sites';
  if (imp.explicit(name)) {
    const v = imp.value(name) ?? '';
    const sites: string[] = [];
    let ok = true;
    for (const entry of v.split(/[\s,]+/).filter((w) => w !== '')) {
      try {
        sites.push(formatDnsblSite(parseDnsblSite(entry)));
      } catch (e) {
        if (!(e instanceof PolicyError)) throw e;
        imp.error(name, e.reason, JSON.stringify(entry), imp.itemLine(name, entry));
        ok = false;
      }
    }
    if (ok) {
      imp.set('policy.dnsbl_sites', sites, name);
      imp.use(name, `policy.dnsbl_sites (${sites.length} entries), summed by reject_dnsbl_score / permit_dnsbl_score`);
      if (sites.length > 0 && !listed) imp.warn(name, 'no restriction list names reject_dnsbl_score or permit_dnsbl_score, so the weighted lists are not asked (moat runs no postscreen)');
    }
  }
  const int = (key: string, path: string): void => {
    if (!imp.explicit(key)) return;
    const v = imp.value(key) ?? '';
    const n = signedInt(v);
    if (n === undefined) {
      imp.error(key, 'an integer', JSON.stringify(v));
      return;
    }
    imp.set(path, n, key);
    imp.use(key, `${path} = ${n}`);
  };
  int('postscreen_dnsbl_threshold', 'policy.dnsbl_threshold');
  // Postfix 3.6: postscreen_dnsbl_allowlist_threshold = $postscreen_dnsbl_whitelist_threshold (the new name wins)
  if (imp.explicit('postscreen_dnsbl_allowlist_threshold')) {
    int('postscreen_dnsbl_allowlist_threshold', 'policy.dnsbl_allowlist_threshold');
    if (imp.explicit('postscreen_dnsbl_whitelist_threshold')) imp.use('postscreen_dnsbl_whitelist_threshold', 'overridden by postscreen_dnsbl_allowlist_threshold (its newer name)');
  } else int('postscreen_dnsbl_whitelist_threshold', 'policy.dnsbl_allowlist_threshold');
}
