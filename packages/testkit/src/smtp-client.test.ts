import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, type SecureContext, TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, tmpDir } from './process.ts';
import { authPlain, SmtpClient, smtpTransaction } from './smtp-client.ts';

// A scripted SMTP server: just enough protocol to check the client's framing, timeouts, DATA and STARTTLS.
let server: Server;
let port: number;
let tlsContext: SecureContext;
/** Each message body as received on the wire (latin1: one char per byte), with the client's XCLIENT/EHLO. */
const received: Array<{ body: string; commands: string[] }> = [];

function serve(sock: Socket | TLSSocket, tls: boolean): void {
  let buf = '';
  let body: string | undefined;
  const commands: string[] = [];
  const onData = (d: Buffer) => {
    buf += d.toString('latin1');
    for (;;) {
      if (body !== undefined) {
        const end = buf.indexOf('\r\n.\r\n');
        if (end < 0) return;
        received.push({ body: buf.slice(0, end + 2), commands: [...commands] });
        buf = buf.slice(end + 5);
        body = undefined;
        sock.write('250 2.0.0 Ok: queued as Q1\r\n');
        continue;
      }
      const i = buf.indexOf('\r\n');
      if (i < 0) return;
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      commands.push(line);
      const verb = line.split(' ')[0]!.toUpperCase();
      if (verb === 'EHLO') sock.write(`250-test.example\r\n250-PIPELINING\r\n${tls ? '250-AUTH PLAIN\r\n' : '250-STARTTLS\r\n'}250 SIZE 1000\r\n`);
      else if (verb === 'XCLIENT') sock.write('220 test.example ESMTP\r\n');
      else if (verb === 'MAIL') sock.write('250 2.1.0 Ok\r\n');
      else if (verb === 'RCPT') sock.write(line.includes('nobody@') ? '550 5.1.1 unknown\r\n' : '250 2.1.5 Ok\r\n');
      else if (verb === 'DATA' && !commands.some((c) => c.startsWith('RCPT'))) sock.write('503 5.5.1 need RCPT\r\n');
      else if (verb === 'DATA') {
        sock.write('354 go ahead\r\n');
        body = '';
      } else if (verb === 'SPLIT') {
        // one reply in three packets, the split inside a line
        sock.write('250-one\r\n25');
        setTimeout(() => sock.write('0-two\r'), 20);
        setTimeout(() => sock.write('\n250 three\r\n'), 40);
      } else if (verb === 'SILENT') {
        // no reply
      } else if (verb === 'BYE') sock.end('421 4.4.2 bye\r\n');
      else if (verb === 'QUIT') sock.end('221 2.0.0 Bye\r\n');
      else if (verb === 'STARTTLS' && !tls) {
        sock.off('data', onData);
        sock.write('220 2.0.0 Ready to start TLS\r\n');
        const secure = new TLSSocket(sock, { isServer: true, secureContext: tlsContext });
        secure.on('error', () => {});
        serve(secure, true);
      } else sock.write('502 5.5.1 no\r\n');
    }
  };
  sock.on('data', onData);
  sock.on('error', () => {});
}

