// The MTA-STS policy cache: kept within max_age, refetched when the TXT id changes, kept when the TXT record
// goes away or its lookup fails, and a timeout with nothing cached is an error (the message waits).
import { createServer, type Server } from 'node:https';
import { createTestCa, freePort } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DnsLookupError, type SecureResolver } from '../src/index.ts';
import { stsSource, StsUnavailableError } from '../src/sts-source.ts';

let https: Server;
let port: number;
let ca: string;
let fetches = 0;
let body = 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 600\r\n';

beforeAll(async () => {
  const testCa = await createTestCa();
  ca = testCa.cert;
  const web = await testCa.issue(['mta-sts.example.test']);
  port = await freePort();
  https = createServer({ key: web.key, cert: web.cert }, (_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((r) => https.listen(port, '127.0.0.1', () => r()));
});

afterAll(async () => {
  await new Promise<void>((r) => https.close(() => r()));
});

function resolver(txt: () => string[] | Error): SecureResolver {
  return {
    async txt() {
      const t = txt();
      if (t instanceof Error) throw t;
      return { secure: false, records: t };
    },
    async addresses() {
      return ['127.0.0.1'];
    },
    async hostAddresses() {
      return { secure: false, records: ['127.0.0.1'] };
    },
    async tlsa() {
      return { secure: false, records: [] };
    },
    async mx() {
      return { secure: false, records: [] };
    },
  };
}

it('keeps a policy within max_age, refetches on a new id or after expiry, and survives a vanished TXT', async () => {
  let now = 1_000_000;
  let txt: string[] | Error = ['v=STSv1; id=one'];
  const src = stsSource({ resolver: resolver(() => txt), ca: [ca], port, now: () => now });
  fetches = 0;
  expect((await src.policyFor('example.test'))?.policy.mode).toBe('enforce');
  expect((await src.policyFor('example.test'))?.policy.mode).toBe('enforce');
  expect(fetches).toBe(1);
  txt = [];
  expect((await src.policyFor('example.test'))?.id).toBe('one'); // RFC 8461 5.1: cached until max_age
  txt = new DnsLookupError('servfail', 'SERVFAIL');
  expect((await src.policyFor('example.test'))?.id).toBe('one');
  body = 'version: STSv1\r\nmode: testing\r\nmx: mx.example.test\r\nmax_age: 600\r\n';
  txt = ['v=STSv1; id=two'];
  expect((await src.policyFor('example.test'))?.policy.mode).toBe('testing');
  expect(fetches).toBe(2);
  now += 601_000;
  txt = [];
  expect(await src.policyFor('example.test')).toBeUndefined(); // expired and no record: no policy
});

it('a TXT lookup that times out with nothing cached is an error, never "no policy"', async () => {
  const src = stsSource({ resolver: resolver(() => new DnsLookupError('timeout', 'no answer')), ca: [ca], port });
  await expect(src.policyFor('example.test')).rejects.toBeInstanceOf(StsUnavailableError);
});
