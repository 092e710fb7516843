// Postfix as the oracle for the TLS policy lookup key of a next hop without MX lookup: a private Debian Postfix
// relays through `smtp:[127.0.0.1]:PORT` to a receiver that offers no STARTTLS, with one smtp_tls_policy_maps
// entry saying encrypt; the mail is deferred exactly when the key matched. moat's nextHopTls must agree.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, selfSignedCert, smtpTransaction, startPostfix, tmpDir } from '@moat/testkit';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nextHopTls } from '../src/index.ts';

let port: number;
let got = 0;
let server: SMTPServer;
let dir: Awaited<ReturnType<typeof tmpDir>>;

beforeAll(async () => {
  const cert = await selfSignedCert(['localhost']);
  port = await freePort();
  server = new SMTPServer({
    key: cert.key,
    cert: cert.cert,
    hideSTARTTLS: true,
    authOptional: true,
    logger: false,
    disableReverseLookup: true,
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => {
        got++;
        cb(null, 'OK');
      });
    },
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  dir = await tmpDir('pf-tls-key');
});

afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await dir?.remove();
});

/** Postfix's outcome for one table entry: `deferred` (the key matched: encrypt, no STARTTLS) or `sent`. */
async function postfixWith(key: string, dest = `[127.0.0.1]:${port}`): Promise<'sent' | 'deferred'> {
  const table = join(dir.path, `t-${Math.abs(`${dest} ${key}`.split('').reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7))}`);
  await writeFile(table, `${key} encrypt\n`, { mode: 0o644 });
  const pf = await startPostfix({ listeners: { in: '' }, domains: ['hop.test'], relay: { host: '127.0.0.1', port }, main: { smtp_tls_security_level: 'may', smtp_tls_policy_maps: `texthash:${table}`, smtp_tcp_port: String(port), relay_transport: `smtp:${dest}`, default_transport: `smtp:${dest}` } });
  try {
    const before = got;
    const r = await smtpTransaction({ port: pf.ports.in as number, from: 'a@moat.test', to: 'u@hop.test', message: 'Subject: key\r\n\r\nhi\r\n' });
    expect(r.code, JSON.stringify(r)).toBe(250);
    for (let i = 0; i < 150; i++) {
      if (got > before) return 'sent';
      if (/TLS is required, but was not offered/.test(await pf.log())) return 'deferred';
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`no outcome from Postfix:\n${(await pf.log()).slice(-2000)}`);
  } finally {
    await pf.stop();
  }
}

it.skipIf(process.getuid?.() !== 0)('a relayhost [host]:port is looked up by [host]:port, not host:port nor [host] (as Debian Postfix does)', async () => {
  const moat = (key: string) => (nextHopTls({ smtp: { level: 'may', policies: { [key]: 'encrypt' } }, lmtp: { level: 'none' }, ca: [] })({ kind: 'smtp', host: '127.0.0.1', port, dest: `[127.0.0.1]:${port}` }).tls?.required ? 'deferred' : 'sent');
  for (const key of [`[127.0.0.1]:${port}`, `127.0.0.1:${port}`, '[127.0.0.1]']) {
    expect({ key, moat: moat(key) }).toEqual({ key, moat: await postfixWith(key) });
  }
}, 120_000);

it.skipIf(process.getuid?.() !== 0)('the default port written in the next hop is part of the key, left out it is not (as Debian Postfix does)', async () => {
  // smtp_tcp_port=P makes P the default port: [127.0.0.1]:P and [127.0.0.1] reach the same server
  const moat = (key: string, dest: string) => (nextHopTls({ smtp: { level: 'may', policies: { [key]: 'encrypt' } }, lmtp: { level: 'none' }, ca: [] })({ kind: 'smtp', host: '127.0.0.1', port, dest }).tls?.required ? 'deferred' : 'sent');
  for (const [dest, key] of [
    [`[127.0.0.1]:${port}`, `[127.0.0.1]:${port}`],
    [`[127.0.0.1]:${port}`, '[127.0.0.1]'],
    ['[127.0.0.1]', '[127.0.0.1]'],
    ['[127.0.0.1]', `[127.0.0.1]:${port}`],
  ] as const) {
    expect({ dest, key, moat: moat(key, dest) }).toEqual({ dest, key, moat: await postfixWith(key, dest) });
  }
}, 180_000);
