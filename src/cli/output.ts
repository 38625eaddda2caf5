// `-o text|json|yaml` for every read command (status, plan, check-inject):
// text for people, JSON and YAML of the same report for scripts.
import { stringify } from 'yaml';
import { CliError } from './errors.js';

export type OutputFormat = 'text' | 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json', 'yaml'];
/** The help text of -o/--output. */
export const OUTPUT_HELP = `output format: ${OUTPUT_FORMATS.join(', ')}`;

export function parseOutputFormat(value: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new CliError(`-o/--output: "${value}" is not a format; use ${OUTPUT_FORMATS.join(', ')}`, 2);
}

/**
 * A report as JSON (indented, or one line for JSON Lines) or YAML; ends with
 * a newline. YAML is written without line folding so long messages stay on
 * one line, and without anchors, so it reads the same as the JSON.
 */
export function renderData(data: unknown, format: 'json' | 'yaml', compactJson = false): string {
  if (format === 'json') return `${JSON.stringify(data, null, compactJson ? undefined : 2)}\n`;
  return stringify(data, { lineWidth: 0, aliasDuplicateObjects: false });
}
