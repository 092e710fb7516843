// check_policy_service: moat's shared greylist, whatever service the admin's list names.
// Trusts the greylist port; a failing greylist passes the mail (the seed's fail-open rule).
import { RCPT, type Result, wait } from '../engine/context.ts';
import type { GreylistAnswer } from '../types.ts';
import { define } from './define.ts';

// The seed: "Should the greylisting daemon not be available, the servers are set to accept the mail."
const greylistFailOpen = (e: unknown): Result => ({ outcome: 'dunno', reason: `greylist failed, passing (fail open): ${(e as Error)?.message ?? String(e)}` });

export const checkPolicyService = define({
  name: 'check_policy_service',
  arg: 'service',
  stage: RCPT,
  rejectCode: 554,
  evaluate: (_c, ctx) => {
    const f = ctx.facts;
    const env = ctx.env;
    let pending: Promise<GreylistAnswer>;
    try {
      pending = env.ports.greylist.check({ clientAddress: ctx.clientText, clientName: f.clientName, helo: f.helo, sender: f.sender ?? '', recipient: f.recipient! });
    } catch (e) {
      return greylistFailOpen(e);
    }
    return wait(
      pending,
      (g): Result => {
        if (g.action === 'pass') {
          if (g.header) ctx.prepend.push(g.header);
          return { outcome: 'dunno', reason: `greylist pass (${g.reason})${g.detail ? `: ${g.detail}` : ''}` };
        }
        const secs = Math.max(0, Math.ceil(g.retryAfter));
        const when = env.retryTime(env.clock.now() + secs * 1000);
        return {
          outcome: 'defer',
          status: '4.7.1',
          subject: { name: String(f.recipient), context: 'Recipient address rejected' },
          text: `Greylisted, please try again in ${secs} seconds (after ${when})`,
          reason: `greylisted, retry after ${secs}s${g.detail ? `: ${g.detail}` : ''}`,
          greylisted: true,
        };
      },
      greylistFailOpen,
    );
  },
});
