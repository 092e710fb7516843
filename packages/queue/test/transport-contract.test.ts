// One contract, every delivery agent (unstorage's testDriver style): one result per recipient, bytes passed
// through unchanged, and an unreachable destination defers every recipient instead of throwing.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCachedSessions, maildirTransport, type MxResolver, nextHopTransport, relayTransport, type Transport } from '../src/index.ts';
import { message, type Sink, startSink } from './helpers.ts';

interface Driver {
  name: string;
  make(): Promise<{ transport: Transport; received(rcpt: string): Promise<Buffer[]> }>;
  broken(): Promise<Transport>;
}

let dir: { path: string; remove(): Promise<void> };
let smtp: Sink;
let lmtp: Sink;
beforeAll(async () => {
  dir = await tmpDir('contract');
  smtp = await startSink();
  lmtp = await startSink({ lmtp: true });
});
afterAll(async () => {
  closeCachedSessions();
  await smtp.close();
  await lmtp.close();
  await dir.remove();
});

const fromSink = (s: () => Sink) => async (rcpt: string) => s().messages.filter((m) => m.recipients.includes(rcpt)).map((m) => m.data);
const loopback = (): MxResolver => ({
  resolveMx: async () => [{ exchange: '127.0.0.1', priority: 10 }],
  resolveAddresses: async () => ['127.0.0.1'],
});

const drivers: Driver[] = [
  {
    name: 'maildir',
    async make() {
      const root = join(dir.path, 'maildir');
      return {
        transport: maildirTransport({ root }),
        async received(rcpt) {
          const [local, domain] = rcpt.split('@') as [string, string];
          const box = join(root, domain, local, 'new');
          const files = await readdir(box).catch(() => [] as string[]);
          const out: Buffer[] = [];
          for (const f of files) {
            const data = await readFile(join(box, f));
            // strip Return-Path and Delivered-To
            let off = 0;
            for (let i = 0; i < 2; i++) off = data.indexOf('\r\n', off) + 2;
            out.push(data.subarray(off));
          }
          return out;
        },
      };
    },
    async broken() {
      const file = join(dir.path, 'not-a-dir');
      await writeFile(file, 'x');
      return maildirTransport({ root: file });
    },
  },
  {
    name: 'smtp',
    async make() {
      return { transport: nextHopTransport({ host: '127.0.0.1', port: smtp.port, heloName: 'mx.test' }), received: fromSink(() => smtp) };
    },
    async broken() {
      return nextHopTransport({ host: '127.0.0.1', port: await freePort(), heloName: 'mx.test' });
    },
  },
  {
    name: 'lmtp',
    async make() {
      return { transport: nextHopTransport({ host: '127.0.0.1', port: lmtp.port, lmtp: true, heloName: 'mx.test' }), received: fromSink(() => lmtp) };
    },
    async broken() {
      return nextHopTransport({ host: '127.0.0.1', port: await freePort(), lmtp: true, heloName: 'mx.test' });
    },
  },
  {
    name: 'relay',
    async make() {
      return { transport: relayTransport({ heloName: 'mx.test', resolver: loopback(), port: smtp.port }), received: fromSink(() => smtp) };
    },
    async broken() {
      const failing: MxResolver = {
        resolveMx: async () => {
          throw Object.assign(new Error('SERVFAIL'), { code: 'ESERVFAIL' });
        },
        resolveAddresses: async () => [],
      };
      return relayTransport({ heloName: 'mx.test', resolver: failing, port: smtp.port });
    },
  },
];

describe.each(drivers)('transport contract: $name', (driver) => {
  it('delivers to every recipient, one result each, bytes unchanged', async () => {
    const { transport, received } = await driver.make();
    const tag = `${driver.name}-${Date.now()}`;
    const msg = message(tag, 'hello\r\n.dot\r\n..two dots\r\n');
    const rcpts = [`u1-${driver.name}@example.test`, `u2-${driver.name}@example.test`];
    const results = await transport.deliver({ id: 'TESTID', sender: 'a@sender.test', recipients: rcpts, message: msg });
    expect(results.map((r) => r.recipient).sort()).toEqual(rcpts);
    for (const r of results) {
      expect(r.status, r.response).toBe('sent');
      expect(r.relay).toBeTruthy();
    }
    for (const rcpt of rcpts) {
      const got = await received(rcpt);
      expect(got).toHaveLength(1);
      expect(got[0]!.equals(msg)).toBe(true);
    }
    expect(new Set(rcpts.map((r) => transport.destination(r))).size).toBe(1);
  });

  it('defers every recipient when the destination is unusable, without throwing', async () => {
    const transport = await driver.broken();
    const rcpts = ['x@example.test', 'y@example.test'];
    const results = await transport.deliver({ id: 'TESTID', sender: 'a@sender.test', recipients: rcpts, message: message('broken', 'x') });
    expect(results.map((r) => [r.recipient, r.status]).sort()).toEqual(rcpts.map((r) => [r, 'deferred']));
    for (const r of results) expect(r.response).toMatch(/\S/);
  });
});
