import { connect, type Socket } from 'node:net';
import { createLogger, createRegistry } from '@moat/observe';
import { type Facts, parseCidr, type Verdict } from '@moat/policy';
import { afterEach, describe, expect, it } from 'vitest';
import { createPolicyServer, type PolicyServer } from './server.ts';
import { type PolicydView as PolicydSettings, policydClients, testConfig, views } from '@moat/config';

/** The schema's defaults, serving everyone (the tests connect from loopback; clients are tested on their own). */
const defaultSettings: PolicydSettings = { ...views.policyd(testConfig()), clients: undefined };

const verdicts: Record<string, Partial<Verdict>> = {
  'grey@example.org': { action: 'defer', status: '4.7.1', text: 'Greylisted', greylisted: true },
  'bad@example.org': { action: 'reject', status: '5.7.1', text: 'blocked' },
  'ok@example.org': { action: 'permit', prepend: ['X-Greylist: delayed 2 seconds'] },
};
const seen: Facts[] = [];
const engine = {
  async evaluate(facts: Facts): Promise<Verdict> {
    seen.push(facts);
    if (facts.recipient === 'slow@example.org') await new Promise((r) => setTimeout(r, 500));
    if (facts.recipient === 'boom@example.org') throw new Error('boom');
    return { action: 'continue', status: '2.0.0', text: '', prepend: [], trace: [], ...verdicts[facts.recipient ?? ''] };
  },
};

let server: PolicyServer | undefined;
afterEach(async () => {
  await server?.close(200);
  server = undefined;
});

let registry = createRegistry();

async function start(over: Partial<PolicydSettings> = {}) {
  registry = createRegistry();
  server = createPolicyServer({
    engine,
    settings: { ...defaultSettings, ...over },
    logger: createLogger('policyd-test', { level: 'silent' }),
    registry,
    replyCode: (v) => (v.action === 'reject' ? 554 : 450),
  });
  return (await server.listen('127.0.0.1', 0)).port;
}

