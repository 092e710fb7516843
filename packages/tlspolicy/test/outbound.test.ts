// Outbound MTA-STS and DANE with real daemons: nsd serves DNSSEC-signed zones (ldns), a validating Unbound
// holds their trust anchors, a loopback HTTPS server with a test CA hosts the policies, smtp-server receives.
import { readFile } from 'node:fs/promises';
import { createServer as createHttps, type Server } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { closeCachedSessions, createRouter, dnsMxResolver, relayTransport, type RecipientResult } from '@moat/queue';
import { createTestCa, freePort, selfSignedCert, signZone, startBlackholeDns, startNsd, startUnbound, tmpDir, type BlackholeDns, type NsdServer, type TestCa, type TestCert, type UnboundServer } from '@moat/testkit';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_ENVELOPE, nextHopTls, outboundTls, outcomeRecorder, readOutcomes, tlsa311, formatTlsa, wireResolver, dayOf, buildTlsReports, fileStsStore, type StsStore, type TlsLevel } from '../src/index.ts';

interface Receiver {
  port: number;
  got: Array<{ rcpt: string[]; secure: boolean }>;
  close(): Promise<void>;
}

async function receiver(cert: TestCert, opts: { stripTls?: boolean; lmtp?: boolean } = {}): Promise<Receiver> {
  const port = await freePort();
  const got: Receiver['got'] = [];
  const server = new SMTPServer({
    key: cert.key,
    cert: cert.cert,
    authOptional: true,
    logger: false,
    disableReverseLookup: true,
    // a man in the middle that removes STARTTLS from the EHLO reply
    hideSTARTTLS: opts.stripTls ?? false,
    lmtp: opts.lmtp ?? false,
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => {
        got.push({ rcpt: session.envelope.rcptTo.map((r) => r.address), secure: session.secure });
        cb(null, 'OK queued');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { port, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let ca: TestCa;
let good: Receiver; // CA-issued certificate for mx.*.test, the key published in TLSA
let wrong: Receiver; // a self-signed certificate on another key
let strip: Receiver; // no STARTTLS offered
let goodCert: TestCert;
let nsd: NsdServer;
let dns: UnboundServer;
let hole: BlackholeDns;
let https: Server;
let httpsPort: number;
let outDir: { path: string; remove(): Promise<void> };

const policies: Record<string, string> = {
  'sts.test': 'version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n',
  'strip.test': 'version: STSv1\r\nmode: enforce\r\nmx: mx.strip.test\r\nmax_age: 86400\r\n',
  'stripnone.test': 'version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n',
  'striptesting.test': 'version: STSv1\r\nmode: testing\r\nmx: mx.striptesting.test\r\nmax_age: 86400\r\n',
  'big.test': `version: STSv1\r\nmode: enforce\r\nmx: mx.big.test\r\nmax_age: 86400\r\n${'x: y\r\n'.repeat(14_000)}`,
  'badsyntax.test': 'version: STSv1\r\nmode: enforce-please\r\nmx: mx.badsyntax.test\r\nmax_age: 86400\r\n',
};

function plainZone(domain: string): string {
  const sts = policies[domain] ? [`_mta-sts IN TXT "v=STSv1; id=${domain.replace(/\W/g, '')}1"`, 'mta-sts IN A 127.0.0.1'] : [];
  return [`$ORIGIN ${domain}.`, '$TTL 60', `@ IN SOA ns.${domain}. h.${domain}. 1 3600 600 86400 60`, `@ IN NS ns.${domain}.`, 'ns IN A 127.0.0.1', `@ IN MX 10 mx.${domain}.`, 'mx IN A 127.0.0.1', ...sts, ''].join('\n');
}

beforeAll(async () => {
  ca = await createTestCa();
  const stsNames = Object.keys(policies).map((d) => `mta-sts.${d}`);
  const mxNames = ['mx.good.test', 'mx.bogus.test', 'mx.sts.test', 'mx.wrong.test', 'mx.plain.test'];
  goodCert = await ca.issue(mxNames);
  good = await receiver(goodCert);
  wrong = await receiver(await selfSignedCert(['mx.wrong.test']));
  strip = await receiver(await selfSignedCert(['mx.strip.test']), { stripTls: true });
  const tlsa = formatTlsa(tlsa311(goodCert.cert));
  const zones: Record<string, string> = {};
  const anchors: string[] = [];
  // signed: DANE domains. wrong.test publishes good's key, but its receiver shows another one.
  for (const [d, port] of [['good.test', good.port], ['wrong.test', wrong.port], ['bogus.test', good.port]] as const) {
    const z = await signZone(d, `${plainZone(d)}_${port}._tcp.mx IN TLSA ${tlsa}\n`);
    // bogus.test: the TLSA data changed after signing, as an attacker on the path would (signature no longer matches)
    zones[d] = d === 'bogus.test' ? z.signed.replace(/(TLSA\s+3 1 1 )([0-9a-f])/i, (_m, a: string, c: string) => `${a}${c === '0' ? '1' : '0'}`) : z.signed;
    expect(zones[d]).toContain('RRSIG');
    anchors.push(z.ds);
  }
  // RFC 7672 2.2.2: a signed domain whose MX host name is a CNAME into an unsigned zone (secure MX RRset and
  // TLSA, insecure address records), its TLSA naming good's key while the wrong receiver answers
  const cnamed = await signZone(
    'insecureaddr.test',
    plainZone('insecureaddr.test').replace('mx IN A 127.0.0.1', 'mx IN CNAME host.plain.test.') + `_${wrong.port}._tcp.mx IN TLSA ${tlsa}\n`,
  );
  zones['insecureaddr.test'] = cnamed.signed;
  anchors.push(cnamed.ds);
  // only a PKIX usage (0: unusable for SMTP, RFC 7672 3.1.3): dane means mandatory unauthenticated TLS
  const unusable = await signZone('unusable.test', `${plainZone('unusable.test')}_${good.port}._tcp.mx IN TLSA ${tlsa.replace(/^3 /, '0 ')}\n`);
  zones['unusable.test'] = unusable.signed;
  anchors.push(unusable.ds);
  for (const d of Object.keys(policies)) zones[d] = plainZone(d);
  zones['plain.test'] = `${plainZone('plain.test')}host IN A 127.0.0.1\n`;
  // RFC 7672 2.2.1: an unsigned domain (insecure MX RRset) whose MX is wrong.test's DANE host
  zones['insecuremx.test'] = plainZone('insecuremx.test').replace('@ IN MX 10 mx.insecuremx.test.', '@ IN MX 10 mx.wrong.test.');
  nsd = await startNsd({ zones });
  dns = await startUnbound({ stubZones: Object.fromEntries(Object.keys(zones).map((z) => [z, nsd.stubAddr])), trustAnchors: anchors });
  hole = await startBlackholeDns();
  const web = await ca.issue(stsNames);
  httpsPort = await freePort();
  https = createHttps({ key: web.key, cert: web.cert }, (req, res) => {
    const domain = String(req.headers.host ?? '').replace(/^mta-sts\./, '');
    const p = policies[domain];
    if (req.url !== '/.well-known/mta-sts.txt' || !p) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(p);
  });
  await new Promise<void>((r) => https.listen(httpsPort, '127.0.0.1', () => r()));
  outDir = await tmpDir('tlsrpt');
});

afterAll(async () => {
  closeCachedSessions();
  await Promise.all([good?.close(), wrong?.close(), strip?.close()]);
  await new Promise<void>((r) => (https ? https.close(() => r()) : r()));
  await dns?.stop();
  await nsd?.stop();
  await hole?.stop();
  await outDir?.remove();
});

function send(domain: string, port: number, opts: { resolver?: string; registry?: ReturnType<typeof createRegistry>; stsPort?: number; stsTimeoutMs?: number; stsStore?: StsStore; level?: TlsLevel; policies?: Record<string, TlsLevel> } = {}): Promise<RecipientResult[]> {
  const outcomes = outcomeRecorder({ dir: outDir.path, ...(opts.registry ? { registry: opts.registry } : {}) });
  // a new outboundTls per send: each send is a fresh process as far as the MTA-STS cache goes (a restart)
  const policy = outboundTls({ resolver: wireResolver([opts.resolver ?? dns.server], { timeoutMs: 1500 }), ca: [ca.cert], stsPort: opts.stsPort ?? httpsPort, stsTimeoutMs: opts.stsTimeoutMs ?? 5000, stsStore: opts.stsStore, outcomes, ...(opts.level ? { level: opts.level } : {}), ...(opts.policies ? { policies: opts.policies } : {}) });
  const relay = relayTransport({
    heloName: 'out.moat.test',
    resolver: dnsMxResolver([dns.server], { timeoutMs: 2000 }),
    port, // every MX is 127.0.0.1: the loopback receiver, never a real MX
    timeoutMs: 5000,
    tlsPolicy: policy,
  });
  return relay.deliver({ id: 'T1', sender: 'a@out.moat.test', recipients: [`rcpt@${domain}`], message: Buffer.from('Subject: t\r\n\r\nhi\r\n') }).finally(() => outcomes.flush());
}

describe('DANE (validated TLSA through Unbound)', () => {
  it('delivers to a receiver whose certificate matches the TLSA 3 1 1 record', async () => {
    const before = good.got.length;
    const registry = createRegistry();
    const [r] = await send('good.test', good.port, { registry });
    expect(r).toMatchObject({ status: 'sent' });
    expect(good.got[before]).toMatchObject({ rcpt: ['rcpt@good.test'], secure: true });
    expect(await registry.metrics()).toMatch(/moat_tls_outcomes_total\{policy_domain="good.test",policy_type="tlsa",result="success"\} 1/);
  });

  it('defers, and sends nothing, when the certificate does not match', async () => {
    const [r] = await send('wrong.test', wrong.port);
    expect(r).toMatchObject({ status: 'deferred', code: 451, enhanced: '4.7.5' });
    expect(r?.response).toMatch(/TLSA/);
    expect(wrong.got).toHaveLength(0);
  });

  it('refuses a DNSSEC-bogus TLSA answer (Unbound answers SERVFAIL): deferred, nothing sent', async () => {
    const before = good.got.length;
    const [r] = await send('bogus.test', good.port);
    expect(r).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(r?.response).toMatch(/servfail/i);
    expect(good.got.length).toBe(before);
  });

  it('does not use TLSA records when the MX host address records are insecure (CNAME into an unsigned zone)', async () => {
    const registry = createRegistry();
    const [r] = await send('insecureaddr.test', wrong.port, { registry });
    // with DANE the wrong key would defer (as for wrong.test); without it the session is opportunistic TLS
    expect(r).toMatchObject({ status: 'sent' });
    expect(wrong.got.at(-1)).toMatchObject({ rcpt: ['rcpt@insecureaddr.test'], secure: true });
    expect(await registry.metrics()).toMatch(/moat_tls_outcomes_total\{policy_domain="insecureaddr.test",policy_type="no-policy-found",result="success"\} 1/);
  });

  it('does not use TLSA records reached through an insecure MX RRset (unsigned domain, DANE-signed MX host)', async () => {
    const [r] = await send('insecuremx.test', wrong.port);
    expect(r).toMatchObject({ status: 'sent' });
    expect(wrong.got.at(-1)).toMatchObject({ rcpt: ['rcpt@insecuremx.test'], secure: true });
  });

  it('defers when the validating resolver does not answer (a timeout never downgrades)', async () => {
    const [r] = await send('good.test', good.port, { resolver: hole.server });
    expect(r).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(r?.response).toMatch(/timeout/);
  });
});

describe('MTA-STS (policy over HTTPS from a test CA)', () => {
  it('delivers under enforce to an MX with a valid certificate for its name', async () => {
    const before = good.got.length;
    const [r] = await send('sts.test', good.port);
    expect(r).toMatchObject({ status: 'sent' });
    expect(good.got[before]).toMatchObject({ secure: true });
  });

  it('defers under enforce when STARTTLS is stripped, never sending in clear', async () => {
    const [r] = await send('strip.test', strip.port);
    expect(r).toMatchObject({ status: 'deferred', code: 451, enhanced: '4.7.5' });
    expect(r?.response).toMatch(/STARTTLS/);
    expect(strip.got.filter((g) => g.rcpt[0] === 'rcpt@strip.test')).toHaveLength(0);
  });

  it('delivers the same stripped session under mode none, and under testing (reported only)', async () => {
    for (const d of ['stripnone.test', 'striptesting.test', 'plain.test']) {
      const [r] = await send(d, strip.port);
      expect(r, d).toMatchObject({ status: 'sent' });
    }
    expect(strip.got.map((g) => g.rcpt[0])).toEqual(expect.arrayContaining(['rcpt@stripnone.test', 'rcpt@striptesting.test', 'rcpt@plain.test']));
  });

  it('keeps enforcing a stored policy after a restart while the policy host is down (RFC 8461 5.1)', async () => {
    const store = fileStsStore(join(outDir.path, 'mta-sts'));
    const down = await freePort(); // nothing listens: the policy host is gone
    // without a stored policy, a policy host that refuses connections is "no policy": sent in clear
    const [clear] = await send('strip.test', strip.port, { stsPort: down });
    expect(clear).toMatchObject({ status: 'sent' });
    // learn the policy once (host up), then "restart" with the host down: the stored enforce policy still defers
    const [first] = await send('strip.test', strip.port, { stsStore: store });
    expect(first).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    const stored = JSON.parse(await readFile(join(outDir.path, 'mta-sts', 'strip.test.json'), 'utf8'));
    expect(stored).toMatchObject({ id: 'striptest1', policy: { mode: 'enforce', mx: ['mx.strip.test'], maxAge: 86400 } });
    const sent = strip.got.length;
    const [after] = await send('strip.test', strip.port, { stsStore: fileStsStore(join(outDir.path, 'mta-sts')), stsPort: down });
    expect(after).toMatchObject({ status: 'deferred', code: 451, enhanced: '4.7.5' });
    expect(after?.response).toMatch(/STARTTLS/);
    expect(strip.got.length).toBe(sent);
  });

  it('defers when the policy host accepts the connection but never answers (a fetch timeout never downgrades)', async () => {
    const silent = createNetServer(() => undefined); // holds every connection open, says nothing
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', () => r()));
    try {
      const sent = strip.got.length;
      const [r] = await send('strip.test', strip.port, { stsPort: port, stsTimeoutMs: 800 });
      expect(r).toMatchObject({ status: 'deferred', code: 451, enhanced: '4.7.5' });
      expect(r?.response).toMatch(/TLS policy of strip\.test unavailable/);
      expect(strip.got.length).toBe(sent);
    } finally {
      silent.close();
    }
  });

  it('treats a policy over 64 KB or with bad syntax as absent (delivered as without a policy, and counted)', async () => {
    for (const d of ['big.test', 'badsyntax.test']) {
      const [r] = await send(d, strip.port);
      expect(r, d).toMatchObject({ status: 'sent' });
    }
  });

  it('keeps every outcome for the daily TLS-RPT report', async () => {
    const { outcomes } = await readOutcomes(outDir.path, dayOf(Date.now()));
    const reports = buildTlsReports({ day: dayOf(Date.now()), outcomes, organization: 'moat.test', contact: 'mailto:tls@moat.test' });
    const testing = reports.get('striptesting.test')!;
    expect(testing.policies[0]).toMatchObject({
      policy: { 'policy-type': 'sts', 'policy-domain': 'striptesting.test', 'mx-host': ['mx.striptesting.test'] },
      summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 },
      'failure-details': [{ 'result-type': 'starttls-not-supported', 'receiving-mx-hostname': 'mx.striptesting.test', 'failed-session-count': 1 }],
    });
    expect(reports.get('wrong.test')!.policies[0]!['failure-details']![0]!['result-type']).toBe('validation-failure');
    expect(reports.get('bogus.test')!.policies[0]!['failure-details']![0]!['result-type']).toBe('dnssec-invalid');
    expect(reports.get('big.test')!.policies.map((p) => p['failure-details']?.[0]?.['result-type'])).toContain('sts-policy-fetch-error');
    expect(reports.get('badsyntax.test')!.policies.map((p) => p['failure-details']?.[0]?.['result-type'])).toContain('sts-policy-invalid');
    expect(reports.get('good.test')!.policies[0]!.summary['total-successful-session-count']).toBeGreaterThan(0);
  });
});

describe('security levels (smtp_tls_security_level, smtp_tls_policy_maps)', () => {
  it('encrypt: TLS required but not authenticated', async () => {
    const [clear] = await send('plain.test', strip.port, { level: 'encrypt' });
    expect(clear).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(clear?.response).toMatch(/STARTTLS/);
    const [selfSigned] = await send('plain.test', wrong.port, { level: 'encrypt' });
    expect(selfSigned).toMatchObject({ status: 'sent' });
  });

  it('verify: a trusted certificate for the MX host name; secure: one for the domain or a subdomain', async () => {
    expect((await send('plain.test', good.port, { level: 'verify' }))[0]).toMatchObject({ status: 'sent' });
    const [untrusted] = await send('plain.test', wrong.port, { level: 'verify' });
    expect(untrusted).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    // mx.plain.test is a subdomain of plain.test; the same certificate does not name stripnone.test
    expect((await send('plain.test', good.port, { level: 'secure' }))[0]).toMatchObject({ status: 'sent' });
    const [other] = await send('stripnone.test', good.port, { level: 'secure' });
    expect(other).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(other?.response).toMatch(/not stripnone\.test or a subdomain/);
  });

  it('dane-only: no validated TLSA records, no delivery; a DANE domain passes', async () => {
    const [plain] = await send('plain.test', good.port, { level: 'dane-only' });
    expect(plain).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(plain?.response).toMatch(/dane-only/);
    expect((await send('good.test', good.port, { level: 'dane-only' }))[0]).toMatchObject({ status: 'sent' });
  });

  it('unusable TLSA records: dane delivers over mandatory unauthenticated TLS, dane-only defers (as Postfix)', async () => {
    expect((await send('unusable.test', good.port))[0]).toMatchObject({ status: 'sent' });
    const [only] = await send('unusable.test', good.port, { level: 'dane-only' });
    expect(only).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(only?.response).toMatch(/all unusable/);
  });

  it('a mandatory level is not weakened by an MTA-STS testing policy, and per-domain policies override the default', async () => {
    const [testing] = await send('striptesting.test', strip.port, { level: 'encrypt' });
    expect(testing).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    // the table: plain.test encrypt, other domains the default (may: delivered in clear past the stripper)
    expect((await send('plain.test', strip.port, { policies: { 'plain.test': 'encrypt' } }))[0]).toMatchObject({ status: 'deferred' });
    expect((await send('stripnone.test', strip.port, { policies: { 'plain.test': 'encrypt' } }))[0]).toMatchObject({ status: 'sent' });
    expect((await send('stripnone.test', strip.port, { policies: { '.test': 'encrypt' } }))[0]).toMatchObject({ status: 'deferred' });
  });
});

describe('TLS-RPT reports themselves (RFC 8460 3)', () => {
  it('a report to a rua whose MX has a bad certificate under an enforced MTA-STS policy is delivered, and not counted', async () => {
    const registry = createRegistry();
    const dir = await tmpDir('tlsrpt-own');
    const outcomes = outcomeRecorder({ dir: dir.path, registry });
    const policy = outboundTls({ resolver: wireResolver([dns.server], { timeoutMs: 1500 }), ca: [ca.cert], stsPort: httpsPort, stsTimeoutMs: 5000, outcomes });
    // the queue's own router, as the delivery thread builds it; every MX is 127.0.0.1, the wrong-key receiver
    const router = createRouter({ heloName: 'out.moat.test', resolver: dnsMxResolver([dns.server], { timeoutMs: 2000 }), mxPort: wrong.port, timeoutMs: 5000, tlsPolicy: policy });
    const message = Buffer.from('Subject: report\r\n\r\nhi\r\n');
    try {
      // ordinary mail to sts.test (enforce, mx.sts.test) at a certificate that is not trusted: deferred and counted
      const [mail] = await router.transportFor({ transport: 'smtp', host: undefined, port: 25, mx: true, raw: 'smtp:' }, true).deliver({ id: 'M1', sender: 'a@out.moat.test', recipients: ['user@sts.test'], message });
      expect(mail).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
      await outcomes.flush();
      const counted = (await readOutcomes(dir.path, dayOf(Date.now()))).outcomes.length;
      expect(counted).toBe(1);
      // the report, queued as the daily run and `moat tls report --send` queue it: delivered over opportunistic TLS
      const before = wrong.got.length;
      const [report] = await router.transportFor(REPORT_ENVELOPE.nextHop, true).deliver({ id: 'R1', sender: 'postmaster@out.moat.test', recipients: ['tlsrpt@sts.test'], message });
      expect(report).toMatchObject({ status: 'sent' });
      expect(wrong.got[before]).toMatchObject({ rcpt: ['tlsrpt@sts.test'], secure: true });
      // and its session is in no count: not the next day's report, not the metric
      await outcomes.flush();
      const after = (await readOutcomes(dir.path, dayOf(Date.now()))).outcomes;
      expect(after).toHaveLength(counted);
      expect(after.every((o) => o.result !== 'success')).toBe(true);
      expect(await registry.metrics()).not.toMatch(/policy_domain="sts.test"[^\n]*result="success"/);
    } finally {
      await dir.remove();
    }
  });
});

describe('next hops without MX lookup (relayhost, smtp:[host]:port, LMTP): Postfix\'s levels and [host]:port keys', () => {
  it('smtp_tls_policy_maps [host]:port and smtp_tls_security_level apply to the relayhost; lmtp_tls_* to LMTP', async () => {
    const local = await ca.issue(['localhost']);
    const relay = await receiver(local); // a CA-issued certificate for localhost
    const lmtpTls = await receiver(local, { lmtp: true });
    const lmtpPlain = await receiver(local, { lmtp: true, stripTls: true });
    const message = Buffer.from('Subject: hop\r\n\r\nhi\r\n');
    const route = (smtp: Parameters<typeof nextHopTls>[0]['smtp'], lmtp: Parameters<typeof nextHopTls>[0]['lmtp'] = { level: 'none' }) =>
      createRouter({ heloName: 'out.moat.test', timeoutMs: 5000, hopTls: nextHopTls({ smtp, lmtp, ca: [ca.cert] }) });
    const send = (r: ReturnType<typeof route>, raw: string, host: string, port: number, lmtp = false) =>
      r.transportFor(lmtp ? { transport: 'lmtp', socket: { host, port }, raw } : { transport: 'smtp', host, port, mx: false, raw }, false).deliver({ id: 'H1', sender: 'a@out.moat.test', recipients: ['u@hop.test'], message });
    try {
      // the relayhost strips STARTTLS: the default level (dane = may here) sends in clear, an encrypt entry defers
      expect((await send(route({ level: 'dane' }), `smtp:[127.0.0.1]:${strip.port}`, '127.0.0.1', strip.port))[0]).toMatchObject({ status: 'sent' });
      const [enc] = await send(route({ level: 'dane', policies: { [`[127.0.0.1]:${strip.port}`]: 'encrypt' } }), `smtp:[127.0.0.1]:${strip.port}`, '127.0.0.1', strip.port);
      expect(enc).toMatchObject({ status: 'deferred', code: 451, enhanced: '4.7.5' });
      expect(enc?.response).toMatch(/STARTTLS/);
      // verify: a CA-signed certificate naming the relay host; an untrusted one defers
      expect((await send(route({ level: 'verify' }), `smtp:[localhost]:${relay.port}`, 'localhost', relay.port))[0]).toMatchObject({ status: 'sent' });
      expect(relay.got.at(-1)).toMatchObject({ secure: true });
      expect((await send(route({ level: 'verify' }), `smtp:[localhost]:${wrong.port}`, 'localhost', wrong.port))[0]).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
      // secure: the certificate must name the next hop; 127.0.0.1 is not in it
      expect((await send(route({ level: 'secure' }), `smtp:[127.0.0.1]:${relay.port}`, '127.0.0.1', relay.port))[0]).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
      // a dane-only entry cannot be met without MX lookup: deferred, nothing sent
      const before = relay.got.length;
      const [only] = await send(route({ level: 'may', policies: { [`[localhost]:${relay.port}`]: 'dane-only' } }), `smtp:[localhost]:${relay.port}`, 'localhost', relay.port);
      expect(only).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
      expect(relay.got.length).toBe(before);
      // LMTP: none by default (plain even when offered), encrypt refuses a server without STARTTLS, verify passes
      expect((await send(route({ level: 'may' }), `lmtp:inet:localhost:${lmtpTls.port}`, 'localhost', lmtpTls.port, true))[0]).toMatchObject({ status: 'sent' });
      expect(lmtpTls.got.at(-1)).toMatchObject({ secure: false });
      const [plain] = await send(route({ level: 'may' }, { level: 'encrypt' }), `lmtp:inet:localhost:${lmtpPlain.port}`, 'localhost', lmtpPlain.port, true);
      expect(plain).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
      expect(lmtpPlain.got).toHaveLength(0);
      const key = `localhost:${lmtpTls.port}`;
      expect((await send(route({ level: 'may' }, { level: 'none', policies: { [key]: 'verify' } }), `lmtp:inet:localhost:${lmtpTls.port}`, 'localhost', lmtpTls.port, true))[0]).toMatchObject({ status: 'sent' });
      expect(lmtpTls.got.at(-1)).toMatchObject({ secure: true });
    } finally {
      await Promise.all([relay.close(), lmtpTls.close(), lmtpPlain.close()]);
    }
  });
});
