// Zone health: probes a DNS list's RFC 5782 test points and moves the zone between healthy, disabled and
// unreachable, loudly. Trusts the profile's exemptions; every answer it gets is untrusted.
import type { Logger } from '@moat/observe';
import { matchesCode, parseCodeFilter } from '@moat/policy';
import { errorMeaning, isErrorCode } from './classify.ts';
import type { DnsListMetrics } from './metrics.ts';
import { probeName } from './query-name.ts';
import { type Raw, type Zone, zoneKinds } from './zone.ts';

export interface ProbeDeps {
  /** One A question past the DNS memo (a probe must see the zone now). */
  ask(name: string): Promise<Raw>;
  /** Text with every keyed zone name replaced by its display name. */
  hide(text: string): string;
  now(): number;
  metrics: DnsListMetrics;
  log: Logger;
}

/** Probe one zone now and record its new state (a disabled zone's lookups answer unknown: fail open). */
export async function probeZone(z: Zone, d: ProbeDeps): Promise<void> {
  const p = z.profile;
  const kinds = zoneKinds(z);
  const probes: Array<{ probe: string; positive: boolean }> = [];
  const negative = !p.health.skipNegative;
  if (kinds.has('ip') && p.health.ipv4 !== false) {
    probes.push({ probe: '127.0.0.2', positive: true });
    if (negative) probes.push({ probe: '127.0.0.1', positive: false });
  }
  if (kinds.has('ip') && p.health.ipv6) {
    probes.push({ probe: '::ffff:7f00:2', positive: true });
    if (negative) probes.push({ probe: '::ffff:7f00:1', positive: false });
  }
  if (kinds.has('domain') && p.health.domain !== false) {
    probes.push({ probe: 'test', positive: true });
    if (negative) probes.push({ probe: 'invalid', positive: false });
  }
  if (probes.length === 0) return;
  const results = await Promise.all(probes.map(async (pr) => ({ ...pr, raw: await d.ask(probeName(z.name, pr.probe)) })));
  const positiveOk = p.health.positiveCodes ? parseCodeFilter(p.health.positiveCodes) : undefined;
  const problems: string[] = [];
  const failures: string[] = [];
  for (const r of results) {
    if (r.raw.kind === 'fail') {
      failures.push(`${r.probe}: ${d.hide(r.raw.detail)}`);
      continue;
    }
    const codes = r.raw.kind === 'codes' ? r.raw.codes : [];
    const errors = codes.filter((c) => isErrorCode(p, c) && !(r.positive && positiveOk && matchesCode(positiveOk, c)));
    if (errors.length > 0 && errors.length === codes.length) {
      // the meaning says what to fix: 127.255.255.254 means the resolver is public, not that the list is broken
      const meanings = [...new Set(errors.map((c) => errorMeaning(p, c)).filter(Boolean))];
      problems.push(`test point ${r.probe} answered operator error ${errors.join(',')}${meanings.length ? ` (${meanings.join('; ')})` : ''}`);
    } else if (r.positive && codes.length === 0) {
      problems.push(`does not list the RFC 5782 test point ${r.probe}`);
    } else if (!r.positive && codes.length > 0) {
      problems.push(`lists everything: ${r.probe} answered ${codes.join(',')}`);
    }
  }
  const before = z.state;
  z.checkedAt = d.now();
  z.warnings = 0;
  if (problems.length > 0) {
    z.state = 'disabled';
    z.reason = problems.join('; ');
  } else if (failures.length > 0) {
    z.state = 'unreachable';
    z.reason = failures.join('; ');
  } else {
    z.state = 'healthy';
    z.reason = undefined;
  }
  d.metrics.healthy.set({ zone: z.display }, z.state === 'healthy' ? 1 : 0);
  if (z.state === 'disabled' && before !== 'disabled') {
    d.log.error(
      { zone: z.display, profile: p.name, reason: z.reason },
      `DNS LIST ZONE DISABLED: ${z.display} failed its health check; its lookups answer unknown (fail open) until it is healthy again`,
    );
  } else if (z.state === 'unreachable' && before !== 'unreachable') {
    d.log.warn({ zone: z.display, reason: z.reason }, 'DNS list zone unreachable during health check');
  } else if (z.state === 'healthy' && before !== 'healthy') {
    const level = before === 'unchecked' ? 'info' : 'warn';
    d.log[level]({ zone: z.display, was: before }, before === 'disabled' ? 'DNS list zone re-enabled: healthy again' : 'DNS list zone healthy');
  }
}
