// buildEngine against real adapters: Redis for the greylist, rbldnsd behind Unbound for a DNS list.
import { parseConfig } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import type { Facts } from '@moat/policy';
import { type RbldnsdServer, type RedisServer, startRbldnsd, startRedis, startUnbound, type UnboundServer } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngine, type BuiltEngine, zonesOf } from '../src/index.ts';

let redis: RedisServer;
let rbl: RbldnsdServer;
let unbound: UnboundServer;
let built: BuiltEngine;
const registry = createRegistry();

beforeAll(async () => {
  redis = await startRedis();
  rbl = await startRbldnsd({ zones: { 'bl.runtime.test': ':127.0.0.2:listed $\n127.0.0.2\n203.0.113.9\n' } });
  unbound = await startUnbound({ stubZones: { 'bl.runtime.test': rbl.stubAddr } });
  const config = parseConfig(
    `version: 1
policy:
  hostname: mx.runtime.test
  recipient_restrictions: reject_unlisted_recipient, reject_rbl_client bl.runtime.test, check_policy_service inet:127.0.0.1:10023
recipients:
  domains: [example.org]
  users: [bob@example.org]
dns:
  resolver: ${unbound.server}
greylist:
  redis: { url: "${redis.url}" }
  delay: 60s
`,
    { file: '/tmp/runtime-test.yaml', env: {} },
  );
  built = await buildEngine(config, { registry, logger: createLogger('runtime-test', { level: 'silent' }) });
  await built.dnslist?.ready;
}, 60_000);

afterAll(async () => {
  await built?.close();
  await Promise.allSettled([unbound?.stop(), rbl?.stop(), redis?.stop()]);
});

const facts = (over: Partial<Facts>): Facts => ({
  stage: 'rcpt',
  clientAddress: '198.51.100.9',
  helo: 'mail.sender.example',
  sender: 'alice@sender.example',
  recipient: 'bob@example.org',
  tls: false,
  ...over,
});

describe('buildEngine', () => {
  it('knows the zones its spec queries', () => {
    expect(zonesOf(built.spec)).toEqual(['bl.runtime.test']);
  });

  it('wires recipients, the DNS list and the greylist from config', async () => {
    expect((await built.engine.evaluate(facts({ recipient: 'nobody@example.org' }))).status).toBe('5.1.1');
    const listed = await built.engine.evaluate(facts({ clientAddress: '203.0.113.9' }));
    expect(listed).toMatchObject({ action: 'reject', decidedByType: 'reject_rbl_client' });
    expect(listed.text).toMatch(/bl\.runtime\.test/);
    const grey = await built.engine.evaluate(facts({}));
    expect(grey).toMatchObject({ action: 'defer', greylisted: true });
    expect(await built.health()).toBe(true);
  });

  it("hands the operator's dns.profiles to the list client (a malformed one stops the start)", async () => {
    const config = parseConfig(
      `version: 1
policy:
  hostname: mx.runtime.test
  recipient_restrictions: reject_rbl_client bl.runtime.test, permit
recipients: { domains: [example.org] }
dns:
  resolver: ${unbound.server}
  profiles:
    mine: { listings: "not a list" }
`,
      { file: '/tmp/runtime-test3.yaml', env: {} },
    );
    await expect(
      buildEngine(config, { registry: createRegistry(), logger: createLogger('runtime-test', { level: 'silent' }) }),
    ).rejects.toThrow(/mine.*expected a list/);
  });

  it('applies adjustSpec and lets callers replace ports', async () => {
    const config = parseConfig(
      `version: 1
policy:
  hostname: mx.runtime.test
  recipient_restrictions: reject_unlisted_recipient, check_policy_service inet:127.0.0.1:10023
recipients: { domains: [example.org] }
dns: { resolver: ${unbound.server} }
`,
      { file: '/tmp/runtime-test2.yaml', env: {} },
    );
    const b = await buildEngine(config, {
      registry: createRegistry(),
      logger: createLogger('runtime-test', { level: 'silent' }),
      adjustSpec: (s) => ({ ...s, recipientRestrictions: s.recipientRestrictions.filter((r) => r.type !== 'reject_unlisted_recipient') }),
      ports: { greylist: { check: async () => ({ action: 'defer', retryAfter: 5 }) } },
    });
    expect(b.greylist).toBeUndefined();
    const v = await b.engine.evaluate(facts({ recipient: 'nobody@example.org' }));
    expect(v).toMatchObject({ action: 'defer', greylisted: true });
    await b.close();
    expect(await b.health()).toBe(false);
  });
});
