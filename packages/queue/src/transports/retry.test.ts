import { describe, expect, it } from 'vitest';
import { retryTransport } from './retry.ts';

const deliver = (status: string | undefined, text: string) =>
  retryTransport({ status, text }).deliver({ recipients: ['a@example.org'] } as never) as Promise<Array<{ status: string; code: number; enhanced: string; response: string }>>;

describe('retryTransport (retry(8))', () => {
  it('defers with a 4.x.x status as written', async () => {
    expect((await deliver('4.3.0', 'disk full'))[0]).toMatchObject({ status: 'deferred', code: 450, enhanced: '4.3.0', response: '450 4.3.0 disk full' });
  });
  it('defers a 5.x.x or 2.x.x status as 4.0.0, never bounces (defer_append ignores the code)', async () => {
    expect((await deliver('5.1.1', 'gone'))[0]).toMatchObject({ status: 'deferred', code: 450, enhanced: '4.0.0', response: '450 4.0.0 gone' });
    expect((await deliver('2.0.0', 'fine'))[0]).toMatchObject({ status: 'deferred', enhanced: '4.0.0' });
  });
  it("no text: Postfix's \"Address is undeliverable\"", async () => {
    expect((await deliver(undefined, ''))[0]).toMatchObject({ enhanced: '4.0.0', response: '450 4.0.0 Address is undeliverable' });
  });
});
