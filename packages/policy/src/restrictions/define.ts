// What a restriction module declares: its Postfix name(s), argument, stage, evaluation and reply class.
// The engine, the parser and the reply-code table read these declarations (table.ts), nothing else.
import type { Compiled, Ctx, Result, Wait } from '../engine/context.ts';
import type { DnsTarget, Ports } from '../types.ts';

/** The argument a restriction takes: none, a DNS list zone (`zone=filter`), a map (`type:name`), a service. */
export type ArgKind = 'none' | 'dns' | 'map' | 'service';

export interface RestrictionDef<N extends string = string, A extends ArgKind = ArgKind> {
  /** The Postfix name, as admins write it. */
  name: N;
  /** Older Postfix names accepted for it (formatRestriction prints `name`). */
  aliases?: readonly string[] | undefined;
  arg: A;
  /** The earliest stage whose facts it needs (0 connect, 1 helo, 2 mail, 3 rcpt; engine/context.ts). */
  stage: number;
  /** DNS-list restrictions: what they look up and for which use; evaluated from the list's one batch. */
  dns?: { target: DnsTarget; use: 'allow' | 'block' } | undefined;
  /** Weighted DNS lists (reject_dnsbl_score): every postscreen_dnsbl_sites zone joins the list's one batch. */
  weighted?: boolean | undefined;
  /** An optional port it cannot work without (createEngine refuses a list naming it otherwise). */
  requires?: keyof Ports | undefined;
  /** Postfix's basic reply code for its reject (`*_reject_code`), when a result names none. */
  rejectCode?: number | undefined;
  /** The evaluation: a result, or a port call in flight. Results carry their trace reason. */
  evaluate(c: Compiled, ctx: Ctx, index: number): Result | Wait;
}

/** Declares a restriction, keeping its name and argument kind as literal types (RestrictionType). */
export function define<const N extends string, const A extends ArgKind>(d: RestrictionDef<N, A>): RestrictionDef<N, A> {
  return d;
}
