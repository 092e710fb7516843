import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startPostfix, startSmtpSink, tmpDir, type SmtpSink } from '@moat/testkit';
import { allCases } from './cases.ts';
import { arrivals, formatArrivals, runCase } from './run.ts';
import { HOPS, type Hop, mainCfEntries, writeScenario } from './scenario.ts';
const dir = await tmpDir('diffprint');
const hops = {} as Record<Hop, SmtpSink>;
for (const h of HOPS) hops[h] = await startSmtpSink();
const pfDir = join(dir.path, 'postfix'); await mkdir(pfDir, { mode: 0o755 });
const main = mainCfEntries(await writeScenario(pfDir, Object.fromEntries(HOPS.map((h) => [h, hops[h].port])) as Record<Hop, number>));
const pf = await startPostfix({ listeners: { diff: null }, main });
const cases = allCases();
const rs = [];
try {
  for (const [i, c] of cases.entries()) rs.push(await runCase(pf.ports.diff!, c, i));
  const deadline = Date.now() + 60000;
  while ((await pf.queued()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  const by = new Map<number, any[]>();
  for (const h of HOPS) for (const [n, l] of arrivals(h, await hops[h].messages())) by.set(n, [...(by.get(n) ?? []), ...l]);
  cases.forEach((c, i) => console.log(`${c.id.padEnd(62)} ${rs[i]!.rcpt.padEnd(10)} ${rs[i]!.data.padEnd(10)} ${formatArrivals(by.get(i))}`));
  if (process.env.LOG) console.log(await pf.log());
} finally { await pf.stop(); for (const h of HOPS) await hops[h].stop(); await dir.remove(); }
