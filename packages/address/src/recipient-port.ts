// The policy engine's RecipientPort over the address resolver: 'local' | 'unknown-user' | 'remote' at RCPT.
// Trusts the resolver; the recipient is client input. Typed structurally so @moat/address needs no @moat/policy.
import { memoByDomain } from './domain-facts.ts';
import type { AddressResolver, Resolution, Verification } from './types.ts';

/** How many RCPT answers the port keeps (least recently used dropped first). */
export const RCPT_MEMO_SIZE = 16_384;

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
  verifySync(recipient: string, as?: 'recipient' | 'sender'): Verification;
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
export function recipientPortFromResolver(resolver: AddressResolver, opts: { memoSize?: number } = {}): ResolverRecipientPort {
  // The RCPT answer per address as given, kept until any of the resolver's tables reloads (its generation
  // changes); a resolver that does not name its tables gets no memo. smtpd keeps a similar cache of
  // trivial-rewrite's answers across sessions (smtpd_resolve.c, 100 entries); this one holds the recipient
  // table's verdict too. A lookup that throws is never kept: the next RCPT asks the tables again.
  const size = opts.memoSize ?? RCPT_MEMO_SIZE;
  const memo = resolver.tables && size > 0 ? memoByDomain(resolver.tables, (r) => Object.freeze(resolver.verify(r)), { max: size, lru: true, secondSighting: true }) : undefined;
  const verifySync = (recipient: string, as: 'recipient' | 'sender' = 'recipient'): Verification => {
    try {
      // the memo holds recipients' answers (a sender's statuses differ: 5.1.0)
      return memo && as === 'recipient' ? memo.get(recipient) : resolver.verify(recipient, as);
    } catch {
      // A table could not answer: resolve() says which, with its trace.
      const r = resolver.resolve(recipient);
      if (!r.ok && r.reason === 'lookup-failure') throw new RecipientLookupError(r);
      if (r.ok) return { accepted: true, class: r.class };
      const by = r.by ?? (r.reason === 'retry' ? 'retry' : r.reason === 'empty-expansion' ? 'alias' : 'table');
      return { accepted: false, class: r.class, status: r.status, text: r.text, by };
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
