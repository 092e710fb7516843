// Idle SMTP sessions for the memory benches: n connections, each greeted and EHLO'd, then left open.
// Talks only to the loopback port it is given; trusts nothing it reads beyond the reply codes.
import { connect, type Socket } from 'node:net';

/** Open n sessions (50 at a time), each greeted and EHLO'd, and keep them idle; returns the sockets. */
export async function idleSessions(port: number, n: number): Promise<Socket[]> {
  const one = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' });
      let buf = '';
      let said = false;
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        buf += d;
        if (!said && buf.includes('220 ')) {
          said = true;
          s.write('EHLO idle.example.net\r\n');
        } else if (said && /\r\n250 /.test(buf)) {
          s.removeAllListeners('data');
          resolve(s);
        }
      });
      s.once('error', reject);
    });
  const out: Socket[] = [];
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, one))));
  return out;
}
