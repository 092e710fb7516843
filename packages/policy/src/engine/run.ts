// The scheduler of one decision: the lists in order, synchronous until a port answers with a promise.
// Trusts the restriction modules' results; a port failure they do not turn into a result fails the decision.
import { unlistedRecipientReply } from '../restrictions/recipient.ts';
import { unlistedSender } from '../restrictions/sender.ts';
import type { RecipientClass, RestrictionType, TraceEntry, Verdict } from '../types.ts';
import { type Compiled, type Ctx, DUNNO, type DnsPlan, type ListName, MAIL, NOT_LISTED, RCPT, type Result, resultText, Wait } from './context.ts';
import { adjust } from './modifiers.ts';
import { dnsFailOpen, fetchDns, makeDnsPlan } from './dns.ts';
import { withClass } from './lookups.ts';
import { evalDns } from '../restrictions/dns-lists.ts';

export const RELAY_PHASE = 0;
const SAFETY_PHASE = 1;
const RECIPIENT_PHASE = 2;
export const EARLY_PHASE = 3;
/** RCPT: smtpd_reject_unlisted_sender, before the lists (Postfix runs it at the end of its MAIL checks). */
export const SENDER_PHASE = 4;
/** RCPT, after the lists: defer_if_permit, then smtpd_reject_unlisted_recipient. */
const FINAL_PHASE = 5;
/** MAIL without delay_reject, after the list: smtpd_reject_unlisted_sender. */
const EARLY_FINAL_PHASE = 6;
const WAITING = 1;

const RELAY_DENIED_IMPLICIT: Result = { outcome: 'reject', reason: 'implicit' };
const remoteDenied = (cls: RecipientClass): Result => (cls === 'remote' ? RELAY_DENIED_IMPLICIT : DUNNO);
const isUnlisted = (cls: RecipientClass): Result => (cls === 'unknown-user' ? UNLISTED : DUNNO);
const UNLISTED: Result = { outcome: 'reject', reason: 'unknown user' };

type Decided = { c: Compiled; res: Result } | undefined;

interface Run {
  ctx: Ctx;
  phase: number;
  list: Compiled[];
  plans: Array<DnsPlan | undefined>;
  listName: ListName;
  maxStage: number;
  i: number;
  /** The next restriction recorded waited on the DNS lookup. */
  waited: boolean;
  /** What the lists decided, while the final checks run. */
  decided: Decided;
  verdict?: Verdict | undefined;
  resolve?: ((v: Verdict) => void) | undefined;
  reject?: ((e: unknown) => void) | undefined;
}

const decisive = (res: Result): boolean => res.outcome === 'permit' || res.outcome === 'reject' || res.outcome === 'defer';
const refuses = (d: Decided): boolean => d !== undefined && (d.res.outcome === 'reject' || d.res.outcome === 'defer');

export function verdictOf(ctx: Ctx, decided: Decided, earlyPermit = false): Verdict {
  if (!decided || earlyPermit) {
    return { action: 'continue', status: '2.0.0', text: 'Ok', prepend: ctx.prepend, trace: ctx.trace, decidedBy: decided?.c.text, decidedByType: decided?.c.type };
  }
  const { c, res } = decided;
  const action = res.outcome as 'permit' | 'reject' | 'defer';
  const v: Verdict = {
    action,
    status: res.status ?? (action === 'permit' ? '2.0.0' : action === 'reject' ? '5.7.1' : '4.7.1'),
    text: resultText(res) ?? 'Ok',
    decidedBy: c.text,
    decidedByType: c.type,
    prepend: action === 'permit' ? ctx.prepend : [],
    trace: ctx.trace,
  };
  withSubject(v, res);
  if (res.greylisted) v.greylisted = true;
  if (res.smtpCode !== undefined) v.smtpCode = res.smtpCode;
  return v;
}

function withSubject(v: Verdict, res: Result): void {
  if (res.subject === undefined || res.text === undefined) return;
  v.subject = res.subject;
  v.message = res.text;
}

/** A verdict no list item gave: strict envelopes, hostile recipient forms, the relay safety net. */
export function fixed(ctx: Ctx, restriction: string, type: RestrictionType | undefined, action: 'reject' | 'defer', status: string, text: string, reason: string, list: ListName = 'relay'): Verdict {
  ctx.trace.push({ restriction, list, outcome: action, reason, ms: 0 });
  return { action, status, text, decidedBy: restriction, decidedByType: type, prepend: [], trace: ctx.trace };
}

