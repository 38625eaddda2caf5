// The architecture, checked: layers only point down (README "Layout"), and
// the controllers stay readable (no function in src/reconcile over 80 lines).
// Reads the TypeScript sources with the compiler's own parser.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const SRC = join(process.cwd(), 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** The top folder under src/ of a file ("api", "policy"...; "." for src/*.ts). */
function layerOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length > 1 ? parts[0]! : '.';
}

/** Relative imports (static and dynamic) of a file, resolved to files under src/. */
function importsOf(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    let spec: string | undefined;
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) spec = n.moduleSpecifier.text;
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) spec = n.arguments[0].text;
    if (spec?.startsWith('.')) out.push(join(sf.fileName, '..', spec));
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** What each layer may import (besides itself). `api` and `policy` do no I/O. */
const ALLOWED: Record<string, readonly string[]> = {
  api: [],
  policy: ['api'],
  kube: ['api'],
  health: ['api'],
  runtime: ['api', 'kube', 'health'],
  gates: ['api', 'policy'],
  injector: ['api', 'policy'],
  webhook: ['api', 'policy', 'injector'],
  reconcile: ['api', 'policy', 'kube', 'runtime', 'health'],
  cli: ['api', 'policy', 'kube', 'runtime', 'health', 'injector', 'webhook', 'gates', 'reconcile', '.'],
  '.': ['api', 'policy', 'kube', 'runtime', 'health', 'gates', 'injector', 'webhook', 'reconcile'],
};

describe('architecture', () => {
  const files = sources(SRC).map(parse);

  it('has layers that only import the layers below them (api, policy → no I/O; gates only from operator.ts)', () => {
    const wrong: string[] = [];
    for (const sf of files) {
      const from = layerOf(sf.fileName);
      for (const target of importsOf(sf)) {
        // The version reads package.json at build time (src/api/build-info.ts).
        if (relative(SRC, sf.fileName) === 'api/build-info.ts' && relative(SRC, target) === '../package.json') continue;
        const to = layerOf(target);
        if (to === from) continue;
        if (!(ALLOWED[from] ?? []).includes(to)) wrong.push(`${relative(SRC, sf.fileName)} → ${relative(SRC, target)}`);
        if (to === 'gates' && relative(SRC, sf.fileName) !== 'operator.ts') wrong.push(`${relative(SRC, sf.fileName)} → ${relative(SRC, target)} (only operator.ts wires the gates)`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('keeps every function in src/reconcile within 80 lines', () => {
    const long: string[] = [];
    for (const sf of files.filter((f) => layerOf(f.fileName) === 'reconcile')) {
      const visit = (n: ts.Node): void => {
        if (ts.isFunctionLike(n) && 'body' in n && n.body) {
          const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
          const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
          if (end - start + 1 > 80) long.push(`${relative(SRC, sf.fileName)}:${start + 1} (${end - start + 1} lines)`);
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    expect(long).to.deep.equal([]);
  });
});
