// A parsed config for tests and benches: a minimal file through the real schema, with overrides merged after.
// Overrides are in parsed form (durations already ms), so a test states what the apps read, not YAML.
import type { Config } from './schema.ts';
import { deepFreeze, parseConfig } from './load.ts';

type Overrides = { readonly [k: string]: unknown };

const MINIMAL = 'policy: { hostname: mx.example.org }\nrecipients: { domains: [example.org] }\n';

function merge(into: Record<string, unknown>, over: Overrides): void {
  for (const [k, v] of Object.entries(over)) {
    const cur = into[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)) merge(cur as Record<string, unknown>, v as Overrides);
    else into[k] = v;
  }
}

/** The schema's defaults for a one-domain host (`mx.example.org`, `example.org`), `overrides` merged over them. */
export function testConfig(overrides: Overrides = {}): Config {
  const base = structuredClone(parseConfig(MINIMAL)) as unknown as Record<string, unknown>;
  merge(base, overrides);
  return deepFreeze(base) as unknown as Config;
}
