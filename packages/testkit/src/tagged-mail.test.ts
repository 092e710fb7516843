import { describe, expect, it } from 'vitest';
import { freshSender, freshTag, mailstore, taggedMessage } from './tagged-mail.ts';

describe('tagged mail', () => {
  it('makes distinct senders and tags with the given prefix', () => {
    expect(freshSender('swarm')).toMatch(/^swarm\.[a-z]{10}@sender\.example$/);
    expect(freshSender('cluster', 'other.example')).toMatch(/^cluster\.[a-z]{10}@other\.example$/);
    expect(freshTag('loss')).toMatch(/^loss-[0-9a-z]+-[0-9a-z]+$/);
    expect(new Set(Array.from({ length: 50 }, () => freshTag('t'))).size).toBe(50);
  });

  it('writes the tag into X-Moat-Tag and the Message-ID, CRLF throughout', () => {
    const text = taggedMessage({ from: 'a@x.example', to: 'b@y.example', tag: 't-1', subject: 'swarm t-1', idDomain: 'e2e.moat.test', body: ['Hello.'] });
    const lines = text.split('\r\n');
    expect(lines.slice(0, 3)).toEqual(['From: <a@x.example>', 'To: <b@y.example>', 'Subject: swarm t-1']);
    expect(lines).toContain('Message-ID: <t-1@e2e.moat.test>');
    expect(lines).toContain('X-Moat-Tag: t-1');
    expect(lines.slice(-3)).toEqual(['', 'Hello.', '']);
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('counts copies per tag in the mailstore and waits for missing ones', async () => {
    let reads = 0;
    const store = mailstore(async (...cmd) => {
      expect(cmd[0]).toBe('sh');
      reads++;
      return reads < 3 ? 'X-Moat-Tag: a\n' : 'X-Moat-Tag: a\nX-Moat-Tag: b\nX-Moat-Tag: a\n';
    });
    const counts = await store.waitDelivered(['a', 'b'], { timeoutMs: 5000, pollMs: 1 });
    expect(counts).toEqual(new Map([['a', 2], ['b', 1]]));
    expect(reads).toBe(3);
  });

  it('names what is missing when the wait times out; a failed read counts as empty only when asked', async () => {
    const failing = mailstore(async () => {
      throw new Error('no container');
    });
    await expect(failing.waitDelivered(['a'], { timeoutMs: 0, pollMs: 1 })).rejects.toThrow('no container');
    await expect(failing.waitDelivered(['a', 'b', 'c'], { timeoutMs: 0, pollMs: 1, retryErrors: true, listMissing: 2 })).rejects.toThrow(
      'not in the mailstore after 0 ms: a, b (3)',
    );
  });
});
