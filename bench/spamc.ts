// The benches' spamc: one SPAMC/1.5 CHECK on its own connection to a loopback spamd, as spamc does.
// Trusts the spamd the bench started; resolves on `SPAMD/1.x 0 EX_OK` and the close, rejects otherwise.
import { connect } from 'node:net';

/** One CHECK; resolves when spamd has answered and closed. */
export function spamcCheck(port: number, msg: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let reply = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      reply += d;
    });
    s.once('error', reject);
    s.once('close', () => (reply.startsWith('SPAMD/1.') && / 0 EX_OK/.test(reply) ? resolve() : reject(new Error(`spamd: ${reply.slice(0, 80)}`))));
    s.end(Buffer.concat([Buffer.from(`CHECK SPAMC/1.5\r\nContent-length: ${msg.length}\r\n\r\n`), msg]));
  });
}
