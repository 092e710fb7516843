// The test bridge's upstream resolver for the swarm engines (scripts/swarm.mjs): answers every query at
// once with NXDOMAIN, as a real host's resolver answers for a name that does not exist. Docker's embedded
// DNS forwards names it does not know (a service whose only task is on a node that is down) upstream; with
// no answer, each lookup hangs for seconds, and a Sentinel resolving host names blocks on it (docs/rollout.md).
// Trusts nothing: reads only the header and question it echoes back; listens on the bridge address only.
import dgram from 'node:dgram';

const [host = '10.231.0.1', port = '53'] = process.argv.slice(2);
const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  if (msg.length < 12) return;
  const reply = Buffer.from(msg);
  // QR=1, keep opcode and RD; RA=1, RCODE=3 (NXDOMAIN); no answer, authority or additional records
  reply[2] = 0x80 | (msg[2] & 0x79);
  reply[3] = 0x80 | 3;
  reply.writeUInt16BE(0, 6);
  reply.writeUInt16BE(0, 8);
  reply.writeUInt16BE(0, 10);
  // the question only: cut anything after it (an EDNS record in the additional section)
  let i = 12;
  while (i < reply.length && reply[i] !== 0) i += (reply[i] ?? 0) + 1;
  sock.send(reply.subarray(0, Math.min(reply.length, i + 5)), rinfo.port, rinfo.address);
});
sock.bind(Number(port), host);
