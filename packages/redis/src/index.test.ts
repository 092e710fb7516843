import { describe, expect, it } from 'vitest';
import { describeRedisTarget } from './index.ts';

describe('describeRedisTarget', () => {
  it('names the target with its credentials masked', () => {
    expect(describeRedisTarget({ url: 'redis://:s3cret@10.0.0.5:6379/2' })).toBe('redis://***@10.0.0.5:6379/2');
    expect(describeRedisTarget({ url: 'rediss://user:pw@redis.example:6380' })).toBe('rediss://***@redis.example:6380');
    expect(describeRedisTarget({ url: 'redis://127.0.0.1:6379' })).toBe('redis://127.0.0.1:6379');
    expect(describeRedisTarget({ sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], name: 'moat', password: 'x' })).toBe('sentinels s1:26379,[::1]:26380 (master moat)');
    expect(describeRedisTarget({ cluster: [{ host: '10.0.0.1', port: 7000 }], password: 'x' })).toBe('cluster 10.0.0.1:7000');
  });
});
