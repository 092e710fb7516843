// The appliance's files checked without Docker: both moat.yaml files load with the addresses compose hands
// the apps, the test profile's addresses agree with each other, and the stack publishes only what it should.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@moat/config';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const COMPOSE = join(import.meta.dirname, '../../../compose');
const read = (f: string) => readFileSync(join(COMPOSE, f), 'utf8');

/** Compose-style interpolation: ${VAR:-default} and ${VAR}. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, dflt?: string) => env[name] ?? dflt ?? '');
}

function testEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of read('test.env').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

interface Service {
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  networks?: Record<string, { ipv4_address: string }>;
  volumes?: string[];
}
/**
 * A service's environment as the config loader sees it on this host: the quarantine token is a secret file
 * only the container has (its wiring is checked on its own below).
 */
const onHost = (env: Record<string, string> | undefined): Record<string, string> => {
  const { MOAT_QUARANTINE_TOKEN_FILE: _inContainer, ...rest } = env ?? {};
  return rest;
};

const stack = (env: Record<string, string>) =>
  parse(interpolate(read('docker-compose.yml'), env), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };

describe('compose/docker-compose.yml', () => {
  const { services, volumes } = stack({});

  it('has the six services, each with a health check', () => {
    expect(Object.keys(services).sort()).toEqual(['console', 'mx', 'policyd', 'redis', 'spamassassin', 'unbound']);
    for (const [name, s] of Object.entries(services)) expect(s.healthcheck?.test, name).toBeDefined();
  });

  it('publishes only SMTP 25, submission 587, and on loopback the console and each app\'s /metrics; not the policy port', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name}:${p}`));
    expect(published.sort()).toEqual([
      'console:127.0.0.1:9467:9465',
      'console:127.0.0.1:9480:9480',
      'mx:127.0.0.1:9465:9465',
      'mx:25:25',
      'mx:587:587',
      'policyd:127.0.0.1:9466:9465',
    ]);
  });

  it('publishes the metrics ports docs/operations.md names in its Prometheus scrape config, and the console serves /metrics', () => {
    const docs = readFileSync(join(COMPOSE, '../docs/operations.md'), 'utf8');
    const block = /```yaml\n(# moat's services on the host's loopback[\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const targets = [...block.matchAll(/targets: \["([\d.:]+)"\]\s+labels: \{ service: (\w+) \}/g)].map((m) => `${m[2]}:${m[1]}:9465`);
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).filter((p) => p.endsWith(':9465')).map((p) => `${name}:${p}`));
    expect(targets.sort()).toEqual(published.sort());
    expect(services.console?.environment?.MOAT_CONSOLE_METRICS_LISTEN).toBe('0.0.0.0:9465');
  });

  it('publishes the policy port only through the opt-in file, on the host loopback by default', () => {
    const optIn = (env: Record<string, string>) =>
      (parse(interpolate(read('docker-compose.policyd-port.yml'), env)) as { services: Record<string, Service> }).services;
    expect(Object.keys(optIn({}))).toEqual(['policyd']);
    expect(optIn({}).policyd?.ports).toEqual(['127.0.0.1:10023:10023']);
    expect(optIn({ MOAT_POLICY_PORT: '192.0.2.10:10023' }).policyd?.ports).toEqual(['192.0.2.10:10023:10023']);
  });

  it('publishes the web ports 80 (ACME HTTP-01) and 443 (MTA-STS host) only through the opt-in file, with a state volume', () => {
    const web = parse(interpolate(read('docker-compose.web-ports.yml'), {})) as { services: Record<string, Service>; volumes: Record<string, unknown> };
    expect(Object.keys(web.services)).toEqual(['mx']);
    expect(web.services.mx?.ports).toEqual(['80:80', '443:443']);
    // the ACME account, key and certificate outlive the container (no new order, the TLSA 3 1 1 key kept)
    expect(web.services.mx?.volumes).toEqual(['mx-state:/var/lib/moat/mx']);
    expect(Object.keys(web.volumes)).toEqual(['mx-state']);
    const moved = parse(interpolate(read('docker-compose.web-ports.yml'), { MOAT_HTTP_PORT: '8080', MOAT_HTTPS_PORT: '8443' })) as { services: Record<string, Service> };
    expect(moved.services.mx?.ports).toEqual(['8080:80', '8443:443']);
  });

  it('refuses the retired MOAT_CONFIG (from the environment or compose/.env) and says what to rename', async () => {
    const { checkRetiredConfigVar, composeDotEnv } = await import('../../../scripts/stack.mjs');
    expect(() => checkRetiredConfigVar({ MOAT_CONFIG: './moat.yaml' }, {})).toThrow(/MOAT_CONFIG=\.\/moat\.yaml \(in the environment\).*compose\/config\/moat\.yaml.*rename MOAT_CONFIG to MOAT_CONFIG_DIR/);
    expect(() => checkRetiredConfigVar({}, { MOAT_CONFIG: 'site.yaml' })).toThrow(/MOAT_CONFIG=site\.yaml \(in compose\/\.env\).*remove MOAT_CONFIG from compose\/\.env/);
    // moved: MOAT_CONFIG_DIR given (either place), MOAT_CONFIG may be a host `moat` run's
    expect(() => checkRetiredConfigVar({ MOAT_CONFIG: './moat.yaml', MOAT_CONFIG_DIR: './site' }, {})).not.toThrow();
    expect(() => checkRetiredConfigVar({}, { MOAT_CONFIG: 'site.yaml', MOAT_CONFIG_DIR: './site' })).not.toThrow();
    expect(() => checkRetiredConfigVar({}, {})).not.toThrow();
    const dir = mkdtempSync(join(tmpdir(), 'moat-dotenv-'));
    try {
      writeFileSync(join(dir, '.env'), '# old layout\nMOAT_CONFIG=./moat.yaml\nMOAT_SMTP_PORT=2525\n');
      expect(composeDotEnv(join(dir, '.env'))).toEqual({ MOAT_CONFIG: './moat.yaml', MOAT_SMTP_PORT: '2525' });
      expect(composeDotEnv(join(dir, 'missing.env'))).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('layers the web ports when moat.yaml serves them (mx.tls.acme or mx.mta_sts), and not otherwise', async () => {
    const { servesWeb, stackOptions } = await import('../../../scripts/stack.mjs');
    expect(servesWeb(read('config/moat.yaml'))).toBe(false);
    expect(servesWeb('mx:\n  tls:\n    acme: { directory: "https://ca.example/dir", email: a@example.org }\n')).toBe(true);
    expect(servesWeb('mx:\n  mta_sts: { mode: enforce }\n')).toBe(true);
    expect(servesWeb('mx: [unclosed')).toBe(false);
    expect(stackOptions().files).toEqual(['docker-compose.yml']);
    const saved = process.env.MOAT_PUBLISH_WEB;
    process.env.MOAT_PUBLISH_WEB = '1';
    try {
      expect(stackOptions().files).toEqual(['docker-compose.yml', 'docker-compose.web-ports.yml']);
      // never in the test profile: it publishes ephemeral loopback ports only
      expect(stackOptions({ test: true }).files).not.toContain('docker-compose.web-ports.yml');
    } finally {
      if (saved === undefined) delete process.env.MOAT_PUBLISH_WEB;
      else process.env.MOAT_PUBLISH_WEB = saved;
    }
  });

  it('builds every image in Docker from the repo: the node services as targets of compose/app/Dockerfile, base images as arguments', () => {
    const raw = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { build?: { context: string; dockerfile: string; target?: string; args?: Record<string, string> } }> };
    const dockerfile = read('app/Dockerfile');
    const variable = (name: string, dflt: string) => `$${'{'}${name}:-${dflt}}`; // compose's ${NAME:-default}, uninterpolated
    const base = variable('MOAT_BASE_IMAGE', 'debian:bookworm-slim');
    for (const name of ['mx', 'policyd', 'console']) {
      const b = raw.services[name]?.build;
      expect(b, name).toMatchObject({ context: '..', dockerfile: 'compose/app/Dockerfile', target: name });
      expect(b?.args).toEqual({ BASE: base, BUILD_BASE: variable('MOAT_BUILD_BASE_IMAGE', 'node:24-bookworm-slim') });
      expect(dockerfile).toMatch(new RegExp(`^FROM runtime AS ${name}$`, 'm'));
    }
    for (const name of ['unbound', 'redis', 'spamassassin']) expect(raw.services[name]?.build?.args, name).toEqual({ BASE: base });
    // install and bundle happen inside the build; nothing the host built is sent (.dockerignore)
    expect(dockerfile).toMatch(/ npm ci --cache /);
    expect(dockerfile).toMatch(/npm run build -w @moat\/mx -w @moat\/policyd -w @moat\/console -w @moat\/cli/);
    const ignore = readFileSync(join(COMPOSE, '../.dockerignore'), 'utf8');
    expect(ignore).toMatch(/^\*\*\/node_modules$/m);
    expect(ignore).toMatch(/^\*\*\/dist$/m);
  });

  it('starts the apps only once what they use is healthy', () => {
    expect(services.mx?.depends_on).toEqual({
      unbound: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      spamassassin: { condition: 'service_healthy' },
    });
    expect(services.policyd?.depends_on).toEqual({ unbound: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
  });

  it('mounts the config as a directory (an editor replacing moat.yaml is seen by a reload), in every service that reads it', () => {
    for (const name of ['mx', 'policyd', 'console']) {
      expect(services[name]?.volumes, name).toContain('./config:/etc/moat/conf:ro');
      expect(JSON.stringify(services[name]?.volumes), name).not.toContain('moat.yaml');
    }
    const dockerfile = read('app/Dockerfile');
    expect(dockerfile).toContain('ln -s conf/moat.yaml /etc/moat/moat.yaml');
    // no config baked in: an image started without the mount stops on "no such file", never runs an example
    expect(dockerfile).not.toMatch(/^(COPY|ADD)\b.*moat[^/\s]*\.yaml/m);
    const cluster = parse(interpolate(read('docker-compose.cluster.yml'), {}), { merge: true }) as { services: Record<string, Service> };
    for (const name of ['mx1', 'mx2', 'mx3']) expect(cluster.services[name]?.volumes, name).toContain('./cluster/config:/etc/moat/conf:ro');
    expect(read('stack.swarm.yml')).toContain('target: /etc/moat/conf/moat.yaml');
    expect(read('stack.swarm.yml')).toContain('file: ./cluster/config/moat.yaml');
  });

  it('points every service at the mounted file (/etc/moat/conf/moat.yaml), never at the /etc/moat/moat.yaml an older image baked in', () => {
    const files = ['app/Dockerfile', 'docker-compose.yml', 'docker-compose.cluster.yml', 'docker-compose.test.yml', 'stack.swarm.yml'];
    let uses = 0;
    for (const f of files) {
      const text = read(f);
      for (const m of text.matchAll(/(--config"?,?\s*"?|MOAT_CONFIG[=:]\s*)(\S+?)["\s]/g)) {
        expect(m[2], `${f}: ${m[0]}`).toBe('/etc/moat/conf/moat.yaml');
        uses++;
      }
    }
    // mx and policyd in the Dockerfile and docker-compose.yml, the console's MOAT_CONFIG in both, the cluster's,
    // the test profile's remote and Swarm's mx
    expect(uses).toBe(9);
  });

  it('mounts the DKIM keys directory read-only where `moat dkim keygen` puts them, into mx alone (the one that signs)', () => {
    expect(services.mx?.volumes).toContain('./secrets/dkim:/etc/moat/dkim:ro');
    for (const [name, s] of Object.entries(services)) if (name !== 'mx') expect(JSON.stringify(s.volumes ?? []), name).not.toContain('dkim');
  });

  it('keeps the queue, the maildir and Redis data in named volumes', () => {
    expect(Object.keys(volumes).sort()).toEqual(['maildir', 'queue', 'redis-data']);
    expect(services.mx?.volumes).toEqual(expect.arrayContaining(['queue:/var/spool/moat', 'maildir:/var/lib/moat/maildir']));
    expect(services.redis?.volumes).toEqual(['redis-data:/data']);
  });

  it('hands the apps addresses that match the services on the network', () => {
    const env = services.mx?.environment ?? {};
    expect(env.MOAT_RESOLVER).toBe(`${services.unbound?.networks?.moat?.ipv4_address}:53`);
    expect(env.MOAT_REDIS_URL).toBe(`redis://${services.redis?.networks?.moat?.ipv4_address}:6379`);
    expect(env.MOAT_SPAMD_HOST).toBe(services.spamassassin?.networks?.moat?.ipv4_address);
    expect(services.policyd?.environment).toEqual(onHost(env));
    // the quarantine admin API's token: a secret for mx (which serves the API) and the console (which asks it)
    for (const app of ['mx', 'console'] as const) {
      expect(services[app]?.environment?.MOAT_QUARANTINE_TOKEN_FILE, app).toBe('/run/secrets/quarantine_token');
      expect((services[app] as Service & { secrets?: string[] })?.secrets, app).toContain('quarantine_token');
    }
    expect((services.policyd as Service & { secrets?: string[] })?.secrets ?? []).not.toContain('quarantine_token');
    // spamd's own DNS tests go to the same Unbound
    expect(services.spamassassin?.environment?.MOAT_SPAMD_DNS).toBe(services.unbound?.networks?.moat?.ipv4_address);
  });
});

describe('compose/stack.swarm.web-ports.yml', () => {
  it('publishes 80 and 443 in host mode on every mx node, each with its own state volume', () => {
    const web = parse(read('stack.swarm.web-ports.yml')) as { services: Record<string, { ports: { target: number; published: number; mode: string }[]; volumes: string[] }>; volumes: Record<string, unknown> };
    const swarm = parse(read('stack.swarm.yml'), { merge: true }) as { services: Record<string, unknown> };
    expect(Object.keys(web.services)).toEqual(Object.keys(swarm.services).filter((n) => /^mx\d$/.test(n)));
    for (const [name, s] of Object.entries(web.services)) {
      expect(s.ports, name).toEqual([
        { target: 80, published: 80, protocol: 'tcp', mode: 'host' },
        { target: 443, published: 443, protocol: 'tcp', mode: 'host' },
      ]);
      expect(s.volumes).toEqual([`${name}-state:/var/lib/moat/mx`]);
    }
    expect(Object.keys(web.volumes)).toEqual(['mx1-state', 'mx2-state', 'mx3-state']);
  });
});

describe('compose/config/moat.yaml (production)', () => {
  it('loads with the environment the compose file sets', () => {
    const env = onHost(stack({}).services.mx?.environment);
    const c = loadConfig(join(COMPOSE, 'config/moat.yaml'), { env });
    expect(c.dns.resolver).toBe('172.29.25.53:53');
    expect(c.mx.tls.cert).toBe('/run/secrets/tls_cert');
    // a mounted directory, so `moat user` edits (a rename) reach the running mx without a restart
    expect(c.mx.auth.users_file).toBe('/run/moat/auth/users');
    expect(stack({}).services.mx?.volumes).toContain('./secrets/auth:/run/moat/auth:ro');
    expect(c.queue.transport).toBe('maildir:/var/lib/moat/maildir');
    expect(c.policyd.listen).toBe('0.0.0.0:10023');
    // unset: policyd serves mynetworks, which keeps loopback for the container's healthcheck
    expect(c.policyd.clients).toBeUndefined();
    expect(c.policy.mynetworks).toContain('127.0.0.0/8');
    expect(c.mx.xclient.trusted_networks).toEqual([]);
  });
});

describe('test profile', () => {
  const env = testEnv();
  const net = env.MOAT_NET ?? '';

  it('loads compose/config-test/moat.yaml, trusting XCLIENT from the test network only', () => {
    const c = loadConfig(join(COMPOSE, 'config-test/moat.yaml'), { env: onHost(stack(env).services.mx?.environment) });
    expect(c.dns.resolver).toBe(`${net}.53:53`);
    // policyd serves the host (through the published port, from the gateway) and loopback; not the mx container
    expect(c.policyd.clients).toEqual(['127.0.0.0/8', `${net}.1/32`]);
    expect(c.mx.xclient.trusted_networks).toEqual([`${net}.0/24`]);
    // packages/e2e/test/seed.test.ts waits this long for the greylist
    expect(c.greylist.delay).toBe(5000);
  });

  it('publishes only ephemeral loopback ports (the policy port through the opt-in file)', () => {
    const s = stack(env).services;
    const optIn = parse(interpolate(read('docker-compose.policyd-port.yml'), env)) as { services: Record<string, Service> };
    expect(optIn.services.policyd?.ports).toEqual(['127.0.0.1::10023']);
    for (const p of [...(s.mx?.ports ?? []), ...(optIn.services.policyd?.ports ?? [])]) expect(p).toMatch(/^127\.0\.0\.1:0?:\d+$/);
    expect(s.console?.ports).toEqual(['127.0.0.1:0:9480', '127.0.0.1:0:9465']); // 0: Docker picks a free port
    expect(s.policyd?.ports).toEqual(['127.0.0.1:0:9465']);
    const override = parse(interpolate(read('docker-compose.test.yml'), env)) as { services: Record<string, Service> };
    expect(override.services.spamassassin?.ports).toEqual(['127.0.0.1::783']);
  });

  it("names the remote MX's fixed address in the test Unbound (remote.moat.test's MX), and mounts its own config", () => {
    const override = parse(interpolate(read('docker-compose.test.yml'), env)) as { services: Record<string, Service & { command?: string[] }> };
    const remote = override.services.remote;
    const addr = remote?.networks?.moat?.ipv4_address;
    expect(addr).toBe(`${net}.26`);
    const conf = read('unbound/unbound.test.conf');
    expect(conf).toContain('local-data: "remote.moat.test. 300 IN MX 10 mx.remote.moat.test."');
    expect(conf).toContain(`local-data: "mx.remote.moat.test. 300 IN A ${addr}"`);
    expect(remote?.ports).toBeUndefined();
    expect(remote?.volumes).toEqual(['./remote/moat.remote.yaml:/etc/moat/conf/moat.yaml:ro']);
    const c = loadConfig(join(COMPOSE, 'remote/moat.remote.yaml'), { env: remote?.environment ?? {} });
    expect(c.dns.resolver).toBe(`${net}.53:53`);
    expect(c.recipients.catch_all).toEqual(['remote.moat.test']);
  });

  it('signs as moat.test with the key the suite generates into the mounted secrets (secrets-test/dkim)', () => {
    const c = loadConfig(join(COMPOSE, 'config-test/moat.yaml'), { env: onHost(stack(env).services.mx?.environment) });
    expect(c.queue.dkim).toEqual([{ domain: 'moat.test', selector: 'default', key: '/etc/moat/dkim/moat.test.default.pem' }]);
    expect(stack(env).services.mx?.volumes).toContain('./secrets-test/dkim:/etc/moat/dkim:ro');
    expect(read('unbound/unbound.test.conf')).toContain('include: "/etc/unbound/moat-test-records/*.conf"');
  });

  it('puts a password on the test Redis and hands the apps its URL as a secret file, never in the environment', () => {
    const override = parse(interpolate(read('docker-compose.test.yml'), env), { merge: true }) as {
      services: Record<string, Service & { secrets?: string[] }>;
      secrets: Record<string, { file: string }>;
    };
    const s = override.services;
    expect(s.redis?.secrets).toEqual(['redis_password']);
    expect(s.redis?.environment).toEqual({ MOAT_REDIS_PASSWORD_FILE: '/run/secrets/redis_password' });
    for (const app of ['mx', 'policyd', 'console']) {
      expect(s[app]?.environment, app).toMatchObject({ MOAT_REDIS_URL: '', MOAT_REDIS_URL_FILE: '/run/secrets/redis_url' });
      expect(s[app]?.secrets, app).toEqual(['redis_url']);
    }
    // the console's admin hash comes from test.env's variable alone (a secret is one of VAR and VAR_FILE)
    expect(s.console?.environment?.MOAT_CONSOLE_PASSWORD_HASH_FILE).toBe('');
    expect(override.secrets.redis_url?.file).toBe('./secrets-test/redis-url');
  });

  it("points Unbound's test stub zone at the rbldnsd container's fixed address", () => {
    const override = parse(interpolate(read('docker-compose.test.yml'), env)) as { services: Record<string, Service> };
    const rbldnsd = override.services.rbldnsd?.networks?.moat?.ipv4_address;
    expect(rbldnsd).toBe(`${net}.54`);
    expect(read('unbound/unbound.test.conf')).toMatch(new RegExp(`stub-addr:\\s*${rbldnsd?.replaceAll('.', '\\.')}@53`));
  });

  it('serves the RFC 5782 test points in every test zone', () => {
    for (const z of ['bl', 'wl', 'wl2']) expect(read(`rbldnsd/zones/${z}`), z).toMatch(/^127\.0\.0\.2$/m);
    expect(read('rbldnsd/zones/rhsbl')).toMatch(/^test$/m);
  });
});

describe('moat reload reaches every service (MOAT_RELOAD_TARGETS)', () => {
  /** The metrics listeners a service's MOAT_RELOAD_TARGETS names, by name. */
  const targets = (s: Service | undefined) =>
    Object.fromEntries((s?.environment?.MOAT_RELOAD_TARGETS ?? '').split(',').filter(Boolean).map((t) => t.split('=') as [string, string]));

  it('the stack: mx names mx and policyd at their own addresses', () => {
    const { services } = stack({});
    const t = targets(services.mx);
    expect(Object.keys(t).sort()).toEqual(['mx', 'policyd']);
    expect(t.mx).toBe(`http://${services.mx?.networks?.moat?.ipv4_address}:9465`);
    expect(t.policyd).toBe(`http://${services.policyd?.networks?.moat?.ipv4_address}:9465`);
  });

  it('the cluster and the swarm: every node names all three nodes', () => {
    const cluster = parse(read('docker-compose.cluster.yml'), { merge: true }) as { services: Record<string, Service> };
    const swarm = parse(read('stack.swarm.yml'), { merge: true }) as { services: Record<string, Service> };
    for (const { services } of [cluster, swarm]) {
      const nodes = Object.keys(services).filter((n) => /^mx\d$/.test(n));
      expect(nodes).toEqual(['mx1', 'mx2', 'mx3']);
      for (const n of nodes) expect(Object.keys(targets(services[n]))).toEqual(nodes);
    }
  });
});