beforeAll(async () => {
  const dir = await tmpDir('smtp-client');
  try {
    const key = join(dir.path, 'k.pem');
    const cert = join(dir.path, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    tlsContext = createSecureContext({ key: readFileSync(key), cert: readFileSync(cert) });
  } finally {
    await dir.remove();
  }
  port = await freePort();
  server = createServer((sock) => {
    sock.write('220 test.example ESMTP\r\n');
    serve(sock, false);
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
}, 30_000);

afterAll(async () => {
  await new Promise((ok) => server?.close(ok));
});

describe('SmtpClient', () => {
  it('reads whole multi-line replies: code, text and lines without the prefixes; keeps a transcript', async () => {
    const c = await SmtpClient.connect(port);
    expect(await c.read()).toEqual({ code: 220, text: 'test.example ESMTP', lines: ['test.example ESMTP'] });
    const r = await c.cmd('EHLO client.example');
    expect(r.code).toBe(250);
    expect(r.lines).toEqual(['test.example', 'PIPELINING', 'STARTTLS', 'SIZE 1000']);
    expect(r.text).toBe('test.example\nPIPELINING\nSTARTTLS\nSIZE 1000');
    expect((await c.cmd('SPLIT')).lines).toEqual(['one', 'two', 'three']);
    await c.quit();
    expect(c.transcript.slice(0, 3)).toEqual(['S: 220 test.example ESMTP', 'C: EHLO client.example', 'S: 250-test.example']);
    expect(c.transcript.at(-1)).toBe('S: 221 2.0.0 Bye');
  });

  it('pipelined commands: one reply per read, in order', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    c.write('MAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@b.example>\r\nRCPT TO:<x@b.example>\r\n');
    expect((await c.read()).code).toBe(250);
    expect((await c.read()).text).toBe('5.1.1 unknown');
    expect((await c.read()).text).toBe('2.1.5 Ok');
    await c.quit();
  });

  it('a reply that never comes: rejects after the timeout with the transcript; the next reply is not lost', async () => {
    const c = await SmtpClient.connect(port, { timeoutMs: 2000 });
    await c.read();
    const t0 = Date.now();
    await expect(c.cmd('SILENT', 150)).rejects.toThrow(/no SMTP reply in 150 ms; transcript:\nS: 220 test\.example ESMTP\nC: SILENT/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await c.cmd('NOOP')).code).toBe(502);
    await c.quit();
  });

  it('the server closes: the pending reply is still read, then reads reject at once and closed is true', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    expect(await c.cmd('BYE')).toMatchObject({ code: 421, text: '4.4.2 bye' });
    await expect(c.read(5000)).rejects.toThrow(/connection closed/);
    expect(c.closed).toBe(true);
    await c.quit(); // a no-op now, and never throws
  });

  it('connection refused rejects', async () => {
    const closedPort = await freePort();
    await expect(SmtpClient.connect(closedPort, { timeoutMs: 2000 })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('DATA: CRLF line ends, dot-stuffing, the final dot; strings go as UTF-8, Buffers byte for byte', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    await c.cmd('EHLO client.example');
    await c.cmd('MAIL FROM:<a@b.example>');
    await c.cmd('RCPT TO:<x@b.example>');
    const n = received.length;
    const r = await c.data('Subject: t\n\n.leading dot\r\nh\u00e9 \u2713\n.');
    expect(r).toMatchObject({ code: 250, text: '2.0.0 Ok: queued as Q1' });
    expect(received[n]?.body).toBe(`Subject: t\r\n\r\n..leading dot\r\n${Buffer.from('h\u00e9 \u2713').toString('latin1')}\r\n..\r\n`);
    await c.cmd('MAIL FROM:<a@b.example>');
    await c.cmd('RCPT TO:<x@b.example>');
    expect((await c.data(Buffer.from([0x41, 0xff, 0x0d, 0x0a, 0x2e, 0x42]))).code).toBe(250);
    expect(received[n + 1]?.body).toBe('A\xff\r\n..B\r\n');
    await c.quit();
  });

  it('DATA refused: returns the refusal and sends no message', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    expect((await c.data('Subject: x\r\n\r\nnot sent\r\n')).code).toBe(503);
    // had the message gone out, its lines would have been answered as commands (502) before QUIT's 221
    expect((await c.cmd('QUIT')).code).toBe(221);
    await c.quit();
  });

  it('STARTTLS upgrades the same connection; commands and replies go on over TLS', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    expect((await c.cmd('EHLO client.example')).lines).toContain('STARTTLS');
    const secure = await c.starttls({ minVersion: 'TLSv1.2' });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(secure.getProtocol());
    const e = await c.cmd('EHLO client.example');
    expect(e.lines).toContain('AUTH PLAIN');
    expect(e.lines).not.toContain('STARTTLS');
    await c.quit();
    expect(c.transcript.at(-1)).toBe('S: 221 2.0.0 Bye');
  });

  it('STARTTLS refused rejects with the reply', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    await c.cmd('EHLO client.example');
    await c.starttls();
    await expect(c.starttls()).rejects.toThrow(/STARTTLS refused: 502/);
    await c.quit();
  });

  it('authPlain is the base64 of \\0user\\0password', () => {
    expect(Buffer.from(authPlain('alice', 'pw'), 'base64').toString()).toBe('\0alice\0pw');
  });
});

describe('smtpTransaction', () => {
  const base = { from: 'a@sender.example', to: 'x@b.example', message: 'Subject: hi\r\n\r\nhello\r\n' };

  it('a whole transaction, as another client through XCLIENT: done, with the final reply', async () => {
    const n = received.length;
    const r = await smtpTransaction({ port, xclient: 'ADDR=192.0.2.1 NAME=[UNAVAILABLE]', xclientHelo: 'probe.example', helo: 'mail.sender.example', ...base });
    expect(r).toMatchObject({ stage: 'done', code: 250, text: '2.0.0 Ok: queued as Q1', afterDot: true });
    expect(received[n]?.commands).toEqual(['EHLO probe.example', 'XCLIENT ADDR=192.0.2.1 NAME=[UNAVAILABLE]', 'EHLO mail.sender.example', 'MAIL FROM:<a@sender.example>', 'RCPT TO:<x@b.example>', 'DATA']);
    expect(received[n]?.body).toBe(base.message);
  });

  it('stops at the first refusal and says where', async () => {
    expect(await smtpTransaction({ port, ...base, to: 'nobody@b.example' })).toMatchObject({ stage: 'rcpt', code: 550, text: '5.1.1 unknown', afterDot: false });
  });

  it('never throws: a refused connection is stage connect, code 0', async () => {
    const r = await smtpTransaction({ port: await freePort(), ...base, timeoutMs: 2000 });
    expect(r).toMatchObject({ stage: 'connect', code: 0, afterDot: false });
    expect(r.text).toMatch(/ECONNREFUSED/);
  });
});
