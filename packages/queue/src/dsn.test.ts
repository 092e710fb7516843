// DSNs as golden files (Postfix's *.ref style): the exact bytes of a bounce and a delay warning.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildDsn } from './dsn.ts';
import type { Envelope } from './record.ts';

const golden = (name: string) => join(import.meta.dirname, '..', 'test', 'golden', name);
const envelope: Envelope = {
  v: 1,
  id: '1BQZ4K7HG3XW2RTPK3V',
  sender: 'alice@sender.test',
  recipients: [],
  route: 'local',
  meta: {},
  arrival: Date.UTC(2026, 0, 5, 12, 0, 0),
  attempts: 3,
};
const message = Buffer.from('From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: hello\r\n\r\nHi Bob.\r\n');

function check(name: string, got: Buffer): void {
  if (process.env.UPDATE_GOLDEN) writeFileSync(golden(name), got);
  expect(got.toString('utf8')).toBe(readFileSync(golden(name), 'utf8'));
}

it('bounce: multipart/report with message/delivery-status and the returned message', () => {
  check(
    'bounce.eml',
    buildDsn({
      kind: 'failed',
      hostname: 'mx.example.test',
      bounceFrom: 'MAILER-DAEMON@mx.example.test',
      envelope,
      message,
      now: Date.UTC(2026, 0, 5, 12, 30, 0),
      token: 'f00d',
      recipients: [
        { address: 'bob@example.test', state: 'bounced', code: 550, status: '5.1.1', lastError: '550 5.1.1 <bob@example.test>: no such user\r\nInjected: header', relay: 'mx1.example.test[192.0.2.10]:25' },
        { address: 'carol@example.test', state: 'bounced', status: '4.4.7', lastError: 'delivery time expired; last error: connect to 192.0.2.11:25: ECONNREFUSED' },
      ],
    }),
  );
});

it('delay warning: headers only, Will-Retry-Until', () => {
  check(
    'delayed.eml',
    buildDsn({
      kind: 'delayed',
      hostname: 'mx.example.test',
      bounceFrom: 'MAILER-DAEMON@mx.example.test',
      envelope,
      message,
      now: Date.UTC(2026, 0, 5, 13, 5, 0),
      willRetryUntil: Date.UTC(2026, 0, 12, 12, 0, 0),
      token: 'f00d',
      recipients: [{ address: 'bob@example.test', state: 'pending', code: 451, status: '4.7.1', lastError: '451 4.7.1 greylisted', relay: 'lmtp://127.0.0.1:24' }],
    }),
  );
});
