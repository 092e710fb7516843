// Bench: the address resolver (@moat/address) with 10,000 virtual aliases and 10,000 mailboxes loaded,
// alone and as the engine's RecipientPort (against createStaticRecipients), on one core. No network.
// Run: npm exec -- node bench/address.ts   (writes docs/bench-address.md)
// Before/after in one run: ADDRESS_BASELINE=DIR ADDRESS_BASELINE_REV=REV, DIR holding an older
// packages/address/src (`git archive REV packages/address/src | tar -x -C DIR`): its resolver gets the same rows.
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LookupTable } from '@moat/maps';
import { createAddressResolver, createMemoryTable, parseNextHop, recipientPortFromResolver } from '@moat/address';
import { compileConfig, compileRouting, parseConfig } from '@moat/config';
import { createEngine, createManualClock, createMemoryDnsList, type Facts, type Ports } from '@moat/policy';

const MAX_MS = Number(process.env.MAX_MS ?? 1_000);
const N = 10_000;

const users = Array.from({ length: N }, (_, i) => `user${i}@example.org`);
const aliases: Array<[string, string]> = Array.from({ length: N }, (_, i) => [`alias${i}@alias.example`, i % 10 === 0 ? `user${i}@example.org, user${(i + 1) % N}@example.org` : `user${i}@example.org`]);
const config = parseConfig(
  `policy:\n  hostname: mx.example.org\n  mynetworks: [127.0.0.0/8]\nrecipients:\n  domains: [example.org]\nrouting:\n  virtual_alias_domains: [alias.example]\n  virtual_alias_maps: [texthash:/bench/virtual]\n`,
  { env: {} },
);
const compiled = compileConfig(config, { openTable: (spec) => createMemoryTable(spec, aliases) });
const recipientOptions = { ...compiled.recipientOptions, users };
const routing = compileRouting(config, { openTable: (spec) => createMemoryTable(spec, aliases), recipients: recipientOptions });
const resolver = createAddressResolver(routing.spec);

function measure(name: string, fn: (i: number) => unknown): { name: string; perSec: number; usPerOp: number } {
  for (let i = 0; i < 20_000; i++) fn(i);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < MAX_MS) {
    for (let k = 0; k < 1000; k++) fn(n + k);
    n += 1000;
  }
  const u = process.cpuUsage(c0);
  const cpuMs = (u.user + u.system) / 1000;
  return { name, perSec: Math.round((n / cpuMs) * 1000), usPerOp: Math.round((cpuMs * 1000 * 100) / n) / 100 };
}

const rows = [
  measure('resolve: mailbox user+tag@example.org (10k users)', (i) => resolver.resolve(`user${i % N}+tag@example.org`)),
  measure('resolve: alias (10k aliases, 1 in 10 fans out to 2)', (i) => resolver.resolve(`alias${i % N}@alias.example`)),
  measure('resolve: unknown user in the alias domain', (i) => resolver.resolve(`nobody${i % N}@alias.example`)),
  measure('resolve: remote address', (i) => resolver.resolve(`someone${i % N}@remote.example`)),
  measure('classify only (relay control)', (i) => resolver.classify(`alias${i % N}@alias.example`)),
];