/** A verdict from a result no list item gave (the implicit checks), with its trace entry. */
function implicit(ctx: Ctx, restriction: RestrictionType, res: Result, reason: string): Verdict {
  const v = fixed(ctx, restriction, restriction, res.outcome as 'reject' | 'defer', res.status ?? '4.3.0', resultText(res) ?? 'Temporary lookup failure', reason, 'recipient');
  withSubject(v, res);
  if (res.smtpCode !== undefined) v.smtpCode = res.smtpCode;
  else if (res.status === undefined && res.outcome === 'defer') v.smtpCode = 451; // the engine's own lookup failure
  return v;
}

function record(ctx: Ctx, c: Compiled, listName: ListName, res: Result, waited: boolean): void {
  let ms = 0;
  if (waited) {
    const now = ctx.env.clock.now();
    ms = now - ctx.last;
    ctx.last = now;
  }
  if (ms === 0 && res === DUNNO) ctx.trace.push(c.tDunno!);
  else if (ms === 0 && res === NOT_LISTED) ctx.trace.push(c.tNotListed!);
  else ctx.trace.push({ restriction: c.text, list: listName, outcome: res.outcome, reason: res.reason, ms } as TraceEntry);
}

/**
 * A port's answer read through its Wait's meaning. The meaning throwing (a port answering nonsense) is the
 * Wait's failure, as a failed port call is (absent: thrown, the decision fails), never an unhandled rejection.
 */
function answer(w: Wait, x: unknown): Result | Wait {
  try {
    return w.map(x as never);
  } catch (e) {
    if (w.fail) return w.fail(e);
    throw e;
  }
}

/** The compiled lists of one engine and the runner over them; start() runs one decision. */
export class Runner {
  private readonly relay: Compiled[];
  private readonly recipient: Compiled[];
  // DNS plans per list and per stage reached (0..3), made on first use.
  private readonly relayPlans: Array<DnsPlan | undefined> = [];
  private readonly recipientPlans: Array<DnsPlan | undefined> = [];

  constructor(relay: Compiled[], recipient: Compiled[]) {
    this.relay = relay;
    this.recipient = recipient;
  }

  start(ctx: Ctx, phase: number): Verdict | Promise<Verdict> {
    const run: Run = { ctx, phase, list: this.relay, plans: this.relayPlans, listName: 'relay', maxStage: RCPT, i: 0, waited: false, decided: undefined, verdict: undefined, resolve: undefined, reject: undefined };
    this.startList(run, phase);
    this.drive(run);
    if (run.verdict) return run.verdict;
    return new Promise<Verdict>((resolve, reject) => {
      run.resolve = resolve;
      run.reject = reject;
    });
  }

  private startList(run: Run, phase: number): void {
    run.phase = phase;
    const isRelay = phase === RELAY_PHASE;
    run.list = isRelay ? this.relay : this.recipient;
    run.plans = isRelay ? this.relayPlans : this.recipientPlans;
    run.listName = isRelay ? 'relay' : 'recipient';
    run.maxStage = phase === EARLY_PHASE ? run.ctx.stage : RCPT;
    run.i = 0;
    run.waited = false;
    run.ctx.dnsPlan = undefined;
    run.ctx.inRelayList = isRelay;
    // Postfix: a warn_if_reject at the end of a list does not reach into the next one
    run.ctx.warnNext = 0;
  }

  private fail(run: Run, e: unknown): void {
    if (run.reject) run.reject(e);
    else throw e;
  }

  private resume(run: Run): void {
    try {
      this.drive(run);
    } catch (e) {
      this.fail(run, e);
    }
  }

  private hook(run: Run, c: Compiled, w: Wait): void {
    w.promise.then(
      (x) => {
        let r: Result | Wait;
        try {
          r = answer(w, x);
        } catch (e) {
          this.fail(run, e);
          return;
        }
        this.settle(run, c, r);
      },
      (e: unknown) => (w.fail ? this.settle(run, c, w.fail(e)) : this.fail(run, e)),
    );
  }

