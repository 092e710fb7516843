// `moat reload` against real /-/reload listeners (@moat/observe's serveMetrics, as mx and policyd serve it):
// one applied, one refused with its validation error, one policyd answering per worker, one unreachable.
import type { Server } from 'node:http';
import { createRegistry, serveMetrics } from '@moat/observe';
import { freePort } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.ts';

const servers: Server[] = [];
let ok: number;
let bad: number;
let workers: number;
let dead: number;

const serve = async (reports: unknown) => {
  const port = await freePort();
  servers.push(
    await serveMetrics(createRegistry(), {
      host: '127.0.0.1',
      port,
      reload: { run: async () => reports as { outcome: string }, last: () => undefined },
    }),
  );
  return port;
};

beforeAll(async () => {
  ok = await serve({ service: 'mx', outcome: 'applied', generation: 3, needsRestart: ['mx.listen.smtp'], draining: 2 });
  bad = await serve({ service: 'mx', outcome: 'refused', generation: 2, error: '/etc/moat/moat.yaml: policy.recipient_restrictions: unknown restriction "bogus"', needsRestart: [], draining: 0 });
  workers = await serve([
    { service: 'policyd/1', outcome: 'applied', generation: 2, needsRestart: [], draining: 0 },
    { service: 'policyd/2', outcome: 'applied', generation: 2, needsRestart: [], draining: 0 },
  ]);
  dead = await freePort();
});
afterAll(() => {
  for (const s of servers) s.close();
});

async function moat(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(['reload', ...args], {
    out: {
      write: (s: string) => {
        out += s;
        return true;
      },
    } as never,
    err: {
      write: (s: string) => {
        err += s;
        return true;
      },
    } as never,
  });
  return { code, out, err };
}

describe('moat reload', () => {
  it('prints each service’s outcome and what needs a restart; exit 0 when all applied', async () => {
    const r = await moat(['--targets', `mx=http://127.0.0.1:${ok},policyd=127.0.0.1:${workers}`]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^mx +mx +applied +3 +mx\.listen\.smtp +2$/m);
    expect(r.out).toMatch(/^policyd +policyd\/1 +applied +2 +- +0$/m);
    expect(r.out).toMatch(/^policyd +policyd\/2 +applied/m);
  });

  it('shows a refused config’s validation error and an unreachable service; exit 1', async () => {
    const r = await moat(['--targets', `mx1=http://127.0.0.1:${bad},mx2=http://127.0.0.1:${dead}`]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^mx1 +mx +refused +2/m);
    expect(r.out).toMatch(/mx1 \(mx\): refused:\n {2}\/etc\/moat\/moat\.yaml: policy\.recipient_restrictions: unknown restriction "bogus"/);
    expect(r.out).toMatch(/^mx2 +- +unreachable/m);
    expect(r.out).toMatch(/mx2: unreachable:\n {2}http:\/\/127\.0\.0\.1:\d+\/-\/reload: ECONNREFUSED/);
  });

  it('--json gives the reports as they came', async () => {
    const r = await moat(['--targets', `mx=http://127.0.0.1:${ok}`, '--json']);
    expect(JSON.parse(r.out)).toEqual([{ target: 'mx', service: 'mx', outcome: 'applied', generation: 3, needsRestart: ['mx.listen.smtp'], draining: 2 }]);
  });

  it('refuses a target that is not http', async () => {
    const r = await moat(['--targets', 'mx=https://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/only http:\/\//);
  });
});
