// `moat quarantine` on a real spool (--dir) with a recording learner, and against several nodes' admin
// listeners (the cluster view): merged list, an action routed to the holder, an unreachable node named, exit 1.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, createRegistry, serveMetrics } from '@moat/observe';
import { openQuarantine, openQueue } from '@moat/queue';
import { freePort, tmpDir } from '@moat/testkit';
import { afterAll, expect, it } from 'vitest';
import { makeQuarantineCommand } from '../src/commands/quarantine.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup) await c();
});

async function cli(args: string[], learned: Array<{ as: string; size: number }> = []) {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d) => (o += d));
  err.on('data', (d) => (e += d));
  const cmd = makeQuarantineCommand({ learner: async (m, as) => void learned.push({ as, size: m.length }) });
  const code = await cmd.run(args, { out, err });
  return { code, out: o, err: e };
}

const hostile = Buffer.from(
  'From: "Bank\u001b[2J" <x@evil.test>\r\nSubject: =?utf-8?B?' +
    Buffer.from('Urgent \u202e gpj.exe').toString('base64') +
    '?=\r\nContent-Type: text/html\r\n\r\n<html><body onload="x()"><script>steal()</script><p>Click <a href="http://evil.test/">here</a></p><img src="http://evil.test/track.gif"></body></html>\r\n',
);

async function spool() {
  const dir = await tmpDir('cli-quarantine');
  cleanup.push(() => dir.remove());
  const path = join(dir.path, 'spool');
  const q = await openQueue({ dir: path, logger: createLogger('t', { level: 'silent' }), registry: createRegistry(), node: 'mx-a' });
  const hold = { check: 'spamd', reason: 'score 7.5 in the quarantine band', score: 7.5 };
  const a = await q.enqueue({ sender: 'x@evil.test', recipients: ['bob@example.org'], message: hostile, hold });
  const b = await q.enqueue({ sender: 'y@evil.test', recipients: ['bob@example.org'], message: Buffer.from('Subject: b\r\n\r\nb\r\n'), hold });
  return { path, a: a.id, b: b.id };
}

it('list, show (escaped, HTML as text, nothing remote), release --learn-ham, delete --learn-spam on a spool', async () => {
  const s = await spool();
  const learned: Array<{ as: string; size: number }> = [];
  const list = await cli(['--dir', s.path, 'list']);
  expect(list.code).toBe(0);
  expect(list.out).toMatch(new RegExp(`local +${s.a} +\\S+ +spamd +7\\.5 +x@evil\\.test +Urgent \\\\u\\{202e\\} gpj\\.exe`));
  expect(list.out).toContain('2 held message(s)');

  const show = await cli(['--dir', s.path, 'show', s.a]);
  expect(show.code).toBe(0);
  expect(show.out).toContain('held:       ');
  expect(show.out).toContain('by spamd (score 7.5): score 7.5 in the quarantine band');
  expect(show.out).toContain('From: "Bank\\x1b[2J" <x@evil.test>');
  expect(show.out).toContain('--- text/html part as text ---\nClick here');
  for (const bad of ['\u001b', '\u202e', '<script', 'steal', 'track.gif', 'onload']) expect(show.out).not.toContain(bad);

  const rel = await cli(['--dir', s.path, '--by', 'alice', 'release', s.a, '--learn-ham'], learned);
  expect(rel).toMatchObject({ code: 0, out: `released ${s.a} on local (learned as ham)\n` });
  const del = await cli(['--dir', s.path, '--by', 'alice', 'delete', s.b, '--learn-spam'], learned);
  expect(del).toMatchObject({ code: 0, out: `deleted ${s.b} on local (learned as spam)\n` });
  expect(learned.map((l) => l.as)).toEqual(['ham', 'spam']);
  const again = await cli(['--dir', s.path, 'release', s.a]);
  expect(again.code).toBe(1);
  expect(again.err).toContain(`${s.a} is not in the quarantine`);
  expect((await cli(['--dir', s.path, 'release', s.a, '--learn-spam'])).code).toBe(2);
  expect((await cli(['--dir', s.path, 'list'])).out).toBe('quarantine is empty\n');
});

it('asks every node, merges their lists, releases on the holder, and names an unreachable node (exit 1)', async () => {
  const s = await spool();
  const registry = createRegistry();
  const q = openQuarantine({ dir: s.path, logger: createLogger('t', { level: 'silent' }), registry });
  const node: Server = await serveMetrics(registry, {
    host: '127.0.0.1',
    port: 0,
    quarantine: {
      token: 'cli-test-admin-token-0123',
      list: () => q.list(),
      show: (id) => q.show(id),
      act: (action, id, o) => (action === 'release' ? q.release(id, o) : q.delete(id, o)),
      expire: async () => ({ expired: await q.expire() }),
    },
  });
  cleanup.push(() => new Promise((r) => node.close(r)));
  const dead = await freePort();
  const targets = `mx1=http://127.0.0.1:${(node.address() as AddressInfo).port},mx2=http://127.0.0.1:${dead}`;
  // the nodes' admin token comes from the config (quarantine.admin_token); without it a node says 401
  const config = join(s.path, '..', 'moat.yaml');
  await writeFile(config, 'version: 1\npolicy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nquarantine:\n  admin_token: cli-test-admin-token-0123\n');
  const denied = await cli(['--targets', targets, 'list']);
  expect(denied.code).toBe(1);
  expect(denied.err).toMatch(/admin token/);
  const list = await cli(['--config', config, '--targets', targets, 'list']);
  expect(list.code).toBe(1);
  expect(list.out).toContain(`mx1   ${s.a}`);
  expect(list.err).toMatch(/NOT ASKED: mx2 \(http:\/\/127\.0\.0\.1:\d+\) unreachable: ECONNREFUSED/);
  const rel = await cli(['--config', config, '--targets', targets, '--by', 'ops', 'release', s.b]);
  expect(rel.out).toBe(`released ${s.b} on mx1\n`);
  const gone = await cli(['--config', config, '--targets', targets, 'delete', s.b]);
  expect(gone.code).toBe(1);
  expect(gone.err).toMatch(new RegExp(`${s.b} is not held on any reachable node; not asked: mx2 .*unreachable`));
  const show = await cli(['--config', config, '--targets', targets, '--json', 'show', s.a]);
  expect(JSON.parse(show.out)).toMatchObject({ node: 'mx1', id: s.a, preview: { source: 'text/html' } });
});
