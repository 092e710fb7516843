import { parseConfig, tlsReportFrom } from '@moat/config';
import { generateDkimKey, signIfConfigured } from '@moat/dkim';
import { createLogger, createRegistry } from '@moat/observe';
import type { EnqueueInput } from '@moat/queue';
import { describe, expect, it } from 'vitest';
import { tlsReportDuties, tlsReportSender } from './tls-report-timer.ts';

describe('tlsReportDuties', () => {
  const base = { dane: false, mta_sts: false, security_level: 'may', policies: {} };
  it('a node that records outcomes pushes its counts even when another node sends the reports', () => {
    expect(tlsReportDuties({ ...base, mta_sts: true, report_send: false })).toEqual({ record: true, push: true, send: false });
    expect(tlsReportDuties({ ...base, dane: true })).toEqual({ record: true, push: true, send: false });
    expect(tlsReportDuties({ ...base, security_level: 'encrypt' })).toMatchObject({ record: true, push: true });
    expect(tlsReportDuties({ ...base, policies: { 'example.net': 'verify' } })).toMatchObject({ record: true, push: true });
  });
  it('the sending node pushes and reads the cluster; a node with neither does nothing', () => {
    expect(tlsReportDuties({ ...base, mta_sts: true, report_contact: 'mailto:x@example.org' })).toEqual({ record: true, push: true, send: true });
    expect(tlsReportDuties({ ...base, report_send: true })).toEqual({ record: false, push: true, send: true });
    expect(tlsReportDuties(base)).toEqual({ record: false, push: false, send: false });
  });
});

describe('TLS reports are DKIM-signed by the reporting domain (RFC 8460 3)', () => {
  it('From is an address the configured key signs; the queued report gets a DKIM-Signature with its d=', async () => {
    const pem = generateDkimKey('ed25519').privateKeyPem;
    const keys = [{ domain: 'example.org', selector: 'tls1', privateKey: pem }];
    const config = parseConfig(
      'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nmx:\n  tls: { cert: /c.pem, key: /k.pem }\nqueue:\n  dkim:\n    - { domain: example.org, selector: tls1, key: /k.pem }\n',
      { env: {} },
    );
    const queued: EnqueueInput[] = [];
    const send = tlsReportSender({
      dir: '/nonexistent',
      hostname: 'mx.example.org',
      from: tlsReportFrom(config).from,
      organization: 'example.org',
      contact: 'mailto:postmaster@example.org',
      read: async () => ({ outcomes: [{ policyDomain: 'asks.example', policyType: 'no-policy-found', result: 'success', at: Date.UTC(2026, 11, 6, 12) }], skipped: 0 }),
      txt: async (n) => (n === '_smtp._tls.asks.example' ? ['v=TLSRPTv1; rua=mailto:tls@asks.example'] : []),
      enqueue: async (input) => {
        queued.push(input);
        return { id: `q${queued.length}` };
      },
      lock: { claim: async () => true, release: async () => undefined },
      logger: createLogger('test', { level: 'silent' }),
      registry: createRegistry(),
    });
    await send('2026-12-06');
    expect(queued).toHaveLength(1);
    const q = queued[0] as EnqueueInput;
    expect(q.sender).toBe('postmaster@example.org');
    expect(q.meta).toMatchObject({ dkim: 'sign' });
    // what the queue's smtp transport does with a message marked dkim: sign
    const signed = await signIfConfigured(Buffer.from(q.message as Buffer), keys);
    expect(signed.signedBy).toBe('example.org/tls1');
    expect(signed.message.toString('latin1')).toMatch(/^DKIM-Signature:[\s\S]*?\bd=example\.org;[\s\S]*?\bs=tls1;/);
    // the old From (postmaster@ the MX host) matched no key: the report went out unsigned
    expect((await signIfConfigured(Buffer.from((q.message as Buffer).toString('latin1').replace('From: postmaster@example.org', 'From: postmaster@mx.example.org'), 'latin1'), keys)).signedBy).toBeUndefined();
  });
});
