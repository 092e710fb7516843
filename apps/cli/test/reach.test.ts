// The reachability probes the CLI runs before it speaks for the stack, against real daemons: an
// authoritative rbldnsd, a server that never answers, nothing at all, a live and a stopped redis-server.
import { startBlackholeDns, freePort, startRbldnsd, startRedis } from '@moat/testkit';
import { describe, expect, it } from 'vitest';
import { HEALTH_NAME, probeRedis, probeResolver } from '../src/commands/reach.ts';

describe('probeResolver', () => {
  it('any DNS answer is reachable; nothing listening, silence and REFUSED are named', async () => {
    const rbl = await startRbldnsd({ zones: { 'bl.moat.test': '127.0.0.2\n' } });
    const hole = await startBlackholeDns();
    try {
      const at = `127.0.0.1:${rbl.port}`;
      // rbldnsd refuses health.moat. (not its zone), then answers the zone's test point.
      expect(await probeResolver(at, [HEALTH_NAME, '2.0.0.127.bl.moat.test'], 1000)).toBeUndefined();
      expect(await probeResolver(at, ['3.0.0.127.bl.moat.test'], 1000)).toBeUndefined(); // NXDOMAIN: it is there
      expect(await probeResolver(at, [HEALTH_NAME], 1000)).toBe('it refuses queries from this host (its access control)');
      expect(await probeResolver(`127.0.0.1:${await freePort()}`, [HEALTH_NAME, '2.0.0.127.bl.moat.test'], 1000)).toBe('connection refused: nothing listens there');
      expect(await probeResolver(hole.server, [HEALTH_NAME], 300)).toBe('no answer within 300 ms');
      expect(await probeResolver('resolver.example:53', [HEALTH_NAME], 300)).toContain('resolver must be an IP address');
    } finally {
      await Promise.all([rbl.stop(), hole.stop()]);
    }
  });
});

describe('probeRedis', () => {
  it('a live server is reachable; a stopped one is named with the reason', async () => {
    const redis = await startRedis();
    expect(await probeRedis({ url: redis.url }, 2000)).toBeUndefined();
    await redis.stop();
    expect(await probeRedis({ url: redis.url }, 2000)).toBe(`connect ECONNREFUSED ${redis.url.slice('redis://'.length)}`);
  });
});
