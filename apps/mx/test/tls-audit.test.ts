// The TLS audit on the wire: Debian's testssl.sh against the real moat-mx binary's STARTTLS on the port-25 role
// and the submission role, with a certificate ACME-issued by Debian's pebble. Talks to 127.0.0.1 only (no DNS).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PebbleStack, pebbleAcme, startPebbleStack, waitForIssuer, writeAcmeConfig } from './acme-mx.ts';
import { type SpawnedMx, spawnMain } from './spawn-main.ts';

/** One line of testssl's flat JSON (--jsonfile). */
interface Finding {
  id: string;
  severity: string;
  finding: string;
}

/**
 * Findings at MEDIUM or worse that we accept, with the reason. Empty today: each entry must say why.
 * (testssl rates by id; a new id at MEDIUM+ fails the test until it is fixed or listed here.)
 */
const ACCEPTED: Record<string, string> = {};

const BAD = new Set(['MEDIUM', 'HIGH', 'CRITICAL']);

let dir: Awaited<ReturnType<typeof tmpDir>>;
let mx: SpawnedMx;
let smtpPort: number;
let submissionPort: number;
let redis: Awaited<ReturnType<typeof startRedis>>;
let stack: PebbleStack;

beforeAll(async () => {
  dir = await tmpDir('mx-tls-audit');
  redis = await startRedis();
  stack = await startPebbleStack(dir.path, 'audit.test', ['mx.audit.test. 60 IN A 127.0.0.1']);
  smtpPort = await freePort();
  submissionPort = await freePort();
  const cfg = await writeAcmeConfig({ dir: dir.path, domain: 'audit.test', resolver: stack.dns.server, redisUrl: redis.url, acme: pebbleAcme(stack, 'audit.test') });
  mx = await spawnMain(cfg, smtpPort, ['--submission', `127.0.0.1:${submissionPort}`]);
  // audit the ACME certificate, not the self-signed one mx starts on: wait until new sessions get pebble's
  expect(await waitForIssuer(smtpPort, 'mx.audit.test', /pebble/i, 240), mx.log.text).toMatch(/pebble/i);
}, 120_000);

afterAll(async () => {
  await mx?.stop();
  await stack?.stop();
  await redis?.stop();
  await dir?.remove();
});

/**
 * testssl.sh with protocols (-p), cipher categories (-s), forward secrecy (-f) and the vulnerability checks (-U),
 * STARTTLS smtp, no DNS (--nodns none, --ip), no phone-out (the default), batch mode (never waits for a key).
 */
async function testssl(port: number): Promise<Finding[]> {
  const out = join(dir.path, `testssl-${port}.json`);
  await new Promise<void>((resolve, reject) => {
    execFile(
      'testssl',
      ['--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none', '--ip', '127.0.0.1', '--openssl-timeout', '10', '--connect-timeout', '10', '-t', 'smtp', '-p', '-s', '-f', '-U', '--jsonfile', out, `mx.audit.test:${port}`],
      { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      // testssl's exit code counts findings; the JSON is what we judge
      (err, _stdout, stderr) => (err && (err as { killed?: boolean }).killed ? reject(new Error(`testssl timed out\n${stderr}`)) : resolve()),
    );
  });
  return JSON.parse(await readFile(out, 'utf8')) as Finding[];
}

function byId(findings: readonly Finding[], id: string): Finding | undefined {
  return findings.find((f) => f.id === id);
}

describe.each([
  ['port-25 listener', () => smtpPort],
  ['submission listener', () => submissionPort],
])('testssl on the %s (STARTTLS smtp, ACME certificate)', (_name, port) => {
  let findings: Finding[] = [];
  beforeAll(async () => {
    findings = await testssl(port());
  }, 300_000);

  it('ran against the listener (no scan error)', () => {
    expect(findings.length).toBeGreaterThan(10);
    expect(findings.filter((f) => f.id === 'scanProblem' || /^(engine_problem|scanTime)$/.test(f.id) && f.severity === 'FATAL')).toEqual([]);
  });

  it('offers TLS 1.2 and 1.3 only', () => {
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) expect(byId(findings, id)?.finding, id).toMatch(/^not offered/);
    expect(byId(findings, 'TLS1_2')?.finding).toMatch(/^offered/);
    expect(byId(findings, 'TLS1_3')?.finding).toMatch(/^offered/);
  });

  it('offers no NULL, anonymous, EXPORT, LOW, RC4/3DES or CBC-only obsolete suites', () => {
    // -s categories (testssl 3.0 ids): each must be "not offered"
    for (const id of ['cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE']) {
      expect(byId(findings, id)?.finding, id).toMatch(/^not offered/);
    }
    expect(byId(findings, 'cipherlist_STRONG')?.finding).toMatch(/^offered/);
    expect(byId(findings, 'RC4')?.severity).toBe('OK');
  });

  it('has forward secrecy with every offered suite', () => {
    const fs = findings.find((f) => f.id === 'PFS' || f.id === 'FS');
    expect(fs?.severity, JSON.stringify(fs)).toBe('OK');
    expect(fs?.finding).toMatch(/^offered/);
  });

  it('has no finding at MEDIUM or worse, except the accepted ones', () => {
    const bad = findings.filter((f) => BAD.has(f.severity) && !(f.id in ACCEPTED));
    expect(bad).toEqual([]);
  });
});
