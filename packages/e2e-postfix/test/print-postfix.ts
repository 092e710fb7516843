// Prints Postfix's answers for the whole corpus (`node test/print-postfix.ts`; LOG=1 adds Postfix's log):
// the quick way to see what a new case does before adding it. Loopback only, like the suite.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type SmtpSink, startPostfix, startSmtpSink, tmpDir } from '@moat/testkit';
import { allCases } from './cases.ts';
import { type Arrival, arrivals, formatArrivals, runCase } from './run.ts';
import { HOPS, type Hop, mainCfEntries, writeScenario } from './scenario.ts';

const dir = await tmpDir('diffprint');
const hops = {} as Record<Hop, SmtpSink>;
for (const h of HOPS) hops[h] = await startSmtpSink();
const pfDir = join(dir.path, 'postfix');
await mkdir(pfDir, { mode: 0o755 });
const main = mainCfEntries(await writeScenario(pfDir, Object.fromEntries(HOPS.map((h) => [h, hops[h].port])) as Record<Hop, number>));
const pf = await startPostfix({ listeners: { diff: null }, main });
const cases = allCases();
try {
  const replies = [];
  for (const [i, c] of cases.entries()) replies.push(await runCase(pf.ports.diff!, c, i));
  const deadline = Date.now() + 60_000;
  while ((await pf.queued()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  const byCase = new Map<number, Arrival[]>();
  for (const h of HOPS) for (const [n, list] of arrivals(h, await hops[h].messages())) byCase.set(n, [...(byCase.get(n) ?? []), ...list]);
  for (const [i, c] of cases.entries()) console.log(`${c.id.padEnd(62)} ${replies[i]!.rcpt.padEnd(10)} ${replies[i]!.data.padEnd(10)} ${formatArrivals(byCase.get(i))}`);
  if (process.env.LOG) console.log(await pf.log());
} finally {
  await pf.stop();
  for (const h of HOPS) await hops[h].stop();
  await dir.remove();
}
