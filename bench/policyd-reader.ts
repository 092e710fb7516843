// Micro-benchmark of policyd's request reader (apps/policyd/src/protocol.ts) in two trees, in one process, rounds
// alternating: CPU µs per request and young-generation collections (scavenges) per 200,000 requests.
//   npm exec -- node --max-semi-space-size=8 bench/policyd-reader.ts --b TREE [--a TREE (default: this tree)] [--rounds 6] [--requests 200000]
// Requests are Postfix 3.x RCPT requests with every attribute (SMTPD_POLICY_README), 1,000 distinct ones cycled,
// each handed over as one chunk, as Postfix writes a request at once. Scavenges are counted by a PerformanceObserver
// ('gc' entries of the minor kind): allocation, independent of the machine's load. The young generation grows over
// the first rounds (fewer scavenges after): compare rounds 3 on. A row per tree per round; node flags as policyd's.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    a: { type: 'string', default: root },
    b: { type: 'string' },
    rounds: { type: 'string', default: '6' },
    requests: { type: 'string', default: '200000' },
  },
});
if (!values.b) {
  console.error('bench/policyd-reader: --b TREE is required (e.g. a checkout of main)');
  process.exit(2);
}

interface Reader {
  push(chunk: Buffer): Array<{ kind: string }>;
}
type ReaderClass = new (limits?: object) => Reader;

const commitOf = (tree: string) => {
  const head = execFileSync('git', ['-C', tree, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['-C', tree, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
  return `${head}${dirty ? '+uncommitted' : ''}`;
};

const trees: Array<{ name: string; Reader: ReaderClass }> = [];
for (const [name, tree] of [
  ['A', values.a],
  ['B', values.b],
] as const) {
  const mod = (await import(join(resolve(tree), 'apps/policyd/src/protocol.ts'))) as { RequestReader: ReaderClass };
  trees.push({ name: `${name} ${tree} @ ${commitOf(tree)}`, Reader: mod.RequestReader });
}

const requests = Array.from({ length: 1000 }, (_, i) =>
  Buffer.from(
    `${[
      'request=smtpd_access_policy',
      'protocol_state=RCPT',
      'protocol_name=ESMTP',
      `client_address=198.51.${i % 200}.${(i * 7) % 250}`,
      `client_name=mail${i}.example.net`,
      `reverse_client_name=mail${i}.example.net`,
      `helo_name=mail${i}.example.net`,
      `sender=user${i}@example.net`,
      `recipient=rcpt${i % 50}@example.org`,
      'recipient_count=0',
      `queue_id=`,
      `instance=${(0x1234 + i).toString(16)}.6752f0a1.5c2a.0`,
      'size=12345',
      'etrn_domain=',
      'stress=',
      'sasl_method=',
      'sasl_username=',
      'sasl_sender=',
      'ccert_subject=',
      'ccert_issuer=',
      'ccert_fingerprint=',
      'ccert_pubkey_fingerprint=',
      'encryption_protocol=TLSv1.3',
      'encryption_cipher=TLS_AES_256_GCM_SHA384',
      'encryption_keysize=256',
      `client_port=${40000 + i}`,
      'policy_context=',
      'server_address=192.0.2.25',
      'server_port=25',
      'compatibility_level=3.6',
      'mail_version=3.7.11',
    ].join('\n')}\n\n`,
  ),
);

let scavenges = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
});
obs.observe({ entryTypes: ['gc'] });
/** Let the observer's queued entries arrive. */
const settle = () => new Promise((r) => setTimeout(r, 50));

function run(Reader: ReaderClass, n: number): number {
  const reader = new Reader();
  let got = 0;
  for (let i = 0; i < n; i++) got += reader.push(requests[i % requests.length]!).length;
  if (got !== n) throw new Error(`read ${got} requests of ${n}`);
  return got;
}

const n = Number(values.requests);
for (const t of trees) run(t.Reader, 50_000); // JIT
console.log(`${new Date().toISOString()}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`| tree | round | CPU µs/request | scavenges per ${n.toLocaleString('en')} requests |`);
console.log('|---|---:|---:|---:|');
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const t of round % 2 === 1 ? trees : [...trees].reverse()) {
    await settle();
    const g0 = scavenges;
    const c0 = process.cpuUsage();
    run(t.Reader, n);
    const c = process.cpuUsage(c0);
    await settle();
    console.log(`| ${t.name} | ${round} | ${((c.user + c.system) / n).toFixed(2)} | ${scavenges - g0} |`);
  }
}
obs.disconnect();
