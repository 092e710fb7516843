import { Writable } from 'node:stream';
import { createLogger, createRegistry } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { createDecisionMetrics, recordDecision } from './decisions.ts';

function sink() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger('test', { destination }) };
}

const facts: Facts = {
  stage: 'rcpt',
  clientAddress: '192.0.2.1',
  helo: 'evil\nmsg=injected',
  sender: 'a@b.example',
  recipient: 'c@d.example',
  tls: false,
  sessionId: 'S1',
};
const verdict: Verdict = {
  action: 'reject',
  status: '5.7.1',
  text: 'Client host [192.0.2.1] blocked using zen.example',
  decidedBy: 'reject_rbl_client zen.example',
  decidedByType: 'reject_rbl_client',
  prepend: [],
  trace: [{ restriction: 'reject_rbl_client zen.example', list: 'recipient', outcome: 'reject', ms: 1.5 }],
};

describe('recordDecision', () => {
  it('logs one line with untrusted strings under their own keys, and counts', async () => {
    const { lines, logger } = sink();
    const registry = createRegistry();
    const metrics = createDecisionMetrics(registry);
    recordDecision(logger, metrics, facts, verdict, { reply: 'action=REJECT' });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      msg: 'decision',
      restriction: 'reject_rbl_client zen.example',
      action: 'reject',
      status: '5.7.1',
      client: '192.0.2.1',
      helo: 'evil\nmsg=injected',
      sender: 'a@b.example',
      recipient: 'c@d.example',
      session: 'S1',
      ms: 1.5,
      reply: 'action=REJECT',
    });
    const text = await registry.metrics();
    expect(text).toContain('moat_decisions_total{restriction="reject_rbl_client zen.example",action="reject"} 1');
    expect(text).toContain('moat_decision_duration_seconds_count{stage="rcpt",action="reject"} 1');
  });

  it('carries the weighted DNS lists\' sum and parts, also when the score did not decide', () => {
    const { lines, logger } = sink();
    const reason = 'score 2: zen.example=127.0.0.[2..11]*3 127.0.0.4 +3, dnswl.example*-1 127.0.10.1 -1 (threshold 3)';
    const v: Verdict = {
      action: 'permit',
      status: '2.0.0',
      text: 'Ok',
      decidedBy: 'permit',
      decidedByType: 'permit',
      prepend: [],
      trace: [
        { restriction: 'reject_dnsbl_score', list: 'recipient', outcome: 'dunno', reason, ms: 1 },
        { restriction: 'permit', list: 'recipient', outcome: 'permit', ms: 0 },
      ],
    };
    recordDecision(logger, createDecisionMetrics(createRegistry()), facts, v);
    expect(lines[0]).toMatchObject({ restriction: 'permit', dnsblScore: reason });
    recordDecision(logger, createDecisionMetrics(createRegistry()), facts, verdict);
    expect(lines[1]!.dnsblScore).toBeUndefined();
  });

  it('shares one set of metrics per registry', () => {
    const registry = createRegistry();
    expect(createDecisionMetrics(registry)).toBe(createDecisionMetrics(registry));
  });

  it('labels undecided verdicts as none and caps long strings', async () => {
    const { lines, logger } = sink();
    const registry = createRegistry();
    const undecided: Verdict = { ...verdict, action: 'continue', decidedBy: undefined, status: '2.0.0' };
    recordDecision(logger, createDecisionMetrics(registry), { ...facts, sender: 'x'.repeat(5000) }, undecided, {
      ms: 0.2,
    });
    expect(String(lines[0]!.sender).length).toBeLessThan(600);
    expect(await registry.metrics()).toContain('restriction="none",action="continue"');
  });
});