/** A client that reads replies as Postfix does: `action=...` then a blank line. */
function client(port: number) {
  const s: Socket = connect(port, '127.0.0.1');
  let buf = '';
  let closed = false;
  const waiters: Array<() => void> = [];
  s.on('data', (d) => {
    buf += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  s.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  s.on('error', () => {});
  return {
    socket: s,
    send: (text: string) => s.write(text),
    async reply(): Promise<string | null> {
      for (;;) {
        const k = buf.indexOf('\n\n');
        if (k >= 0) {
          const r = buf.slice(0, k);
          buf = buf.slice(k + 2);
          return r;
        }
        if (closed) return null;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    closed: () => new Promise<void>((r) => (closed ? r() : s.once('close', () => r()))),
  };
}

const request = (over: Record<string, string> = {}) =>
  `${Object.entries({
    request: 'smtpd_access_policy',
    protocol_state: 'RCPT',
    protocol_name: 'ESMTP',
    client_address: '198.51.100.7',
    client_name: 'unknown',
    helo_name: 'mail.example.net',
    sender: 'a@example.net',
    recipient: 'x@example.org',
    instance: 'i1',
    ...over,
  })
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n\n`;

describe('policy server', () => {
  it('answers many requests on one connection, mapping verdicts', async () => {
    const c = client(await start());
    c.send(request({ recipient: 'grey@example.org' }));
    expect(await c.reply()).toBe('action=DEFER_IF_PERMIT 4.7.1 Greylisted');
    c.send(request({ recipient: 'bad@example.org' }));
    expect(await c.reply()).toBe('action=554 5.7.1 blocked');
    c.send(request({ recipient: 'ok@example.org' }));
    expect(await c.reply()).toBe('action=PREPEND X-Greylist: delayed 2 seconds');
    c.send(request({ recipient: 'ok@example.org' })); // same transaction: no second header
    expect(await c.reply()).toBe('action=DUNNO');
    c.send(request({ recipient: 'ok@example.org', instance: 'i2' }));
    expect(await c.reply()).toBe('action=PREPEND X-Greylist: delayed 2 seconds');
    c.send(request({ protocol_state: 'CONNECT', unknown_future_attr: 'x' }));
    expect(await c.reply()).toBe('action=DUNNO');
    c.socket.end();
    await c.closed();
  });

  it('answers pipelined requests in order', async () => {
    const c = client(await start());
    c.send(request({ recipient: 'slow@example.org' }) + request({ recipient: 'bad@example.org' }));
    expect(await c.reply()).toBe('action=DUNNO');
    expect(await c.reply()).toBe('action=554 5.7.1 blocked');
    c.socket.destroy();
  });

  it('closes without a reply on garbage, overlong lines and requests, missing attributes', async () => {
    const port = await start({ maxLine: 200, maxRequest: 1000 });
    const cases = [
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      `recipient=${'x'.repeat(5000)}`,
      `${'a=1234567890\n'.repeat(200)}`,
      'protocol_state=RCPT\nclient_address=1.2.3.4\n\n',
      request({ client_address: '' }),
    ];
    for (const text of cases) {
      const c = client(port);
      c.send(text);
      expect(await c.reply(), text.slice(0, 20)).toBeNull();
    }
    // the server is still fine
    const ok = client(port);
    ok.send(request({ recipient: 'bad@example.org' }));
    expect(await ok.reply()).toBe('action=554 5.7.1 blocked');
    ok.socket.destroy();
  });

  it('never buffers more than a line for a client that never sends a newline', async () => {
    const port = await start({ maxLine: 4096 });
    const c = client(port);
    let ok = true;
    for (let i = 0; i < 200 && ok; i++) ok = c.send('x'.repeat(1024));
    expect(await c.reply()).toBeNull();
  });

  it('closes a connection whose request never ends (request timeout), and idle ones', async () => {
    const port = await start({ requestTimeoutMs: 150, idleTimeoutMs: 300 });
    const partial = client(port);
    partial.send('request=smtpd_access_policy\nprotocol_state=RCPT\n');
    const t0 = Date.now();
    expect(await partial.reply()).toBeNull();
    expect(Date.now() - t0).toBeLessThan(2000);
    const idle = client(port);
    idle.send(request({ recipient: 'bad@example.org' }));
    expect(await idle.reply()).toBe('action=554 5.7.1 blocked');
    await idle.closed();
  });

  it('a client that never reads nor closes is ended when idle, then dropped: its slot comes back', async () => {
    const port = await start({ idleTimeoutMs: 200 });
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.pause(); // never reads a reply, never sees our FIN
    const one = request({ protocol_state: 'CONNECT', padding: 'x'.repeat(2000) });
    for (let i = 0; i < 500; i++) s.write(one);
    await new Promise((r) => setTimeout(r, 100));
    expect(server!.connectionCount()).toBe(1);
    const t0 = Date.now();
    while (server!.connectionCount() > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    expect(server!.connectionCount()).toBe(0);
    s.destroy();
  });

  it('engine failure: disconnects (Postfix applies default_action), or answers errorAction', async () => {
    let c = client(await start());
    c.send(request({ recipient: 'boom@example.org' }));
    expect(await c.reply()).toBeNull();
    await server?.close(100);
    c = client(await start({ errorAction: 'DEFER_IF_PERMIT 4.3.0 policy engine unavailable' }));
    c.send(request({ recipient: 'boom@example.org' }));
    expect(await c.reply()).toBe('action=DEFER_IF_PERMIT 4.3.0 policy engine unavailable');
    c.socket.destroy();
  });

  it('decision timeout counts as an engine failure', async () => {
    const c = client(await start({ decisionTimeoutMs: 50, errorAction: 'DUNNO' }));
    c.send(request({ recipient: 'slow@example.org' }));
    expect(await c.reply()).toBe('action=DUNNO');
    c.socket.destroy();
  });

  it('over max_connections: one polite answer (overloadAction), then close', async () => {
    const port = await start({ maxConnections: 2, overloadAction: 'DUNNO' });
    const a = client(port);
    const b = client(port);
    a.send(request({ recipient: 'bad@example.org' }));
    b.send(request({ recipient: 'bad@example.org' }));
    expect(await a.reply()).toBe('action=554 5.7.1 blocked');
    expect(await b.reply()).toBe('action=554 5.7.1 blocked');
    const over = client(port);
    over.send(request({ recipient: 'bad@example.org' }));
    expect(await over.reply()).toBe('action=DUNNO');
    await over.closed();
    // a and b are still served, and once one leaves a new one is served again
    a.send(request({ recipient: 'bad@example.org' }));
    expect(await a.reply()).toBe('action=554 5.7.1 blocked');
    a.socket.end();
    await a.closed();
    await new Promise((r) => setTimeout(r, 20));
    const next = client(port);
    next.send(request({ recipient: 'bad@example.org' }));
    expect(await next.reply()).toBe('action=554 5.7.1 blocked');
    b.socket.destroy();
    next.socket.destroy();
  });

  it('close() ends idle connections and lets in-flight answers finish', async () => {
    const port = await start();
    const c = client(port);
    c.send(request({ recipient: 'slow@example.org' }));
    await new Promise((r) => setTimeout(r, 50));
    const closing = server!.close(2000);
    expect(await c.reply()).toBe('action=DUNNO');
    await c.closed();
    await closing;
    server = undefined;
  });
});

describe('policyd.clients', () => {
  it('closes a connection from outside the list before reading it: the engine is never asked', async () => {
    const c = client(await start({ clients: [parseCidr('192.0.2.0/24')!, parseCidr('[2001:db8::]/32')!] }));
    const before = seen.length;
    c.send(request({ recipient: 'grey@example.org' }));
    expect(await c.reply()).toBeNull();
    expect(seen.length).toBe(before);
    expect(await registry.getSingleMetricAsString('moat_policyd_connections_refused_total')).toMatch(/moat_policyd_connections_refused_total 1$/m);
  });

  it('serves a client inside the list (IPv4 as Node reports it on a dual-stack socket too)', async () => {
    const c = client(await start({ clients: [parseCidr('127.0.0.0/8')!] }));
    c.send(request({ recipient: 'grey@example.org' }));
    expect(await c.reply()).toBe('action=DEFER_IF_PERMIT 4.7.1 Greylisted');
    c.socket.end();
  });

  it('defaults to mynetworks and parses Postfix network syntax', () => {
    expect(policydClients(testConfig({ policy: { mynetworks: ['127.0.0.0/8', '[::1]/128'] } }))).toEqual(['127.0.0.0/8', '[::1]/128']);
    expect(policydClients(testConfig({ policyd: { clients: ['192.0.2.0/24'] }, policy: { mynetworks: ['127.0.0.0/8'] } }))).toEqual(['192.0.2.0/24']);
    const s = views.policyd(testConfig({ policyd: { clients: ['[::1]/128', '10.0.0.0/8'] } }));
    expect(s.clients?.map((n) => n.text)).toEqual(['[::1]/128', '10.0.0.0/8']);
    expect(() => views.policyd(testConfig({ policyd: { clients: ['10.0.0.1/8'] } }))).toThrow(/policyd.clients/);
  });
});