// The engine with today's static directory vs the resolver as its RecipientPort.
const { createStaticRecipients } = await import('@moat/policy');
const basePorts = (recipients: Ports['recipients']): Ports => ({
  dnslist: createMemoryDnsList({}),
  greylist: { check: () => Promise.resolve({ action: 'defer', retryAfter: 60 } as const) },
  recipients,
  accessMaps: compiled.accessMaps,
  clock: createManualClock(),
});
const facts = (i: number): Facts => ({
  stage: 'rcpt',
  clientAddress: `192.0.2.${(i % 250) + 1}`,
  clientName: 'mta.sender.example',
  reverseClientName: 'mta.sender.example',
  helo: 'mta.sender.example',
  sender: 'news@sender.example',
  rawSender: '<news@sender.example>',
  recipient: i % 2 ? `user${i % N}@example.org` : `alias${i % N}@alias.example`,
  rawRecipient: undefined,
  tls: true,
});
type Row = { name: string; perSec: number; usPerOp: number };
/** Repeat traffic: recipients cycle through 4,096 known addresses (2,048 mailbox users, 2,048 aliases). */
const cycling = (): (() => Facts) => {
  const inputs = Array.from({ length: 4096 }, (_, i) => facts(i));
  let n = 0;
  return () => inputs[n++ & 4095] as Facts;
};
/** Every recipient a new address: a known user or alias with a +tag never seen before (a memo never hits). */
const fresh = (): (() => Facts) => {
  const base = facts(0);
  let n = 0;
  return () => {
    const i = n++;
    const recipient = i % 2 ? `user${i % N}+f${i}@example.org` : `alias${i % N}+f${i}@alias.example`;
    return { ...base, clientAddress: `192.0.2.${(i % 250) + 1}`, recipient };
  };
};
/**
 * Engine decisions per CPU second for several recipient ports, interleaved in batches of 500 (the starting
 * port rotating), so the shared machine's load swings hit every row alike; CPU time is summed per port.
 * Each row draws its recipients from its own `next` (cycling or fresh addresses).
 */
