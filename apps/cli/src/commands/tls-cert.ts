// Which certificate mx presents now, for `moat tls policy` and `moat tls check` (a TLSA record is made from it).
// Reads only the config's paths; whether the file exists decides between the ACME and the self-signed pair.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Config } from '@moat/config';

const fromConfig = (config: Config, p: string) => (isAbsolute(p) ? p : resolve(dirname(config.source.file), p));

/** The certificate mx presents now: the configured one, the ACME one once issued, else the self-signed pair it generated. */
export function currentCertPath(config: Config): string {
  if (config.mx.tls.cert) return fromConfig(config, config.mx.tls.cert);
  const state = fromConfig(config, config.mx.tls.state_dir);
  if (config.mx.tls.acme && existsSync(join(state, 'acme', 'fullchain.pem'))) return join(state, 'acme', 'fullchain.pem');
  return join(state, 'selfsigned.crt');
}

