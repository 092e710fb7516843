import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createRegistry } from './metrics.ts';
import { BY_HEADER, QUARANTINE_HEADER } from './quarantine-routes.ts';
import { RELOAD_HEADER, serveMetrics } from './serve.ts';

it('POST /-/reload without our header is refused (403) and reloads nothing: a web page cannot send it cross-site', async () => {
  let runs = 0;
  const server = await serveMetrics(createRegistry(), {
    host: '127.0.0.1',
    port: 0,
    reload: {
      run: async () => {
        runs++;
        return { outcome: 'applied' };
      },
      last: () => undefined,
    },
  });
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/-/reload`;
    const refused = await fetch(url, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(runs).toBe(0);
    const applied = await fetch(url, { method: 'POST', headers: { [RELOAD_HEADER]: '1' } });
    expect(applied.status).toBe(200);
    expect(runs).toBe(1);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

it('/-/quarantine needs its header even to read, needs x-moat-by to act, and maps library errors to statuses', async () => {
  const calls: unknown[] = [];
  const server = await serveMetrics(createRegistry(), {
    host: '127.0.0.1',
    port: 0,
    quarantine: {
      token: 'a-long-enough-admin-token',
      list: async () => [{ id: 'A' }],
      show: async (id) => {
        if (id === 'missing') throw Object.assign(new Error('missing is not in the quarantine'), { code: 'EQUEUE_NOTFOUND' });
        return { id };
      },
      act: async (action, id, o) => {
        calls.push([action, id, o]);
        return { id, action };
      },
      expire: async (by) => {
        calls.push(['expire', by]);
        return { expired: [] };
      },
    },
  });
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/-/quarantine`;
    const h = { [QUARANTINE_HEADER]: '1', authorization: 'Bearer a-long-enough-admin-token' };
    expect((await fetch(base)).status).toBe(403);
    // the token: none, or another, is 401 (the metrics listener answers the whole stack network)
    expect((await fetch(base, { headers: { [QUARANTINE_HEADER]: '1' } })).status).toBe(401);
    expect((await fetch(base, { headers: { [QUARANTINE_HEADER]: '1', authorization: 'Bearer a-long-enough-admin-tokeN' } })).status).toBe(401);
    expect((await fetch(`${base}/X1/release`, { method: 'POST', headers: { [QUARANTINE_HEADER]: '1', [BY_HEADER]: 'x' } })).status).toBe(401);
    expect(await (await fetch(base, { headers: h })).json()).toEqual([{ id: 'A' }]);
    expect(await (await fetch(`${base}/X1`, { headers: h })).json()).toEqual({ id: 'X1' });
    const nf = await fetch(`${base}/missing`, { headers: h });
    expect([nf.status, ((await nf.json()) as { code: string }).code]).toEqual([404, 'EQUEUE_NOTFOUND']);
    expect((await fetch(`${base}/X1/release`, { method: 'POST', headers: h })).status).toBe(400); // no by
    expect((await fetch(`${base}/X1/release`, { method: 'GET', headers: h })).status).toBe(405);
    const ok = await fetch(`${base}/X1/release?learn=1`, { method: 'POST', headers: { ...h, [BY_HEADER]: encodeURIComponent('Zoë admin') } });
    expect(ok.status).toBe(200);
    await fetch(`${base}/expire`, { method: 'POST', headers: { ...h, [BY_HEADER]: 'cron' } });
    expect(calls).toEqual([['release', 'X1', { by: 'Zoë admin', learn: true }], ['expire', 'cron']]);
    expect((await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).status).toBe(200);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

it('/-/quarantine is off without an admin token: 403 naming the setting, nothing called', async () => {
  const server = await serveMetrics(createRegistry(), {
    host: '127.0.0.1',
    port: 0,
    quarantine: {
      token: undefined,
      list: async () => {
        throw new Error('must not be called');
      },
      show: async () => ({}),
      act: async () => ({}),
      expire: async () => ({}),
    },
  });
  try {
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/-/quarantine`, { headers: { [QUARANTINE_HEADER]: '1', authorization: 'Bearer anything-at-all-here' } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: string }).error).toContain('quarantine.admin_token');
  } finally {
    await new Promise((r) => server.close(r));
  }
});
