// The policy engine's RecipientPort over the address resolver: 'local' | 'unknown-user' | 'remote' at RCPT.
// Trusts the resolver; the recipient is client input. Typed structurally so @moat/address needs no @moat/policy.
import type { AddressResolver, Resolution, Verification } from './types.ts';

/** @moat/policy's RecipientClass, by value. */
export type RecipientVerdict = 'local' | 'unknown-user' | 'remote';

/** Structurally @moat/policy's RecipientPort (with classifySync). */
export interface ResolverRecipientPort {
  classify(recipient: string): Promise<RecipientVerdict>;
  /** Throws a LookupFailure when a table cannot answer (the engine's "lookup failure": 451 4.3.0). */
  classifySync(recipient: string): RecipientVerdict;
  /**
   * The refusal as smtpd words it, per class ("User unknown in virtual mailbox table", an error:
   * transport's own text...), for an engine that wants more than the 3-way class. Throws like classifySync.
   */
  verifySync(recipient: string): Verification;
}

/** Thrown by classifySync when the resolver's tables cannot answer. */
export class RecipientLookupError extends Error {
  readonly code = 'LOOKUP_FAILURE';
  readonly resolution: Resolution;
  constructor(resolution: Resolution & { ok: false }) {
    super(`${resolution.input}: ${resolution.status} ${resolution.text}`);
    this.name = 'RecipientLookupError';
    this.resolution = resolution;
  }
}

/**
 * smtpd's view of a recipient (AddressResolver.verify: no expansion, cheap). `remote`: not a class of
 * ours (relay control decides). Otherwise: refused (unknown user, error transport, empty expansion) is `unknown-user`; an alias
 * that loops or expands too far is `local`, as Postfix accepts it at RCPT (its virtual_alias_maps has
 * the key) and fails it later; a table that cannot answer throws. Relay-domain users are checked
 * against relay_recipient_maps when it is set (the backup-MX case).
 */
export function recipientPortFromResolver(resolver: AddressResolver): ResolverRecipientPort {
  const verifySync = (recipient: string): Verification => {
    try {
      return resolver.verify(recipient);
    } catch {
      // A table could not answer: resolve() says which, with its trace.
      const r = resolver.resolve(recipient);
      if (!r.ok && r.reason === 'lookup-failure') throw new RecipientLookupError(r);
      return r.ok ? { accepted: true, class: r.class } : { accepted: false, class: r.class, status: r.status, text: r.text };
    }
  };
  const classifySync = (recipient: string): RecipientVerdict => {
    const v = verifySync(recipient);
    if (v.class === 'remote') return 'remote';
    return v.accepted ? 'local' : 'unknown-user';
  };
  return {
    classifySync,
    verifySync,
    classify: (recipient) => {
      try {
        return Promise.resolve(classifySync(recipient));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}
