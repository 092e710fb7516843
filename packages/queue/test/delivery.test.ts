// Delivery against real smtp-server sinks (SMTP and LMTP) and a real maildir, with an injected clock.
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry, type Registry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HOST_TAG,
  closeCachedSessions,
  type DeliveryRunner,
  decodeQueueFile,
  maildirTransport,
  nextHopTransport,
  openQueue,
  type Queue,
  startDelivery,
  type Transport,
} from '../src/index.ts';
import { fakeClock, memoryLogger, message, type Sink, startSink } from './helpers.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

let dir: { path: string; remove(): Promise<void> };
let registry: Registry;
let sinks: Sink[];
let runners: DeliveryRunner[];

beforeEach(async () => {
  dir = await tmpDir('queue');
  registry = createRegistry();
  sinks = [];
  runners = [];
});

afterEach(async () => {
  for (const r of runners) await r.stop();
  closeCachedSessions();
  for (const s of sinks) await s.close();
  await dir.remove();
});

async function sink(opts: Parameters<typeof startSink>[0] = {}): Promise<Sink> {
  const s = await startSink(opts);
  sinks.push(s);
  return s;
}

/** Local transport for the tests: DSNs to sender.test land in a maildir, the rest goes to `hop`. */
function routed(hop: Transport, senderBox: string): Transport {
  const md = maildirTransport({ root: senderBox, hostname: 'mx.test' });
  const pick = (r: string) => (r.endsWith('@sender.test') ? md : hop);
  return {
    name: hop.name,
    destination: (r) => pick(r).destination(r),
    deliver: (req) => pick(req.recipients[0]!).deliver(req),
  };
}

async function dsns(senderBox: string): Promise<string[]> {
  const box = join(senderBox, 'sender.test', 'alice', 'new');
  try {
    const names = (await readdir(box)).sort();
    return Promise.all(names.map(async (n) => (await readFile(join(box, n))).toString('utf8')));
  } catch {
    return [];
  }
}

async function setup(local: Transport, clock = fakeClock(), extra: Partial<Parameters<typeof startDelivery>[0]> = {}) {
  const mem = memoryLogger();
  const queue = await openQueue({ dir: join(dir.path, 'spool'), clock, logger: mem.logger, registry });
  const runner = await startDelivery({
    queue,
    transports: { local },
    registry,
    clock,
    hostname: 'mx.test',
    scanIntervalMs: 50,
    ...extra,
  });
  runners.push(runner);
  return { queue, runner, clock, lines: mem.lines };
}

async function states(queue: Queue): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const s of ['incoming', 'active', 'deferred', 'hold', 'corrupt'] as const) out[s] = await queue.names(s);
  return out;
}

