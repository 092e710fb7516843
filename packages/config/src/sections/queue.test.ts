import { describe, expect, it } from 'vitest';
import { queueSection } from './queue.ts';

describe('queue.tls policy tables', () => {
  it('keys are lower-cased (lookups lower-case the hop, as Postfix tables fold case); the first spelling wins', () => {
    const q = queueSection.parse({
      tls: {
        policies: { '[Relay.Example]:25': 'encrypt', 'Example.NET': 'verify', 'example.net': 'secure' },
        lmtp: { policies: { 'Box.Example:24': 'verify', '[DOVECOT.example]': 'secure' } },
      },
    });
    expect(q.tls.policies).toEqual({ '[relay.example]:25': 'encrypt', 'example.net': 'verify' });
    expect(q.tls.lmtp.policies).toEqual({ 'box.example:24': 'verify', '[dovecot.example]': 'secure' });
  });
});
