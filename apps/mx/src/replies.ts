// The gateway's one mapping from verdicts and typed infrastructure errors to SMTP replies.
// Trusts the errors' codes and the engine's verdicts; error texts are fixed, never the error's message.
import { replyCode, subjectText, type Verdict } from '@moat/policy';
import { QueueErrorCodes } from '@moat/queue';
import { SmtpReply } from './hook.ts';

/**
 * A refusing verdict as the gateway says it: Postfix's full line, `554 5.7.1 <bob@example.org>: Recipient
 * address rejected: Access denied` (the subject in front of the words, as smtpd writes it).
 */
export function verdictReply(verdict: Verdict): SmtpReply {
  const words = verdict.subject !== undefined && verdict.message !== undefined ? subjectText(verdict.subject, verdict.message) : verdict.text;
  return new SmtpReply(replyCode(verdict), `${verdict.status} ${words}`);
}

/**
 * A message that could not be spooled or queued. The queue out of disk (EQUEUE_NOSPACE) is Postfix's
 * `452 4.3.1 Insufficient system storage`; any other queue failure is a plain temporary error.
 */
export function queueFailureReply(e: unknown): SmtpReply {
  if ((e as { code?: unknown } | undefined)?.code === QueueErrorCodes.ENOSPACE) return new SmtpReply(452, '4.3.1 Insufficient system storage');
  return new SmtpReply(451, '4.3.0 Queue unavailable, try again later');
}
