// Benchmark dispatcher: `node dist/bench/run.js <name> [options]`
// (`npm run bench -- injector`). With no name it runs every registered bench.
// Benches print their figures; they are measurements, not pass/fail tests.
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';

export interface Bench {
  /** One line for the list. */
  description: string;
  run(args: string[]): Promise<void>;
}

/** Every bench, loaded on demand so one bench's imports never slow another. Add yours here. */
export const BENCHES: Readonly<Record<string, () => Promise<Bench>>> = {
  injector: async () => (await import('./injector.js')).bench,
};

export async function runBenches(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') {
    console.log(`usage: run.js [name] [options]\nbenches: ${Object.keys(BENCHES).join(', ')}`);
    return 0;
  }
  const names = name === undefined || name.startsWith('-') ? Object.keys(BENCHES) : [name];
  const args = name === undefined || name.startsWith('-') ? argv : rest;
  for (const n of names) {
    const load = BENCHES[n];
    if (!load) {
      console.error(`unknown bench "${n}" (known: ${Object.keys(BENCHES).join(', ')})`);
      return 2;
    }
    const bench = await load();
    console.log(`# ${n}: ${bench.description}`);
    await bench.run(args);
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