async function engineRows(list: ReadonlyArray<{ name: string; recipients: Ports['recipients']; next?: () => Facts }>): Promise<Row[]> {
  const engines = list.map((r) => createEngine(compiled.spec, basePorts(r.recipients)));
  const nexts = list.map((r) => r.next ?? cycling());
  for (let j = 0; j < engines.length; j++) for (let i = 0; i < 20_000; i++) await (engines[j] as (typeof engines)[number]).evaluate((nexts[j] as () => Facts)());
  const cpu = list.map(() => 0);
  const done = list.map(() => 0);
  const t0 = performance.now();
  for (let k = 0; performance.now() - t0 < MAX_MS * list.length; k += 500) {
    for (let j = 0; j < engines.length; j++) {
      const at = (j + k / 500) % engines.length;
      const engine = engines[at] as (typeof engines)[number];
      const next = nexts[at] as () => Facts;
      const c0 = process.cpuUsage();
      for (let x = 0; x < 500; x++) await engine.evaluate(next());
      const u = process.cpuUsage(c0);
      cpu[at] = (cpu[at] as number) + u.user + u.system;
      done[at] = (done[at] as number) + 500;
    }
  }
  return list.map((r, j) => {
    const cpuMs = (cpu[j] as number) / 1000;
    const n = done[j] as number;
    return { name: r.name, perSec: Math.round((n / cpuMs) * 1000), usPerOp: Math.round((cpuMs * 1000 * 100) / n) / 100 };
  });
}
const staticAll = createStaticRecipients({ ...recipientOptions, users: [...users, ...aliases.map(([a]) => a)], domains: ['example.org', 'alias.example'] });
const port = recipientPortFromResolver(resolver);
// The same resolver without the RCPT memo (memoSize 0): what every recipient costs when the memo misses.
const portNoMemo = recipientPortFromResolver(resolver, { memoSize: 0 });
// The same directory as the static one (20k mailbox addresses, no routing tables): the resolver's own cost.
const sameConfig = parseConfig(`policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org, alias.example]\n`, { env: {} });
const samePort = recipientPortFromResolver(
  createAddressResolver(compileRouting(sameConfig, { openTable: () => createMemoryTable('none', []), recipients: { ...recipientOptions, users: [...users, ...aliases.map(([a]) => a)], domains: ['example.org', 'alias.example'] } }).spec),
);
// The resolver of an older revision over the same spec (its own in-memory tables), when asked for.
const baseDir = process.env.ADDRESS_BASELINE;
const baseRev = process.env.ADDRESS_BASELINE_REV ?? 'baseline';
let basePort: ReturnType<typeof recipientPortFromResolver> | undefined;
if (baseDir) {
  const src = `${baseDir}/packages/address/src`;
  const old = (await import(pathToFileURL(`${src}/index.ts`).href)) as typeof import('@moat/address');
  type Listed = LookupTable & { keys?: () => Iterable<string> };
  const again = (ts: readonly Listed[] | undefined) =>
    ts?.map((t) => (typeof t.keys === 'function' ? old.createMemoryTable(t.spec, [...t.keys()].map((k) => [k, t.lookup(k) ?? ''] as const), { exactOnly: t.pattern }) : t));
  const sp = routing.spec;
  basePort = old.recipientPortFromResolver(
    old.createAddressResolver({
      ...sp,
      localRecipientMaps: again(sp.localRecipientMaps),
      aliasMaps: again(sp.aliasMaps) ?? [],
      virtualAliasMaps: again(sp.virtualAliasMaps) ?? [],
      virtualMailboxMaps: again(sp.virtualMailboxMaps) ?? [],
      relayRecipientMaps: again(sp.relayRecipientMaps),
      transportMaps: again(sp.transportMaps) ?? [],
      relayDomainMaps: again(sp.relayDomainMaps),
    }),
  );
}
// Two resolvers built from this workspace's code would share its inline caches (production runs one): the
// one with 10k aliases is measured against the static directory (and the older revision's resolver, its own
// code) first; the resolver over the static directory's addresses after, against the static directory again.
const measured = await engineRows([
  { name: 'engine (a) 4,096 cycling known recipients: createStaticRecipients (20k addresses)', recipients: staticAll },
  { name: 'engine (a) 4,096 cycling known recipients: recipientPortFromResolver, RCPT memo on (10k users + 10k virtual aliases)', recipients: port },
  { name: 'engine (a) 4,096 cycling known recipients: recipientPortFromResolver, RCPT memo off', recipients: portNoMemo },
  { name: 'engine (b) every recipient new (+tag): createStaticRecipients (20k addresses)', recipients: staticAll, next: fresh() },
  { name: 'engine (b) every recipient new (+tag): recipientPortFromResolver, RCPT memo on', recipients: port, next: fresh() },
  { name: 'engine (b) every recipient new (+tag): recipientPortFromResolver, RCPT memo off', recipients: portNoMemo, next: fresh() },
  ...(basePort ? [{ name: `engine (a) 4,096 cycling known recipients: recipientPortFromResolver at ${baseRev}`, recipients: basePort }] : []),
]);
const [engineStatic, engineResolver, engineNoMemo, engineStaticFresh, engineFresh, engineFreshNoMemo, engineBase] = measured as [Row, Row, Row, Row, Row, Row, Row | undefined];
rows.push(...measured);
const [engineStatic2, engineSame] = (await engineRows([
  { name: 'engine, seed list: createStaticRecipients (20k addresses), second run', recipients: staticAll },
  { name: 'engine, seed list: recipientPortFromResolver, the same 20k addresses (recipients: only)', recipients: samePort },
])) as [Row, Row];
rows.push(engineStatic2, engineSame);
// The per-RCPT question alone, without the engine around it, interleaved like the engine rows; the
// addresses alternate between the mailbox domain and the alias domain, as the engine rows' do.
const rcptInputs = Array.from({ length: 4096 }, (_, i) => (i % 2 ? `user${(i * 7) % N}@example.org` : `alias${(i * 7) % N}@alias.example`));
function rcptRows(list: ReadonlyArray<{ name: string; check: (a: string) => unknown }>): Row[] {
  for (const r of list) for (let i = 0; i < 20_000; i++) r.check(rcptInputs[i & 4095] as string);
  const cpu = list.map(() => 0);
  const t0 = performance.now();
  let n = 0;
  for (let k = 0; performance.now() - t0 < MAX_MS * list.length; k++, n += 5000) {
    for (let j = 0; j < list.length; j++) {
      const at = (j + k) % list.length;
      const check = (list[at] as (typeof list)[number]).check;
      const c0 = process.cpuUsage();
      for (let x = 0; x < 5000; x++) check(rcptInputs[(n + x) & 4095] as string);
      const u = process.cpuUsage(c0);
      cpu[at] = (cpu[at] as number) + u.user + u.system;
    }
  }
  return list.map((r, j) => ({ name: r.name, perSec: Math.round((n / (cpu[j] as number)) * 1e6), usPerOp: Math.round(((cpu[j] as number) * 100) / n) / 100 }));
}
const bp = basePort;
rows.push(
  ...rcptRows([
    { name: 'RCPT check alone: createStaticRecipients.classifySync', check: (a) => staticAll.classifySync(a) },
    { name: 'RCPT check alone: resolver, 10k virtual aliases loaded, RCPT memo on (4,096 cycling: all hits)', check: (a) => port.classifySync(a) },
    { name: 'RCPT check alone: resolver, 10k virtual aliases loaded, RCPT memo off', check: (a) => portNoMemo.classifySync(a) },
    ...(bp ? [{ name: `RCPT check alone: resolver at ${baseRev}, 10k virtual aliases loaded`, check: (a: string) => bp.classifySync(a) }] : []),
  ]),
);
const pct = (x: { perSec: number }, anchor: { perSec: number } = engineStatic) => {
  const o = Math.round((1000 * (anchor.perSec - x.perSec)) / anchor.perSec) / 10;
  return o > 0 ? `${o}% fewer` : `${-o}% more`;
};

