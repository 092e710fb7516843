// `moat zones`: the health of every DNS list the policy queries (RFC 5782 test points through the configured resolver).
// Talks only to the configured resolver; exits 1 when it or any zone is disabled or unreachable (for monitoring scripts).
import type { ZoneHealth } from '@moat/dnslist';
import { isoTime, parseArgs, safe, table, UsageError } from './args.ts';
import { zonesOf } from '@moat/runtime';
import { engineFor, guard, loadConfigOrFail, noGreylist } from './context.ts';
import { HEALTH_NAME, probeResolver } from './reach.ts';
import type { Command } from './types.ts';

const USAGE = '[--config FILE] [--json]   (exit 1 when the resolver or a zone is unreachable, or a zone is disabled)';

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
        const names = zonesOf(built.spec);
        // A zone whose kind is not known yet is never probed: without this, a dead resolver would look "unchecked", fine.
        const [down] = await Promise.all([
          names.length ? probeResolver(config.dns.resolver, [HEALTH_NAME, `2.0.0.127.${names[0]}`], Math.max(config.dns.timeout, 1000)) : undefined,
          built.dnslist?.ready,
        ]);
        const zones = built.dnslist?.health() ?? [];
        const resolver = down ? `the resolver at ${config.dns.resolver} is unreachable (${down})` : undefined;
        io.out.write(
          a.flags.has('json')
            ? `${JSON.stringify({ resolver: config.dns.resolver, ...(resolver && { unreachable: resolver }), zones }, null, 2)}\n`
            : `resolver ${config.dns.resolver}${down ? ` UNREACHABLE (${down})` : ''}\n${zonesTable(zones)}`,
        );
        if (resolver) io.err.write(`moat zones: ${resolver}: no zone can be checked from here\n`);
        return resolver || zones.some((z) => z.state === 'disabled' || z.state === 'unreachable') ? 1 : 0;
      } finally {
        await built.close();
      }
    });
  },
};
