// The last guard before a verdict leaves the engine: a keyed DNS list zone (Spamhaus DQS) is shown by its
// display name in the reply text, the deciding restriction and the trace. Trusts the spec's zoneDisplayNames.
// The engine itself uses zoneDisplayNames for what it writes; this pass catches any text that still quotes a
// keyed zone (a list's TXT, a port's detail, a restriction as written), so replies, the decision log, metric
// labels and the journal, which all take the verdict from here, never carry the key.
import type { Engine, Verdict } from '@moat/policy';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A function replacing every keyed zone in a text, or undefined when no zone needs hiding. */
export function zoneHider(names: Readonly<Record<string, string>> | undefined): ((text: string) => string) | undefined {
  const hidden = new Map<string, string>();
  for (const [zone, display] of Object.entries(names ?? {})) {
    const z = zone.trim().replace(/\.$/, '').toLowerCase();
    if (z !== '' && z !== display.toLowerCase()) hidden.set(z, display);
  }
  if (hidden.size === 0) return undefined;
  // longest first, so a zone that contains another is replaced whole
  const re = new RegExp([...hidden.keys()].sort((a, b) => b.length - a.length).map(escapeRe).join('|'), 'gi');
  return (text) => text.replace(re, (m) => hidden.get(m.toLowerCase()) ?? m);
}

export function hideVerdict(v: Verdict, hide: (text: string) => string): Verdict {
  return {
    ...v,
    text: hide(v.text),
    decidedBy: v.decidedBy === undefined ? undefined : hide(v.decidedBy),
    prepend: v.prepend.map(hide),
    trace: v.trace.map((t) => ({ ...t, restriction: hide(t.restriction), reason: t.reason === undefined ? undefined : hide(t.reason) })),
  };
}

/** The engine, with its verdicts passed through hideVerdict when the spec has keyed zones; else the engine itself. */
export function hideZones(engine: Engine): Engine {
  const hide = zoneHider(engine.spec.zoneDisplayNames);
  if (!hide) return engine;
  return {
    spec: engine.spec,
    evaluate: async (facts) => hideVerdict(await engine.evaluate(facts), hide),
  };
}
