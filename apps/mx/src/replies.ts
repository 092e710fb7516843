// The gateway's one mapping from typed infrastructure errors to SMTP replies (the verdicts' own replies come
// from @moat/policy's replyCode). Trusts the errors' codes; texts are fixed, never the error's message.
import { QueueErrorCodes } from '@moat/queue';
import { SmtpReply } from './hook.ts';

/**
 * A message that could not be spooled or queued. The queue out of disk (EQUEUE_NOSPACE) is Postfix's
 * `452 4.3.1 Insufficient system storage`; any other queue failure is a plain temporary error.
 */
export function queueFailureReply(e: unknown): SmtpReply {
  if ((e as { code?: unknown } | undefined)?.code === QueueErrorCodes.ENOSPACE) return new SmtpReply(452, '4.3.1 Insufficient system storage');
  return new SmtpReply(451, '4.3.0 Queue unavailable, try again later');
}
