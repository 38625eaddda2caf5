// The helm binary hack/helm/build.sh builds (version pinned by hack/helm/go.mod), if it is built.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoPath } from './repo.js';

export function helmVersion(): string {
  const m = /^\s*helm\.sh\/helm\/v4 v([0-9][^\s]*)/m.exec(readFileSync(repoPath('hack/helm/go.mod'), 'utf8'));
  if (!m) throw new Error('hack/helm/go.mod does not require helm.sh/helm/v4');
  return m[1]!;
}


/** The cached helm, or undefined when hack/helm/build.sh has not built it yet. */
export function cachedHelm(): string | undefined {
  const bin = join(cacheDir(), `helm-v${helmVersion()}`, 'helm');
  return existsSync(bin) ? bin : undefined;
}

/** Builds helm if needed (a cold build takes minutes; see README) and returns its path. */
export function buildHelm(): string {
  const out = execFileSync(repoPath('hack/helm/build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const bin = /^HELM=(.+)$/m.exec(out)?.[1];
  if (!bin) throw new Error(`hack/helm/build.sh printed no HELM= line: ${out}`);
  return bin;
}

/** Runs helm; rejects with its stderr. */
export function helm(bin: string, args: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  } catch (err) {
    throw new Error(`helm ${args.join(' ')} failed: ${String((err as { stderr?: string }).stderr ?? err)}`, { cause: err });
  }
}