describe('maildir delivery', () => {
  it('delivers byte for byte with Return-Path and Delivered-To prepended, one file per recipient', async () => {
    const root = join(dir.path, 'mail');
    const { queue, runner } = await setup(maildirTransport({ root, hostname: 'mx.test' }));
    const body = Buffer.concat([message('hello', 'line one\r\n.dot line\r\n'), Buffer.from([0xc3, 0xa9, 0x0d, 0x0a])]);
    const { id } = await queue.enqueue({
      sender: 'alice@sender.test',
      recipients: ['bob@example.test', 'Carol@Example.test'],
      prepend: ['Received: from client.test by mx.test; Mon, 5 Jan 2026 12:00:00 +0000'],
      message: body,
    });
    await runner.idle();
    const prepend = Buffer.from('Received: from client.test by mx.test; Mon, 5 Jan 2026 12:00:00 +0000\r\n');
    for (const [rcpt, box] of [
      ['bob@example.test', 'example.test/bob'],
      ['Carol@Example.test', 'example.test/carol'],
    ] as const) {
      const names = await readdir(join(root, box, 'new'));
      expect(names).toHaveLength(1);
      expect(names[0]).toMatch(/^\d+\.M\d+P\d+_\d+_[A-Za-z0-9-]+\.mx\.test$/);
      expect(await readdir(join(root, box, 'tmp'))).toEqual([]);
      const got = await readFile(join(root, box, 'new', names[0]!));
      const want = Buffer.concat([Buffer.from(`Return-Path: <alice@sender.test>\r\nDelivered-To: ${rcpt}\r\n`), prepend, body]);
      expect(got.equals(want)).toBe(true);
    }
    expect(await states(queue)).toEqual({ incoming: [], active: [], deferred: [], hold: [], corrupt: [] });
    const metrics = await registry.getSingleMetricAsString('moat_queue_deliveries_total');
    expect(metrics).toContain('moat_queue_deliveries_total{transport="maildir",result="sent"} 2');
    expect(id).toMatch(/^[0-9A-Z]{19}$/);
  });

  it('removes a dead delivery\'s file from a maildir\'s tmp/ at the first delivery there, never a live writer\'s', async () => {
    const root = join(dir.path, 'mail');
    const tmp = join(root, 'example.test', 'bob', 'tmp');
    await mkdir(tmp, { recursive: true });
    for (const sub of ['new', 'cur']) await mkdir(join(root, 'example.test', 'bob', sub), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const deadName = `1767614400.M1P${dead}_1_${HOST_TAG}.mx.test`;
    const liveName = `1767614400.M2P${process.pid}_7_${HOST_TAG}.mx.test`;
    const foreign = '1767614400.M3P1_1_otherhost.mx.test';
    for (const n of [deadName, liveName, foreign]) await writeFile(join(tmp, n), 'half a message');
    const { queue, runner } = await setup(maildirTransport({ root, hostname: 'mx.test' }));
    await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('hello', 'x') });
    await runner.idle();
    expect((await readdir(tmp)).sort()).toEqual([liveName, foreign].sort());
    expect(await readdir(join(root, 'example.test', 'bob', 'new'))).toHaveLength(1);
  });

  it('bounces a recipient whose local part cannot be a mailbox name', async () => {
    const root = join(dir.path, 'mail');
    const { queue, runner } = await setup(routed(maildirTransport({ root }), join(dir.path, 'senders')));
    await queue.enqueue({ sender: 'alice@sender.test', recipients: ['..@example.test'], message: message('x', 'y') });
    await runner.idle();
    await runner.idle();
    const d = await dsns(join(dir.path, 'senders'));
    expect(d).toHaveLength(1);
    expect(d[0]).toContain('Status: 5.1.1');
  });
});

