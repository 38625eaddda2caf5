// The version `meshrev --version` prints: package.json's, read at build time
// (tsc copies the JSON next to the compiled code; esbuild inlines it into the
// bundle, which then needs no package.json at run time).
import pkg from '../../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
