// Builds a real gateway for tests: the real engine with in-test fakes for the DNS-list and greylist
// ports, a real queue in a temp dir (recorded), a static resolver, and optionally a real spamd.
import { Writable } from 'node:stream';
import { testConfig, views } from '@moat/config';
import { createLogger, createRegistry, type Registry } from '@moat/observe';
import {
  createEngine,
  createStaticRecipients,
  DEFAULT_RELAY_RESTRICTIONS,
  type DnsListAnswer,
  type DnsListPort,
  type GreylistPort,
  type GreylistRequest,
  parseRestrictions,
  type PolicySpec,
} from '@moat/policy';
import type { AddressResolver } from '@moat/address';
import { type EnqueueInput, isSpooled, openQueue, type Queue, type QueueWriter, type SpooledMessage } from '@moat/queue';
import type { RateLimiter } from '@moat/ratelimit';
import type { SenderLoginCheck } from '@moat/runtime';
import { createSpamdClient } from '@moat/spamd';
import { SmtpClient, tmpDir } from '@moat/testkit';
import { type Authenticator, createAuthenticator, FailureLimiter, hashPassword, parseHash, staticUsers } from '@moat/auth';
import type { MxResolver } from '../src/dns.ts';
import { createMx, type Mx, type MxDeps } from '../src/server.ts';
import { loadTlsMaterial, tlsServerOptions } from '../src/tls.ts';

export const RECIPIENT_RESTRICTIONS = `
  reject_missing_helo, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
  reject_non_fqdn_sender, reject_unlisted_recipient,
  permit_mynetworks, permit_sasl_authenticated,
  permit_dnswl_client wl1.test,
  reject_rhsbl_sender dbl.test,
  reject_rbl_client bl.test,
  permit_dnswl_client wl2.test,
  check_policy_service moat:greylist,
  permit
`;

/** DNS lists as data: zone -> key -> codes. */
export function fakeDnsLists(listed: Record<string, Record<string, string[]>>): DnsListPort & { queries: number } {
  const port = {
    queries: 0,
    async lookup(queries: readonly { zone: string; key: string }[]): Promise<DnsListAnswer[]> {
      port.queries += queries.length;
      return queries.map((q) => {
        const codes = listed[q.zone]?.[q.key.toLowerCase()];
        return codes ? { zone: q.zone, key: q.key, status: 'listed', codes } : { zone: q.zone, key: q.key, status: 'not-listed', codes: [] };
      });
    },
  };
  return port;
}

/** Greylist: a triplet is deferred the first time, passes (with a header) afterwards. */
export function fakeGreylist(): GreylistPort & { seen: Set<string> } {
  const seen = new Set<string>();
  return {
    seen,
    async check(r: GreylistRequest) {
      const key = `${r.clientAddress}/${r.sender}/${r.recipient}`;
      if (seen.has(key)) return { action: 'pass', reason: 'retry', header: 'X-Greylist: delayed 61 seconds by moat-test' };
      seen.add(key);
      return { action: 'defer', retryAfter: 60 };
    },
  };
}

/** A static zone for the gateway's resolver (FCrDNS, SPF): nothing leaves the process. */
export function staticResolver(zone: Record<string, Record<string, unknown>>): MxResolver & { asked: string[] } {
  const asked: string[] = [];
  const nx = () => Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  const get = (name: string, type: string) => {
    asked.push(`${type} ${name}`);
    const v = zone[name.toLowerCase().replace(/\.$/, '')]?.[type];
    if (v === undefined) throw nx();
    return v;
  };
  return {
    asked,
    reverse: async (ip) => get(ip, 'PTR') as string[],
    resolve4: async (n) => get(n, 'A') as string[],
    resolve6: async (n) => get(n, 'AAAA') as string[],
    resolve: async (n, t) => get(n, t),
  };
}