describe('lmtp next hop', () => {
  it('tracks each recipient: 250 done, 452 deferred then delivered, 550 bounced at once with an RFC 3464 DSN', async () => {
    let tempFail = true;
    const s = await sink({
      lmtp: true,
      onData: (rcpt) => {
        if (rcpt === 'temp@example.test' && tempFail) return { code: 452, message: '4.2.2 mailbox full, try later' };
        if (rcpt === 'gone@example.test') return { code: 550, message: '5.1.1 no such user here' };
        return null;
      },
    });
    const senders = join(dir.path, 'senders');
    const hop = nextHopTransport({ host: '127.0.0.1', port: s.port, lmtp: true, heloName: 'mx.test' });
    const { queue, runner, clock, lines } = await setup(routed(hop, senders));
    const msg = message('lmtp', 'body');
    const { id } = await queue.enqueue({
      sender: 'alice@sender.test',
      recipients: ['ok@example.test', 'temp@example.test', 'gone@example.test'],
      message: msg,
    });
    await runner.idle();
    await runner.idle(); // the bounce itself
    expect(s.messages.map((m) => m.recipients)).toEqual([['ok@example.test']]);
    expect(s.messages[0]!.data.equals(msg)).toBe(true);
    // deferred, retry time = mtime = now + 5 min
    const st = await states(queue);
    expect(st.deferred).toEqual([id]);
    expect((await stat(join(queue.dir, 'deferred', id))).mtimeMs).toBe(clock.now() + 5 * MIN);
    const { envelope } = decodeQueueFile(await readFile(join(queue.dir, 'deferred', id)));
    expect(envelope.recipients.map((r) => r.state)).toEqual(['sent', 'pending', 'bounced']);
    // the DSN
    const d = await dsns(senders);
    expect(d).toHaveLength(1);
    const dsn = d[0]!;
    expect(dsn).toContain('Return-Path: <>');
    expect(dsn).toMatch(/Content-Type: multipart\/report; report-type=delivery-status; boundary="/);
    expect(dsn).toContain('Content-Type: message/delivery-status');
    expect(dsn).toContain('Reporting-MTA: dns; mx.test');
    expect(dsn).toContain(`X-Moat-Queue-ID: ${id}`);
    expect(dsn).toContain('Final-Recipient: rfc822; gone@example.test');
    expect(dsn).toContain('Action: failed');
    expect(dsn).toContain('Status: 5.1.1');
    expect(dsn).toContain('Remote-MTA: dns; 127.0.0.1');
    expect(dsn).toMatch(/Diagnostic-Code: smtp; 550 5\.1\.1 no such user here/);
    expect(dsn).not.toContain('temp@example.test');
    expect(dsn).toContain('Content-Type: message/rfc822');
    expect(dsn).toContain('Subject: lmtp');
    // not due yet: nothing happens
    clock.advance(4 * MIN);
    await runner.idle();
    expect(s.messages).toHaveLength(1);
    // due: 452 recipient now succeeds, the others are not retried
    tempFail = false;
    clock.advance(1 * MIN);
    await runner.idle();
    expect(s.messages.map((m) => m.recipients)).toEqual([['ok@example.test'], ['temp@example.test']]);
    expect(await states(queue)).toEqual({ incoming: [], active: [], deferred: [], hold: [], corrupt: [] });
    const attempts = lines.filter((l) => l.msg === 'delivery attempt' && l.queueId === id);
    expect(attempts.map((l) => [l.recipient, l.status])).toEqual([
      ['ok@example.test', 'sent'],
      ['temp@example.test', 'deferred'],
      ['gone@example.test', 'bounced'],
      ['temp@example.test', 'sent'],
    ]);
    expect(attempts[3]).toMatchObject({ relay: `127.0.0.1[127.0.0.1]:${s.port}`, delay: 300 });
  });
});

describe('smtp next hop', () => {
  it('a next hop that is down, then comes back: deferred, retried with backoff, delivered once', async () => {
    const { freePort } = await import('@moat/testkit');
    const port = await freePort();
    const hop = nextHopTransport({ host: '127.0.0.1', port, heloName: 'mx.test' });
    const { queue, runner, clock } = await setup(hop);
    const msg = message('down', 'body');
    const { id } = await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: msg });
    await runner.idle();
    expect((await states(queue)).deferred).toEqual([id]);
    clock.advance(5 * MIN);
    await runner.idle();
    // second failure: backoff doubles to 10 min
    expect((await stat(join(queue.dir, 'deferred', id))).mtimeMs).toBe(clock.now() + 10 * MIN);
    const { envelope } = decodeQueueFile(await readFile(join(queue.dir, 'deferred', id)));
    expect(envelope.attempts).toBe(2);
    expect(envelope.lastError).toMatch(/connect to 127\.0\.0\.1/);
    const s = await sink({ port });
    clock.advance(10 * MIN);
    await runner.idle();
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]!.data.equals(msg)).toBe(true);
    expect(s.messages[0]!.helo).toBe('mx.test');
    expect((await states(queue)).deferred).toEqual([]);
  });

  it('4xx at RCPT then 2xx', async () => {
    let n = 0;
    const s = await sink({ onRcpt: () => (n++ === 0 ? { code: 451, message: '4.7.1 greylisted, come back later' } : null) });
    const { queue, runner, clock } = await setup(nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' }));
    const { id } = await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('grey', 'x') });
    await runner.idle();
    expect(s.messages).toHaveLength(0);
    const list = await queue.list();
    expect(list).toMatchObject([{ id, state: 'deferred', recipients: [{ address: 'bob@example.test', state: 'pending' }] }]);
    expect(list[0]!.lastError).toContain('451 4.7.1 greylisted');
    clock.advance(5 * MIN);
    await runner.idle();
    expect(s.messages).toHaveLength(1);
  });

  it('5xx after DATA bounces at once; a message from the null sender is never bounced', async () => {
    const s = await sink({ onData: () => ({ code: 554, message: '5.7.1 rejected as spam' }) });
    const senders = join(dir.path, 'senders');
    const { queue, runner, lines } = await setup(
      routed(nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' }), senders),
    );
    await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('spam1', 'x') });
    await queue.enqueue({ sender: '', recipients: ['bob@example.test'], message: message('spam2', 'x') });
    await runner.idle();
    await runner.idle();
    const d = await dsns(senders);
    expect(d).toHaveLength(1);
    expect(d[0]).toContain('Status: 5.7.1');
    expect(d[0]).toContain('Subject: spam1');
    expect(lines.some((l) => l.msg === 'dsn not sent' && l.reason === 'null sender')).toBe(true);
    expect(await states(queue)).toEqual({ incoming: [], active: [], deferred: [], hold: [], corrupt: [] });
    expect(await registry.getSingleMetricAsString('moat_queue_bounces_total')).toMatch(/kind="dropped"} 1/);
  });
});

