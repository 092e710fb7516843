// The operational subcommands spawned as a real `moat` process against a real redis-server, rbldnsd and a temp spool.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGreylist, type Greylist } from '@moat/greylist';
import { createJournal } from '@moat/journal';
import { createLogger, createRegistry } from '@moat/observe';
import type { Verdict } from '@moat/policy';
import { openQueue } from '@moat/queue';
import { freePort, type RbldnsdServer, type RedisServer, startRbldnsd, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const logger = createLogger('test', { level: 'silent' });

interface Run {
  code: number;
  out: string;
  err: string;
}

function moat(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main, ...args],
      // Generous: each run is a Node start-up importing every adapter, and a shared 2-core box runs several at once.
      { env: { ...process.env, MOAT_CONFIG: configFile, MOAT_LOG_LEVEL: 'error', ...env }, timeout: 120_000, ...(cwd && { cwd }) },
      (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
      },
    );
  });
}
const json = (r: Run) => {
  if (r.code !== 0 && !r.out) throw new Error(`exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out);
};

/** Every key with its type, contents (hashes) and absolute expiry, read by redis-cli in one script. */
const STATE_LUA = `local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t = redis.call('TYPE', k).ok
  local v = t == 'hash' and cjson.encode(redis.call('HGETALL', k)) or t
  table.insert(out, k .. ' ' .. v .. ' ' .. redis.call('PEXPIRETIME', k))
end
return out`;
function redisState(): string[] {
  return execFileSync('redis-cli', ['-u', redis.url, '--no-raw', 'EVAL', STATE_LUA, '0'], { encoding: 'utf8' }).split('\n').sort();
}

let redis: RedisServer;
let rbl: RbldnsdServer;
let dir: { path: string; remove(): Promise<void> };
let configFile: string;
let greylist: Greylist;

const greyPrefix = 'clitest:gl:';

beforeAll(async () => {
  [redis, rbl, dir] = await Promise.all([
    startRedis(),
    startRbldnsd({
      zones: {
        'bl.moat.test': ':127.0.0.2:listed at bl.moat.test\n127.0.0.2\n192.0.2.66\n',
        // Lists nothing, not even the RFC 5782 test point: its health check disables it.
        'broken.moat.test': '10.9.9.9\n',
      },
    }),
    tmpDir('cli'),
  ]);
  configFile = join(dir.path, 'moat.yaml');
  await writeFile(
    configFile,
    `policy:
  hostname: mx.moat.test
  recipient_restrictions: |
    reject_non_fqdn_sender,
    reject_unlisted_recipient,
    reject_rbl_client bl.moat.test,
    check_policy_service inet:127.0.0.1:10023,
    permit
recipients:
  domains: [example.org]
  users: [b@example.org]
dns:
  resolver: 127.0.0.1:${rbl.port}
  timeout: 500ms
  zones:
    bl.moat.test: { kind: ip }
greylist:
  redis: { url: "${redis.url}", prefix: "${greyPrefix}" }
  delay: 1s
queue:
  dir: ${join(dir.path, 'spool')}
`,
  );
  greylist = createGreylist({ redis: { url: redis.url }, keyPrefix: greyPrefix, delayMs: 1000, registry: createRegistry(), logger });
});

afterAll(async () => {
  await greylist?.close();
  await Promise.all([redis?.stop(), rbl?.stop()]);
  await dir?.remove();
});

describe('moat explain (hypothetical)', () => {
  it('prints every restriction of a rejected client, from the live DNS list', async () => {
    const r = await moat(['explain', '--client', '192.0.2.66', '--helo', 'mail.example.net', '--sender', 'a@example.net', '--recipient', 'b@example.org']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/reject_rbl_client bl\.moat\.test\s+reject/);
    expect(r.out).toMatch(/reject_unlisted_recipient\s+dunno/);
    expect(r.out).toContain('=> REJECT 5.7.1 by reject_rbl_client bl.moat.test');
    // beside the trace: where the recipient would go (the resolver mx delivers with)
    expect(r.out).toContain('address resolution of <b@example.org>: class virtual-mailbox');
    expect(r.out).toMatch(/<b@example\.org>\s+virtual-mailbox\s+-\s+maildir \/var\/mail\/moat \(mailbox of example\.org\)/);
  });

  it('says a new triplet would be greylisted, without writing it (dry run)', async () => {
    const args = ['explain', '--client', '192.0.2.7', '--helo', 'mail.example.net', '--sender', 'a@example.net', '--recipient', 'b@example.org', '--json'];
    const r = json(await moat(args));
    expect(r).toMatchObject({ greylist: 'dry-run', verdict: { action: 'defer', greylisted: true }, resolution: { class: 'virtual-mailbox', accepted: true, recipients: [{ address: 'b@example.org', transport: 'maildir' }] } });
    const trace = r.verdict.trace as Verdict['trace'];
    expect(trace.map((t) => t.restriction)).toEqual([
      'permit_mynetworks',
      'permit_sasl_authenticated',
      'reject_unauth_destination',
      'reject_non_fqdn_sender',
      'reject_unlisted_recipient',
      'reject_rbl_client bl.moat.test',
      'check_policy_service inet:127.0.0.1:10023',
    ]);
    expect(trace.at(-1)?.reason).toContain('dry run');
    const shown = await greylist.inspect({ clientAddress: '192.0.2.7', sender: 'a@example.net', recipient: 'b@example.org' });
    expect(shown.candidates.every((c) => c.triplet === undefined)).toBe(true);
  });

  it('reads the greylist without writing it: every key, field and expiry time as before', async () => {
    const triplet = { clientAddress: '192.0.2.8', sender: 'a@example.net', recipient: 'b@example.org' };
    await greylist.check(triplet);
    try {
      // The greylist counts whole seconds: past 2 s the 1 s delay is over whatever the clock's fraction was.
      await new Promise((r) => setTimeout(r, 2100));
      const before = redisState();
      const args = ['explain', '--client', '192.0.2.8', '--helo', 'mail.example.net', '--sender', 'a@example.net', '--recipient', 'b@example.org', '--json'];
      const r = json(await moat(args));
      // A retry would pass now; peek says so and records nothing.
      expect(r).toMatchObject({ greylist: 'dry-run', assumedFailOpen: [], verdict: { action: 'permit' } });
      expect(r.verdict.trace.at(-2).reason).toMatch(/^greylist pass \(retry\): dry run: delayed \d+ seconds \(2 attempts, net:192\.0\.2\.0\/24\)$/);
      expect(redisState()).toEqual(before);
    } finally {
      await greylist.remove({ triplet });
    }
  }, 300_000);

  it('gives no verdict when Redis or the resolver is unreachable (exit 1, naming them), unless --assume-fail-open', async () => {
    const stopped = await startRedis();
    await stopped.stop();
    const deadRedis = stopped.url.replace('redis://', 'redis://:hunter2@');
    const deadResolver = `127.0.0.1:${await freePort()}`;
    const args = ['explain', '--client', '192.0.2.66', '--helo', 'mail.example.net', '--sender', 'a@example.net', '--recipient', 'b@example.org'];
    const [noRedis, noDns, both, assumed, assumedJson] = await Promise.all([
      moat(args, { MOAT_REDIS_URL: deadRedis }),
      moat(args, { MOAT_RESOLVER: deadResolver }),
      moat([...args, '--json'], { MOAT_REDIS_URL: deadRedis, MOAT_RESOLVER: deadResolver }),
      moat([...args, '--assume-fail-open'], { MOAT_REDIS_URL: deadRedis, MOAT_RESOLVER: deadResolver }),
      moat([...args, '--assume-fail-open', '--json'], { MOAT_REDIS_URL: deadRedis }),
    ]);
    const masked = stopped.url.replace('redis://', 'redis://***@');
    const redisDown = `Redis at ${masked} is unreachable (connect ECONNREFUSED ${stopped.url.slice('redis://'.length)})`;
    const dnsDown = `the resolver at ${deadResolver} is unreachable (connection refused: nothing listens there)`;
    expect(noRedis).toMatchObject({ code: 1, out: '' });
    expect(noRedis.err).toContain(`moat explain: no verdict: ${redisDown}.`);
    expect(noRedis.err).toContain('--assume-fail-open');
    expect(noDns).toMatchObject({ code: 1, out: '' });
    expect(noDns.err).toContain(`moat explain: no verdict: ${dnsDown}.`);
    expect(both).toMatchObject({ code: 1, out: '' });
    expect(both.err).toContain(`no verdict: ${dnsDown}; ${redisDown}.`);
    for (const r of [noRedis, both, assumed]) {
      expect(r.err + r.out).not.toContain('hunter2');
      expect(r.err + r.out).not.toContain("Stream isn't writeable");
    }
    // Assumed: the verdict a node that cannot reach them would give (the listed client passes), and it says so.
    expect(assumed.code).toBe(0);
    expect(assumed.out).toContain(`assuming fail-open (--assume-fail-open): ${dnsDown}; ${redisDown}; this verdict may differ`);
    expect(assumed.out).toMatch(/check_policy_service inet:127\.0\.0\.1:10023\s+dunno\s+\S+\s+greylist pass \(fail-open\): assumed fail-open: Redis at/);
    expect(assumed.out).toMatch(/=> PERMIT 2\.0\.0 by permit \(assuming fail-open\)\n/);
    const j = json(assumedJson);
    expect(j.assumedFailOpen).toEqual([redisDown]);
    expect(j.verdict).toMatchObject({ action: 'reject', decidedBy: 'reject_rbl_client bl.moat.test' });
  }, 300_000);

  it('usage errors exit 2, config errors exit 1', async () => {
    // Independent invocations: run them side by side (each is a Node start-up).
    const [notIp, bogus, both, bad, help, nonsense] = await Promise.all([
      moat(['explain', '--client', 'not-an-ip', '--sender', 'a@b.c', '--recipient', 'b@example.org']),
      moat(['explain', '--bogus']),
      moat(['explain', '--session', 'x', '--queue-id', 'y']),
      moat(['explain', '--client', '192.0.2.1', '--sender', 'a@b.c', '--recipient', 'b@example.org', '--config', join(dir.path, 'missing.yaml')]),
      moat(['explain', '--help']),
      moat(['nonsense']),
    ]);
    expect([notIp.code, bogus.code, both.code, help.code, nonsense.code]).toEqual([2, 2, 2, 0, 2]);
    expect(notIp.err).toContain('is not an IP address');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('missing.yaml');
  }, 300_000);
});

describe('moat explain (journal)', () => {
  it('reads the recorded trace by session id and queue id: why was this deferred?', async () => {
    const j = createJournal({ redis: { url: redis.url }, registry: createRegistry(), logger, node: 'mx-a' });
    const v: Verdict = {
      action: 'defer',
      status: '4.7.1',
      text: 'Greylisted: try again later',
      decidedBy: 'check_policy_service inet:127.0.0.1:10023',
      greylisted: true,
      prepend: [],
      trace: [
        { restriction: 'reject_rbl_client bl.moat.test', list: 'recipient', outcome: 'dunno', ms: 1.2 },
        { restriction: 'check_policy_service inet:127.0.0.1:10023', list: 'recipient', outcome: 'defer', reason: 'greylisted for 60s', ms: 0.8 },
      ],
    };
    j.record({ stage: 'rcpt', clientAddress: '198.51.100.9', helo: 'evil\u001b[31m', sender: 'x@example.net', recipient: 'b@example.org', tls: true, sessionId: 'SESS1' }, v, {
      reply: '450 4.7.1',
      queueId: 'QID1',
    });
    await j.close();

    const text = await moat(['explain', '--session', 'SESS1']);
    expect(text.code).toBe(0);
    expect(text.out).toContain('1 decision(s) for session SESS1');
    expect(text.out).toContain('mx-a session SESS1 queue QID1 stage rcpt reply 450 4.7.1');
    expect(text.out).toMatch(/check_policy_service inet:127\.0\.0\.1:10023\s+defer\s+0\.80\s+greylisted for 60s/);
    expect(text.out).toContain('=> DEFER 4.7.1 by check_policy_service inet:127.0.0.1:10023 [greylisted]');
    // The hostile HELO's escape sequence is shown escaped, never sent to the terminal.
    expect(text.out).toContain('helo evil\\x1b[31m');
    expect(text.out).not.toContain('\u001b');
    expect(text.out).toContain('address resolution by the current config of <b@example.org>: class virtual-mailbox');

    const byQueue = json(await moat(['explain', '--queue-id', 'QID1', '--json']));
    expect(byQueue.decisions[0]).toMatchObject({ session: 'SESS1', verdict: { action: 'defer' }, resolution: { address: 'b@example.org', class: 'virtual-mailbox', accepted: true } });

    const none = await moat(['explain', '--session', 'never-seen']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('no journaled decision');

    const down = await moat(['explain', '--session', 'SESS1'], { MOAT_REDIS_URL: 'redis://:hunter2@127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.err.trim()).toBe("moat explain: the decision journal's Redis at redis://***@127.0.0.1:1 is unreachable (connect ECONNREFUSED 127.0.0.1:1)");
  }, 300_000);
});

describe('moat greylist', () => {
  it('lists stuck senders with their retry pattern, shows, whitelists and removes', async () => {
    const req = { clientAddress: '203.0.113.5', sender: 'news@example.com', recipient: 'b@example.org' };
    expect((await greylist.check(req)).action).toBe('defer');
    // whole seconds: 2.1 s is past the 1 s delay whatever the clock's fraction was
    await new Promise((r) => setTimeout(r, 2100));
    // Deferred once, never retried, past the delay: stuck.
    const stuck = json(await moat(['greylist', 'stuck', '--json']));
    expect(stuck).toEqual([expect.objectContaining({ client: '203.0.113.5', sender: 'news@example.com', attempts: 1 })]);
    const table = await moat(['greylist', 'stuck']);
    expect(table.out).toMatch(/203\.0\.113\.5\s+<news@example\.com>\s+<b@example\.org>\s+1\s+\S+\s+once, \d+s ago, never retried/);

    const shown = json(await moat(['greylist', 'show', '--client', '203.0.113.5', '--sender', 'news@example.com', '--recipient', 'b@example.org', '--json']));
    expect(shown.candidates.some((c: { triplet?: { attempts: number } }) => c.triplet?.attempts === 1)).toBe(true);

    const wl = await moat(['greylist', 'whitelist', '203.0.113.0/24']);
    expect(wl.code).toBe(0);
    expect(wl.out).toContain('whitelisted 203.0.113.0/24');
    await greylist.refreshWhitelist();
    expect(await greylist.check({ ...req, sender: 'other@example.com' })).toMatchObject({ action: 'pass', reason: 'whitelist' });

    expect((await moat(['greylist', 'remove', '--client', '203.0.113.5', '--sender', 'news@example.com', '--recipient', 'b@example.org'])).code).toBe(0);
    expect(json(await moat(['greylist', 'stuck', '--json']))).toEqual([]);
    expect((await moat(['greylist', 'remove', '--cidr', '203.0.113.0/24'])).code).toBe(0);
    expect((await moat(['greylist', 'remove', '--cidr', '203.0.113.0/24'])).code).toBe(1);

    expect((await moat(['greylist', 'whitelist', '203.0.113.1/24'])).code).toBe(2);
    expect((await moat(['greylist', 'frobnicate'])).code).toBe(2);
  });

  it('fails with exit 1 and one line when Redis is unreachable', async () => {
    const r = await moat(['greylist', 'stuck'], { MOAT_REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe("moat greylist: the greylist's Redis at redis://127.0.0.1:1 is unreachable (connect ECONNREFUSED 127.0.0.1:1)");
  });
});

describe('moat queue', () => {
  it('lists, holds, releases and deletes messages in the configured spool', async () => {
    const q = await openQueue({ dir: join(dir.path, 'spool'), logger, registry: createRegistry() });
    const m = await q.enqueue({ sender: 'a@example.net', recipients: ['b@example.org'], message: Buffer.from('Subject: hi\r\n\r\nhello\r\n') });
    await q.close();

    const list = json(await moat(['queue', 'list', '--json']));
    expect(list).toEqual([expect.objectContaining({ id: m.id, sender: 'a@example.net' })]);
    expect((await moat(['queue', 'hold', m.id])).out).toContain(`held 1 message(s): ${m.id}`);
    expect((await moat(['queue', 'list'])).out).toMatch(new RegExp(`${m.id}!`));
    expect((await moat(['queue', 'release', 'ALL'])).code).toBe(0);
    expect((await moat(['queue', 'flush', '--json'])).code).toBe(0);
    expect((await moat(['queue', 'delete', 'NOSUCHID'])).code).toBe(1);
    expect((await moat(['queue', 'delete', m.id])).code).toBe(0);
    expect((await moat(['queue', 'list'])).out).toContain('Mail queue is empty');
    expect((await moat(['queue', 'hold'])).code).toBe(2);
  });

  it('never creates a spool: a missing one is a clear error (exit 1) naming the path, and stays missing', async () => {
    const missing = join(dir.path, 'nonexistent', 'spool');
    const [list, listJson, hold, flush] = await Promise.all([
      moat(['queue', '--dir', missing, 'list']),
      moat(['queue', 'list', '--json'], { MOAT_QUEUE_DIR: missing }),
      moat(['queue', '--dir', missing, 'hold', 'ALL']),
      moat(['queue', '--dir', missing, 'flush']),
    ]);
    expect(list).toMatchObject({ code: 1, out: '' });
    expect(list.err.trim()).toBe(`moat queue: no spool at ${missing}: no such directory`);
    expect(listJson).toMatchObject({ code: 1, out: '' });
    expect(listJson.err).toContain(`no spool at ${missing}`);
    expect(listJson.err).toContain('npm run moat -- queue');
    expect([hold.code, flush.code]).toEqual([1, 1]);
    expect(existsSync(join(dir.path, 'nonexistent'))).toBe(false);
  });
});

describe('read-only commands', () => {
  it('change no file (spool, config dir, working dir) and no Redis key', async () => {
    const q = await openQueue({ dir: join(dir.path, 'spool'), logger, registry: createRegistry() });
    await q.enqueue({ sender: 'a@example.net', recipients: ['b@example.org'], message: Buffer.from('Subject: ro\r\n\r\nhello\r\n') });
    await q.close();
    await greylist.check({ clientAddress: '198.51.100.77', sender: 'ro@example.net', recipient: 'b@example.org' });
    const cwd = join(dir.path, 'cwd');
    await mkdir(cwd);
    const before = { files: await tree(dir.path), redis: redisState() };
    const triplet = ['--client', '198.51.100.77', '--sender', 'ro@example.net', '--recipient', 'b@example.org'];
    const runs = await Promise.all([
      moat(['config', 'check'], {}, cwd),
      moat(['queue', 'list'], {}, cwd),
      moat(['greylist', 'show', ...triplet], {}, cwd),
      moat(['greylist', 'stuck'], {}, cwd),
      moat(['zones'], {}, cwd),
      moat(['explain', '--helo', 'mail.example.net', ...triplet], {}, cwd),
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0]);
    expect({ files: await tree(dir.path), redis: redisState() }).toEqual(before);
    await greylist.remove({ triplet: { clientAddress: '198.51.100.77', sender: 'ro@example.net', recipient: 'b@example.org' } });
    const { queueDelete } = await import('@moat/queue');
    await queueDelete(join(dir.path, 'spool'), ['ALL'], { logger });
  }, 300_000);
});

/** Every path under root with its size and mtime. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true })) {
    const st = await stat(join(root, e));
    out.push(`${e} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

describe('moat zones', () => {
  it('reports each DNS list and exits 1 when one is unhealthy', async () => {
    const ok = await moat(['zones', '--json']);
    expect(ok.code).toBe(0);
    expect(json(ok).zones).toEqual([expect.objectContaining({ zone: 'bl.moat.test', state: 'healthy' })]);

    const broken = join(dir.path, 'broken.yaml');
    const { readFile } = await import('node:fs/promises');
    await writeFile(broken, (await readFile(configFile, 'utf8')).replace('reject_rbl_client bl.moat.test,', 'reject_rbl_client bl.moat.test,\n    reject_rbl_client broken.moat.test,').replace('bl.moat.test: { kind: ip }', 'bl.moat.test: { kind: ip }\n    broken.moat.test: { kind: ip }'));
    const bad = await moat(['zones', '--config', broken]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/bl\.moat\.test\s+healthy/);
    expect(bad.out).toMatch(/broken\.moat\.test\s+disabled.*does not list the RFC 5782 test point 127\.0\.0\.2/);
  });

  it('exits 1 naming the resolver when it is unreachable, never a table of unchecked zones alone', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const r = await moat(['zones'], { MOAT_RESOLVER: dead });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`resolver ${dead} UNREACHABLE (connection refused: nothing listens there)`);
    expect(r.err.trim()).toBe(`moat zones: the resolver at ${dead} is unreachable (connection refused: nothing listens there): no zone can be checked from here`);
  });
});
