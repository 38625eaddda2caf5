// Benchmark dispatcher: `node dist/bench/run.js <name> [options]`
// (`npm run bench -- injector`). With no name it runs every registered bench,
// each in its short form (its quickArgs, then the options given).
// Benches print their figures; they are measurements, not pass/fail tests.
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';

export interface Bench {
  /** One line for the list. */
  description: string;
  /** Prepended to the options when every bench runs (no name given), to keep that run short. */
  quickArgs?: string[];
  run(args: string[]): Promise<void>;
}

/** Every bench, loaded on demand so one bench's imports never slow another. Add yours here. */
export const BENCHES: Readonly<Record<string, () => Promise<Bench>>> = {
  injector: async () => (await import('./injector.js')).bench,
  migration: async () => (await import('./migration.js')).bench,
  reconcile: async () => (await import('./reconcile.js')).bench,
};

export async function runBenches(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') {
    console.log(`usage: run.js [name] [options]\nbenches: ${Object.keys(BENCHES).join(', ')}`);
    return 0;
  }
  const all = name === undefined || name.startsWith('-');
  const names = all ? Object.keys(BENCHES) : [name];
  const args = all ? argv : rest;
  for (const n of names) {
    const load = BENCHES[n];
    if (!load) {
      console.error(`unknown bench "${n}" (known: ${Object.keys(BENCHES).join(', ')})`);
      return 2;
    }
    const bench = await load();
    console.log(`# ${n}: ${bench.description}`);
    await bench.run(all ? [...(bench.quickArgs ?? []), ...args] : args);
  }
  return 0;
}

const script = process.argv[1];
if (script && import.meta.url === pathToFileURL(realpathSync(script)).href) {
  runBenches(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
