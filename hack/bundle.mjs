// Bundles the compiled CLI (dist/src/cli/main.js, from tsc) into one minified
// ES module, dist/meshrev.mjs: what the operator Deployment runs and what the
// `meshrev` bin points at.
//
// Why: @kubernetes/client-node's entry point loads every generated API and
// model (61 MB of JavaScript); V8 keeps the source text of every loaded
// module, so the unbundled operator idles at about 150 MB RSS before it
// caches a single object. Bundled, unused API classes are dropped and the
// rest is minified: about 50 MB less RSS and half the heap (README,
// "Benchmarks"). The bundle needs no node_modules at run time.
import { build } from 'esbuild';
import { statSync } from 'node:fs';

const outfile = 'dist/meshrev.mjs';
await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  // Stack traces stay readable with `node --enable-source-maps dist/meshrev.mjs`.
  sourcemap: 'linked',
  legalComments: 'external',
  // CommonJS dependencies (winston, prom-client, ...) call require(); give the ES module one.
  banner: { js: "import { createRequire as __meshrevRequire } from 'node:module'; const require = __meshrevRequire(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`bundled ${outfile} (${(statSync(outfile).size / 2 ** 20).toFixed(1)} MB)`);
