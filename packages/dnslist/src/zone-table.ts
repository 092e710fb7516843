// The zones a DNS list client knows: each zone's settings and profile, made once on first use, and the display
// names that stand for keyed zones in every log, label and text. Trusts its profiles; zone names are config.
import { type DnsTarget, parseCodeFilter } from '@moat/policy';
import { validDisplayName, zoneDisplayName } from './display-name.ts';
import type { DnsListMetrics } from './metrics.ts';
import { ProfileConfigError, type ProviderProfile, profileForZone } from './profiles.ts';
import type { Zone, ZoneOptions } from './zone.ts';

export function normZone(zone: string): string {
  return zone.trim().toLowerCase().replace(/\.$/, '');
}

export function targetKind(target: DnsTarget): 'ip' | 'domain' {
  return target === 'client' ? 'ip' : 'domain';
}

export interface ZoneTable {
  zones: Map<string, Zone>;
  /** A zone by its normalised name, made (and checked) on first use. */
  zoneFor(name: string, opts?: ZoneOptions): Zone;
  /** The display name of a zone as a query names it. */
  shownName(zone: string): string;
  /** Text that may quote a query name (a resolver error): every keyed zone replaced by its display name. */
  hide(text: string): string;
}

export function createZoneTable(profiles: Map<string, ProviderProfile>, m: DnsListMetrics): ZoneTable {
  const zones = new Map<string, Zone>();
  function zoneFor(name: string, opts?: ZoneOptions): Zone {
    let z = zones.get(name);
    if (z) return z;
    const o = opts ?? {};
    if (o.display !== undefined && !validDisplayName(o.display)) {
      throw new ProfileConfigError(`dns zone ${zoneDisplayName(name)}: display must be a zone-like name (letters, digits, - _ .)`);
    }
    const display = zoneDisplayName(name, o.display);
    if (o.kind !== undefined && o.kind !== 'ip' && o.kind !== 'domain' && o.kind !== 'both') {
      throw new ProfileConfigError(`dns zone ${display}: kind must be ip, domain or both`);
    }
    if (o.weight !== undefined && typeof o.weight !== 'number') throw new ProfileConfigError(`dns zone ${display}: weight must be a number`);
    const profile = o.profile ? profiles.get(o.profile) : profileForZone(name, profiles);
    if (!profile) throw new ProfileConfigError(`dns zone ${display} names unknown profile ${o.profile}`);
    z = {
      name,
      display,
      profile,
      options: o,
      only: o.codes !== undefined ? parseCodeFilter(o.codes) : undefined,
      seen: new Set(),
      state: 'unchecked',
      warnings: 0,
    };
    zones.set(name, z);
    m.healthy.set({ zone: display }, 1);
    return z;
  }

  function shownName(zone: string): string {
    return zones.get(normZone(zone))?.display ?? zoneDisplayName(zone);
  }
  function hide(text: string): string {
    let out = text;
    for (const z of zones.values()) {
      if (z.display === z.name) continue;
      out = out.replace(new RegExp(z.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), z.display);
    }
    return out;
  }
  return { zones, zoneFor, shownName, hide };
}
