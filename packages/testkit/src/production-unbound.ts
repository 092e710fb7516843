// The production resolver (compose/unbound/unbound.conf) run on loopback against a simulated Internet: only
// what loopback and the test hierarchy require is replaced, every other line is the file as shipped.
// Trusts the production file and the simulated Internet's root hints and trust anchor.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, spawnDaemon, tmpDir, waitForPort } from './process.ts';

export interface ProductionUnbound {
  server: string;
  port: number;
  /** The config as run (the production file with the replacements below). */
  config: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * The replacements, each with why. Everything else (access-control, DNSSEC hardening, caching, qname
 * minimisation, serve-expired...) is the production file unchanged.
 */
export function productionUnboundConfig(production: string, o: { dir: string; port: number; trustAnchor?: string | undefined }): string {
  const replace = (re: RegExp, line: string) => {
    if (!re.test(production)) throw new Error(`production unbound.conf: expected a line matching ${re}`);
    production = production.replace(re, line);
  };
  // loopback and a free port instead of every interface at 53 (a container's view)
  replace(/^ {4}interface: 0\.0\.0\.0$/m, '    interface: 127.0.0.1');
  replace(/^ {4}port: 53$/m, `    port: ${o.port}`);
  // no privilege drop and the test's own directory (the image has an unbound user and /etc/unbound)
  replace(/^ {4}username: "unbound"$/m, '    username: ""');
  replace(/^ {4}directory: "\/etc\/unbound"$/m, `    directory: "${o.dir}"`);
  // the test root's key instead of the real root's (written by the test; RFC 5011 state kept beside it)
  replace(
    /^ {4}auto-trust-anchor-file: "\/var\/lib\/unbound\/root\.key"$/m,
    o.trustAnchor ? `    auto-trust-anchor-file: "${o.dir}/root.key"` : '    # (no trust anchor: this run does not validate)',
  );
  // the simulated Internet: its root hints, and its servers live on loopback (which Unbound refuses to ask by default)
  replace(/^server:$/m, ['server:', '    root-hints: "root.hints"', '    do-not-query-localhost: no', '    pidfile: ""'].join('\n'));
  return production;
}

export async function startProductionUnbound(o: {
  /** compose/unbound/unbound.conf's path. */
  productionConf: string;
  rootHints: string;
  trustAnchor?: string | undefined;
  /** More `server:` lines (e.g. verbosity for a failing test). */
  extra?: string[];
}): Promise<ProductionUnbound> {
  const dir = await tmpDir('unbound-prod');
  const port = await freePort();
  let config = productionUnboundConfig(await readFile(o.productionConf, 'utf8'), { dir: dir.path, port, trustAnchor: o.trustAnchor });
  if (o.extra?.length) config = config.replace(/^server:$/m, `server:\n${o.extra.map((l) => `    ${l}`).join('\n')}`);
  await writeFile(join(dir.path, 'root.hints'), o.rootHints);
  if (o.trustAnchor) await writeFile(join(dir.path, 'root.key'), `${o.trustAnchor}\n`);
  const file = join(dir.path, 'unbound.conf');
  await writeFile(file, config);
  const d = spawnDaemon('unbound', ['-d', '-p', '-c', file]);
  try {
    await waitForPort(port, '127.0.0.1', 20_000);
  } catch (e) {
    await d.stop();
    await dir.remove();
    throw new Error(`unbound (production config) did not start: ${String(e)}\n${d.output()}\n${config}`);
  }
  return {
    server: `127.0.0.1:${port}`,
    port,
    config,
    output: () => d.output(),
    async stop() {
      await d.stop();
      await dir.remove();
    },
  };
}
