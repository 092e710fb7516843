import { describe, expect, it } from 'vitest';
import { toFacts } from './facts.ts';

const base = {
  request: 'smtpd_access_policy',
  protocol_state: 'RCPT',
  client_address: '192.0.2.10',
  client_name: 'unknown',
  reverse_client_name: 'mail.example.net',
  helo_name: 'mail.example.net',
  sender: '',
  recipient: 'user@example.org',
  instance: '1a2b.3c4d.0',
  queue_id: '',
  sasl_username: '',
  encryption_protocol: 'TLSv1.3',
  future_attribute: 'ignored',
};

describe('toFacts', () => {
  it('maps Postfix attributes to facts (unknown -> undefined, null sender kept, TLS from encryption_protocol)', () => {
    expect(toFacts(base, ['rcpt'])).toEqual({
      kind: 'facts',
      facts: {
        stage: 'rcpt',
        clientAddress: '192.0.2.10',
        clientName: undefined,
        reverseClientName: 'mail.example.net',
        helo: 'mail.example.net',
        sender: '',
        recipient: 'user@example.org',
        saslUsername: undefined,
        tls: true,
        sessionId: '1a2b.3c4d.0',
      },
    });
  });

  it('answers DUNNO at stages it does not act on, and for other request types', () => {
    for (const state of ['CONNECT', 'EHLO', 'MAIL', 'DATA', 'END-OF-MESSAGE', 'VRFY', 'ETRN', 'WHATEVER'])
      expect(toFacts({ ...base, protocol_state: state }, ['rcpt']).kind, state).toBe('dunno');
    expect(toFacts({ ...base, request: 'other' }, ['rcpt']).kind).toBe('dunno');
  });

  it('acts at DATA and END-OF-MESSAGE when configured (no recipient needed there)', () => {
    const r = toFacts({ ...base, protocol_state: 'END-OF-MESSAGE', recipient: '' }, ['rcpt', 'end-of-data']);
    expect(r).toMatchObject({ kind: 'facts', facts: { stage: 'end-of-data', recipient: undefined } });
    expect(toFacts({ ...base, protocol_state: 'DATA' }, ['data'])).toMatchObject({ facts: { stage: 'data' } });
  });

  it('calls requests without request, protocol_state, a usable client_address or a RCPT recipient invalid', () => {
    const { request: _r, ...noRequest } = base;
    const { protocol_state: _p, ...noState } = base;
    const { client_address: _c, ...noClient } = base;
    expect(toFacts(noRequest, ['rcpt']).kind).toBe('invalid');
    expect(toFacts(noState, ['rcpt']).kind).toBe('invalid');
    expect(toFacts(noClient, ['rcpt']).kind).toBe('invalid');
    expect(toFacts({ ...base, client_address: 'not an ip; rm -rf' }, ['rcpt']).kind).toBe('invalid');
    expect(toFacts({ ...base, recipient: '' }, ['rcpt']).kind).toBe('invalid');
  });

  it('has no sender before MAIL FROM', () => {
    expect(toFacts({ ...base, protocol_state: 'HELO' }, ['helo'])).toMatchObject({ facts: { sender: undefined } });
  });
});
