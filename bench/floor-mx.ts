// The least an MX can do on this machine, as a yardstick for bench/memory.ts (not a product): smtp-server
// accepting, each message streamed to a file in tmp/, fsync'ed, renamed into incoming/, the directory fsync'ed,
// then 250. No checks, no headers, no scanning. With --forward (bench/smtp.ts's floor row, issue 21) each queued
// file is then sent on to that SMTP server (the harness's sink) and removed, one message per connection, as the
// MX's delivery does; without it nothing is delivered (bench/memory.ts). Loopback only.
//   node bench/floor-mx.ts --listen 127.0.0.1:PORT --spool DIR [--size BYTES] [--forward HOST:PORT] [--pidfile FILE]
import { createWriteStream, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    spool: { type: 'string' },
    size: { type: 'string', default: '81920000' },
    forward: { type: 'string' },
    pidfile: { type: 'string' },
  },
});
if (values.pidfile) writeFileSync(values.pidfile, `${process.pid}\n`);
const [host, port] = (values.listen ?? '127.0.0.1:0').split(':') as [string, string];
const spool = values.spool ?? '/tmp/floor-mx';
await mkdir(join(spool, 'tmp'), { recursive: true });
await mkdir(join(spool, 'incoming'), { recursive: true });
let n = 0;

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  await fh.sync();
  await fh.close();
}

/** Send one queued file to the next hop (envelope as received), then remove it; a failure keeps the file. */
async function forward(file: string, from: string, to: string[]): Promise<void> {
  const [fhost, fport] = values.forward!.split(':') as [string, string];
  const body = (await readFile(file)).toString('latin1').replace(/^\./gm, '..');
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: fhost, port: Number(fport) });
    const steps = ['EHLO floor.moat.example', `MAIL FROM:<${from}>`, ...to.map((r) => `RCPT TO:<${r}>`), 'DATA'];
    let buf = '';
    let step = 0;
    s.setEncoding('latin1');
    s.once('error', reject);
    s.on('data', (d: string) => {
      buf += d;
      if (!/(?:^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf)) return;
      const code = buf.slice(buf.lastIndexOf('\r\n', buf.length - 3) + 1).trim().slice(0, 3);
      buf = '';
      if (code.startsWith('4') || code.startsWith('5')) return reject(new Error(`next hop: ${code}`));
      if (step < steps.length) s.write(`${steps[step++]}\r\n`);
      else if (step++ === steps.length) s.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
      else {
        s.end('QUIT\r\n');
        resolve();
      }
    });
  });
  await unlink(file);
}

const server = new SMTPServer({
  // no reverse lookup of the client: smtp-server would ask the system resolver, off the machine (the network
  // rule: the bench's DNS is its own Unbound only), and the floor does no checks that would use the name
  disableReverseLookup: true,
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: Number(values.size),
  maxClients: 5000,
  socketTimeout: 300_000,
  onData(stream, session, cb) {
    const name = `${process.pid}.${++n}`;
    // the envelope as received (smtp-server resets the session once the reply is sent)
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const to = session.envelope.rcptTo.map((r) => r.address);
    const tmp = join(spool, 'tmp', name);
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    stream.pipe(out);
    out.on('error', (e) => cb(e));
    out.on('finish', () => {
      void (async () => {
        try {
          await fsyncPath(tmp);
          await rename(tmp, join(spool, 'incoming', name));
          await fsyncPath(join(spool, 'incoming'));
          cb(null, `queued as ${name}`);
          if (values.forward) forward(join(spool, 'incoming', name), from, to).catch((e) => console.error(`forward ${name}: ${e}`));
        } catch (e) {
          cb(e as Error);
        }
      })();
    });
  },
});
server.listen(Number(port), host, () => process.stdout.write('ready\n'));
