// What build this is: package.json's version (read at build time: tsc copies
// the JSON next to the compiled code, esbuild inlines it into the bundle) and
// the git commit hack/bundle.mjs bakes into the bundle (esbuild `define`).
// Run unbundled (dist/src, tests) or built outside a git checkout, the
// commit is "unknown".
import pkg from '../../package.json' with { type: 'json' };

declare const __MESHREV_COMMIT__: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof __MESHREV_COMMIT__ === 'string' && __MESHREV_COMMIT__ !== '' ? __MESHREV_COMMIT__ : 'unknown';

export interface BuildInfo {
  version: string;
  commit: string;
  /** The Node.js running the code (process.version). */
  node: string;
}

export function buildInfo(node: string = process.version): BuildInfo {
  return { version: VERSION, commit: COMMIT, node };
}

/** One line: `meshrev 0.1.0 (commit 4750839c0f1e, node v20.20.2)`. */
export function versionLine(info: BuildInfo = buildInfo()): string {
  return `meshrev ${info.version} (commit ${info.commit}, node ${info.node})`;
}
