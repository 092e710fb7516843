// Environment overrides: secrets and addresses that differ per host or container, applied over the file.
// Values are untrusted text like the file's; they go through the same schema afterwards. Secrets may come
// from files instead (`MOAT_REDIS_PASSWORD_FILE=/run/secrets/redis_password`), read here at load time.
import { readFileSync } from 'node:fs';

export interface EnvOverride {
  env: string;
  /** Where the value goes in the config. */
  path: readonly string[];
  /** `ms`: a bare number is milliseconds (the variable's historical unit); units as in the file are kept. */
  kind: 'string' | 'list' | 'int' | 'bool' | 'ms';
  doc: string;
  /** A secret: `<env>_FILE` may name a file holding the value instead (Docker and Swarm secrets). */
  secret?: true;
}

/** Every environment variable moat reads (besides MOAT_CONFIG, the file's path). */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { env: 'MOAT_HOSTNAME', path: ['policy', 'hostname'], kind: 'string', doc: 'our host name (policy.hostname; mx.hostname defaults to it)' },
  { env: 'MOAT_MYNETWORKS', path: ['policy', 'mynetworks'], kind: 'list', doc: 'trusted networks, comma-separated' },
  { env: 'MOAT_DOMAINS', path: ['recipients', 'domains'], kind: 'list', doc: 'hosted domains, comma-separated' },
  { env: 'MOAT_RESOLVER', path: ['dns', 'resolver'], kind: 'string', doc: 'DNS-list resolver host:port' },
  { env: 'MOAT_REDIS_URL', path: ['greylist', 'redis', 'url'], kind: 'string', doc: 'greylist Redis URL (may carry the password); or MOAT_REDIS_URL_FILE, a file holding it', secret: true },
  { env: 'MOAT_REDIS_SENTINELS', path: ['greylist', 'redis', 'sentinels'], kind: 'list', doc: 'Sentinel host:port list, comma-separated' },
  { env: 'MOAT_REDIS_SENTINEL_NAME', path: ['greylist', 'redis', 'name'], kind: 'string', doc: 'Sentinel master name' },
  { env: 'MOAT_REDIS_PASSWORD', path: ['greylist', 'redis', 'password'], kind: 'string', doc: 'Sentinel mode: the Redis master and replicas\' password; or MOAT_REDIS_PASSWORD_FILE', secret: true },
  { env: 'MOAT_REDIS_USERNAME', path: ['greylist', 'redis', 'username'], kind: 'string', doc: 'Sentinel mode: the Redis ACL user' },
  { env: 'MOAT_REDIS_SENTINEL_PASSWORD', path: ['greylist', 'redis', 'sentinel_password'], kind: 'string', doc: 'Sentinel mode: the Sentinels\' own password; or MOAT_REDIS_SENTINEL_PASSWORD_FILE', secret: true },
  { env: 'MOAT_REDIS_SENTINEL_USERNAME', path: ['greylist', 'redis', 'sentinel_username'], kind: 'string', doc: 'Sentinel mode: the Sentinels\' ACL user' },
  { env: 'MOAT_TRUSTED_RELAYS', path: ['mx', 'trusted_relays'], kind: 'list', doc: 'the other moat nodes (CIDRs), whose spam verdict and Authentication-Results are kept' },
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
  { env: 'MOAT_POLICYD_CLIENTS', path: ['policyd', 'clients'], kind: 'list', doc: 'networks policyd serves, comma-separated (default: mynetworks)' },
  { env: 'MOAT_POSTFIX_MAIN_CF', path: ['postfix', 'main_cf'], kind: 'string', doc: 'a Postfix main.cf to import under moat.yaml (postfix.main_cf)' },
  { env: 'MOAT_METRICS_LISTEN', path: ['metrics', 'listen'], kind: 'string', doc: 'Prometheus listener host:port' },
  { env: 'MOAT_QUARANTINE_TOKEN', path: ['quarantine', 'admin_token'], kind: 'string', doc: "the quarantine admin API's token (quarantine.admin_token); or MOAT_QUARANTINE_TOKEN_FILE", secret: true },
  { env: 'MOAT_QUARANTINE_RETENTION', path: ['quarantine', 'retention'], kind: 'string', doc: 'how long quarantined messages are kept (quarantine.retention; a bare number is seconds)' },
  { env: 'MOAT_JOURNAL_PREFIX', path: ['journal', 'prefix'], kind: 'string', doc: 'decision journal Redis key prefix (journal.prefix)' },
  { env: 'MOAT_JOURNAL_MAXLEN', path: ['journal', 'max_len'], kind: 'int', doc: 'decision journal entries kept (journal.max_len)' },
  { env: 'MOAT_JOURNAL_TTL', path: ['journal', 'ttl'], kind: 'string', doc: 'how long journal entries are kept (journal.ttl; a bare number is seconds)' },
  { env: 'MOAT_JOURNAL_TIMEOUT', path: ['journal', 'timeout'], kind: 'ms', doc: 'one journal append\'s budget (journal.timeout; a bare number is ms)' },
  { env: 'MOAT_CONSOLE_LISTEN', path: ['console', 'listen'], kind: 'string', doc: 'web console listener host:port' },
  { env: 'MOAT_CONSOLE_USER', path: ['console', 'user'], kind: 'string', doc: 'web console admin user' },
  { env: 'MOAT_CONSOLE_PASSWORD_HASH', path: ['console', 'password_hash'], kind: 'string', doc: 'web console admin password (scrypt hash); or MOAT_CONSOLE_PASSWORD_HASH_FILE', secret: true },
  { env: 'MOAT_CONSOLE_METRICS', path: ['console', 'metrics'], kind: 'list', doc: 'Prometheus endpoints the console scrapes, comma-separated' },
  { env: 'MOAT_CONSOLE_SECURE_COOKIE', path: ['console', 'secure_cookie'], kind: 'bool', doc: 'add Secure to the console cookie (behind a TLS proxy)' },
  { env: 'MOAT_CONSOLE_POLL_MS', path: ['console', 'poll'], kind: 'ms', doc: 'console page poll interval (console.poll; a bare number is ms)' },
  { env: 'MOAT_CONSOLE_METRICS_LISTEN', path: ['console', 'metrics_listen'], kind: 'string', doc: 'serve the console\'s own /metrics on this host:port' },
];