  private settle(run: Run, c: Compiled, r: Result | Wait): void {
    try {
      if (r instanceof Wait) {
        this.hook(run, c, r);
        return;
      }
      const ctx = run.ctx;
      if (ctx.warnNext !== 0 || ctx.deferIfReject !== undefined) r = adjust(ctx, c, r);
      record(ctx, c, run.listName, r, true);
      run.waited = false;
      if (decisive(r)) this.listDone(run, { c, res: r });
      else if (ctx.deferIfPermit !== undefined && ctx.deferIfReject !== undefined) this.listDone(run, undefined);
      else run.i++;
      this.drive(run);
    } catch (e) {
      this.fail(run, e);
    }
  }

  /** Runs the current list from run.i: its decision, undefined (all DUNNO), or WAITING. */
  private listStep(run: Run): Decided | typeof WAITING {
    const { ctx, list } = run;
    for (; run.i < list.length; run.i++) {
      const c = list[run.i]!;
      if (c.needs > run.maxStage) {
        ctx.trace.push({ restriction: c.text, list: run.listName, outcome: 'skip', reason: 'needs a later SMTP stage', ms: 0 });
        return undefined;
      }
      if (c.dnsTarget !== undefined && ctx.dnsPlan === undefined && this.fetch(run)) return WAITING;
      // DNS-list restrictions (two thirds of the seed's list) go straight to evalDns
      let res = c.targetIndex >= 0 ? evalDns(c, run.i, ctx) : c.evaluate(c, ctx, run.i);
      if (res instanceof Wait) {
        this.hook(run, c, res);
        return WAITING;
      }
      if (ctx.warnNext !== 0 || ctx.deferIfReject !== undefined) res = adjust(ctx, c, res);
      record(ctx, c, run.listName, res, run.waited);
      run.waited = false;
      if (decisive(res)) return { c, res };
      // Postfix: with both deferrals raised, nothing later can change the outcome
      if (ctx.deferIfPermit !== undefined && ctx.deferIfReject !== undefined) return undefined;
    }
    return undefined;
  }

  /** The list's one DNS batch, at its first DNS-list restriction; true while it is in flight. */
  private fetch(run: Run): boolean {
    const ctx = run.ctx;
    let plan = run.plans[run.maxStage];
    if (!plan) plan = run.plans[run.maxStage] = makeDnsPlan(run.list, run.maxStage);
    const pending = fetchDns(ctx, plan);
    if (!pending) return false;
    pending.then(
      (answers) => {
        ctx.dnsAnswers = answers;
        run.waited = true;
        this.resume(run);
      },
      (e: unknown) => {
        ctx.dnsAnswers = dnsFailOpen(ctx, e);
        run.waited = true;
        this.resume(run);
      },
    );
    return true;
  }

  /** A list has finished: decide, or move to the next phase. */
  private listDone(run: Run, d: Decided): void {
    const ctx = run.ctx;
    switch (run.phase) {
      case EARLY_PHASE:
        if (ctx.stage === MAIL && ctx.env.rejectUnlistedSender && !refuses(d)) {
          run.decided = d;
          run.phase = EARLY_FINAL_PHASE;
          return;
        }
        // A permit before RCPT only ends this stage's checks; the whole list runs again at RCPT.
        run.verdict = verdictOf(ctx, d, d?.res.outcome === 'permit');
        return;
      case RELAY_PHASE:
        if (d && d.res.outcome !== 'permit') run.verdict = verdictOf(ctx, d);
        else if (d || ctx.env.callerDoesRelay) this.startList(run, RECIPIENT_PHASE);
        else run.phase = SAFETY_PHASE;
        return;
      default:
        run.decided = d;
        run.phase = FINAL_PHASE;
    }
  }

