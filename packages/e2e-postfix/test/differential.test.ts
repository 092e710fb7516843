// The differential suite: a real Postfix (Debian's) and moat get the same main.cf, the same map files and
// the same sessions; RCPT and DATA replies and where each message ended are compared case by case.
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type PostfixInstance, type RbldnsdServer, type SmtpSink, startPostfix, startRbldnsd, startSmtpSink, startUnbound, tmpDir, type UnboundServer, waitForPort, freePort } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCases, type Case } from './cases.ts';
import { KNOWN_DIFFERENCES } from './known-differences.ts';
import { arrivals, formatArrivals, type Replies, runCase } from './run.ts';
import { DNSWL_DATA, DNSWL_ZONE, HOPS, type Hop, mainCfEntries, writeScenario } from './scenario.ts';

interface Outcome extends Replies {
  dest: string;
}

const cases = allCases();
const repo = resolve(import.meta.dirname, '../../..');

async function sinks(): Promise<Record<Hop, SmtpSink>> {
  const out = {} as Record<Hop, SmtpSink>;
  for (const h of HOPS) out[h] = await startSmtpSink();
  return out;
}
const portsOf = (s: Record<Hop, SmtpSink>) => Object.fromEntries(HOPS.map((h) => [h, s[h].port])) as Record<Hop, number>;

/** Waits for a queue to empty; a message still queued after `ms` shows up as a difference (where it did not arrive). */
async function until(done: () => Promise<boolean>, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
}

/** Every case through one server, then where each message ended once its queue is empty. */
async function runAll(port: number, hops: Record<Hop, SmtpSink>, queueEmpty: () => Promise<boolean>): Promise<Map<string, Outcome>> {
  const replies: Replies[] = [];
  for (const [i, c] of cases.entries()) replies.push(await runCase(port, c, i));
  await until(queueEmpty);
  const byCase = new Map<number, ReturnType<typeof arrivals> extends Map<number, infer A> ? A : never>();
  for (const h of HOPS) {
    for (const [n, list] of arrivals(h, await hops[h].messages())) byCase.set(n, [...(byCase.get(n) ?? []), ...list]);
  }
  return new Map(cases.map((c, i) => [c.id, { rcpt: replies[i]!.rcpt, data: replies[i]!.data, dest: formatArrivals(byCase.get(i)) }]));
}

