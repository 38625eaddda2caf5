// An earlier meshrev, built from the repository's own history, for tests that
// upgrade a running operator in place. Built once per commit into
// $MESHREV_CACHE/meshrev-<commit>/ (git archive of that commit, the current
// node_modules, tsc and the esbuild bundle, as `make build` does), so only the
// first run pays for it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoPath } from './repo.js';

/**
 * meshrev 0.1.0 as it last stood (main before bounded status): its status.migration lists every
 * namespace the migration selected, whatever its state.
 */
export const RELEASE_0_1_0 = 'cd183dd';


/** The path of the bundle (meshrev.mjs) of `commit`, built if it is not cached yet. */
export function previousReleaseBundle(commit: string): string {
  const root = repoPath('package.json').replace(/\/package\.json$/, '');
  const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  let full: string;
  try {
    full = git('rev-parse', '--verify', `${commit}^{commit}`);
  } catch {
    throw new Error(`commit ${commit} (meshrev 0.1.0) is not in this clone's history: the upgrade test builds it from there; fetch the full history (git fetch --unshallow)`);
  }
  const out = join(cacheDir(), `meshrev-${full.slice(0, 12)}`);
  const bundle = join(out, 'dist', 'meshrev.mjs');
  if (existsSync(bundle)) return bundle;
  const work = `${out}.building-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    console.log(`      building meshrev at ${full.slice(0, 12)} into ${out} (once)`);
    execFileSync('bash', ['-c', `git -C "${root}" archive ${full} | tar -x -C "${work}"`], { stdio: 'inherit' });
    symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: work, stdio: 'inherit' });
    execFileSync(process.execPath, ['hack/bundle.mjs'], { cwd: work, stdio: 'inherit', env: { ...process.env, MESHREV_COMMIT: full } });
    rmSync(out, { recursive: true, force: true });
    renameSync(work, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bundle;
}
