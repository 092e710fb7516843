// Where the delivery thread sends a DSN: its resolver rebuilt from plain data (thread-resolver.ts) over the admin's
// real alias_maps file, and the class route when the sender's next hop cannot be had. Maildir only (no daemons).
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AddressResolver, createAddressResolver, createMemoryTable, type ResolverSpec, toPlainResolverSpec } from '@moat/address';
import { createTables, type Tables } from '@moat/maps';
import { createRegistry, type Registry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createRouter, type DeliveryRunner, maildirTransport, nextHopOf, openQueue, startDelivery } from '../src/index.ts';
import { threadResolver } from '../src/thread-resolver.ts';
import { memoryLogger, message } from './helpers.ts';

let dir: { path: string; remove(): Promise<void> };
let registry: Registry;
let runners: DeliveryRunner[];
let opened: Tables[];

beforeEach(async () => {
  dir = await tmpDir('dsn-routing');
  registry = createRegistry();
  runners = [];
  opened = [];
});

afterEach(async () => {
  for (const r of runners) await r.stop();
  for (const t of opened) t.close();
  await dir.remove();
});

/** Postfix's defaults on mx.test, mail for example.org (any user) to one maildir; `over` sets what a test is about. */
const specOf = (root: string, over: Partial<ResolverSpec>): ResolverSpec => ({
  myhostname: 'mx.test',
  mydestination: ['mx.test'],
  aliasMaps: [],
  virtualAliasDomains: [],
  virtualAliasMaps: [],
  virtualMailboxDomains: ['example.org'],
  virtualMailboxMaps: [],
  relayDomains: [],
  transportMaps: [],
  recipientDelimiter: '+',
  localTransport: nextHopOf(`maildir:${root}`),
  virtualTransport: nextHopOf(`maildir:${root}`),
  relayTransport: nextHopOf('smtp:'),
  defaultTransport: nextHopOf('smtp:'),
  virtualAliasRecursionLimit: 1000,
  virtualAliasExpansionLimit: 1000,
  ...over,
});

async function setup(resolver: AddressResolver) {
  const mem = memoryLogger();
  const queue = await openQueue({ dir: join(dir.path, 'spool'), logger: mem.logger, registry });
  const runner = await startDelivery({
    queue,
    transports: { local: maildirTransport({ root: join(dir.path, 'legacy'), hostname: 'mx.test' }) },
    router: createRouter({ heloName: 'mx.test', isLocal: (d) => d === 'example.org' || d === 'mx.test', recipientDelimiter: '+' }),
    resolver,
    registry,
    hostname: 'mx.test',
    scanIntervalMs: 50,
    backoff: { first: 3_600_000 },
    delayWarningAfter: 0,
  });
  runners.push(runner);
  const bounce = async (sender: string) => {
    await queue.enqueue({ sender, recipients: ['x@example.org'], message: message('dsn', 'x'), nextHop: nextHopOf('error:5.7.1 no') });
    await runner.idle();
  };
  return { queue, runner, lines: mem.lines, bounce };
}

const dropped = async (): Promise<number> => {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'moat_queue_bounces_total');
  return Number(m?.values.find((v) => v.labels.kind === 'dropped')?.value ?? 0);
};

it('the delivery thread reads alias_maps hash: files as aliases(5), as the SMTP side does: a DSN to an aliased local sender reaches its target', async () => {
  const root = join(dir.path, 'mail');
  // postalias' format: `name:value` without a space is a line postmap's format would refuse outright
  await writeFile(join(dir.path, 'aliases'), '# /etc/aliases\npostmaster:root\nroot: alice@example.org\n');
  // the SMTP side opens alias_maps' hash: file in postalias format (config's routing-tables.ts), also for local_recipient_maps = $alias_maps
  const smtpSide = createTables({ baseDir: dir.path });
  opened.push(smtpSide);
  const aliases = smtpSide.open('hash:aliases', { source: 'postalias' });
  const plain = structuredClone({ spec: toPlainResolverSpec(specOf(root, { aliasMaps: [aliases], localRecipientMaps: [aliases] })), baseDir: dir.path });
  expect(plain.spec.aliasMaps).toEqual([{ spec: 'hash:aliases', source: 'postalias' }]);
  // the thread's own registry, as delivery-worker.ts builds it
  const thread = threadResolver(plain);
  opened.push(thread.tables);
  expect(thread.resolver.resolve('root@mx.test')).toMatchObject({ ok: true, recipients: [{ address: 'alice@example.org' }] });

  const { queue, lines, bounce } = await setup(thread.resolver);
  await bounce('postmaster@mx.test');
  await bounce('root@mx.test');
  expect(await readdir(join(root, 'example.org', 'alice', 'new'))).toHaveLength(2);
  // local_recipient_maps = $alias_maps still knows who is not there
  await bounce('nobody@mx.test');
  expect(lines.some((l) => l.msg === 'dsn not sent: the sender has no mailbox here' && l.sender === 'nobody@mx.test')).toBe(true);
  expect(lines.filter((l) => l.msg === 'dsn queued').map((l) => l.to)).toEqual([['alice@example.org'], ['alice@example.org']]);
  expect(await queue.list()).toEqual([]);
});

it('a notice to a retry: sender whose route cannot be had is queued by its address class, not dropped', async () => {
  const root = join(dir.path, 'mail');
  const real = createAddressResolver(
    specOf(root, { virtualMailboxDomains: ['example.org', 'held.example'], transportMaps: [createMemoryTable('moat:transports', [['held.example', 'retry:4.3.2 mailbox move in progress']])] }),
  );
  expect(real.resolve('ann@held.example')).toMatchObject({ ok: false, reason: 'retry' });
  // resolve() says retry, then the route lookup fails (a table that stopped answering in between)
  const resolver: AddressResolver = {
    ...real,
    route: () => {
      throw new Error('hash:/etc/postfix/transport: not loaded');
    },
  };
  const { queue, lines, bounce } = await setup(resolver);
  await bounce('ann@held.example');
  expect(lines.some((l) => l.msg === 'dsn recipient route failed; queued by address class' && l.sender === 'ann@held.example' && l.route === 'local')).toBe(true);
  expect(lines.some((l) => l.msg === 'dsn queued' && l.sender === 'ann@held.example')).toBe(true);
  expect(await dropped()).toBe(0);
  // queued by class (no next hop of its own): it went to the route's transport, as a lookup failure's notice does
  expect(await queue.list()).toEqual([]);
  expect(await readdir(join(dir.path, 'legacy', 'held.example', 'ann', 'new'))).toHaveLength(1);
});
