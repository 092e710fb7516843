// The Learner port other parts of moat call to teach Bayes (quarantine release/delete, the console, the
// CLI), backed by spamd's TELL. Trusts the caller to have checked that the bytes are a message.
import type { SpamdClient } from './client.ts';
import type { LearnClass } from './protocol.ts';

/** Teach the shared Bayes store that `message` is spam or ham. Rejects with a SpamdError on failure. */
export type Learner = (message: Buffer, as: LearnClass) => Promise<void>;

/**
 * A Learner over a spamd client. "Already learned" is success: the store holds what the caller asked for.
 * Metrics and the log line come from the client (moat_spamd_learned_total, "spamd learn").
 */
export function spamdLearner(client: Pick<SpamdClient, 'learn'>): Learner {
  return async (message, as) => {
    await client.learn({ message, as });
  };
}
