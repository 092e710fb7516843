import { describe, expect, it } from 'vitest';
import { describeRedisTarget, redisTargetFromConfig } from './index.ts';

describe('redisTargetFromConfig', () => {
  it('takes the URL when no Sentinels are listed', () => {
    expect(redisTargetFromConfig({ url: 'redis://10.0.0.5:6379/0', sentinels: [], name: 'moat' })).toEqual({ url: 'redis://10.0.0.5:6379/0' });
  });
  it('reads host:port Sentinels, IPv6 in brackets, with the master name', () => {
    expect(redisTargetFromConfig({ url: 'redis://x', sentinels: ['sentinel-1:26379', '[2001:db8::7]:26380'], name: 'mail' })).toEqual({
      name: 'mail',
      sentinels: [
        { host: 'sentinel-1', port: 26379 },
        { host: '2001:db8::7', port: 26380 },
      ],
    });
  });
  it('passes the Sentinel-mode logins through, and leaves absent ones out', () => {
    const base = { url: 'redis://127.0.0.1:6379', sentinels: ['127.0.0.1:26379'], name: 'moat' };
    expect(redisTargetFromConfig({ ...base, username: 'mx', password: 'p1', sentinel_username: 'sen', sentinel_password: 'p2' })).toEqual({
      name: 'moat',
      sentinels: [{ host: '127.0.0.1', port: 26379 }],
      username: 'mx',
      password: 'p1',
      sentinelUsername: 'sen',
      sentinelPassword: 'p2',
    });
    expect(Object.keys(redisTargetFromConfig({ ...base, password: 'p1' })).sort()).toEqual(['name', 'password', 'sentinels']);
  });
});

describe('describeRedisTarget', () => {
  it('names the target with its credentials masked', () => {
    expect(describeRedisTarget({ url: 'redis://:s3cret@10.0.0.5:6379/2' })).toBe('redis://***@10.0.0.5:6379/2');
    expect(describeRedisTarget({ url: 'rediss://user:pw@redis.example:6380' })).toBe('rediss://***@redis.example:6380');
    expect(describeRedisTarget({ url: 'redis://127.0.0.1:6379' })).toBe('redis://127.0.0.1:6379');
    expect(describeRedisTarget({ sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], name: 'moat', password: 'x' })).toBe('sentinels s1:26379,[::1]:26380 (master moat)');
    expect(describeRedisTarget({ cluster: [{ host: '10.0.0.1', port: 7000 }], password: 'x' })).toBe('cluster 10.0.0.1:7000');
  });
});