void parseNextHop;
const lines = [
  '# Bench: the address resolver',
  '',
  `Measured by \`bench/address.ts\` on ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg()[0]?.toFixed(1)}; one core, CPU time (user+system). No network.`,
  '10,000 virtual aliases (texthash-like in-memory table) and 10,000 mailbox users.',
  '',
  '| scenario | per CPU second | µs each |',
  '|---|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${r.perSec.toLocaleString('en')} | ${r.usPerOp} |`),
  '',
  `Engine decisions per second against the static directory, 10,000 virtual aliases loaded (all engine rows of a run interleaved in batches of 500, ${MAX_MS} ms each; the issue's budget: under 5%):`,
  `(a) 4,096 cycling known recipients: RCPT memo on ${pct(engineResolver)}, memo off ${pct(engineNoMemo)}${engineBase ? ` (at ${baseRev}: ${pct(engineBase)})` : ''};`,
  `(b) every recipient new: RCPT memo on ${pct(engineFresh, engineStaticFresh)}, memo off ${pct(engineFreshNoMemo, engineStaticFresh)} (against the static directory given the same kind of new addresses);`,
  `the resolver over the static directory's own addresses (memo on, cycling) ${pct(engineSame, engineStatic2)} (its second run).`,
  `Command: \`${process.env.ADDRESS_BASELINE ? `ADDRESS_BASELINE=DIR ADDRESS_BASELINE_REV=${baseRev} ` : ''}MAX_MS=${MAX_MS} npm exec -- node bench/address.ts\`.`,
  'The engine rows are interleaved so the shared machine\'s load hits them alike (compare them only within one run);',
  'the "RCPT check alone" rows too (batches of 5000). The resolver keeps per-domain answers (class, local-for-lookup, the `@domain` virtual alias',
  'entry) until a table reloads (its generation changes), so per recipient it asks the full address of',
  'virtual_alias_maps and of the mailbox table, as the static directory asks its one set.',
  'The recipient port keeps each address\'s RCPT answer from its second sighting on (up to 16,384, least recently used dropped) until a table reloads; "memo off" is the same port with `memoSize: 0`.',
  'The tables here are in-memory test tables; production uses @moat/maps.',
  '',
];
console.log(lines.join('\n'));
if (!process.env.NO_WRITE) await writeFile(fileURLToPath(new URL('../docs/bench-address.md', import.meta.url)), lines.join('\n'));
