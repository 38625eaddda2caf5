// `meshrev version`: the version, the git commit the bundle was built from
// and the Node.js running it (`meshrev --version` prints the same line).
import type { Command } from 'commander';
import { buildInfo, versionLine } from '../version.js';
import { outputOf } from '../io.js';
import { OUTPUT_HELP, parseOutputFormat, renderData } from '../output.js';

export function register(program: Command): void {
  program
    .command('version')
    .description('Print the version, the git commit it was built from, and the Node.js running it')
    .option('-o, --output <format>', OUTPUT_HELP, 'text')
    .action(function (this: Command, opts: { output: string }) {
      const format = parseOutputFormat(opts.output);
      const info = buildInfo();
      outputOf(this).out(format === 'text' ? `${versionLine(info)}\n` : renderData(info, format));
    });
}
