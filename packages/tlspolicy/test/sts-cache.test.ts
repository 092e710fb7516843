// The MTA-STS policy cache: kept within max_age, refetched when the TXT id changes, kept when the TXT record
// goes away or its lookup fails, and a timeout with nothing cached is an error (the message waits).
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa, freePort } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DnsLookupError, fileStsStore, type SecureResolver } from '../src/index.ts';
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

it('restores a stored policy after a restart, ignores an expired or damaged file, and stores what it fetches', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sts-store-'));
  try {
    let now = 1_000_000;
    body = 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 600\r\n';
    const txt: string[] | Error = ['v=STSv1; id=one'];
    await stsSource({ resolver: resolver(() => txt), ca: [ca], port, now: () => now, store: fileStsStore(dir) }).policyFor('example.test');
    // a restart: no policy host, the TXT lookup failing; the stored policy applies until its max_age
    const down = await freePort();
    fetches = 0;
    const restarted = stsSource({ resolver: resolver(() => new DnsLookupError('servfail', 'SERVFAIL')), ca: [ca], port: down, now: () => now, store: fileStsStore(dir) });
    expect(await restarted.policyFor('example.test')).toMatchObject({ id: 'one', policy: { mode: 'enforce' } });
    // a new id while the host is down: the fetch fails, the stored policy stays in force
    const newId = stsSource({ resolver: resolver(() => ['v=STSv1; id=two']), ca: [ca], port: down, now: () => now, store: fileStsStore(dir) });
    expect(await newId.policyFor('example.test')).toMatchObject({ id: 'one' });
    expect(fetches).toBe(0);
    now += 601_000; // past max_age: no longer restored
    const late = stsSource({ resolver: resolver(() => []), ca: [ca], port: down, now: () => now, store: fileStsStore(dir) });
    expect(await late.policyFor('example.test')).toBeUndefined();
    await writeFile(join(dir, 'example.test.json'), '{"id": "x", "policy": {"mode": "enforce"');
    const damaged = stsSource({ resolver: resolver(() => []), ca: [ca], port: down, store: fileStsStore(dir) });
    expect(await damaged.policyFor('example.test')).toBeUndefined();
    // names that are not domain names never become paths
    await fileStsStore(dir).save('../evil', { id: 'x', policy: { mode: 'enforce', mx: [], maxAge: 1 }, expires: Date.now() + 1000 });
    expect(await readdir(dir)).toEqual(['example.test.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
