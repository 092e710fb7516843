// Container health probe for moat's node services: talks only to the given address (inside the container).
//   node healthcheck.mjs smtp 127.0.0.1 25     -> expects a 220 banner, says QUIT
//   node healthcheck.mjs policy 127.0.0.1 10023 -> a CONNECT-stage policy request (no decision logged), expects action=
//   node healthcheck.mjs tcp 127.0.0.1 PORT     -> a TCP connect is enough
import net from 'node:net';

const [kind = 'tcp', host = '127.0.0.1', port = '25'] = process.argv.slice(2);
const fail = (why) => {
  console.error(`unhealthy: ${kind} ${host}:${port}: ${why}`);
  process.exit(1);
};
const timer = setTimeout(() => fail('timeout'), 4000);
const sock = net.connect(Number(port), host);
let buf = '';
sock.on('error', (e) => fail(e.message));
sock.on('connect', () => {
  if (kind === 'tcp') process.exit(0);
  if (kind === 'policy') {
    sock.write(
      'request=smtpd_access_policy\nprotocol_state=CONNECT\nprotocol_name=ESMTP\nclient_address=127.0.0.1\n' +
        'client_name=localhost\nhelo_name=localhost\nsender=health@localhost\nrecipient=health@localhost\n\n',
    );
  }
});
sock.on('data', (d) => {
  buf += d.toString('latin1');
  if (kind === 'smtp' && buf.includes('\n')) {
    if (!buf.startsWith('220')) fail(`banner ${JSON.stringify(buf.slice(0, 80))}`);
    sock.end('QUIT\r\n');
    clearTimeout(timer);
    process.exit(0);
  }
  if (kind === 'policy' && buf.includes('\n\n')) {
    if (!buf.startsWith('action=')) fail(`reply ${JSON.stringify(buf.slice(0, 80))}`);
    clearTimeout(timer);
    process.exit(0);
  }
});
