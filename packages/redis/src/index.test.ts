import { describe, expect, it } from 'vitest';
import { redisTargetFromConfig } from './index.ts';

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
});
