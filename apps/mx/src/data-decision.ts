// End-of-DATA outcomes as decisions: a message refused after DATA (size, header block, spamd, DMARC) goes to the
// decision journal like an RCPT verdict, so the console and `moat explain` show what refused it. Pure; the sink must not block.
import type { Facts, Verdict } from '@moat/policy';
import type { DecisionSink } from '@moat/runtime';

/** The gateway check that refused the message: the name the journal, the console and metrics show. */
export type DataCheck = 'message_size_limit' | 'header_size_limit' | 'spamassassin' | 'dmarc';

export interface DataOutcome {
  check: DataCheck;
  action: 'reject' | 'defer';
  /** The SMTP reply code sent (552, 550, 451). */
  code: number;
  /** Enhanced status and text as sent, e.g. `5.3.4 Message size exceeds fixed maximum message size`. */
  text: string;
  /** For a human: the score, the header problem, the scanner failure. */
  reason?: string | undefined;
  ms?: number | undefined;
}

/** The verdict that stands for a DATA-stage refusal (one trace line: the check that decided). */
export function dataVerdict(o: DataOutcome): Verdict {
  const [status = '', ...rest] = o.text.split(' ');
  return {
    action: o.action,
    status,
    text: rest.join(' '),
    decidedBy: o.check,
    smtpCode: o.code,
    prepend: [],
    trace: [{ restriction: o.check, list: 'recipient', outcome: o.action, reason: o.reason, ms: o.ms ?? 0 }],
  };
}

/** Journal one DATA-stage refusal under the session; fails open (a throw from the sink is swallowed). */
export function journalDataOutcome(sink: DecisionSink | undefined, facts: Omit<Facts, 'stage'>, o: DataOutcome): void {
  if (!sink) return;
  try {
    sink.record({ ...facts, stage: 'end-of-data' }, dataVerdict(o), { ms: o.ms, reply: `${o.code} ${o.text}` });
  } catch {
    // never lose or delay a reply because the journal could not take it
  }
}
