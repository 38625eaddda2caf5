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
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

// The git commit `meshrev version` and meshrev_build_info report: $MESHREV_COMMIT when set (an
// image build without .git passes it), else HEAD with "-dirty" when tracked files differ from it,
// else "unknown" (not a git checkout, or no git).
function gitCommit() {
  if (process.env.MESHREV_COMMIT) return process.env.MESHREV_COMMIT;
  try {
    const git = (...args) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? head : `${head}-dirty`;
  } catch {
    return 'unknown';
  }
}
const commit = gitCommit();

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
  define: { __MESHREV_COMMIT__: JSON.stringify(commit) },
  logLevel: 'warning',
});
console.log(`bundled ${outfile} (${(statSync(outfile).size / 2 ** 20).toFixed(1)} MB, commit ${commit})`);
