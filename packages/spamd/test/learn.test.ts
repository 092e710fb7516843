// learn() (TELL, spamc -L) against a real spamd with a private Bayes file store; and spamd without
// --allow-tell, which must fail with its own typed code.
import { createRegistry } from '@moat/observe';
import { startSpamd, type SpamdDaemon } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpamdClient, type SpamdError, spamdLearner } from '../src/index.ts';
import { BAYES_TEST_CF, bayesRule, ham, spam } from './corpus.ts';

let spamd: SpamdDaemon;
beforeAll(async () => {
  spamd = await startSpamd({ allowTell: true, bayes: 'file', localCf: BAYES_TEST_CF });
}, 60_000);
afterAll(async () => {
  await spamd?.close();
});

describe('learn (TELL) against a real spamd', () => {
  it('learns spam and ham; a second TELL of the same message is already-learned; Bayes then scores a near copy', { timeout: 120_000 }, async () => {
    const registry = createRegistry();
    const c = createSpamdClient({ host: spamd.host, port: spamd.port, registry, timeoutMs: 30_000 });
    // before learning, Bayes has too few messages to say anything
    expect(bayesRule((await c.symbols(spam(100))).symbols)).toBeUndefined();

    const first = spam(1, 'learn-once');
    expect((await c.learn({ message: first, as: 'spam' })).outcome).toBe('learned');
    expect((await c.learn({ message: first, as: 'spam' })).outcome).toBe('already-learned');
    const learn = spamdLearner(c);
    await learn(spam(2), 'spam');
    await learn(spam(3), 'spam');
    await learn(ham(1), 'ham');
    await learn(ham(2), 'ham');
    await learn(ham(3), 'ham');

    const s = bayesRule((await c.symbols(spam(7))).symbols);
    expect(s).toMatch(/^BAYES_(9\d+|8\d)$/);
    const h = bayesRule((await c.symbols(ham(7))).symbols);
    expect(h).toMatch(/^BAYES_(00|05|20)$/);

    // relearning a spam as ham moves it (SpamAssassin forgets the old class first): learned again
    expect((await c.learn({ message: first, as: 'ham' })).outcome).toBe('learned');
    const m = await registry.getSingleMetricAsString('moat_spamd_learned_total');
    expect(m).toMatch(/class="spam",outcome="learned"} 3/);
    expect(m).toMatch(/class="spam",outcome="already-learned"} 1/);
    expect(m).toMatch(/class="ham",outcome="learned"} 4/);
  });

  it('refuses a class other than spam or ham before talking to spamd', async () => {
    const c = createSpamdClient({ host: spamd.host, port: spamd.port, timeoutMs: 30_000 });
    await expect(c.learn({ message: ham(9), as: 'maybe' as 'spam' })).rejects.toThrow(TypeError);
  });
});

describe('learn against a spamd without --allow-tell', () => {
  it('is a typed ESPAMD_TELL_DISABLED error, counted as a failure', async () => {
    const plain = await startSpamd();
    try {
      const registry = createRegistry();
      const c = createSpamdClient({ host: plain.host, port: plain.port, registry, timeoutMs: 30_000 });
      const e = (await c.learn({ message: spam(1), as: 'spam' }).catch((x: unknown) => x)) as SpamdError;
      expect(e.code).toBe('ESPAMD_TELL_DISABLED');
      expect(e.message).toMatch(/--allow-tell/);
      expect(await registry.getSingleMetricAsString('moat_spamd_learn_failures_total')).toMatch(/class="spam",code="ESPAMD_TELL_DISABLED"} 1/);
    } finally {
      await plain.close();
    }
  }, 60_000);
});
