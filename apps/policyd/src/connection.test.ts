import { connect, createServer, type Server, type Socket } from 'node:net';
import { type PolicydView as PolicydSettings, testConfig, views } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import type { Verdict } from '@moat/policy';
import { createDecisionMetrics } from '@moat/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectionContext, serveConnection, sweepInterval, type TimedConnection } from './connection.ts';
import { ConnectionTimeout } from './connection-timeout.ts';
import type { DecisionDone, Decider } from './deadline.ts';
import { policydMetrics } from './metrics.ts';

const settings: PolicydSettings = { ...views.policyd(testConfig()), clients: undefined, idleTimeoutMs: 60_000, requestTimeoutMs: 1000 };
const request = 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=198.51.100.7\nsender=a@example.net\nrecipient=x@example.org\ninstance=i1\n\n';

let server: Server | undefined;
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** One served connection, its client end, and the decisions the (held) decider was asked for. */
async function served(now?: () => number) {
  const pending: DecisionDone[] = [];
  const decider: Decider = { decide: (_facts, done) => void pending.push(done), stop: () => {} };
  const registry = createRegistry();
  const ctx: ConnectionContext = {
    settings,
    decider,
    logger: createLogger('connection-test', { level: 'silent' }),
    metrics: policydMetrics(registry),
    decisions: createDecisionMetrics(registry),
    replyCode: () => 450,
    sink: undefined,
    busy: new Set(),
    closing: () => false,
    now,
  };
  const accepted = new Promise<{ socket: Socket; conn: TimedConnection; at: number }>((resolve) => {
    server = createServer({ allowHalfOpen: true }, (socket) => {
      const at = (now ?? performance.now.bind(performance))();
      resolve({ socket, conn: serveConnection(ctx, socket, 't', false), at });
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server!.address() as { port: number }).port;
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true }); // holds the slot after our end, as a stuck peer
  client.on('error', () => {});
  clients.push(client);
  const s = await accepted;
  /** Send `text` and wait until the served side has read it. */
  const send = (text: string) =>
    new Promise<void>((r) => {
      s.socket.once('data', () => setImmediate(r));
      client.write(text);
    });
  return { ...s, client, send, pending, ctx };
}

const verdict: Verdict = { action: 'continue', status: '2.0.0', text: '', prepend: [], trace: [] };

describe('connection timeouts (checked by the sweep, `now` injected)', () => {
  it('an idle connection is ended after idle_timeout, then destroyed 5 s later if the peer holds it', async () => {
    const { socket, conn, at } = await served();
    conn.check(at + settings.idleTimeoutMs - 100);
    expect(socket.writableEnded).toBe(false);
    const t = Math.ceil(performance.now()) + settings.idleTimeoutMs; // whole ms: t + 5000 - t is 5000 exactly
    conn.check(t);
    expect(socket.writableEnded).toBe(true);
    expect(socket.destroyed).toBe(false);
    conn.check(t + 4999);
    expect(socket.destroyed).toBe(false);
    conn.check(t + 5000);
    expect(socket.destroyed).toBe(true);
  });

  it('a request half read switches to request_timeout; a whole one back to idle_timeout', async () => {
    const { socket, conn, send } = await served();
    let t = performance.now();
    await send('request=smtpd_access_policy\n');
    conn.check(t + settings.requestTimeoutMs - 1);
    expect(socket.destroyed).toBe(false);
    await send('protocol_state=CONNECT\n\n'); // answered at once (DUNNO): idle again
    t = performance.now();
    conn.check(t + settings.requestTimeoutMs + 1);
    expect(socket.destroyed || socket.writableEnded).toBe(false);
    await send('request=smtpd_access_policy\n');
    conn.check(performance.now() + settings.requestTimeoutMs);
    expect(socket.destroyed).toBe(true); // dropped: request-timeout
  });

  it('no timeout while a decision runs; the idle one counts from the reply', async () => {
    const { socket, conn, send, pending, client } = await served();
    await send(request);
    expect(pending).toHaveLength(1);
    conn.check(performance.now() + settings.idleTimeoutMs * 3);
    expect(socket.destroyed || socket.writableEnded).toBe(false);
    const reply = new Promise<string>((r) => client.once('data', (d) => r(d.toString())));
    const t = performance.now();
    pending[0]!(undefined, verdict);
    expect(await reply).toBe('action=DUNNO\n\n');
    conn.check(t + settings.idleTimeoutMs - 1);
    expect(socket.writableEnded).toBe(false);
    conn.check(performance.now() + settings.idleTimeoutMs);
    expect(socket.writableEnded).toBe(true);
  });

  it('a drained write is activity (as Node socket timers were reset on write completion)', async () => {
    let clock = 1000;
    const { socket, conn, at } = await served(() => clock);
    expect(at).toBe(1000);
    clock += 20;
    const t = clock;
    socket.emit('drain');
    conn.check(at + settings.idleTimeoutMs + 10); // past a period from the connection's start, not from the drain
    expect(socket.writableEnded).toBe(false);
    conn.check(t + settings.idleTimeoutMs + 1);
    expect(socket.writableEnded).toBe(true);
  });
});

describe('ConnectionTimeout', () => {
  it('is due once per period without activity, as a socket timeout fires', () => {
    const t = new ConnectionTimeout(100, 0);
    expect(t.due(99)).toBe(false);
    expect(t.due(100)).toBe(true);
    expect(t.due(150)).toBe(false); // not twice in one period
    expect(t.due(199)).toBe(false);
    expect(t.due(200)).toBe(true);
    t.touch(250);
    t.set(10);
    expect(t.due(259)).toBe(false);
    expect(t.due(260)).toBe(true);
  });
});

describe('sweepInterval', () => {
  it('is a quarter of the shortest timeout (an ending connection 5 s), within 10 ms to 1 s', () => {
    expect(sweepInterval({ requestTimeoutMs: 10_000, idleTimeoutMs: 300_000 })).toBe(1000);
    expect(sweepInterval({ requestTimeoutMs: 2000, idleTimeoutMs: 300_000 })).toBe(500);
    expect(sweepInterval({ requestTimeoutMs: 10_000, idleTimeoutMs: 1000 })).toBe(250);
    expect(sweepInterval({ requestTimeoutMs: 20, idleTimeoutMs: 1000 })).toBe(10);
  });
});
