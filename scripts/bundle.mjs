#!/usr/bin/env node
// Bundles the current package's src/main.ts into one ESM file, dist/main.js, for Node 24, and each
// src/*.worker.ts (worker-thread entries) into dist/*.worker.js beside it (with --split, lazily loaded and shared
// code in dist/chunks/). Run from a package directory (its package.json calls `node ../../scripts/bundle.mjs`).
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const cwd = process.cwd();
const entry = join(cwd, 'src/main.ts');
if (!existsSync(entry)) {
  console.error(`bundle: no src/main.ts in ${cwd}`);
  process.exit(1);
}

// stale chunks of an earlier build would otherwise pile up in dist/ (and in the image that copies it)
rmSync(join(cwd, 'dist', 'chunks'), { recursive: true, force: true });
const split = process.argv.includes('--split');
const workers = readdirSync(join(cwd, 'src')).filter((f) => f.endsWith('.worker.ts'));

await build({
  entryPoints: [entry, ...workers.map((f) => join(cwd, 'src', f))],
  outdir: join(cwd, 'dist'),
  entryNames: '[name]',
  bundle: true,
  platform: 'node',
  // --split (the MX): dynamic imports (mailauth at the first message, the DKIM signer at the first signature)
  // become chunks read when first needed: V8 keeps every loaded script's source in the heap, so an idle process
  // holds only what it ran. Code shared by the entries goes to chunks too (each thread loads its own copy).
  // Code moved into dist/chunks/ sees that directory as import.meta.url: only for packages that allow it.
  splitting: split,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  legalComments: 'none',
  // No comments or indentation: V8 keeps a script's whole source in the heap, and one non-ASCII character in a
  // dependency's comment made it UTF-16 (the MX's 6 MB bundle held 11.6 MB per isolate). Names are kept, so
  // stack traces still name functions; the linked source map gives lines (node --enable-source-maps).
  minifyWhitespace: true,
  logLevel: 'warning',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __moatCreateRequire } from 'node:module'; const require = __moatCreateRequire(import.meta.url);",
  },
});
console.log(`bundle: ${['main.js', ...workers.map((f) => f.replace(/\.ts$/, '.js'))].map((f) => join(cwd, 'dist', f)).join(', ')}`);
