// Environment overrides: secrets and addresses that differ per host or container, applied over the file.
// Values are untrusted text like the file's; they go through the same schema afterwards.

export interface EnvOverride {
  env: string;
  /** Where the value goes in the config. */
  path: readonly string[];
  kind: 'string' | 'list' | 'int' | 'bool';
  doc: string;
}

/** Every environment variable moat reads (besides MOAT_CONFIG, the file's path). */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { env: 'MOAT_HOSTNAME', path: ['policy', 'hostname'], kind: 'string', doc: 'our host name (policy.hostname; mx.hostname defaults to it)' },
  { env: 'MOAT_MYNETWORKS', path: ['policy', 'mynetworks'], kind: 'list', doc: 'trusted networks, comma-separated' },
  { env: 'MOAT_DOMAINS', path: ['recipients', 'domains'], kind: 'list', doc: 'hosted domains, comma-separated' },
  { env: 'MOAT_RESOLVER', path: ['dns', 'resolver'], kind: 'string', doc: 'DNS-list resolver host:port' },
  { env: 'MOAT_REDIS_URL', path: ['greylist', 'redis', 'url'], kind: 'string', doc: 'greylist Redis URL (may carry the password)' },
  { env: 'MOAT_REDIS_SENTINELS', path: ['greylist', 'redis', 'sentinels'], kind: 'list', doc: 'Sentinel host:port list, comma-separated' },
  { env: 'MOAT_REDIS_SENTINEL_NAME', path: ['greylist', 'redis', 'name'], kind: 'string', doc: 'Sentinel master name' },
  { env: 'MOAT_REDIS_PASSWORD', path: ['greylist', 'redis', 'password'], kind: 'string', doc: 'Sentinel mode: the Redis master and replicas\' password' },
  { env: 'MOAT_REDIS_USERNAME', path: ['greylist', 'redis', 'username'], kind: 'string', doc: 'Sentinel mode: the Redis ACL user' },
  { env: 'MOAT_REDIS_SENTINEL_PASSWORD', path: ['greylist', 'redis', 'sentinel_password'], kind: 'string', doc: 'Sentinel mode: the Sentinels\' own password' },
  { env: 'MOAT_REDIS_SENTINEL_USERNAME', path: ['greylist', 'redis', 'sentinel_username'], kind: 'string', doc: 'Sentinel mode: the Sentinels\' ACL user' },
  { env: 'MOAT_SMTP_LISTEN', path: ['mx', 'listen', 'smtp'], kind: 'list', doc: 'port-25 listeners, comma-separated host:port' },
  { env: 'MOAT_SUBMISSION_LISTEN', path: ['mx', 'listen', 'submission'], kind: 'list', doc: 'port-587 listeners, comma-separated host:port' },
  { env: 'MOAT_TLS_CERT', path: ['mx', 'tls', 'cert'], kind: 'string', doc: 'TLS certificate chain (PEM path)' },
  { env: 'MOAT_TLS_KEY', path: ['mx', 'tls', 'key'], kind: 'string', doc: 'TLS private key (PEM path)' },
  { env: 'MOAT_AUTH_USERS_FILE', path: ['mx', 'auth', 'users_file'], kind: 'string', doc: 'SASL users file' },
  { env: 'MOAT_SPAMD_HOST', path: ['spamd', 'host'], kind: 'string', doc: 'spamd host' },
  { env: 'MOAT_SPAMD_PORT', path: ['spamd', 'port'], kind: 'int', doc: 'spamd port' },
  { env: 'MOAT_QUEUE_DIR', path: ['queue', 'dir'], kind: 'string', doc: 'spool directory' },
  { env: 'MOAT_QUEUE_TRANSPORT', path: ['queue', 'transport'], kind: 'string', doc: 'delivery transport (maildir:/path, lmtp://h:p, smtp://h:p)' },
  { env: 'MOAT_POLICYD_LISTEN', path: ['policyd', 'listen'], kind: 'string', doc: 'policy server listener host:port' },
  { env: 'MOAT_METRICS_LISTEN', path: ['metrics', 'listen'], kind: 'string', doc: 'Prometheus listener host:port' },
];

function convert(kind: EnvOverride['kind'], raw: string): unknown {
  switch (kind) {
    case 'list':
      return raw
        .split(/[,\s]+/)
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'int':
      return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'bool':
      return /^(1|true|yes|on)$/i.test(raw.trim()) ? true : /^(0|false|no|off)$/i.test(raw.trim()) ? false : raw;
    default:
      return raw;
  }
}

/**
 * Applies the overrides present in `env` to `data` (mutating it). Returns which config paths
 * (dotted) came from which variable, so errors can name the variable instead of the file.
 */
export function applyEnvOverrides(data: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const applied: Record<string, string> = {};
  for (const o of ENV_OVERRIDES) {
    const raw = env[o.env];
    if (raw === undefined || raw === '') continue;
    let node: Record<string, unknown> = data;
    for (const key of o.path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1]!] = convert(o.kind, raw);
    applied[o.path.join('.')] = o.env;
  }
  return applied;
}