/**
 * The variables read before or beside the config (never a config value): listed so that this file names every
 * variable moat reads (env.test.ts checks the sources against both lists).
 */
export const PROCESS_ENV: readonly { env: string; doc: string }[] = [
  { env: 'MOAT_CONFIG', doc: 'the config file (default ./moat.yaml)' },
  { env: 'MOAT_LOG_LEVEL', doc: 'pino level (trace, debug, info, warn, error, silent); read by @moat/observe before any config' },
  { env: 'MOAT_DKIM_DIR', doc: '`moat dkim keygen`\'s default directory' },
  { env: 'MOAT_RELOAD_TARGETS', doc: '`moat reload`\'s default targets (the services\' metrics listeners; the stack and cluster set it)' },
  { env: 'MOAT_POLICYD_WORKER_COUNT', doc: 'internal: set by the policyd primary in each worker\'s environment' },
  { env: 'MOAT_MX_NODE_FLAGS', doc: 'internal: set by moat-mx when it starts itself again with its node flags and malloc tunables (apps/mx/src/start-flags.ts); set it to anything to keep node\'s and glibc\'s defaults' },
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
    case 'ms':
      return /^\d+$/.test(raw.trim()) ? `${raw.trim()}ms` : raw;
    case 'bool':
      return /^(1|true|yes|on)$/i.test(raw.trim()) ? true : /^(0|false|no|off)$/i.test(raw.trim()) ? false : raw;
    default:
      return raw;
  }
}

/** A variable that cannot be used (both X and X_FILE, or an unreadable X_FILE); never holds the secret. */
export interface EnvProblem {
  env: string;
  path: readonly string[];
  expected: string;
  found: string;
}

/**
 * A secret's value from `<env>_FILE`: the file's text without its final line break (what `echo pw > file`
 * writes). Undefined when the variable is unset.
 */
function secretFromFile(o: EnvOverride, env: Readonly<Record<string, string | undefined>>, read: (path: string) => string, problems: EnvProblem[]): string | undefined {
  const fileVar = `${o.env}_FILE`;
  const path = env[fileVar];
  if (path === undefined || path === '') return undefined;
  if (env[o.env] !== undefined && env[o.env] !== '') {
    problems.push({ env: fileVar, path: o.path, expected: `one of ${o.env} and ${fileVar}`, found: 'both set' });
    return undefined;
  }
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    problems.push({ env: fileVar, path: o.path, expected: 'a readable file holding the secret', found: `${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}` });
    return undefined;
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '' || /[\r\n]/.test(value)) {
    problems.push({ env: fileVar, path: o.path, expected: 'a file holding one line: the secret', found: value === '' ? `${JSON.stringify(path)}: empty` : `${JSON.stringify(path)}: several lines` });
    return undefined;
  }
  return value;
}

/**
 * Applies the overrides present in `env` to `data` (mutating it). Returns which config paths
 * (dotted) came from which variable, so errors can name the variable instead of the file, and the
 * variables that could not be used.
 */
export function applyEnvOverrides(
  data: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { applied: Record<string, string>; problems: EnvProblem[] } {
  const applied: Record<string, string> = {};
  const problems: EnvProblem[] = [];
  for (const o of ENV_OVERRIDES) {
    const fromFile = o.secret ? secretFromFile(o, env, read, problems) : undefined;
    const raw = fromFile ?? env[o.env];
    if (raw === undefined || raw === '') continue;
    let node: Record<string, unknown> = data;
    for (const key of o.path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1]!] = convert(o.kind, raw);
    applied[o.path.join('.')] = fromFile === undefined ? o.env : `${o.env}_FILE`;
  }
  return { applied, problems };
}
