// Where an accepted RCPT goes: Postfix's trivial-rewrite at RCPT through the address resolver (refused when it
// cannot be resolved, its final recipients kept for the queue), or local/relay without one. Addresses are client input.
import { errorRefusalStatus, UNDELIVERABLE } from '@moat/address';
import type { Facts } from '@moat/policy';
import { queueRecipients } from '@moat/queue';
import { SmtpReply } from './hook.ts';
import type { MxContext } from './mx-context.ts';
import type { Route, SessionState } from './session-state.ts';

/** Record the recipient's route in the transaction, or throw the reply that refuses it. */
export async function routeRecipient(ctx: MxContext, s: SessionState, address: string, f: Facts): Promise<void> {
  const { deps, metrics, logger } = ctx;
  if (deps.addressResolver) {
    // Postfix's trivial-rewrite at RCPT: refused here when it cannot be resolved, routed when it can
    const res = deps.addressResolver.resolve(address);
    if (!res.ok) {
      const code = res.reason === 'lookup-failure' ? 451 : res.status.startsWith('4.') ? 450 : 550;
      // Postfix's form: `<addr>: Recipient address rejected: text` (the resolver gives the text alone)
      const text = res.text.startsWith('<') ? res.text : `<${address}>: Recipient address rejected: ${res.text}`;
      const reply = new SmtpReply(code, `${res.status} ${text}`);
      metrics.rejects.inc({ stage: 'rcpt', restriction: 'address_resolution', code: String(code) });
      logger.info(
        { event: 'recipient-refused', session: f.sessionId, client: f.clientAddress, sender: f.sender, recipient: f.recipient, class: res.class, reason: res.reason, reply: `${code} ${reply.message}`, trace: res.trace },
        'recipient refused by address resolution',
      );
      throw reply;
    }
    const finals = queueRecipients(address, res);
    // The address itself (not an alias's target) resolving to error: refused here, as Postfix's smtpd
    // does (checked: `error:4.2.0 later` in transport_maps answers 550 5.2.0 at RCPT, `error:2.0.0` 550 5.0.0).
    // Alias targets are expanded after the 250, so theirs bounce, as Postfix's cleanup does.
    const own = finals.length === 1 && finals[0]!.address.toLowerCase() === address.toLowerCase() ? finals[0]!.info.nextHop : undefined;
    if (own?.transport === 'error') {
      const status = errorRefusalStatus(own.status, 'recipient');
      const reply = new SmtpReply(550, `${status} <${address}>: Recipient address rejected: ${own.text || UNDELIVERABLE}`);
      metrics.rejects.inc({ stage: 'rcpt', restriction: 'address_resolution', code: '550' });
      logger.info(
        { event: 'recipient-refused', session: f.sessionId, client: f.clientAddress, sender: f.sender, recipient: f.recipient, class: res.class, reason: 'error-transport', reply: `550 ${reply.message}`, trace: res.trace },
        'recipient refused by address resolution',
      );
      throw reply;
    }
    s.tx.finals.set(address, finals);
    return;
  }
  let route: Route = 'local';
  if (f.saslUsername && deps.recipients) {
    if ((await deps.recipients.classify(address)) === 'remote') route = 'relay';
  }
  s.tx.routes.set(address, route);
}
