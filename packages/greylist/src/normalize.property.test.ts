// Property test: folding an already folded address changes nothing, so stored senders stay stable.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { normalizeRecipient, normalizeSender } from './normalize.ts';

const local = fc.stringMatching(/^[A-Za-z0-9._=+-]{1,40}$/);
const domain = fc.stringMatching(/^[a-z0-9-]{1,10}\.[a-z]{2,5}$/);
it('normalisation is idempotent and keeps the domain (unless SRS/BATV rewrote it)', () => {
  fc.assert(fc.property(local, domain, (l, d) => {
    const a = `${l}@${d}`;
    const n = normalizeSender(a);
    expect(normalizeSender(n)).toBe(n);
    expect(normalizeRecipient(normalizeRecipient(a))).toBe(normalizeRecipient(a));
    expect(n.endsWith(`@${d}`) || /^srs|prvs|btv/i.test(l)).toBe(true);
  }), { numRuns: 3000 });
});
