import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TlsOutcome } from './outcomes.ts';
import { countKey, localCounts } from './report-cluster.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlsrpt-local-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (o: Partial<TlsOutcome> = {}) => `${JSON.stringify({ policyDomain: 'a.example', policyType: 'sts', result: 'success', mxHost: 'mx1.a.example', ...o })}\n`;
const total = (c: Map<string, number>) => [...c.values()].reduce((a, b) => a + b, 0);

describe('localCounts', () => {
  it('a partial last line waits for the next call, then counts once', async () => {
    const file = join(dir, '2026-12-06.jsonl');
    const second = line({ result: 'starttls-not-supported' });
    await writeFile(file, line() + second.slice(0, 20));
    const read = localCounts(dir);
    const first = await read('2026-12-06');
    expect({ n: total(first.counts), skipped: first.skipped, changed: first.changed }).toEqual({ n: 1, skipped: 0, changed: true });
    await appendFile(file, second.slice(20));
    const next = await read('2026-12-06');
    expect({ n: total(next.counts), skipped: next.skipped, changed: next.changed }).toEqual({ n: 2, skipped: 0, changed: true });
    expect((await read('2026-12-06')).changed).toBe(false);
  });
  it('a file replaced by a smaller one is counted again from the start', async () => {
    const file = join(dir, '2026-12-06.jsonl');
    await writeFile(file, line() + line() + line());
    const read = localCounts(dir);
    expect(total((await read('2026-12-06')).counts)).toBe(3);
    await writeFile(file, line({ policyDomain: 'b.example' }));
    const after = await read('2026-12-06');
    expect({ n: total(after.counts), changed: after.changed }).toEqual({ n: 1, changed: true });
    expect([...after.counts.keys()][0]).toContain('b.example');
  });
  it('days more than three before the asked one are forgotten (read afresh, not doubled)', async () => {
    await writeFile(join(dir, '2026-12-01.jsonl'), line());
    const read = localCounts(dir);
    expect((await read('2026-12-01')).changed).toBe(true);
    await read('2026-12-02'); // within three days: 12-01 is kept
    expect((await read('2026-12-01')).changed).toBe(false);
    await read('2026-12-05'); // 12-01 is older than 12-05 minus three days: forgotten
    const again = await read('2026-12-01');
    expect({ n: total(again.counts), changed: again.changed }).toEqual({ n: 1, changed: true });
  });
});

describe('countKey', () => {
  it('a success is one count per policy: MX host, IP and detail left out; failures keep them', () => {
    const ok = (mxHost: string, receivingIp: string) => countKey({ policyDomain: 'a.example', policyType: 'sts', result: 'success', mxHost, receivingIp });
    expect(ok('mx1.a.example', '192.0.2.1')).toBe(ok('mx2.a.example', '192.0.2.2'));
    expect(JSON.parse(ok('mx1.a.example', '192.0.2.1'))).toEqual(['a.example', 'sts', [], [], 'success', '', '', '']);
    const bad = countKey({ policyDomain: 'a.example', policyType: 'sts', result: 'certificate-expired', mxHost: 'mx1.a.example', receivingIp: '192.0.2.1', detail: 'x' });
    expect(JSON.parse(bad)).toEqual(['a.example', 'sts', [], [], 'certificate-expired', 'mx1.a.example', '192.0.2.1', 'x']);
  });
});
