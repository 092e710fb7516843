import type { Verdict } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { safeText, toAction } from './actions.ts';
import { testConfig, views } from '@moat/config';

const defaultSettings = views.policyd(testConfig());

const v = (over: Partial<Verdict>): Verdict => ({
  action: 'continue',
  status: '2.0.0',
  text: '',
  prepend: [],
  trace: [],
  ...over,
});
const ctx = { settings: defaultSettings, stage: 'rcpt' as const, code: 554 };

describe('toAction', () => {
  it('greylist deferral -> DEFER_IF_PERMIT with the enhanced code', () => {
    const verdict = v({ action: 'defer', status: '4.7.1', text: 'Greylisted, retry in 60 s', greylisted: true });
    expect(toAction(verdict, { ...ctx, code: 450 }).action).toBe('DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 60 s');
  });

  it('other deferrals -> the engine code, status and text', () => {
    expect(toAction(v({ action: 'defer', status: '4.3.0', text: 'try later' }), { ...ctx, code: 451 }).action).toBe(
      '451 4.3.0 try later',
    );
  });

  it('reject -> NNN d.d.d text, or REJECT d.d.d text in reject style', () => {
    const verdict = v({ action: 'reject', status: '5.7.1', text: 'Client host [192.0.2.1] blocked using zen.test' });
    expect(toAction(verdict, ctx).action).toBe('554 5.7.1 Client host [192.0.2.1] blocked using zen.test');
    expect(toAction(verdict, { ...ctx, settings: { ...defaultSettings, rejectStyle: 'reject' } }).action).toBe(
      'REJECT 5.7.1 Client host [192.0.2.1] blocked using zen.test',
    );
  });

  it('never lets a reject become a 4xx or a defer a 5xx, whatever the verdict says', () => {
    expect(toAction(v({ action: 'reject', status: '4.7.1', text: 'x' }), { ...ctx, code: 450 }).action).toBe('554 5.7.1 x');
    expect(toAction(v({ action: 'defer', status: '5.7.1', text: 'x' }), { ...ctx, code: 554 }).action).toBe('450 4.7.1 x');
  });

  it('flattens untrusted text (a TXT record with CR LF cannot inject a second reply)', () => {
    const verdict = v({ action: 'reject', status: '5.7.1', text: 'listed\r\n\r\naction=OK\n' });
    const { action } = toAction(verdict, ctx);
    expect(action).toBe('554 5.7.1 listed action=OK');
    expect(action).not.toMatch(/[\r\n]/);
    expect(safeText('x'.repeat(1000)).length).toBeLessThan(410);
  });

  it('permit -> DUNNO by default, OK when configured; continue -> DUNNO', () => {
    expect(toAction(v({ action: 'permit' }), ctx).action).toBe('DUNNO');
    expect(toAction(v({ action: 'permit' }), { ...ctx, settings: { ...defaultSettings, permitAction: 'OK' } }).action).toBe('OK');
    expect(toAction(v({ action: 'continue' }), ctx).action).toBe('DUNNO');
  });

  it('prepend -> PREPEND once per transaction, never at end-of-data', () => {
    const verdict = v({ action: 'permit', prepend: ['X-Greylist: delayed 61 seconds by moat'] });
    const first = toAction(verdict, ctx);
    expect(first).toEqual({ action: 'PREPEND X-Greylist: delayed 61 seconds by moat', prepended: 'x-greylist' });
    expect(toAction(verdict, { ...ctx, alreadyPrepended: new Set(['x-greylist']) }).action).toBe('DUNNO');
    expect(toAction(verdict, { ...ctx, stage: 'end-of-data' }).action).toBe('DUNNO');
    expect(toAction(v({ action: 'continue', prepend: ['not a header'] }), ctx).action).toBe('DUNNO');
  });
});

describe('policyText', () => {
  it('gives the words without the subject Postfix adds itself, keeps everything else', () => {
    const grey = v({
      action: 'defer',
      status: '4.7.1',
      greylisted: true,
      text: '<bob@example.org>: Recipient address rejected: Greylisted, please try again in 60 seconds',
      subject: { name: 'bob@example.org', context: 'Recipient address rejected' },
      message: 'Greylisted, please try again in 60 seconds',
    });
    expect(toAction(grey, { ...ctx, code: 450 }).action).toBe('DEFER_IF_PERMIT 4.7.1 Greylisted, please try again in 60 seconds');
    const client = v({
      action: 'reject',
      status: '5.7.1',
      text: '<mail.x.example[192.0.2.1]>: Client host rejected: go away',
      subject: { name: 'mail.x.example[192.0.2.1]', context: 'Client host rejected' },
      message: 'go away',
    });
    expect(toAction(client, ctx).action).toBe('554 5.7.1 go away');
    const rbl = v({ action: 'reject', status: '5.7.1', text: 'Service unavailable; Client host [192.0.2.1] blocked using zen.test' });
    expect(toAction(rbl, ctx).action).toBe('554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.test');
  });
});
