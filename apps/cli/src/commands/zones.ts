// `moat zones`: the health of every DNS list the policy queries (RFC 5782 test points through the configured resolver).
// Talks only to the configured resolver; exits 1 when any zone is disabled or unreachable (for monitoring scripts).
import type { ZoneHealth } from '@moat/dnslist';
import { isoTime, parseArgs, safe, table, UsageError } from './args.ts';
import { engineFor, guard, loadConfigOrFail, noGreylist } from './context.ts';
import type { Command } from './types.ts';

const USAGE = '[--config FILE] [--json]   (exit 1 when a zone is disabled or unreachable)';

export function zonesTable(zones: readonly ZoneHealth[]): string {
  if (zones.length === 0) return 'no DNS list in the policy\n';
  const rows = [['zone', 'state', 'profile', 'kind', 'checked', 'warnings', 'reason']];
  for (const z of zones) {
    rows.push([safe(z.zone), z.state, safe(z.profile), z.kind, isoTime(z.checkedAt), String(z.warnings), safe(z.reason ?? z.lastWarning ?? '')]);
  }
  return `${table(rows)}\n`;
}

export const zonesCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('zones', USAGE, io, async () => {
      const a = parseArgs(args, { values: ['config'], flags: ['json'] });
      if (a.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(a.positionals[0])}`);
      const config = loadConfigOrFail(a.values.config);
      const built = await engineFor(config, io, { greylist: noGreylist });
      try {
        await built.dnslist?.ready;
        const zones = built.dnslist?.health() ?? [];
        io.out.write(a.flags.has('json') ? `${JSON.stringify({ resolver: config.dns.resolver, zones }, null, 2)}\n` : `resolver ${config.dns.resolver}\n${zonesTable(zones)}`);
        return zones.some((z) => z.state === 'disabled' || z.state === 'unreachable') ? 1 : 0;
      } finally {
        await built.close();
      }
    });
  },
};
