// compose/stack.swarm.yml as deployed by `docker stack deploy` on three engines: every service healthy on
// the node its label names, each mx answering on its own node's address with the client's real address
// (host mode), one greylist for the three nodes, a backup relaying to the primary over the overlay, and no
// secret in any container's environment.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  containerOn,
  dockerAt,
  freshSender,
  freshTag,
  logsUntil,
  MX,
  mailstoreMessage,
  rcptFrom,
  sendAt,
  serviceReplicas,
  stackContainers,
  swarm,
  waitConverged,
  waitDelivered,
} from './swarm.ts';


describe.skipIf(swarm().lacks)('the stack on three engines', () => {
  beforeAll(() => waitConverged());
  it('runs every service, healthy, on the node its label names (unbound and spamd on every node)', async () => {
    const reps = await serviceReplicas();
    expect(Object.fromEntries(reps)).toEqual({
      moat_mx1: '1/1',
      moat_mx2: '1/1',
      moat_mx3: '1/1',
      'moat_redis-a': '1/1',
      'moat_redis-b': '1/1',
      'moat_sentinel-1': '1/1',
      'moat_sentinel-2': '1/1',
      'moat_sentinel-3': '1/1',
      moat_spamassassin: '3/3',
      moat_unbound: '3/3',
    });
    const cs = await stackContainers();
    for (const c of cs) expect(c.status, `${c.node} ${c.name}`).toMatch(/\(healthy\)/);
    const on = (n: string) => cs.filter((c) => c.node === n).map((c) => c.name.split('.')[0]?.replace(/^moat_/, '')).sort();
    expect(on('mx1')).toEqual(['mx1', 'redis-a', 'sentinel-1', 'spamassassin', 'unbound']);
    expect(on('mx2')).toEqual(['mx2', 'redis-b', 'sentinel-2', 'spamassassin', 'unbound']);
    expect(on('mx3')).toEqual(['mx3', 'sentinel-3', 'spamassassin', 'unbound']);
    // the images came from the registry (the release the setup deployed, or the upgrade test's next one)
    for (const n of MX) {
      const image = (await dockerAt(n, 'inspect', '-f', '{{.Config.Image}}', (await containerOn(n, n)) ?? '')).trim();
      expect(image).toMatch(new RegExp(`^${swarm().registry.replace(/\./g, '\\.')}/moat/mx:[\\w.-]+(@sha256:[0-9a-f]+)?$`));
    }
  });

  it("answers on each node's own address, port 25, and sees the client's real address (host mode)", async () => {
    const since = new Date(Date.now() - 1000);
    const { client1, client2 } = swarm();
    for (const n of MX) {
      // one session from each of the host's two bridge addresses; a routing mesh would show its own address
      for (const client of [client1, client2]) {
        const reply = await rcptFrom(n, client, freshSender());
        expect(reply, `${n} from ${client}`).toMatch(/^450 4\.7\.1 .*Greylisted/);
      }
    }
    for (const n of MX) {
      const seen = (ls: string[]) => [client1, client2].every((c) => ls.some((l) => l.includes('"event":"decision"') && l.includes(`"client":"${c}"`)));
      const clients = (await logsUntil(n, since, seen)).flatMap((l) => {
        try {
          const j = JSON.parse(l) as { event?: string; client?: string };
          return j.event === 'decision' && j.client ? [j.client] : [];
        } catch {
          return [];
        }
      });
      expect(new Set(clients), n).toEqual(new Set([client1, client2]));
    }
  });

  it('keeps one greylist for the three nodes: early at one node is early at the others, passed at one is passed at all', async () => {
    const from = freshSender();
    const tag = freshTag('grey');
    const first = await sendAt('mx2', { from, tag: `${tag}.a0` });
    expect(first).toMatchObject({ stage: 'rcpt', code: 450 });
    // the same triplet at another node, inside the delay: still early there
    const early = await sendAt('mx3', { from, tag: `${tag}.a1` });
    expect(early).toMatchObject({ stage: 'rcpt', code: 450 });
    expect(early.text).toMatch(/Greylisted/);
    await sleep(swarm().greylistDelayMs + 1500);
    // after the delay, at the third node: passed
    const passed = await sendAt('mx1', { from, tag: `${tag}.a2` });
    expect(passed, JSON.stringify(passed)).toMatchObject({ stage: 'done', code: 250 });
    const again = await sendAt('mx3', { from, tag: `${tag}.a3` });
    expect(again, JSON.stringify(again)).toMatchObject({ stage: 'done', code: 250 });
    await waitDelivered([`${tag}.a2`, `${tag}.a3`]);
  });

  it('relays mail a backup accepted to the primary over the overlay, by permit_mynetworks', async () => {
    const from = freshSender();
    const tag = freshTag('relay');
    expect(await sendAt('mx2', { from, tag: `${tag}.a0` })).toMatchObject({ code: 450 });
    await sleep(swarm().greylistDelayMs + 1500);
    const since = new Date();
    const ok = await sendAt('mx2', { from, tag: `${tag}.a1` });
    expect(ok, JSON.stringify(ok)).toMatchObject({ stage: 'done', code: 250 });
    await waitDelivered([`${tag}.a1`]);
    const text = await mailstoreMessage(`${tag}.a1`);
    // mx2's hop to mx1: from mx2's task address on the overlay (10.29.0.0/24)
    const prefix = swarm().overlay.subnet.replace(/\.0\/24$/, '.');
    const hop = text.split(/\r?\n(?=\S)/).find((h) => /^Received: from /.test(h) && h.includes('by mx1.example.org'));
    expect(hop, text.slice(0, 2000)).toBeDefined();
    expect(hop).toContain(`[${prefix}`);
    // mx1 let it in as its own network's (the overlay is in MOAT_MYNETWORKS), not through the greylist
    const fromOverlay = (l: string) => l.includes('"decision"') && l.includes(prefix);
    const decisions = (await logsUntil('mx1', since, (ls) => ls.some((l) => fromOverlay(l) && l.includes('"restriction":"permit_mynetworks"')))).filter(fromOverlay);
    expect(decisions.some((l) => l.includes('"restriction":"permit_mynetworks"')), decisions.join('\n')).toBe(true);
    // the overlay the tasks share is the stack's network
    const nets = await dockerAt('mx1', 'inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}', (await containerOn('mx1', 'mx1')) ?? '');
    expect(nets).toContain(`${swarm().overlay.name}=${prefix}`);
  });

  it("keeps every secret out of every container's environment (files under /run/secrets only)", async () => {
    const dir = swarm().secrets;
    const values = [
      readFileSync(path.join(dir, 'redis-password'), 'utf8').trim(),
      readFileSync(path.join(dir, 'quarantine-token'), 'utf8').trim(),
      ...readFileSync(path.join(dir, 'tls.key'), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----')),
      ...readFileSync(path.join(dir, 'auth', 'users'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(l.indexOf(':') + 1)),
    ].filter((v) => v.length >= 8);
    expect(values.length).toBeGreaterThan(2);
    const cs = await stackContainers();
    expect(cs.length).toBe(14);
    for (const c of cs) {
      // what the engine passed in, and what the main process actually has
      const env = await dockerAt(c.node, 'inspect', '-f', '{{json .Config.Env}}', c.id);
      const live = await dockerAt(c.node, 'exec', c.id, 'sh', '-c', 'tr "\\0" "\\n" < /proc/1/environ');
      for (const v of values) {
        expect(env.includes(v), `${c.name}: a secret in docker inspect's Env`).toBe(false);
        expect(live.includes(v), `${c.name}: a secret in the environment of pid 1`).toBe(false);
      }
    }
    // the nodes get them as files
    const files = await dockerAt('mx1', 'exec', (await containerOn('mx1', 'mx1')) ?? '', 'ls', '/run/secrets');
    expect(files.split('\n').filter(Boolean).sort()).toEqual(['auth_users', 'quarantine_token', 'redis_password', 'tls_cert', 'tls_key']);
  });
});
