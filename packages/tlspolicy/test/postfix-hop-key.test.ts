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
let lmtpPort: number;
let got = 0;
let server: SMTPServer;
let lmtpServer: SMTPServer;
let dir: Awaited<ReturnType<typeof tmpDir>>;

beforeAll(async () => {
  const cert = await selfSignedCert(['localhost']);
  port = await freePort();
  lmtpPort = await freePort();
  const receiver = (lmtp: boolean) =>
    new SMTPServer({
      key: cert.key,
      cert: cert.cert,
      lmtp,
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
  server = receiver(false);
  lmtpServer = receiver(true);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  await new Promise<void>((r) => lmtpServer.listen(lmtpPort, '127.0.0.1', () => r()));
  dir = await tmpDir('pf-tls-key');
});

afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await new Promise<void>((r) => (lmtpServer ? lmtpServer.close(() => r()) : r()));
  await dir?.remove();
});

/** Postfix's outcome for one table entry: `deferred` (the key matched: encrypt, no STARTTLS) or `sent`. */
async function postfixWith(key: string, dest = `[127.0.0.1]:${port}`, transport: 'smtp' | 'lmtp' = 'smtp'): Promise<'sent' | 'deferred'> {
  const table = join(dir.path, `t-${Math.abs(`${transport} ${dest} ${key}`.split('').reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7))}`);
  await writeFile(table, `${key} encrypt\n`, { mode: 0o644 });
  const pf = await startPostfix({ listeners: { in: '' }, domains: ['hop.test'], relay: { host: '127.0.0.1', port }, main: {
      [`${transport}_tls_security_level`]: transport === 'smtp' ? 'may' : 'none',
      [`${transport}_tls_policy_maps`]: `texthash:${table}`,
      [`${transport}_tcp_port`]: String(transport === 'smtp' ? port : lmtpPort),
      relay_transport: `${transport}:${dest}`,
      default_transport: `${transport}:${dest}`,
    },
    ...(transport === 'lmtp' ? { services: ['lmtp      unix  -       -       n       -       -       lmtp'] } : {}),
  });
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

it.skipIf(process.getuid?.() !== 0)('LMTP: the next hop without inet:, brackets and a default port as written (as Debian Postfix does)', async () => {
  // lmtp_tcp_port=P: P is the default port, so inet:127.0.0.1:P and inet:127.0.0.1 reach the same server
  const moat = (key: string, dest: string) => (nextHopTls({ smtp: { level: 'may' }, lmtp: { level: 'none', policies: { [key]: 'encrypt' } }, ca: [] })({ kind: 'lmtp', host: '127.0.0.1', port: lmtpPort, dest }).tls?.required ? 'deferred' : 'sent');
  for (const [written, dest, key] of [
    [`inet:127.0.0.1:${lmtpPort}`, `127.0.0.1:${lmtpPort}`, `127.0.0.1:${lmtpPort}`],
    [`inet:127.0.0.1:${lmtpPort}`, `127.0.0.1:${lmtpPort}`, '127.0.0.1'],
    ['inet:127.0.0.1', '127.0.0.1', `127.0.0.1:${lmtpPort}`],
  ] as const) {
    expect({ written, key, moat: moat(key, dest) }).toEqual({ written, key, moat: await postfixWith(key, written, 'lmtp') });
  }
}, 180_000);