  private safetyDone(run: Run, r: Result): void {
    const ctx = run.ctx;
    if (r === RELAY_DENIED_IMPLICIT) {
      run.verdict = fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.7.1', `<${ctx.facts.recipient}>: Relay access denied`, 'implicit: relay list did not authorise a remote recipient');
    } else if (r.outcome === 'defer') {
      run.verdict = fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'defer', r.status ?? '4.3.0', resultText(r) ?? 'Temporary lookup failure', r.reason ?? '');
      withSubject(run.verdict, r);
      if (r.smtpCode !== undefined) run.verdict.smtpCode = r.smtpCode;
      else if (r.status === undefined) run.verdict.smtpCode = 451; // the engine's own lookup failure
    } else this.startList(run, RECIPIENT_PHASE);
  }

  /** One port question outside the lists (r), then done(result); true while it is in flight. */
  private check(run: Run, r: Result | Wait, done: (run: Run, res: Result) => void): boolean {
    if (!(r instanceof Wait)) {
      done(run, r);
      return false;
    }
    const settle = (x: Result | Wait): void => {
      if (x instanceof Wait) {
        if (!this.check(run, x, done)) this.resume(run);
        return;
      }
      try {
        done(run, x);
      } catch (e) {
        this.fail(run, e);
        return;
      }
      this.resume(run);
    };
    r.promise.then(
      (x) => {
        let y: Result | Wait;
        try {
          y = answer(r, x);
        } catch (e) {
          this.fail(run, e);
          return;
        }
        settle(y);
      },
      (e: unknown) => {
        if (r.fail) settle(r.fail(e));
        else this.fail(run, e);
      },
    );
    return true;
  }

  /** The phases that are not a list: one question each, to the recipient port. True while waiting. */
  private single(run: Run): boolean {
    const ctx = run.ctx;
    switch (run.phase) {
      case SAFETY_PHASE:
        // Postfix refuses to run without reject_unauth_destination; moat enforces it: nothing after
        // the relay list may authorise mail to a domain that is not ours.
        return this.check(run, withClass(ctx, remoteDenied), this.onSafety);
      case SENDER_PHASE:
      case EARLY_FINAL_PHASE:
        return this.check(run, unlistedSender(ctx), (run, r) => {
          if (r.outcome === 'reject' || r.outcome === 'defer') run.verdict = implicit(run.ctx, 'reject_unlisted_sender', r, `implicit: smtpd_reject_unlisted_sender = yes (${r.reason})`);
          else if (run.phase === SENDER_PHASE) this.startList(run, RELAY_PHASE);
          else run.verdict = verdictOf(run.ctx, run.decided, run.decided?.res.outcome === 'permit');
        });
      default:
        return this.final(run);
    }
  }

  /** RCPT after the lists (Postfix smtpd_check_rcpt): defer_if_permit, then the implicit reject_unlisted_recipient. */
  private final(run: Run): boolean {
    const ctx = run.ctx;
    const d = run.decided;
    ctx.warnNext = 0;
    if (refuses(d)) {
      run.verdict = verdictOf(ctx, d);
      return false;
    }
    const held = ctx.deferIfPermit;
    if (held !== undefined) {
      ctx.trace.push({ restriction: held.c.text, list: 'recipient', outcome: 'defer', reason: 'defer_if_permit: nothing rejected', ms: 0 });
      run.verdict = verdictOf(ctx, held);
      return false;
    }
    if (!ctx.env.rejectUnlistedRecipient) {
      run.verdict = verdictOf(ctx, d);
      return false;
    }
    return this.check(run, withClass(ctx, isUnlisted), this.onFinal);
  }

  private readonly onSafety = (run: Run, r: Result): void => this.safetyDone(run, r);

  private readonly onFinal = (run: Run, r: Result): void => {
    const ctx = run.ctx;
    const d = run.decided;
    if (r === UNLISTED) {
      let res: Result = unlistedRecipientReply(ctx);
      if (ctx.deferIfReject !== undefined) res = adjust(ctx, ctx.deferIfReject.c, res);
      run.verdict = implicit(ctx, 'reject_unlisted_recipient', res, `implicit: smtpd_reject_unlisted_recipient = yes (${res.outcome === 'reject' ? 'unknown user' : res.reason})`);
    } else if (r.outcome === 'defer') run.verdict = implicit(ctx, 'reject_unlisted_recipient', r, r.reason ?? 'recipient directory failed');
    else run.verdict = verdictOf(ctx, d);
  };

  private drive(run: Run): void {
    for (;;) {
      if (run.verdict) {
        run.resolve?.(run.verdict);
        return;
      }
      if (run.phase === SAFETY_PHASE || run.phase >= SENDER_PHASE) {
        if (this.single(run)) return;
        continue;
      }
      const d = this.listStep(run);
      if (d === WAITING) return;
      this.listDone(run, d);
    }
  }
}
