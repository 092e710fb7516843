// `moat learn` as an operator runs it: the real entry point against a real spamd (--allow-tell, a private
// Bayes file store), from a file and from stdin; input that is not a message is refused with exit 65.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startSpamd, type SpamdDaemon } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'moat-learn-'));

function config(port: number, maxSize = 100_000): string {
  const file = join(dir, `moat-${port}-${maxSize}.yaml`);
  writeFileSync(file, `policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nspamd:\n  host: 127.0.0.1\n  port: ${port}\n  max_size: ${maxSize}\n  timeout: 20s\n`);
  return file;
}

function moat(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [MAIN, 'learn', ...args], { encoding: 'utf8', input, env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const message = (id: string, body: string) =>
  `From: Sender <s@example.org>\r\nTo: bob@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.org>\r\n\r\n${body}\r\n`;

let spamd: SpamdDaemon;
let cfg: string;
beforeAll(async () => {
  spamd = await startSpamd({ allowTell: true, bayes: 'file' });
  cfg = config(spamd.port);
}, 60_000);
afterAll(async () => {
  await spamd?.close();
});

describe('moat learn', { timeout: 120_000 }, () => {
  it('learns a file as spam, says so again as already learned, and learns stdin as ham', () => {
    const file = join(dir, 'spam.eml');
    writeFileSync(file, message('cli-spam-1', 'zorblax megaprofit lottery wirebank'));
    const first = moat(['spam', file, '--config', cfg]);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toBe(`${file}: learned as spam\n`);
    const again = moat(['spam', file, '--config', cfg, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ as: 'spam', outcome: 'already-learned' });
    const ham = moat(['ham', '-', '--config', cfg], message('cli-ham-1', 'agenda for the thursday meeting'));
    expect(ham.code).toBe(0);
    expect(ham.out).toBe('stdin: learned as ham\n');
  });

  it('refuses what is not a message with exit 65 and says why, before talking to spamd', () => {
    const cases: Array<[string | Buffer, RegExp]> = [
      ['', /stdin is not a mail message \(empty\)/],
      [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]), /\(binary\): a NUL byte at offset 8/],
      ['Dear Bob,\nplease find the report below.\n', /\(no-header\): the first line is not a header field/],
      ['Subject: hello\nTo: bob@example.org\n\nno sender\n', /\(no-from\): no From: header field/],
    ];
    for (const [input, why] of cases) {
      const r = moat(['spam', '-', '--config', cfg], input);
      expect(r.code, String(input)).toBe(65);
      expect(r.err).toMatch(why);
      expect(r.out).toBe('');
    }
    const small = config(spamd.port, 64);
    const big = moat(['ham', '-', '--config', small], message('cli-big', 'x'.repeat(200)));
    expect(big.code).toBe(65);
    expect(big.err).toMatch(/\(too-large\): 65 bytes is over the limit of 64/);
  });

  it('usage errors exit 2; a missing file and a spamd that is down exit 1 with one line', async () => {
    expect(moat(['maybe', '-', '--config', cfg]).code).toBe(2);
    expect(moat(['spam', '--config', cfg]).code).toBe(2);
    const missing = moat(['spam', join(dir, 'nope.eml'), '--config', cfg]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.eml: no such file/);
    const down = moat(['spam', '-', '--config', config(await freePort())], message('cli-down', 'x'));
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^moat learn: spamd at 127\.0\.0\.1:\d+: cannot connect to spamd: .*\[ESPAMD_CONNECT\]\n$/);
  });
});
