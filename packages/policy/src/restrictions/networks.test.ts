import { describe, expect, it } from 'vitest';
import { parseRestrictions } from '../parse.ts';
import { replyLine } from '../reply.ts';
import { rcpt, testEngine } from './testing.ts';

const run = async (list: string, f: Parameters<typeof rcpt>[0], spec = {}) => testEngine({ list, spec }).engine.evaluate(rcpt(f));

describe('reject_unknown_client_hostname', () => {
  it('no forward-confirmed name: 450 4.7.25 (unknown_client_reject_code 450)', async () => {
    const v = await run('reject_unknown_client_hostname, permit', { clientName: undefined });
    expect(replyLine(v)).toBe('450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.7]');
    expect(v.trace.at(-1)?.reason).toBe('no forward-confirmed client name');
  });
  it('unknown_client_reject_code 550: 550 5.7.25; a temporary failure is 450 whatever the code', async () => {
    expect(replyLine(await run('reject_unknown_client_hostname, permit', { clientName: undefined }, { unknownClientRejectCode: 550 }))).toBe('550 5.7.25 Client host rejected: cannot find your hostname, [198.51.100.7]');
    const v = await run('reject_unknown_client_hostname, permit', { clientName: undefined, clientNameTempFail: true }, { unknownClientRejectCode: 550 });
    expect(replyLine(v)).toBe('450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.7]');
    expect(v.trace.at(-1)?.reason).toBe('client name lookup failed for now');
  });
  it('a verified name passes; the old name reject_unknown_client is accepted', async () => {
    expect((await run('reject_unknown_client_hostname, permit', {})).action).toBe('permit');
    expect(parseRestrictions('reject_unknown_client')).toEqual([{ type: 'reject_unknown_client_hostname' }]);
  });
});

describe('reject_unknown_reverse_client_hostname', () => {
  it('no PTR name: 450 4.7.1; 550 5.7.1 with the code set; 450 on a temporary failure', async () => {
    expect(replyLine(await run('reject_unknown_reverse_client_hostname, permit', { reverseClientName: undefined }))).toBe('450 4.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.7]');
    expect(replyLine(await run('reject_unknown_reverse_client_hostname, permit', { reverseClientName: undefined }, { unknownClientRejectCode: 550 }))).toBe('550 5.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.7]');
    expect(replyLine(await run('reject_unknown_reverse_client_hostname, permit', { reverseClientName: undefined, reverseClientNameTempFail: true }, { unknownClientRejectCode: 550 }))).toBe('450 4.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.7]');
  });
  it('an unverified PTR name is enough', async () => {
    expect((await run('reject_unknown_reverse_client_hostname, permit', { clientName: undefined })).action).toBe('permit');
  });
});