describe('delay warning and expiry (injected clock)', () => {
  it('warns the sender once after 1 h, retries on the Postfix-like schedule, bounces at the lifetime', async () => {
    const s = await sink({ onRcpt: () => ({ code: 450, message: '4.2.0 try again later' }) });
    const senders = join(dir.path, 'senders');
    // the defaults: 7 days (maximal_queue_lifetime), warning after 1 h (delay_warning_time)
    const lifetime = 7 * 24 * HOUR;
    const { queue, runner, clock } = await setup(
      routed(nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' }), senders),
      fakeClock(),
    );
    const { id } = await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('slow', 'x') });
    const start = clock.now();
    await runner.idle();
    const gaps: number[] = [];
    for (;;) {
      const st = await stat(join(queue.dir, 'deferred', id)).catch(() => null);
      if (!st) break;
      gaps.push((st.mtimeMs - clock.now()) / MIN);
      clock.t = st.mtimeMs;
      await runner.idle();
      await runner.idle();
      const d = await dsns(senders);
      if (clock.now() - start < HOUR) expect(d).toHaveLength(0);
      else if (clock.now() - start < lifetime) {
        expect(d).toHaveLength(1);
        expect(d[0]).toContain('Action: delayed');
        expect(d[0]).toContain('Status: 4.2.0');
        expect(d[0]).toContain('Will-Retry-Until: Mon, 12 Jan 2026 12:00:00 +0000');
        expect(d[0]).toContain('Content-Type: text/rfc822-headers');
      }
    }
    // Postfix-like: 5 min first, doubling, capped at 1 h; then the lifetime ends it
    expect(gaps.slice(0, 6)).toEqual([5, 10, 20, 40, 60, 60]);
    expect(gaps.length).toBe(4 + Math.ceil((lifetime - 75 * MIN) / HOUR));
    await runner.idle();
    const d = await dsns(senders);
    expect(d).toHaveLength(2); // one warning, one bounce (maildir names do not sort by time within a second)
    expect(d.filter((x) => x.includes('Action: delayed'))).toHaveLength(1);
    const bounce = d.find((x) => x.includes('Action: failed'));
    expect(bounce).toContain('Status: 4.2.0');
    expect(bounce).toContain('delivery time expired');
    expect(await states(queue)).toEqual({ incoming: [], active: [], deferred: [], hold: [], corrupt: [] });
  });
});

describe('robustness', () => {
  it('moves corrupt files aside with a log line while other messages flow', async () => {
    const s = await sink();
    const { queue, runner, lines } = await setup(nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' }));
    await runner.stop();
    runners = [];
    // a good message, a truncated copy of it (no END record), garbage, and another good one
    const { id: good1 } = await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message('g1', 'x') });
    const whole = await readFile(join(queue.dir, 'incoming', good1));
    await writeFile(join(queue.dir, 'incoming', '0000000000TRUNCATED'), whole.subarray(0, whole.length - 20));
    await writeFile(join(queue.dir, 'incoming', '0000000000GARBAGE00'), 'hello world\n');
    await writeFile(join(queue.dir, 'incoming', '0000000000HUGELEN00'), 'MOATQ1 999999999\n{}\n');
    await mkdir(join(queue.dir, 'incoming', '0000000000ADIRECTRY'));
    // mailq copes with all of them
    expect((await queue.list()).length).toBe(5);
    await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message('g2', 'x') });
    const r2 = await startDelivery({ queue, transports: { local: nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' }) }, registry, hostname: 'mx.test' });
    runners.push(r2);
    await r2.idle();
    expect(s.messages).toHaveLength(2);
    const st = await states(queue);
    expect(st.corrupt).toHaveLength(4);
    expect(st.incoming).toEqual([]);
    expect(lines.filter((l) => l.msg === 'corrupt queue file moved to corrupt/')).toHaveLength(4);
    expect(await registry.getSingleMetricAsString('moat_queue_corrupt_total')).toContain('moat_queue_corrupt_total 4');
    expect(await registry.getSingleMetricAsString('moat_queue_messages')).toContain('moat_queue_messages{state="corrupt"} 4');
  });

  it('recovers files left in active/ by a dead runner, and leaves a live runner’s files alone', async () => {
    const s = await sink();
    const hop = nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' });
    const mem = memoryLogger();
    const queue = await openQueue({ dir: join(dir.path, 'spool'), logger: mem.logger, registry });
    const { id: dead } = await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message('dead', 'x') });
    const { id: live } = await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message('live', 'x') });
    const { id: earlier } = await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message('earlier', 'x') });
    const { rename } = await import('node:fs/promises');
    // pid 2^22+1 does not exist (pid_max is at most 2^22)
    await rename(join(queue.dir, 'incoming', dead), join(queue.dir, 'active', `${dead}.4194305-77-deadbeef`));
    // another live runner: our parent process, with a fresh heartbeat
    await rename(join(queue.dir, 'incoming', live), join(queue.dir, 'active', `${live}.${process.ppid}-cafe0001`));
    await writeFile(join(queue.dir, 'active', `.owner.${process.ppid}-cafe0001`), '');
    // an earlier life of this very process (same pid, other tag: a restarted container's pid 1)
    await rename(join(queue.dir, 'incoming', earlier), join(queue.dir, 'active', `${earlier}.${process.pid}-1-0e0e0e0e`));
    await writeFile(join(queue.dir, 'active', `.owner.${process.pid}-1-0e0e0e0e`), '');
    const runner = await startDelivery({ queue, transports: { local: hop }, registry, hostname: 'mx.test' });
    runners.push(runner);
    await runner.idle();
    const subjects = s.messages.map((m) => /Subject: (\w+)/.exec(m.data.toString())![1]).sort();
    expect(subjects).toEqual(['dead', 'earlier']);
    expect(await queue.names('active')).toEqual([`${live}.${process.ppid}-cafe0001`]);
  });
});

