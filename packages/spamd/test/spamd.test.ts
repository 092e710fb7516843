// The client against a real spamd on a loopback port, and against servers that are down or never answer.
import { createServer, type Server, type Socket } from 'node:net';
import { createRegistry } from '@moat/observe';
import { freePort, startSpamd, type SpamdDaemon } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpamdClient, SpamdError } from '../src/index.ts';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const msg = (body: string) =>
  Buffer.from(
    [
      'From: Alice <alice@example.org>',
      'To: bob@example.net',
      'Subject: lunch on thursday',
      // now, not a fixed date: SpamAssassin scores a Date hours in the past (DATE_IN_PAST_*)
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      'Message-ID: <20261124100000.1@example.org>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
const ham = msg('Hi Bob,\r\n\r\nshall we meet at noon on Thursday at the usual place?\r\n\r\nAlice');
const spam = msg(`This is the GTUBE.\r\n\r\n${GTUBE}`);

let spamd: SpamdDaemon;
beforeAll(async () => {
  spamd = await startSpamd();
}, 60_000);
afterAll(async () => {
  await spamd?.close();
});

describe('spamd client against a real spamd', () => {
  it('CHECK: GTUBE is spam, ham is not', async () => {
    const registry = createRegistry();
    const c = createSpamdClient({ host: spamd.host, port: spamd.port, registry });
    const s = await c.check(spam);
    expect(s.isSpam).toBe(true);
    expect(s.score).toBeGreaterThanOrEqual(1000);
    expect(s.threshold).toBe(5);
    const h = await c.check(ham);
    expect(h.isSpam).toBe(false);
    expect(h.score).toBeLessThan(5);
    expect(await registry.getSingleMetricAsString('moat_spamd_calls_total')).toMatch(/command="CHECK",outcome="ok"} 2/);
  });

  it('SYMBOLS, REPORT, HEADERS', async () => {
    const c = createSpamdClient({ host: spamd.host, port: spamd.port });
    expect((await c.symbols(spam)).symbols).toContain('GTUBE');
    expect((await c.report(spam)).report).toMatch(/GTUBE/);
    const h = await c.headers(spam);
    const status = h.headers.find((x) => x.name === 'X-Spam-Status');
    expect(status?.value).toMatch(/^Yes, score=/);
    expect(h.headers.find((x) => x.name === 'Subject')?.value).toBe('lunch on thursday');
  });

  it('streams a message given as chunks with its length, and several calls at once under the limit', async () => {
    const c = createSpamdClient({ host: spamd.host, port: spamd.port, maxConnections: 2 });
    async function* chunks() {
      for (let i = 0; i < ham.length; i += 7) yield ham.subarray(i, i + 7);
    }
    const r = await c.check({ length: ham.length, chunks: chunks() });
    expect(r.isSpam).toBe(false);
    const all = await Promise.all([c.check(spam), c.check(ham), c.check(spam), c.check(ham)]);
    expect(all.map((x) => x.isSpam)).toEqual([true, false, true, false]);
    expect(await c.ping()).toBe(true);
  });
});

describe('spamd client failures', () => {
  it('spamd down: a typed connect error, fast', async () => {
    const port = await freePort();
    const c = createSpamdClient({ host: '127.0.0.1', port, timeoutMs: 5000 });
    const t = Date.now();
    const e = await c.check(ham).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SpamdError);
    expect((e as SpamdError).code).toBe('ESPAMD_CONNECT');
    expect(Date.now() - t).toBeLessThan(2000);
    expect(await c.ping()).toBe(false);
  });

  it('spamd slow (accepts, never answers): a typed timeout', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => {
      sockets.push(s);
      s.on('data', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const c = createSpamdClient({ host: '127.0.0.1', port, timeoutMs: 300 });
      const e = await c.check(ham).catch((x: unknown) => x);
      expect((e as SpamdError).code).toBe('ESPAMD_TIMEOUT');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('a garbage reply is a protocol error; an EX_ code is refused', async () => {
    let reply = 'HTTP/1.0 200 OK\r\n\r\n';
    const server = createServer((s) => {
      s.once('data', () => s.end(reply));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const c = createSpamdClient({ host: '127.0.0.1', port, timeoutMs: 2000 });
      expect(((await c.check(ham).catch((x: unknown) => x)) as SpamdError).code).toBe('ESPAMD_PROTOCOL');
      reply = 'SPAMD/1.0 76 Bad header line: xx\r\n';
      const e = (await c.check(ham).catch((x: unknown) => x)) as SpamdError;
      expect(e.code).toBe('ESPAMD_REFUSED');
      expect(e.status).toBe(76);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