async function spoolFiles(dir: string): Promise<number> {
  let n = 0;
  for (const sub of ['incoming', 'active', 'deferred']) {
    const entries = await readdir(join(dir, sub), { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isFile()) n++;
  }
  return n;
}

describe('moat against Postfix: same main.cf, same maps, same sessions', () => {
  let dir: Awaited<ReturnType<typeof tmpDir>>;
  let pfHops: Record<Hop, SmtpSink>;
  let moatHops: Record<Hop, SmtpSink>;
  let postfix: PostfixInstance | undefined;
  let unbound: UnboundServer | undefined;
  let dnswl: RbldnsdServer | undefined;
  let moat: ReturnType<typeof spawn> | undefined;
  let moatOutput = '';
  const results: { postfix?: Map<string, Outcome>; moat?: Map<string, Outcome> } = {};

  beforeAll(async () => {
    dir = await tmpDir('differential');
    pfHops = await sinks();
    moatHops = await sinks();
    // Postfix: its own copy of the maps (its sink ports), its private queue and log.
    const pfDir = join(dir.path, 'postfix');
    await mkdir(pfDir, { mode: 0o755 });
    const pfMain = mainCfEntries(await writeScenario(pfDir, portsOf(pfHops)));
    // The DNS whitelist on port 53 of a loopback address of its own: glibc (Postfix) takes no port, so the
    // private Postfix sees a resolv.conf naming it (its own mount namespace); moat asks it through Unbound.
    dnswl = await startRbldnsd({ zones: { [DNSWL_ZONE]: DNSWL_DATA }, port53: true });
    postfix = await startPostfix({ listeners: { diff: null }, main: pfMain, resolvConf: `nameserver ${dnswl.address}\noptions timeout:2 attempts:1` });
    results.postfix = await runAll(postfix.ports.diff!, pfHops, async () => (await postfix!.queued()) === 0);

    // moat: the same main.cf and maps (its own sink ports), read through postfix.main_cf.
    const moatDir = join(dir.path, 'moat');
    await mkdir(moatDir);
    await writeScenario(moatDir, portsOf(moatHops));
    unbound = await startUnbound({ stubZones: { [DNSWL_ZONE]: dnswl.stubAddr }, localData: [] });
    const port = await freePort();
    const spool = join(moatDir, 'spool');
    await writeFile(
      join(moatDir, 'moat.yaml'),
      [
        'version: 1',
        'postfix:',
        `  main_cf: ${join(moatDir, 'main.cf')}`,
        'policy:',
        '  hostname: mx.moat.test',
        'mx:',
        `  tls: { state_dir: ${join(moatDir, 'tls')} }`,
        '  xclient: { trusted_networks: [127.0.0.1/32] }',
        '  limits: { per_ip_concurrency: 100, per_ip_rate: 100000 }',
        // the scenario's main.cf names no sender restriction: moat's own default login check on port 25
        // (docs/design.md, mx.sender_login) would refuse the logged-in client's sender@remote.test at MAIL
        '  sender_login: { smtp: "off" }',
        'spamd: { enabled: false }',
        `dns: { resolver: "${unbound.server}" }`,
        `queue: { dir: ${spool}, retry: { initial: 1s, max: 2s } }`,
        'metrics: { enabled: false }',
        '',
      ].join('\n'),
    );
    moat = spawn(process.execPath, [join(repo, 'apps/mx/src/main.ts'), '--config', join(moatDir, 'moat.yaml'), '--listen', `127.0.0.1:${port}`, '--metrics', 'off'], {
      env: { ...process.env, MOAT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    moat.stdout?.on('data', (d: Buffer) => (moatOutput += d.toString()));
    moat.stderr?.on('data', (d: Buffer) => (moatOutput += d.toString()));
    try {
      await waitForPort(port, '127.0.0.1', 30_000);
    } catch (e) {
      throw new Error(`moat mx did not start: ${(e as Error).message}\n${moatOutput.slice(-4000)}`);
    }
    results.moat = await runAll(port, moatHops, async () => (await spoolFiles(spool)) === 0);
  });

  afterAll(async () => {
    moat?.kill('SIGTERM');
    await postfix?.stop();
    await unbound?.stop();
    await dnswl?.stop();
    for (const s of [...Object.values(pfHops ?? {}), ...Object.values(moatHops ?? {})]) await s.stop();
    await dir?.remove();
  });

  it(`runs at least 80 cases`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
  });

  it('the DNS whitelist answered both servers (its OK is observable, not assumed)', () => {
    for (const side of [results.postfix!, results.moat!]) {
      const rcpt = (client: string, r: string) => side.get(`${client} <sender@remote.test> ${r}`)?.rcpt;
      expect(rcpt('dnswl', '<wlonly@local.test>')).toMatch(/^250 2\.1\.5/);
      expect(rcpt('stranger', '<wlonly@local.test>')).toMatch(/^554 5\.7\.1$/);
      // whitelisted, yet no unknown user (smtpd_reject_unlisted_recipient) and no relaying (smtpd_relay_restrictions)
      expect(rcpt('dnswl', '<nobody@local.test>')).toMatch(/^550 5\.1\.1$/);
      expect(rcpt('dnswl', '<someone@remote.test>')).toMatch(/^454 4\.7\.1$/);
    }
  });

  it('an access map DEFER / REJECT with a status and no code: access_map_defer_code 450 / access_map_reject_code 554, class fitted', () => {
    for (const side of [results.postfix!, results.moat!]) {
      const rcpt = (r: string) => side.get(`stranger <sender@remote.test> ${r}`)?.rcpt;
      expect([rcpt('<defer43@local.test>'), rcpt('<reject517@local.test>'), rcpt('<reject41@local.test>')]).toEqual(['450 4.3.2', '554 5.1.3', '554 5.1.1']);
    }
  });

  it('differs from Postfix only where the table of known differences says so, with its reason', () => {
    const unexplained: string[] = [];
    const used = new Set<number>();
    for (const c of cases) {
      const pf = results.postfix!.get(c.id)!;
      const mo = results.moat!.get(c.id)!;
      for (const field of ['rcpt', 'data', 'dest'] as const) {
        if (pf[field] === mo[field]) continue;
        const k = KNOWN_DIFFERENCES.findIndex((d) => d.field === field && d.matches(c) && (d.postfix === undefined || d.postfix === pf[field]) && (d.moat === undefined || d.moat === mo[field]));
        if (k >= 0) used.add(k);
        else unexplained.push(`${c.id}: ${field}: postfix ${pf[field]} / moat ${mo[field]}`);
      }
    }
    const stale = KNOWN_DIFFERENCES.flatMap((d, k) => (used.has(k) ? [] : [`${d.field}: ${d.reason}`]));
    if (unexplained.length && process.env.MOAT_DIFF_LOG) console.log(moatOutput.slice(-20_000));
    expect({ unexplained, stale }).toEqual({ unexplained: [], stale: [] });
  });
});

export type { Case };
