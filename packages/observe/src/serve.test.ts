import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createRegistry } from './metrics.ts';
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
