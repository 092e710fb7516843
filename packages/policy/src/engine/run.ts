// The scheduler of one decision: the lists in order, synchronous until a port answers with a promise.
// Trusts the restriction modules' results; a port failure they do not turn into a result fails the decision.
import type { RestrictionType, TraceEntry, Verdict } from '../types.ts';
import { type Compiled, type Ctx, DUNNO, type DnsPlan, type ListName, NOT_LISTED, RCPT, type Result, Wait } from './context.ts';
import { dnsFailOpen, fetchDns, makeDnsPlan } from './dns.ts';
import { withClass } from './lookups.ts';
import { evalDns } from '../restrictions/dns-lists.ts';

export const RELAY_PHASE = 0;
const SAFETY_PHASE = 1;
const RECIPIENT_PHASE = 2;
export const EARLY_PHASE = 3;
const WAITING = 1;

const RELAY_DENIED_IMPLICIT: Result = { outcome: 'reject', reason: 'implicit' };

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
  verdict?: Verdict | undefined;
  resolve?: ((v: Verdict) => void) | undefined;
  reject?: ((e: unknown) => void) | undefined;
}

const decisive = (res: Result): boolean => res.outcome === 'permit' || res.outcome === 'reject' || res.outcome === 'defer';

export function verdictOf(ctx: Ctx, decided: Decided, earlyPermit = false): Verdict {
  if (!decided || earlyPermit) {
    return { action: 'continue', status: '2.0.0', text: 'Ok', prepend: ctx.prepend, trace: ctx.trace, decidedBy: decided?.c.text, decidedByType: decided?.c.type };
  }
  const { c, res } = decided;
  const action = res.outcome as 'permit' | 'reject' | 'defer';
  const v: Verdict = {
    action,
    status: res.status ?? (action === 'permit' ? '2.0.0' : action === 'reject' ? '5.7.1' : '4.7.1'),
    text: res.text ?? 'Ok',
    decidedBy: c.text,
    decidedByType: c.type,
    prepend: action === 'permit' ? ctx.prepend : [],
    trace: ctx.trace,
  };
  if (res.greylisted) v.greylisted = true;
  if (res.smtpCode !== undefined) v.smtpCode = res.smtpCode;
  return v;
}

/** A verdict no list item gave: strict envelopes, hostile recipient forms, the relay safety net. */
export function fixed(ctx: Ctx, restriction: string, type: RestrictionType | undefined, action: 'reject' | 'defer', status: string, text: string, reason: string): Verdict {
  ctx.trace.push({ restriction, list: 'relay', outcome: action, reason, ms: 0 });
  return { action, status, text, decidedBy: restriction, decidedByType: type, prepend: [], trace: ctx.trace };
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
    const run: Run = { ctx, phase, list: this.relay, plans: this.relayPlans, listName: 'relay', maxStage: RCPT, i: 0, waited: false, verdict: undefined, resolve: undefined, reject: undefined };
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
      (x) => this.settle(run, c, w.map(x as never)),
      (e: unknown) => (w.fail ? this.settle(run, c, w.fail(e)) : this.fail(run, e)),
    );
  }

  private settle(run: Run, c: Compiled, r: Result | Wait): void {
    try {
      if (r instanceof Wait) {
        this.hook(run, c, r);
        return;
      }
      record(run.ctx, c, run.listName, r, true);
      run.waited = false;
      if (decisive(r)) this.listDone(run, { c, res: r });
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
      const res = c.targetIndex >= 0 ? evalDns(c, run.i, ctx) : c.evaluate(c, ctx, run.i);
      if (res instanceof Wait) {
        this.hook(run, c, res);
        return WAITING;
      }
      record(ctx, c, run.listName, res, run.waited);
      run.waited = false;
      if (decisive(res)) return { c, res };
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
        // A permit before RCPT only ends this stage's checks; the whole list runs again at RCPT.
        run.verdict = verdictOf(ctx, d, d?.res.outcome === 'permit');
        return;
      case RELAY_PHASE:
        if (d && d.res.outcome !== 'permit') run.verdict = verdictOf(ctx, d);
        else if (d || ctx.env.callerDoesRelay) this.startList(run, RECIPIENT_PHASE);
        else run.phase = SAFETY_PHASE;
        return;
      default:
        run.verdict = verdictOf(ctx, d);
    }
  }

  private safetyDone(run: Run, r: Result): void {
    const ctx = run.ctx;
    if (r === RELAY_DENIED_IMPLICIT) {
      run.verdict = fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.7.1', `<${ctx.facts.recipient}>: Relay access denied`, 'implicit: relay list did not authorise a remote recipient');
    } else if (r.outcome === 'defer') {
      run.verdict = fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'defer', r.status ?? '4.3.0', r.text ?? 'Temporary lookup failure', r.reason ?? '');
    } else this.startList(run, RECIPIENT_PHASE);
  }

  /** Postfix refuses to run without reject_unauth_destination; moat enforces it: nothing after the
   * relay list may authorise mail to a domain that is not ours. True while the directory is asked. */
  private safety(run: Run): boolean {
    const r = withClass(run.ctx, (cls) => (cls === 'remote' ? RELAY_DENIED_IMPLICIT : DUNNO));
    if (!(r instanceof Wait)) {
      this.safetyDone(run, r);
      return false;
    }
    r.promise.then(
      (x) => {
        this.safetyDone(run, r.map(x as never) as Result);
        this.resume(run);
      },
      (e: unknown) => {
        this.safetyDone(run, r.fail!(e));
        this.resume(run);
      },
    );
    return true;
  }

  private drive(run: Run): void {
    for (;;) {
      if (run.verdict) {
        run.resolve?.(run.verdict);
        return;
      }
      if (run.phase === SAFETY_PHASE) {
        if (this.safety(run)) return;
        continue;
      }
      const d = this.listStep(run);
      if (d === WAITING) return;
      this.listDone(run, d);
    }
  }
}
