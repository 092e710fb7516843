import { describe, expect, it } from 'vitest';
import { CorruptQueueFile, decode, encode, type Envelope } from './record.ts';
import { dotStuff } from './transports/smtp-client.ts';
import { isQueueId, newQueueId } from './ids.ts';

const env: Envelope = {
  v: 1,
  id: newQueueId(Date.now()),
  sender: 'a@b.test',
  recipients: [{ address: 'c@d.test', state: 'pending' }],
  route: 'local',
  meta: { client: '127.0.0.1' },
  arrival: 1,
  attempts: 0,
};

describe('queue file record format', () => {
  it('round-trips envelope and message bytes', () => {
    const msg = Buffer.from('Subject: x\r\n\r\nEND 1 2\r\n\nMOATQ1 3\n\x00\xff');
    const out = decode(encode(env, msg));
    expect(out.envelope).toEqual(env);
    expect(out.message.equals(msg)).toBe(true);
  });

  it('refuses every truncation and any flipped byte', () => {
    const file = encode(env, Buffer.from('Subject: x\r\n\r\nbody\r\n'));
    for (let n = 0; n < file.length; n++) expect(() => decode(file.subarray(0, n))).toThrow(CorruptQueueFile);
    for (let i = 0; i < file.length; i++) {
      const bad = Buffer.from(file);
      bad[i] = bad[i]! ^ 0x20;
      expect(() => decode(bad), `byte ${i}`).toThrow(CorruptQueueFile);
    }
  });
});

describe('queue ids', () => {
  it('sort by arrival and are file-name safe', () => {
    const a = newQueueId(1_700_000_000_000);
    const b = newQueueId(1_700_000_000_001);
    expect(a < b).toBe(true);
    expect(isQueueId(a)).toBe(true);
    expect(isQueueId('../etc')).toBe(false);
  });
});

describe('dotStuff', () => {
  it('doubles leading dots and terminates', () => {
    expect(dotStuff(Buffer.from('.a\r\nb\r\n.\r\n..c')).toString()).toBe('..a\r\nb\r\n..\r\n...c\r\n.\r\n');
    expect(dotStuff(Buffer.from('x\r\n')).toString()).toBe('x\r\n.\r\n');
  });
});
