// Who reads each config key: the table `moat config check` uses to name keys a file sets that nothing reads.
// A key is read when it, or a section above it, is listed; readers.test.ts holds the entries against the code.
import { parse as parseYaml } from 'yaml';

/** Key path (or a section read as a whole) -> what reads it. */
export const KEY_READERS: Readonly<Record<string, string>> = {
  version: 'loadConfig',
  policy: 'compileConfig (the engine spec)',
  recipients: 'compileRouting (the address resolver)',
  routing: 'compileRouting (the address resolver)',
  'dns.resolver': 'views.mx, @moat/runtime buildEngine (DNS lists, greylist), the delivery thread',
  'dns.timeout': 'views.mx, @moat/runtime buildEngine',
  'dns.budget': '@moat/runtime buildEngine',
  'dns.zones': 'compileConfig, @moat/runtime buildEngine',
  'dns.profiles': '@moat/runtime buildEngine',
  'greylist.redis': 'views.redis (greylist, journal, rate limits, the CLI)',
  greylist: '@moat/runtime buildEngine',
  'mx.listen': 'apps/mx main.ts',
  'mx.auth.require_tls': 'apps/mx main.ts',
  'mx.journal': 'apps/mx main.ts',
  'mx.rate_limits': '@moat/ratelimit rateLimiterOptionsFromConfig',
  'mx.hostname': 'views.mx',
  'mx.banner': 'views.mx',
  'mx.tls': 'views.mx',
  'mx.auth': 'views.mx',
  'mx.auth_results': 'views.mx',
  'mx.dmarc': 'views.mx',
  'mx.size_limit': 'views.mx',
  'mx.limits': 'views.mx',
  'mx.timeouts': 'views.mx',
  'mx.trusted_relays': 'views.mx',
  'mx.xclient': 'views.mx',
  'mx.sender_login': '@moat/runtime senderLoginCheck (apps/mx generation.ts, per listener)',
  'mx.mta_sts': 'apps/mx main.ts (the MTA-STS policy server)',
  spamd: 'views.mx',
  queue: 'apps/mx delivery thread, compileRouting (transports), `moat queue`, `moat dkim`',
  'quarantine.retention': 'views.mx (quarantine.retentionMs), `moat quarantine`',
  'quarantine.admin_token': 'views.mx (quarantine.adminToken), the console, `moat quarantine`',
  'policyd.listen': 'apps/policyd main.ts',
  'policyd.workers': 'apps/policyd main.ts',
  'policyd.skip': 'apps/policyd main.ts (the engine profile)',
  'policyd.journal': 'apps/policyd main.ts',
  'policyd.clients': 'views.policyd',
  'policyd.idle_timeout': 'views.policyd',
  'policyd.max_connections': 'views.policyd',
  'policyd.stages': 'views.policyd',
  'policyd.permit_action': 'views.policyd',
  'policyd.reject_style': 'views.policyd',
  'policyd.request_timeout': 'views.policyd',
  'policyd.decision_timeout': 'views.policyd',
  'policyd.error_action': 'views.policyd',
  'policyd.overload_action': 'views.policyd',
  'policyd.max_line': 'views.policyd',
  'policyd.max_request': 'views.policyd',
  metrics: 'apps/mx and apps/policyd main.ts, views.console',
  journal: '@moat/journal journalOptionsFromConfig',
  console: 'views.console',
  postfix: 'loadConfig (the main.cf import)',
};

/** The reader of `path` (dotted), or undefined when nothing reads it. */
export function readerOf(path: string): string | undefined {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const r = KEY_READERS[p];
    if (r !== undefined) return r;
  }
  return undefined;
}

/** Leaf key paths of a YAML document's data (lists and scalars are leaves). */
export function keyPaths(v: unknown, at = '', out: string[] = []): string[] {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) keyPaths(x, at ? `${at}.${k}` : k, out);
  } else if (at !== '') out.push(at);
  return out;
}

/** The keys `data` (a config file's YAML, before defaults) sets that nothing reads. */
export function unreadKeys(data: unknown): string[] {
  return keyPaths(data).filter((k) => readerOf(k) === undefined);
}

/** The keys a config file's text sets that nothing reads (the text already loaded: it is valid YAML). */
export function unreadKeysOfText(text: string): string[] {
  return unreadKeys(parseYaml(text));
}
