import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRegistry } from './metrics.ts';
import { quarantineClient } from './quarantine-client.ts';
import { serveMetrics } from './serve.ts';

const servers: Server[] = [];
const TOKEN = 'the-nodes-admin-token';
const acts: string[] = [];
let urls: Record<string, string>;

/** A node holding `ids` in memory, answering as an mx's admin listener does. */
async function node(name: string, ids: string[]): Promise<string> {
  const held = new Set(ids);
  const s = await serveMetrics(createRegistry(), {
    host: '127.0.0.1',
    port: 0,
    quarantine: {
      token: TOKEN,
      list: async () => [...held].map((id) => ({ id, hold: { node: name } })),
      show: async (id) => {
        if (!held.has(id)) throw Object.assign(new Error(`${id} is not in the quarantine`), { code: 'EQUEUE_NOTFOUND' });
        return { id, preview: { text: `from ${name}` } };
      },
      act: async (action, id, o) => {
        acts.push(`${name} ${action} ${id} by ${o.by}${o.learn ? ' learn' : ''}`);
        held.delete(id);
        return { id, action: action === 'release' ? 'released' : 'deleted' };
      },
      expire: async () => ({ expired: [] }),
    },
  });
  servers.push(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const policyd = await serveMetrics(createRegistry(), { host: '127.0.0.1', port: 0 });
  servers.push(policyd);
  // a port nobody listens on: bound, then closed
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const dead = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  urls = {
    mx1: await node('mx1', ['A1', 'C1']),
    mx2: await node('mx2', ['B2']),
    policyd: `http://127.0.0.1:${(policyd.address() as AddressInfo).port}`,
    mx3: `http://127.0.0.1:${dead}`,
  };
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

it('merges every node\'s list with the node named, names the unreachable one, tells a node without a quarantine apart', async () => {
  const c = quarantineClient(Object.entries(urls).map(([name, url]) => ({ name, url })), { token: TOKEN });
  const { rows, failures } = await c.list<{ id: string }>();
  expect(rows.map((r) => `${r.node}:${r.id}`)).toEqual(['mx1:A1', 'mx2:B2', 'mx1:C1']);
  expect(failures).toEqual([
    { node: 'policyd', error: expect.stringMatching(/^policyd .* serves no quarantine/), absent: true },
    { node: 'mx3', error: expect.stringMatching(/^mx3 .* unreachable: ECONNREFUSED/) },
  ]);
});

it('sends an action to the node that holds the id; an id held nowhere reachable says which node was not asked', async () => {
  const c = quarantineClient(Object.entries(urls).map(([name, url]) => ({ name, url })), { token: TOKEN });
  expect(await c.show<{ preview: { text: string } }>('B2')).toMatchObject({ node: 'mx2', preview: { text: 'from mx2' } });
  expect(await c.act('release', 'B2', { by: 'ops', learn: true })).toEqual({ id: 'B2', action: 'released', node: 'mx2' });
  expect(acts).toEqual(['mx2 release B2 by ops learn']);
  await expect(c.act('delete', 'ZZ', { by: 'ops' })).rejects.toMatchObject({ code: 'EUNREACHABLE', message: expect.stringMatching(/ZZ is not held on any reachable node; not asked: mx3 .*unreachable/) });
  const up = quarantineClient([{ name: 'mx1', url: urls.mx1! }], { token: TOKEN });
  await expect(up.act('delete', 'ZZ', { by: 'ops' })).rejects.toMatchObject({ code: 'EQUEUE_NOTFOUND', message: 'ZZ is not in the quarantine of any node (mx1)' });
  await expect(up.show('ZZ', 'mx1')).rejects.toMatchObject({ status: 404, code: 'EQUEUE_NOTFOUND' });
});
