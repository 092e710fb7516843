import { describe, expect, it } from 'vitest';
import { DKIM_META_KEY, DKIM_SIGN, maySign } from './signable.ts';

describe('maySign', () => {
  it('only mail the gateway marked, and our own DSNs', () => {
    expect(maySign({ meta: { [DKIM_META_KEY]: DKIM_SIGN }, kind: 'mail' })).toBe(true);
    expect(maySign({ meta: { saslUser: 'alice' }, kind: 'mail' })).toBe(false);
    expect(maySign({ meta: {}, kind: undefined })).toBe(false);
    expect(maySign({ meta: { [DKIM_META_KEY]: 'yes' }, kind: 'mail' })).toBe(false);
    expect(maySign({ meta: {}, kind: 'bounce' })).toBe(true);
    expect(maySign({ meta: {}, kind: 'delay' })).toBe(true);
  });
});
