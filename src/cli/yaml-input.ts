// Reading the YAML files commands are given (-f, --webhooks): text only,
// parsed in linear time, and said clearly when it is not what was expected.
//
// Why not plain parseAllDocuments: the `yaml` package checks each mapping key
// against every key before it (uniqueKeys), which is quadratic in the size of
// a mapping: a 0.7 MB mapping took 25 s, and `plan -f` on 5.6 MB gave no
// answer in 120 s (issue 17). Duplicates are found in linear time instead
// (src/injector/yaml-keys.ts).
import { LineCounter, parseAllDocuments, Parser } from 'yaml';
import { firstDuplicateKey } from '../injector/yaml-keys.js';
import { CliError } from './errors.js';

/** Where a position is, for messages: "line 3". */
function lineOf(counter: LineCounter, offset: number | undefined): string {
  return offset === undefined ? '' : ` at line ${counter.linePos(offset).line}`;
}

/**
 * The text of an input file, refusing what is not text: a NUL byte or bytes
 * that are not UTF-8 (random or binary data used to be read as YAML and, by
 * kube-inject, echoed back). Exit code 1: the file is wrong, not the usage.
 */
export function decodeInput(data: Uint8Array, source: string): string {
  const nul = data.indexOf(0);
  if (nul >= 0) throw new CliError(`${source} is not a YAML text: it holds binary data (a NUL byte at offset ${nul})`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new CliError(`${source} is not a YAML text: it is not UTF-8 (binary data?)`);
  }
}

/**
 * Every document of a YAML text as plain data (empty documents dropped), in
 * time linear in its size. Invalid YAML and duplicate keys are CliErrors with
 * `exitCode`, naming the line.
 */
export function parseYamlDocuments(text: string, source: string, exitCode = 1): unknown[] {
  const counter = new LineCounter();
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text, { uniqueKeys: false, lineCounter: counter })) {
    const first = doc.errors[0];
    if (first) throw new CliError(`${source}: invalid YAML${lineOf(counter, first.pos[0])}: ${first.message.split('\n')[0] ?? ''}`, exitCode);
    const dup = firstDuplicateKey(doc);
    if (dup) throw new CliError(`${source}: invalid YAML${lineOf(counter, dup.offset)}: duplicate key ${JSON.stringify(dup.key)}`, exitCode);
    const js: unknown = doc.toJS({ maxAliasCount: 100 });
    if (js !== null && js !== undefined) out.push(js);
  }
  return out;
}

/**
 * Refuses a manifest with a document that is not a mapping (a Kubernetes
 * object): random text parses as one long YAML string, which kube-inject used
 * to pass through unchanged with exit 0. Reads only the syntax tree (cheap).
 */
export function checkManifestDocuments(text: string, source: string): void {
  const counter = new LineCounter();
  let n = 0;
  for (const token of new Parser(counter.addNewLine).parse(text)) {
    if (token.type !== 'document') continue;
    n++;
    const value = token.value;
    if (!value) continue; // empty, or only comments
    const isMapping = value.type === 'block-map' || (value.type === 'flow-collection' && value.start.source === '{');
    if (!isMapping) {
      throw new CliError(
        `${source}: document ${n}${lineOf(counter, value.offset)} is not a Kubernetes object (a YAML mapping with apiVersion and kind) but a ${describeToken(value.type)}`,
      );
    }
  }
}

function describeToken(type: string): string {
  if (type === 'block-seq' || type === 'flow-collection') return 'list';
  if (type === 'alias') return 'alias';
  return 'plain value';
}
