// Micro-bench: the MX's end-of-DATA authentication step (apps/mx authResults: SPF, DKIM, DMARC and ARC via
// mailauth) on a typical DKIM-signed message, without and with one ARC set (a mailing list that forwarded it).
// No sockets: DNS answers come from an in-memory zone, so the figures are the CPU of the checks themselves.
//   node bench/auth-arc.ts [--messages 400] [--body-kb 8]
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import mailauth from 'mailauth';
import { authResults } from '../apps/mx/src/auth-results.ts';
import type { MxResolver } from '../apps/mx/src/dns.ts';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '400' }, 'body-kb': { type: 'string', default: '8' } } });
const N = Number(values.messages);

/** RSA 2048 (what most senders publish) and its DKIM TXT record. */
function rsaKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), txt: `v=DKIM1; k=rsa; p=${der}` };
}
const sender = rsaKey();
const list = rsaKey();

// The zone: the author's domain (SPF, DKIM key, DMARC p=reject) and the list's (SPF, DKIM/ARC key).
const txt: Record<string, string[][]> = {
  'sender.example': [['v=spf1 ip4:192.0.2.0/24 -all']],
  's1._domainkey.sender.example': [[sender.txt]],
  '_dmarc.sender.example': [['v=DMARC1; p=reject']],
  'list.example': [['v=spf1 ip4:198.51.100.0/24 -all']],
  's1._domainkey.list.example': [[list.txt]],
  '_dmarc.list.example': [['v=DMARC1; p=none']],
};
let queries = 0;
const notFound = () => Object.assign(new Error('queryTxt ENOTFOUND'), { code: 'ENOTFOUND' });
const resolve = async (name: string, rrtype: string): Promise<unknown> => {
  queries++;
  const n = name.toLowerCase().replace(/\.$/, '');
  if (rrtype === 'TXT' && txt[n]) return txt[n];
  throw notFound();
};
const resolver = { resolve, reverse: async () => [], resolve4: async () => [], resolve6: async () => [] } as unknown as MxResolver;

// A typical message: a few headers, a text body of --body-kb KB, DKIM-signed by the author's domain.
const line = 'The quick brown fox jumps over the lazy dog, and the report follows in the next paragraph. \r\n';
const body = line.repeat(Math.ceil((Number(values['body-kb']) * 1024) / line.length));
const plain = Buffer.from(
  `From: Alice <alice@sender.example>\r\nTo: bob@example.org\r\nSubject: Quarterly report\r\nDate: Mon, 07 Dec 2026 08:00:00 +0000\r\nMessage-ID: <r1@sender.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
);
const signing = (domain: string, key: string) => ({ signingDomain: domain, selector: 's1', privateKey: key, signatureData: [{ signingDomain: domain, selector: 's1', privateKey: key }] });
const signed = Buffer.concat([Buffer.from((await mailauth.dkimSign(plain, signing('sender.example', sender.pem))).signatures), plain]);

// The forwarded copy: the list authenticates what it received and seals it (ARC-Seal, ARC-Message-Signature,
// ARC-Authentication-Results, instance 1), adds its own DKIM signature, and sends it on from its own address.
const atList = await mailauth.authenticate(signed, {
  ip: '192.0.2.10',
  helo: 'mail.sender.example',
  sender: 'alice@sender.example',
  mta: 'lists.list.example',
  resolver: resolve as never,
  disableBimi: true,
  seal: { signingDomain: 'list.example', selector: 's1', privateKey: list.pem },
});
const sealed = Buffer.concat([Buffer.from(atList.headers), signed]);
const forwarded = Buffer.concat([Buffer.from((await mailauth.dkimSign(sealed, signing('list.example', list.pem))).signatures), sealed]);

interface Case {
  name: string;
  message: Buffer;
  client: string;
  envelope: string;
  /** Run mailauth directly with ARC off (what ARC adds = the forwarded row minus this one). */
  arcOff?: boolean;
}
const cases: Case[] = [
  { name: 'unsigned (SPF and DMARC; mx hands mailauth the header only)', message: plain, client: '192.0.2.10', envelope: 'alice@sender.example' },
  { name: 'DKIM-signed, no ARC (sent directly)', message: signed, client: '192.0.2.10', envelope: 'alice@sender.example' },
  { name: 'DKIM-signed + one ARC set + list DKIM (forwarded by a list)', message: forwarded, client: '198.51.100.5', envelope: 'bounces@list.example' },
  { name: 'the forwarded message, ARC verification off', message: forwarded, client: '198.51.100.5', envelope: 'bounces@list.example', arcOff: true },
];

async function once(c: Case) {
  if (c.arcOff) {
    const r = await mailauth.authenticate(c.message, { ip: c.client, helo: 'mx.list.example', sender: c.envelope, mta: 'mx.moat.test', resolver: resolve as never, disableBimi: true, disableArc: true });
    return { dmarc: r.dmarc ? r.dmarc.status?.result : undefined, arc: 'off' };
  }
  const r = await authResults({ message: c.message, clientAddress: c.client, helo: 'mx.sender.example', sender: c.envelope, hostname: 'mx.moat.test' }, resolver, 5000);
  if ('error' in r) throw new Error(r.error);
  return { dmarc: r.dmarc, arc: r.dmarcFacts?.arc?.result, dkim: r.dkim, spf: r.spf };
}

console.log(`| message | bytes | results | µs CPU/message | messages/s (one at a time) | DNS questions/message |`);
console.log('|---|---:|---|---:|---:|---:|');
for (let pass = 0; pass < 2; pass++) {
  for (const c of cases) {
    for (let i = 0; i < 50; i++) await once(c); // JIT warm-up
    queries = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let res: Awaited<ReturnType<typeof once>> | undefined;
    for (let i = 0; i < N; i++) res = await once(c);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    if (pass === 1)
      console.log(
        `| ${c.name} | ${c.message.length} | ${JSON.stringify(res)} | ${Math.round((cpu.user + cpu.system) / N)} | ${Math.round(N / secs)} | ${(queries / N).toFixed(1)} |`,
      );
  }
}
