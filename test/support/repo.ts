// Files of the repository, for tests that read its manifests and samples.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A path in the repository, found from the working directory or this file (tests also run from a build directory). */
export function repoPath(rel: string): string {
  const starts = [process.cwd(), dirname(fileURLToPath(import.meta.url))];
  for (const start of starts) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      if (existsSync(join(dir, rel))) return join(dir, rel);
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`cannot find ${rel} above ${starts.join(' or ')}`);
}

/** $MESHREV_CACHE, as the Makefile defaults it: where built tools and clusters are kept. */
export function cacheDir(): string {
  return process.env.MESHREV_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'meshrev');
}