export interface TestMx {
  mx: Mx;
  port: number;
  registry: Registry;
  enqueued: EnqueueInput[];
  /** The real queue behind the recorder (tests start a delivery runner on it). */
  queue: Queue;
  /** A temp directory removed at close (maildirs, sockets). */
  dir: string;
  greylist: ReturnType<typeof fakeGreylist>;
  resolver: ReturnType<typeof staticResolver>;
  /** The spool directory (tmp/, incoming/, ...). */
  spool: string;
  /** Log lines (parsed), when the harness was asked to keep them (`logs: true`). */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface TestMxOptions {
  spamd?: { host: string; port: number } | undefined;
  spamdConfig?: Record<string, unknown>;
  mx?: Record<string, unknown>;
  authenticator?: Authenticator | undefined;
  delayReject?: boolean;
  tls?: boolean;
  submission?: boolean;
  /** Real adapters instead of the in-test fakes (DNS lists, greylist), and the resolver they use. */
  ports?: { dnslist?: DnsListPort; greylist?: GreylistPort } | undefined;
  resolver?: MxResolver | undefined;
  /** Shared rate limits (a real @moat/ratelimit on a test Redis). */
  rateLimits?: RateLimiter | undefined;
  /** Recipients that exist (reject_unlisted_recipient); default rcpt@, postmaster@, bob@example.org. */
  users?: string[] | undefined;
  /** Resolve recipients at RCPT (routing), or make one from the harness's temp dir; none: the route-only behaviour. */
  addressResolver?: Pick<AddressResolver, 'resolve' | 'classify'> | ((dir: string) => Pick<AddressResolver, 'resolve' | 'classify'>) | undefined;
  /** Keep the log lines (level info and up) in `logs`. */
  logs?: boolean;
  /** The listener's sender-login check (main.ts builds it from mx.sender_login); none by default. */
  senderLogin?: SenderLoginCheck | undefined;
  /** Clients whose mail is marked for DKIM signing (main.ts: policy.mynetworks); none by default. */
  myNetworks?: readonly string[] | undefined;
  /** The decision journal (a recording sink in tests). */
  journal?: MxDeps['journal'];
  /** Another recipient restriction list than RECIPIENT_RESTRICTIONS, and more of the engine's spec (weighted lists). */
  recipientRestrictions?: string | undefined;
  spec?: Partial<PolicySpec> | undefined;
}

export async function userHash(password: string): Promise<ReturnType<typeof parseHash>> {
  return parseHash(await hashPassword(password, { N: 1024 }));
}

export async function startTestMx(opts: TestMxOptions = {}): Promise<TestMx> {
  const dir = await tmpDir('mx');
  const registry = createRegistry();
  const logs: Array<Record<string, unknown>> = [];
  const logger = opts.logs
    ? createLogger('mx', {
        level: 'info',
        destination: new Writable({
          write(chunk: Buffer, _enc, done) {
            for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
            done();
          },
        }),
      })
    : createLogger('mx', { level: process.env.MOAT_TEST_LOG ?? 'silent' });
  const config = testConfig({
    mx: {
      tls: { state_dir: `${dir.path}/tls` },
      limits: { per_ip_concurrency: 50, per_ip_rate: 1000 },
      xclient: { trusted_networks: ['127.0.0.1/32'] },
      ...(opts.mx ?? {}),
    },
    spamd: { enabled: opts.spamd !== undefined, ...(opts.spamd ?? {}), ...(opts.spamdConfig ?? {}) },
  });
  const settings = views.mx(config);
  const spec: PolicySpec = {
    myHostname: 'mx.example.org',
    myAddresses: ['192.0.2.25'],
    myNetworks: ['192.0.2.0/28'],
    delayReject: opts.delayReject ?? true,
    strictRfc821Envelopes: true,
    relayRestrictions: DEFAULT_RELAY_RESTRICTIONS,
    recipientRestrictions: parseRestrictions(opts.recipientRestrictions ?? RECIPIENT_RESTRICTIONS),
    ...(opts.spec ?? {}),
  };
  const dnslist = fakeDnsLists({
    'bl.test': { '203.0.113.66': ['127.0.0.2'], '203.0.113.77': ['127.0.0.2'], '198.51.100.9': ['127.0.0.2'] },
    'wl1.test': { '203.0.113.77': ['127.0.0.2'] },
    'wl2.test': { '198.51.100.20': ['127.0.0.2'] },
    'dbl.test': { 'spam.example': ['127.0.1.2'] },
  });
  const greylist = fakeGreylist();
  const dnslistPort = opts.ports?.dnslist ?? dnslist;
  const greylistPort = opts.ports?.greylist ?? greylist;
  const recipients = createStaticRecipients({ domains: ['example.org'], users: opts.users ?? ['rcpt@example.org', 'postmaster@example.org', 'bob@example.org'] });
  const engine = createEngine(spec, {
    dnslist: dnslistPort,
    greylist: greylistPort,
    recipients,
    accessMaps: { lookup: async () => undefined },
    clock: { now: () => Date.now() },
  });
  const real = await openQueue({ dir: `${dir.path}/queue`, logger, registry });
  const enqueued: EnqueueInput[] = [];
  const queue: QueueWriter = {
    async enqueue(input) {
      // the tests read what was queued as one Buffer: a spooled message is read back from its draft
      enqueued.push({ ...input, message: isSpooled(input.message) ? await readSpooled(input.message) : input.message });
      return real.enqueue(input);
    },
    draft: () => real.draft(),
  };
  const fixed = staticResolver({
    '127.0.0.1': { PTR: ['localhost'] },
    localhost: { A: ['127.0.0.1'] },
    'sender.example': { TXT: [['v=spf1 ip4:127.0.0.1 -all']] },
  });
  const resolver = opts.resolver ?? fixed;
  const tls = opts.tls === false ? undefined : tlsServerOptions(await loadTlsMaterial(settings, logger), settings);
  const spamd = opts.spamd ? createSpamdClient({ ...opts.spamd, timeoutMs: settings.spamd.timeoutMs, registry }) : undefined;
  const mx = createMx({
    settings,
    engine,
    delayReject: spec.delayReject,
    recipients,
    addressResolver: typeof opts.addressResolver === 'function' ? opts.addressResolver(dir.path) : opts.addressResolver,
    queue,
    spamd,
    resolver,
    tls,
    authenticator: opts.authenticator,
    submission: opts.submission,
    senderLogin: opts.senderLogin,
    myNetworks: opts.myNetworks,
    rateLimits: opts.rateLimits,
    journal: opts.journal,
    logger,
    registry,
  });
  const addr = await mx.listen(0, '127.0.0.1');
  return {
    mx,
    port: addr.port,
    registry,
    enqueued,
    queue: real,
    dir: dir.path,
    greylist,
    resolver: fixed,
    spool: `${dir.path}/queue`,
    logs,
    async close() {
      await mx.close();
      await (real as { close?: () => Promise<void> }).close?.();
      await dir.remove();
    },
  };
}

export function authenticatorFor(users: Record<string, NonNullable<Awaited<ReturnType<typeof userHash>>>>, maxFailures = 3) {
  return createAuthenticator(staticUsers(users), new FailureLimiter(maxFailures, 60_000));
}

/** The message a spooled draft stands for, as one Buffer. */
export async function readSpooled(m: SpooledMessage): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises');
  const file = await readFile(m.file);
  const at = m.offset ?? 0;
  return Buffer.concat([Buffer.from(m.head), file.subarray(at + m.skip, at + m.size)]);
}

/**
 * One message from alice@sender.example to rcpt@example.org, the client address set by XCLIENT: the reply to
 * DATA as text, and what the gateway queued for it.
 */
export async function sendAs(t: TestMx, body: string, client: string): Promise<{ reply: string; queued: TestMx['enqueued'] }> {
  const c = await SmtpClient.connect(t.port);
  await c.read();
  await c.cmd(`XCLIENT ADDR=${client}`);
  await c.cmd('EHLO mail.sender.example');
  await c.cmd('MAIL FROM:<alice@sender.example>');
  await c.cmd('RCPT TO:<rcpt@example.org>');
  const n = t.enqueued.length;
  const r = await c.data(body);
  await c.quit();
  return { reply: `${r.code} ${r.text}`, queued: t.enqueued.slice(n) };
}
