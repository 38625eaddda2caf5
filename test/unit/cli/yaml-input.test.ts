// Input files (issue 17): binary data refused, YAML parsed in linear time,
// kube-inject refusing what is not a manifest, plan -f bounded.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_PLAN_INPUT_BYTES, readMeshRevisionFile } from '../../../src/cli/commands/plan.js';
import { CliError } from '../../../src/cli/errors.js';
import { main } from '../../../src/cli/main.js';
import { checkManifestDocuments, decodeInput, parseYamlDocuments } from '../../../src/cli/yaml-input.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.exitCode;
  const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
  process.exitCode = saved;
  return { code, out, err };
}

describe('cli: reading YAML input', function () {
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'meshrev-input-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses binary data: a NUL byte, or bytes that are not UTF-8', function () {
    expect(() => decodeInput(Buffer.from('a: 1\n\0'), 'f.yaml')).to.throw(CliError, 'f.yaml is not a YAML text: it holds binary data (a NUL byte at offset 5)');
    expect(() => decodeInput(Buffer.from([0x61, 0xff, 0xfe]), 'f.yaml')).to.throw(CliError, 'it is not UTF-8');
    expect(decodeInput(Buffer.from('name: café\n'), 'f')).to.equal('name: café\n');
  });

  it('parses every document and drops empty ones', function () {
    expect(parseYamlDocuments('a: 1\n---\n# only a comment\n---\n{b: [2]}\n', 'f')).to.deep.equal([{ a: 1 }, { b: [2] }]);
  });

  it('names the line of invalid YAML and of a duplicate key, with the exit code asked for', function () {
    expect(() => parseYamlDocuments('a: 1\nb: [\n', 'f', 2)).to.throw(CliError, 'f: invalid YAML at line').with.property('exitCode', 2);
    expect(() => parseYamlDocuments('a: 1\nspec:\n  x: 1\n  x: 2\n', 'f')).to.throw(CliError, 'f: invalid YAML at line 4: duplicate key "x"');
  });

  it('parses a mapping of 60 000 keys in linear time (the yaml package\'s own duplicate check took about a minute)', function () {
    this.timeout(20_000);
    const text = `data:\n${Array.from({ length: 60_000 }, (_, i) => `  k${i}: v${i}\n`).join('')}`;
    const start = Date.now();
    const [doc] = parseYamlDocuments(text, 'f') as [{ data: Record<string, string> }];
    expect(Object.keys(doc.data)).to.have.length(60_000);
    expect(Date.now() - start).to.be.below(10_000);
  });

  it('accepts a manifest of mappings (block and flow, comments, empty documents) and refuses anything else, naming the document', function () {
    expect(() => checkManifestDocuments('a: 1\n---\n{kind: Pod}\n---\n# nothing\n', 'f')).to.not.throw();
    expect(() => checkManifestDocuments('kind: Pod\n---\nhello world\n', 'f'))
      .to.throw(CliError, 'f: document 2 at line 3 is not a Kubernetes object (a YAML mapping with apiVersion and kind) but a plain value');
    expect(() => checkManifestDocuments('- a\n- b\n', 'f')).to.throw(CliError, 'but a list');
  });

  it('kube-inject on random bytes fails with exit 1 and prints nothing on stdout', async function () {
    const file = join(dir, 'random.bin');
    writeFileSync(file, Buffer.concat([Buffer.from([0xc3, 0x28]), randomBytes(4096)]));
    const r = await run('kube-inject', '--offline', '--proxy-image', 'registry.local/proxyv2:1', '-f', file);
    expect(r.code).to.equal(1);
    expect(r.out).to.equal('');
    expect(r.err).to.match(/^error: .*random\.bin is not a YAML text/);
  });

  it('kube-inject on text that is not a manifest fails with exit 1 and prints nothing on stdout', async function () {
    const file = join(dir, 'prose.txt');
    writeFileSync(file, 'Dear reader, this is not YAML you can inject.\n');
    const r = await run('kube-inject', '--offline', '--proxy-image', 'registry.local/proxyv2:1', '-f', file);
    expect(r.code).to.equal(1);
    expect(r.out).to.equal('');
    expect(r.err).to.contain('document 1 at line 1 is not a Kubernetes object');
  });

  it('kube-inject passes a ConfigMap of 60 000 keys through in linear time, and still refuses a duplicate key', async function () {
    this.timeout(30_000);
    const big = join(dir, 'big-configmap.yaml');
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n${Array.from({ length: 60_000 }, (_, i) => `  k${i}: v${i}\n`).join('')}`;
    writeFileSync(big, text);
    const start = Date.now();
    const r = await run('kube-inject', '--offline', '--proxy-image', 'registry.local/proxyv2:1', '-f', big);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.equal(text);
    expect(Date.now() - start).to.be.below(15_000); // quadratic before: about 45 s
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nmetadata: {name: b}\n');
    const d = await run('kube-inject', '--offline', '--proxy-image', 'registry.local/proxyv2:1', '-f', dup);
    expect(d.code).to.equal(1);
    expect(d.err).to.contain('document 1: invalid YAML: duplicate key "metadata"');
  });

  it('plan -f refuses a file larger than the API server would accept (3 MiB), before parsing it', function () {
    const text = `# ${'x'.repeat(MAX_PLAN_INPUT_BYTES)}\n`;
    expect(() => readMeshRevisionFile(text, 'huge.yaml')).to.throw(CliError, 'huge.yaml is larger than 3 MiB').with.property('exitCode', 1);
  });
});
