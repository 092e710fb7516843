import { describe, expect, it } from 'vitest';
import { errorTransport } from './error.ts';

const deliver = (status: string | undefined, text: string) =>
  errorTransport({ status, text }).deliver({ recipients: ['a@example.org'] } as never) as Promise<Array<{ status: string; code: number; enhanced: string; response: string }>>;

describe('errorTransport (error(8))', () => {
  it('bounces with a 5.x.x status as written', async () => {
    expect((await deliver('5.1.1', 'gone'))[0]).toMatchObject({ status: 'bounced', code: 550, enhanced: '5.1.1', response: '550 5.1.1 gone' });
  });
  it('bounces a 4.x.x or 2.x.x status as 5.0.0, never defers (bounce_append ignores the code)', async () => {
    expect((await deliver('4.2.0', 'try later'))[0]).toMatchObject({ status: 'bounced', code: 550, enhanced: '5.0.0', response: '550 5.0.0 try later' });
    expect((await deliver('2.0.0', 'fine'))[0]).toMatchObject({ status: 'bounced', code: 550, enhanced: '5.0.0' });
  });
  it("no text: Postfix's \"Address is undeliverable\"", async () => {
    expect((await deliver(undefined, ''))[0]).toMatchObject({ enhanced: '5.0.0', response: '550 5.0.0 Address is undeliverable' });
  });
});
