#!/usr/bin/env node
// Bundles the current package's src/main.ts into one ESM file, dist/main.js, for Node 24.
// Run from a package directory (its package.json calls `node ../../scripts/bundle.mjs`).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const cwd = process.cwd();
const entry = join(cwd, 'src/main.ts');
if (!existsSync(entry)) {
  console.error(`bundle: no src/main.ts in ${cwd}`);
  process.exit(1);
}

await build({
  entryPoints: [entry],
  outfile: join(cwd, 'dist/main.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __moatCreateRequire } from 'node:module'; const require = __moatCreateRequire(import.meta.url);",
  },
});
console.log(`bundle: ${join(cwd, 'dist/main.js')}`);
