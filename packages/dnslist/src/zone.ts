// A DNS list zone as the client keeps it: its settings, profile, health state, and what it answers as a snapshot.
// Pure data and two small readers; trusts the profile it was given.
import type { CompiledCodeFilter } from '@moat/policy';
import type { ProviderProfile } from './profiles.ts';

/** Per-zone settings on top of the profile. */
export interface ZoneOptions {
  /** Profile name (built-in or from `profiles`); default: by zone name, else `generic`. */
  profile?: string | undefined;
  /** What keys the zone takes, for health probes; default: the profile's, or what lookups used. */
  kind?: 'ip' | 'domain' | 'both' | undefined;
  /** Only count these codes (Postfix filter), on top of the profile. */
  codes?: string | undefined;
  /** Weight of a listing in this zone (overrides the profile's per-code weights). */
  weight?: number | undefined;
  /** false: never health-probe this zone (it stays enabled). */
  health?: boolean | undefined;
  /**
   * The name logs, metric labels and health show (and replies, through the engine's zoneDisplayNames).
   * Default: zoneDisplayName(zone), which drops the key label of DQS-style zones.
   */
  display?: string | undefined;
}

export type ZoneState = 'unchecked' | 'healthy' | 'disabled' | 'unreachable';

export interface ZoneHealth {
  /** The zone's display name (never a key-carrying zone name). */
  zone: string;
  profile: string;
  kind: 'ip' | 'domain' | 'both' | 'unknown';
  state: ZoneState;
  /** Why it is disabled/unreachable. */
  reason?: string | undefined;
  /** Clock time of the last completed check. */
  checkedAt?: number | undefined;
  /** Operator-error or out-of-range answers seen since the last check. */
  warnings: number;
  lastWarning?: string | undefined;
}

/** One A lookup's outcome: codes, nothing (NXDOMAIN/NODATA), or no answer. */
export type Raw =
  | { kind: 'codes'; codes: string[] }
  | { kind: 'none' }
  | { kind: 'fail'; reason: 'timeout' | 'servfail' | 'refused' | 'error'; detail: string };

export interface Zone {
  name: string;
  /** What logs, metric labels and health() show (zoneDisplayName). */
  display: string;
  profile: ProviderProfile;
  options: ZoneOptions;
  only: CompiledCodeFilter | undefined;
  seen: Set<'ip' | 'domain'>;
  state: ZoneState;
  reason?: string | undefined;
  checkedAt?: number | undefined;
  warnings: number;
  lastWarning?: string | undefined;
}

/** The key kinds a zone takes: the admin's, the profile's, or what lookups have used so far. */
export function zoneKinds(z: Zone): Set<'ip' | 'domain'> {
  const k = z.options.kind ?? (z.profile.name === 'generic' ? undefined : z.profile.kind);
  if (k === 'both') return new Set(['ip', 'domain']);
  if (k) return new Set([k]);
  return z.seen;
}


/** The zone's state for the CLI and console (never the key-carrying name). */
export function zoneHealth(z: Zone): ZoneHealth {
  const k = zoneKinds(z);
  const kind = k.size === 2 ? 'both' : k.has('ip') ? 'ip' : k.has('domain') ? 'domain' : 'unknown';
  return {
    zone: z.display,
    profile: z.profile.name,
    kind,
    state: z.state,
    reason: z.reason,
    checkedAt: z.checkedAt,
    warnings: z.warnings,
    lastWarning: z.lastWarning,
  };
}