describe('limits', () => {
  it('keeps per-destination concurrency and splits large recipient lists', async () => {
    let open = 0;
    let maxOpen = 0;
    const s = await sink({
      dataDelayMs: 30,
      onRcpt: (_r, session) => {
        if (session.envelope.rcptTo.length === 0) {
          open++;
          maxOpen = Math.max(maxOpen, open);
        }
        return null;
      },
      onData: () => null,
    });
    const hop = nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' });
    const counting: Transport = {
      ...hop,
      deliver: async (req) => {
        try {
          return await hop.deliver(req);
        } finally {
          open--;
        }
      },
    };
    const { queue, runner } = await setup(counting, fakeClock(), { concurrency: 10, perDestinationConcurrency: 2, recipientLimit: 3 });
    await queue.enqueue({
      sender: 'a@sender.test',
      recipients: Array.from({ length: 7 }, (_, i) => `r${i}@example.test`),
      message: message('many', 'x'),
    });
    for (let i = 0; i < 8; i++) await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message(`m${i}`, 'x') });
    await runner.idle();
    expect(maxOpen).toBe(2);
    const many = s.messages.filter((m) => m.data.includes('Subject: many'));
    expect(many.map((m) => m.recipients.length).sort()).toEqual([1, 3, 3]);
    expect(s.messages).toHaveLength(11);
  });
});

describe('dead destinations', () => {
  it('defers at once for a while after a next hop could not be reached (delivery temporarily suspended)', async () => {
    const { freePort } = await import('@moat/testkit');
    const port = await freePort();
    const { queue, runner, clock, lines } = await setup(nextHopTransport({ host: '127.0.0.1', port, heloName: 'mx.test' }), fakeClock(), {
      concurrency: 1,
    });
    for (let i = 0; i < 4; i++) await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message(`d${i}`, 'x') });
    await runner.idle();
    const attempts = lines.filter((l) => l.msg === 'delivery attempt').map((l) => String(l.response));
    expect(attempts).toHaveLength(4);
    expect(attempts[0]).toMatch(/^connect to 127\.0\.0\.1/);
    expect(attempts.slice(1).every((r) => r.startsWith('delivery temporarily suspended: connect to'))).toBe(true);
    // the hop is back and the suspension over: all four go out on their retry
    const s = await sink({ port });
    clock.advance(5 * MIN);
    await runner.idle();
    expect(s.messages).toHaveLength(4);
  });
});

describe('memory budget', () => {
  it('holds no more queue bytes in delivery than the budget, but always at least one message', async () => {
    let open = 0;
    let maxOpen = 0;
    const s = await sink({ dataDelayMs: 20 });
    const hop = nextHopTransport({ host: '127.0.0.1', port: s.port, heloName: 'mx.test' });
    const counting: Transport = {
      ...hop,
      deliver: async (req) => {
        maxOpen = Math.max(maxOpen, ++open);
        try {
          return await hop.deliver(req);
        } finally {
          open--;
        }
      },
    };
    const big = Buffer.alloc(40_000, 0x61);
    const { queue, runner } = await setup(counting, fakeClock(), { concurrency: 10, memoryBudget: 100_000 });
    for (let i = 0; i < 6; i++) await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: Buffer.concat([message(`big${i}`, ''), big]) });
    await queue.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: Buffer.concat([message('huge', ''), Buffer.alloc(300_000, 0x62)]) });
    await runner.idle();
    expect(s.messages).toHaveLength(7);
    expect(maxOpen).toBe(2);
  });
});
