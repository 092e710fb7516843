import { describe, expect, it } from 'vitest';
import { splitHostPort } from './listen.ts';

describe('splitHostPort', () => {
  it('reads host:port, [v6]:port and a bare port (loopback)', () => {
    expect(splitHostPort('127.0.0.1:10040')).toEqual({ host: '127.0.0.1', port: 10040 });
    expect(splitHostPort('[::1]:10040')).toEqual({ host: '::1', port: 10040 });
    expect(splitHostPort('policy.internal:10023')).toEqual({ host: 'policy.internal', port: 10023 });
    expect(splitHostPort('10023')).toEqual({ host: '127.0.0.1', port: 10023 });
  });
  it('refuses anything else', () => {
    for (const bad of ['', ':', 'host', '1.2.3.4:99999', '::1:25', 'a:b']) expect(() => splitHostPort(bad), bad).toThrow();
  });
});
