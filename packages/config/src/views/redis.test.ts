import { describe, expect, it } from 'vitest';
import { redisView } from './redis.ts';

const redis = (r: Record<string, unknown>) => ({ greylist: { redis: { url: 'redis://x', sentinels: [], name: 'moat', ...r } } }) as unknown as Parameters<typeof redisView>[0];

describe('views.redis', () => {
  it('takes the URL when no Sentinels are listed', () => {
    expect(redisView(redis({ url: 'redis://10.0.0.5:6379/0' }))).toEqual({ url: 'redis://10.0.0.5:6379/0' });
  });
  it('reads host:port Sentinels, IPv6 in brackets, with the master name', () => {
    expect(redisView(redis({ sentinels: ['sentinel-1:26379', '[2001:db8::7]:26380'], name: 'mail' }))).toEqual({
      name: 'mail',
      sentinels: [
        { host: 'sentinel-1', port: 26379 },
        { host: '2001:db8::7', port: 26380 },
      ],
    });
  });
  it('passes the Sentinel-mode logins through, and leaves absent ones out', () => {
    const base = { url: 'redis://127.0.0.1:6379', sentinels: ['127.0.0.1:26379'], name: 'moat' };
    expect(redisView(redis({ ...base, username: 'mx', password: 'p1', sentinel_username: 'sen', sentinel_password: 'p2' }))).toEqual({
      name: 'moat',
      sentinels: [{ host: '127.0.0.1', port: 26379 }],
      username: 'mx',
      password: 'p1',
      sentinelUsername: 'sen',
      sentinelPassword: 'p2',
    });
    expect(Object.keys(redisView(redis({ ...base, password: 'p1' }))).sort()).toEqual(['name', 'password', 'sentinels']);
  });
});
