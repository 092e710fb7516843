import type { PolicySpec } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { policydSpec } from './profile.ts';

const spec: PolicySpec = {
  myHostname: 'mx.example.org',
  myAddresses: [],
  myNetworks: ['127.0.0.0/8'],
  delayReject: true,
  strictRfc821Envelopes: true,
  relayRestrictions: [{ type: 'permit_mynetworks' }, { type: 'reject_unauth_destination' }],
  recipientRestrictions: [
    { type: 'reject_missing_helo' },
    { type: 'reject_unlisted_recipient' },
    { type: 'reject_rbl_client', zone: 'zen.example' },
    { type: 'check_policy_service' },
  ],
};

describe('policydSpec', () => {
  it('drops what Postfix does itself', () => {
    const s = policydSpec(spec, { helo: true, sender: true, recipients: true, relay: true });
    expect(s.relayRestrictions).toEqual([]);
    expect(s.strictRfc821Envelopes).toBe(false);
    expect(s.recipientRestrictions.map((r) => r.type)).toEqual(['reject_rbl_client', 'check_policy_service']);
  });

  it('keeps everything when Postfix does nothing', () => {
    const s = policydSpec(spec, { helo: false, sender: false, recipients: false, relay: false });
    expect(s.relayRestrictions).toEqual(spec.relayRestrictions);
    expect(s.recipientRestrictions).toEqual(spec.recipientRestrictions);
    expect(s.strictRfc821Envelopes).toBe(true);
  });
});

describe('views.policyd', () => {
  it('reads the config section (durations in ms, Postfix stage names)', async () => {
    const { testConfig, views } = await import('@moat/config');
    const s = views.policyd(
      testConfig({
        policyd: {
          idle_timeout: 330_000,
          max_connections: 7,
          stages: ['rcpt', 'end-of-message'],
          permit_action: 'OK',
          reject_style: 'reject',
          request_timeout: 1000,
          decision_timeout: 2000,
          overload_action: 'DUNNO',
          max_line: 1024,
          max_request: 8192,
        },
      }),
    );
    expect(s).toMatchObject({
      stages: ['rcpt', 'end-of-data'],
      permitAction: 'OK',
      rejectStyle: 'reject',
      maxConnections: 7,
      idleTimeoutMs: 330_000,
      requestTimeoutMs: 1000,
      decisionTimeoutMs: 2000,
      errorAction: '',
      maxLine: 1024,
      maxRequest: 8192,
    });
  });
});
