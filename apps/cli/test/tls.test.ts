// `moat tls policy` and `moat tls report` through the real entry point; the report asks a test Unbound
// which domains publish `_smtp._tls` records.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer as createHttps, type Server } from 'node:https';
import { createTestCa, freePort, selfSignedCert, signZone, startNsd, startRedis, startUnbound, type NsdServer, type UnboundServer } from '@moat/testkit';
import { connectRedis } from '@moat/redis';
import { queueList } from '@moat/queue';
import { formatTlsa, parseStsPolicy, tlsa311, TLSRPT_COUNTS_PREFIX } from '@moat/tlspolicy';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function moat(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Without blocking this process: the HTTPS policy host the command asks runs here. */
function moatAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '' } });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    c.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('moat tls', { timeout: 400_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-tls-'));
  let unbound: UnboundServer | undefined;
  let validating: UnboundServer | undefined;
  let nsd: NsdServer | undefined;
  let https: Server | undefined;
  afterAll(async () => {
    await unbound?.stop();
    await validating?.stop();
    await nsd?.stop();
    await new Promise<void>((r) => (https ? https.close(() => r()) : r()));
  });

  const config = (resolver: string) =>
    `policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\ndns:\n  resolver: "${resolver}"\nmx:\n  tls: { state_dir: ${join(dir, 'state')} }\nqueue:\n  dir: ${join(dir, 'spool')}\n`;

  it('policy prints the MTA-STS TXT and file and the TLSA 3 1 1 record of the current certificate', async () => {
    const cert = await selfSignedCert(['mx.example.org']);
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state', 'selfsigned.crt'), cert.cert);
    writeFileSync(join(dir, 'moat.yaml'), config('127.0.0.1:53'));
    const r = moat(['tls', 'policy', 'Example.ORG', '--config', join(dir, 'moat.yaml'), '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.tlsa).toEqual({ name: '_25._tcp.mx.example.org', type: 'TLSA', value: formatTlsa(tlsa311(cert.cert)) });
    expect(j.mtaStsTxt.value).toMatch(/^v=STSv1; id=[0-9a-f]{20}$/);
    expect(parseStsPolicy(j.policyFile)).toEqual({ mode: 'testing', mx: ['mx.example.org'], maxAge: 604800 });
    const enforce = JSON.parse(moat(['tls', 'policy', 'example.org', '--config', join(dir, 'moat.yaml'), '--mode', 'enforce', '--json']).out);
    expect(enforce.mtaStsTxt.value).not.toBe(j.mtaStsTxt.value); // a new policy, a new id
    const text = moat(['tls', 'policy', 'example.org', '--config', join(dir, 'moat.yaml')]);
    expect(text.out).toContain(`_25._tcp.mx.example.org. 3600 IN TLSA ${formatTlsa(tlsa311(cert.cert))}`);
    expect(moat(['tls', 'policy', 'example.org', '--config', join(dir, 'moat.yaml'), '--mode', 'strict']).code).toBe(2);
    expect(moat(['tls', 'policy', 'example.org', '--config', join(dir, 'moat.yaml'), '--cert', join(dir, 'none.pem')]).code).toBe(1);
  });

  it('report builds the RFC 8460 aggregate for the domains that publish _smtp._tls', async () => {
    unbound = await startUnbound({
      stubZones: {},
      localZones: { 'example.net': 'static', 'example.com': 'static' },
      localData: ['_smtp._tls.example.net. 60 IN TXT "v=TLSRPTv1; rua=mailto:tls@example.net"'],
    });
    writeFileSync(join(dir, 'moat.yaml'), config(unbound.server));
    const out = join(dir, 'spool', 'tlsrpt');
    mkdirSync(out, { recursive: true });
    const at = Date.parse('2026-12-01T10:00:00Z');
    const line = (o: object) => JSON.stringify({ at, ...o });
    writeFileSync(
      join(out, '2026-12-01.jsonl'),
      [
        line({ policyDomain: 'example.net', policyType: 'tlsa', policyString: ['3 1 1 aa'], mxHost: 'mx.example.net', receivingIp: '192.0.2.1', result: 'success' }),
        line({ policyDomain: 'example.net', policyType: 'tlsa', policyString: ['3 1 1 aa'], mxHost: 'mx.example.net', receivingIp: '192.0.2.1', result: 'validation-failure', detail: 'no match' }),
        line({ policyDomain: 'example.com', policyType: 'no-policy-found', mxHost: 'mx.example.com', result: 'starttls-not-supported' }),
        'garbage',
        '',
      ].join('\n'),
    );
    const r = moat(['tls', 'report', '--day', '2026-12-01', '--config', join(dir, 'moat.yaml')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j['no-tlsrpt-record']).toEqual(['example.com']);
    expect(j['unreadable-lines']).toBe(1);
    expect(j.reports).toHaveLength(1);
    expect(j.reports[0]).toMatchObject({
      domain: 'example.net',
      rua: ['mailto:tls@example.net'],
      report: {
        'organization-name': 'mx.example.org',
        'date-range': { 'start-datetime': '2026-12-01T00:00:00Z', 'end-datetime': '2026-12-01T23:59:59Z' },
        policies: [
          {
            policy: { 'policy-type': 'tlsa', 'policy-string': ['3 1 1 aa'], 'policy-domain': 'example.net' },
            summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 1 },
            'failure-details': [{ 'result-type': 'validation-failure', 'receiving-mx-hostname': 'mx.example.net', 'receiving-ip': '192.0.2.1', 'failed-session-count': 1 }],
          },
        ],
      },
    });
    const all = JSON.parse(moat(['tls', 'report', '--day', '2026-12-01', '--config', join(dir, 'moat.yaml'), '--all']).out);
    expect(all.reports.map((x: { domain: string }) => x.domain)).toEqual(['example.com', 'example.net']);
    // --send queues the report for the domain's rua, out by MX lookup
    const sent = moat(['tls', 'report', '--day', '2026-12-01', '--config', join(dir, 'moat.yaml'), '--send']);
    expect(sent.err).toBe('');
    const q = JSON.parse(sent.out).queued;
    expect(q).toEqual([{ domain: 'example.net', to: 'tls@example.net', id: expect.any(String) }]);
    const entries = await queueList(join(dir, 'spool'));
    expect(entries.find((e) => e.id === q[0].id)).toMatchObject({ sender: 'postmaster@mx.example.org' });
  });

  it('report --cluster adds the other nodes\' counts from the cluster\'s Redis to this node\'s', async () => {
    const redis = await startRedis();
    const client = connectRedis({ url: redis.url }, { connectionName: 'test', connectTimeoutMs: 5000 });
    try {
      await new Promise((r) => client.once('ready', r));
      // another node pushed 3 successes and 2 validation failures for example.net on 2026-12-01
      const key = (result: string) => JSON.stringify(['example.net', 'tlsa', ['3 1 1 aa'], [], result, 'mx.example.net', '192.0.2.1', result === 'success' ? '' : 'no match']);
      await client.hset(`${TLSRPT_COUNTS_PREFIX}2026-12-01`, 'other-node', JSON.stringify({ v: 1, counts: [[key('success'), 3], [key('validation-failure'), 2]], skipped: 0 }));
      const cfg = join(dir, 'moat-cluster.yaml');
      writeFileSync(cfg, `${config(unbound!.server)}greylist:\n  redis: { url: "${redis.url}" }\n`);
      const r = moat(['tls', 'report', '--day', '2026-12-01', '--config', cfg, '--cluster']);
      expect(r.err).toBe('');
      const j = JSON.parse(r.out);
      // this node's file (1 success, 1 failure, the report test above) plus the other node's
      expect(j.reports[0].report.policies[0].summary).toEqual({ 'total-successful-session-count': 4, 'total-failure-session-count': 3 });
      expect(Object.keys(await client.hgetall(`${TLSRPT_COUNTS_PREFIX}2026-12-01`))).toHaveLength(2);
    } finally {
      client.disconnect();
      await redis.stop();
    }
  });

  it('check verifies the published records through the validating resolver and the policy host', async () => {
    const ca = await createTestCa();
    const mxCert = await selfSignedCert(['mx.example.test']);
    const tlsa = formatTlsa(tlsa311(mxCert.cert));
    const zone = await signZone(
      'example.test',
      [
        '@ IN SOA ns.example.test. h.example.test. 1 3600 600 86400 60',
        '@ IN NS ns.example.test.',
        'ns IN A 127.0.0.1',
        '@ IN MX 10 mx.example.test.',
        'mx IN A 127.0.0.1',
        `_25._tcp.mx IN TLSA ${tlsa}`,
        '_mta-sts IN TXT "v=STSv1; id=1"',
        'mta-sts IN A 127.0.0.1',
        '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tls@example.test"',
        '',
      ].join('\n'),
    );
    nsd = await startNsd({ zones: { 'example.test': zone.signed } });
    validating = await startUnbound({ stubZones: { 'example.test': nsd.stubAddr }, trustAnchors: [zone.ds] });
    const web = await ca.issue(['mta-sts.example.test']);
    const stsPort = await freePort();
    https = createHttps({ key: web.key, cert: web.cert }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 604800\r\n');
    });
    await new Promise<void>((r) => https!.listen(stsPort, '127.0.0.1', () => r()));
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'mx.crt'), mxCert.cert);
    writeFileSync(join(dir, 'check.yaml'), `policy:\n  hostname: mx.example.test\nrecipients:\n  domains: [example.test]\ndns:\n  resolver: "${validating.server}"\n`);
    const args = ['tls', 'check', 'example.test', '--config', join(dir, 'check.yaml'), '--ca', join(dir, 'ca.pem'), '--sts-port', String(stsPort), '--json'];
    const ok = await moatAsync([...args, '--cert', join(dir, 'mx.crt')]);
    expect(ok.err).toBe('');
    expect(JSON.parse(ok.out).records.map((r: { status: string; detail: string }) => `${r.status} ${r.status === 'ok' ? '' : r.detail}`.trim())).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(ok.code).toBe(0);
    // after a key change the published TLSA no longer matches: said, and exit 1
    const other = await selfSignedCert(['mx.example.test']);
    writeFileSync(join(dir, 'other.crt'), other.cert);
    const bad = await moatAsync([...args, '--cert', join(dir, 'other.crt')]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out).records[2]).toMatchObject({ record: '_25._tcp.mx.example.test TLSA', status: 'wrong' });
    // --resolver wins over dns.resolver and is read as dns.resolver is: IP:port, [v6]:port, IP, v6 (port 53)
    writeFileSync(join(dir, 'nowhere.yaml'), `policy:\n  hostname: mx.example.test\nrecipients:\n  domains: [example.test]\ndns:\n  resolver: "127.0.0.1:1"\n`);
    const flagArgs = [...args.slice(0, 4), join(dir, 'nowhere.yaml'), ...args.slice(5), '--cert', join(dir, 'mx.crt')];
    const viaFlag = await moatAsync([...flagArgs, '--resolver', validating.server]);
    expect(JSON.parse(viaFlag.out).records.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(JSON.parse(viaFlag.out).resolver).toBe(validating.server);
    const viaConfig = await moatAsync(flagArgs);
    expect(viaConfig.code).toBe(1);
    for (const form of ['[::1]:1', '127.0.0.1:1']) {
      // nothing answers there: the records are errors, but the address was taken (no usage error); bare forms
      // (port 53) are checked without asking anyone in src/commands/args.test.ts
      const r = await moatAsync([...flagArgs, '--resolver', form]);
      expect([r.code, JSON.parse(r.out).resolver], form).toEqual([1, form]);
    }
    for (const bad of ['localhost', 'unbound:53', '127.0.0.1:0']) {
      const r = await moatAsync([...flagArgs, '--resolver', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.err, bad).toMatch(/--resolver: (resolver must be an IP address \(optionally :port\)|bad resolver port)/);
    }
  });
});
