// Bench: the address resolver (@moat/address) with 10,000 virtual aliases and 10,000 mailboxes loaded,
// alone and as the engine's RecipientPort (against createStaticRecipients), on one core. No network.
// Run: npm exec -- node bench/address.ts   (writes docs/bench-address.md)
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
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
const compiled = compileConfig(config);
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
async function engineRow(name: string, recipients: Ports['recipients']) {
  const engine = createEngine(compiled.spec, basePorts(recipients));
  const inputs = Array.from({ length: 4096 }, (_, i) => facts(i));
  for (let i = 0; i < 20_000; i++) await engine.evaluate(inputs[i & 4095] as Facts);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < MAX_MS) {
    for (let k = 0; k < 1000; k++) await engine.evaluate(inputs[(n + k) & 4095] as Facts);
    n += 1000;
  }
  const u = process.cpuUsage(c0);
  const cpuMs = (u.user + u.system) / 1000;
  return { name, perSec: Math.round((n / cpuMs) * 1000), usPerOp: Math.round((cpuMs * 1000 * 100) / n) / 100 };
}
const staticAll = createStaticRecipients({ ...recipientOptions, users: [...users, ...aliases.map(([a]) => a)], domains: ['example.org', 'alias.example'] });
// A and B alternate five times and each keeps its best run: on a shared machine the load swings more
// than the difference being measured.
const best = (a: { perSec: number; usPerOp: number; name: string } | undefined, b: { perSec: number; usPerOp: number; name: string }) => (a && a.perSec >= b.perSec ? a : b);
let engineStatic: Awaited<ReturnType<typeof engineRow>> | undefined;
let engineResolver: Awaited<ReturnType<typeof engineRow>> | undefined;
let engineSame: Awaited<ReturnType<typeof engineRow>> | undefined;
const port = recipientPortFromResolver(resolver);
// The same directory as the static one (20k mailbox addresses, no routing tables): the resolver's own cost.
const sameConfig = parseConfig(`policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org, alias.example]\n`, { env: {} });
const samePort = recipientPortFromResolver(
  createAddressResolver(compileRouting(sameConfig, { openTable: () => createMemoryTable('none', []), recipients: { ...recipientOptions, users: [...users, ...aliases.map(([a]) => a)], domains: ['example.org', 'alias.example'] } }).spec),
);
for (let round = 0; round < 5; round++) {
  engineStatic = best(engineStatic, await engineRow('engine, seed list: createStaticRecipients (20k addresses)', staticAll));
  engineSame = best(engineSame, await engineRow('engine, seed list: recipientPortFromResolver, the same 20k addresses (recipients: only)', samePort));
  engineResolver = best(engineResolver, await engineRow('engine, seed list: recipientPortFromResolver (10k users + 10k virtual aliases)', port));
}
if (!engineStatic || !engineResolver || !engineSame) throw new Error('no rounds');
rows.push(engineStatic, engineSame, engineResolver);
// The per-RCPT question alone, without the engine around it (steadier than the engine rows).
const userInputs = Array.from({ length: 4096 }, (_, i) => `user${(i * 7) % N}@example.org`);
rows.push(measure('RCPT check alone: createStaticRecipients.classifySync', (i) => staticAll.classifySync(userInputs[i & 4095] as string)));
rows.push(measure('RCPT check alone: resolver, same directory', (i) => samePort.classifySync(userInputs[i & 4095] as string)));
rows.push(measure('RCPT check alone: resolver, 10k virtual aliases loaded', (i) => port.classifySync(userInputs[i & 4095] as string)));
const pct = (x: { perSec: number }) => {
  const o = Math.round((1000 * ((engineStatic as { perSec: number }).perSec - x.perSec)) / (engineStatic as { perSec: number }).perSec) / 10;
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
  `Engine decisions per second against the static directory (best of 5 alternating runs each): the resolver over the same directory ${pct(engineSame)}; with 10,000 virtual aliases loaded ${pct(engineResolver)} (the issue's budget: under 5%).`,
  'The engine rows swing with the shared machine\'s load (compare them only within one run); the "RCPT check alone"',
  'rows are steadier: the resolver answers smtpd\'s question in about twice the static directory\'s time, and with',
  'virtual_alias_maps loaded it asks two more keys (the full address and @domain, Postfix\'s order) per recipient.',
  'The tables here are in-memory test tables; production uses @moat/maps.',
  '',
];
console.log(lines.join('\n'));
if (!process.env.NO_WRITE) await writeFile(fileURLToPath(new URL('../docs/bench-address.md', import.meta.url)), lines.join('\n'));
