// Turns one Postfix policy request into the engine's Facts, or says why it cannot.
// Every attribute is client-controlled (Postfix relays what the SMTP client said): nothing here trusts them.
import type { Facts, Stage } from '@moat/policy';
import type { Attributes } from './protocol.ts';

/** Postfix protocol_state -> engine stage; VRFY, ETRN and unknown states have none. */
const stages: Record<string, Stage> = {
  CONNECT: 'connect',
  EHLO: 'helo',
  HELO: 'helo',
  MAIL: 'mail',
  RCPT: 'rcpt',
  DATA: 'data',
  BDAT: 'data',
  'END-OF-MESSAGE': 'end-of-data',
};

export type FactsResult =
  | { kind: 'facts'; facts: Facts }
  /** Nothing to decide here: answer DUNNO. */
  | { kind: 'dunno'; why: string }
  /** The request itself is broken: log, disconnect. */
  | { kind: 'invalid'; why: string };

const opt = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
const known = (v: string | undefined): string | undefined => (v === undefined || v === '' || v === 'unknown' ? undefined : v);

const ipLike = /^[0-9a-fA-F:.]{2,45}$/;

export function toFacts(attrs: Attributes, acting: readonly Stage[]): FactsResult {
  const request = attrs.request;
  if (request === undefined) return { kind: 'invalid', why: 'no request attribute' };
  if (request !== 'smtpd_access_policy') return { kind: 'dunno', why: `request=${request.slice(0, 40)}` };
  const state = attrs.protocol_state;
  if (state === undefined) return { kind: 'invalid', why: 'no protocol_state attribute' };
  const stage = stages[state.toUpperCase()];
  if (!stage || !acting.includes(stage)) return { kind: 'dunno', why: `not acting at ${state.slice(0, 20)}` };
  const clientAddress = attrs.client_address;
  if (clientAddress === undefined || !ipLike.test(clientAddress))
    return { kind: 'invalid', why: 'no usable client_address attribute' };
  const afterMail = stage !== 'connect' && stage !== 'helo';
  const recipient = opt(attrs.recipient);
  if (stage === 'rcpt' && recipient === undefined) return { kind: 'invalid', why: 'no recipient at RCPT' };
  return {
    kind: 'facts',
    facts: {
      stage,
      clientAddress,
      clientName: known(attrs.client_name),
      reverseClientName: known(attrs.reverse_client_name),
      helo: opt(attrs.helo_name),
      // Postfix sends `sender=` (empty) for the null sender; before MAIL FROM there is no sender at all.
      sender: afterMail ? (attrs.sender ?? '') : undefined,
      recipient,
      saslUsername: opt(attrs.sasl_username),
      tls: opt(attrs.encryption_protocol) !== undefined,
      sessionId: opt(attrs.queue_id) ?? opt(attrs.instance),
    },
  };
}
