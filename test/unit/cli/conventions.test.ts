// The CLI's conventions: exit codes (0 ok, 1 failure, 2 usage, whichever
// layer noticed), --version, -o text|json|yaml, a broken pipe ending quietly,
// and kubectl's words when no kubeconfig is found.
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderStatus } from '../../../src/cli/commands/status.js';
import { exitQuietlyOnBrokenPipe, main, programName } from '../../../src/cli/main.js';
import { parseOutputFormat, renderData } from '../../../src/cli/output.js';
import { NO_CONFIGURATION_MESSAGE } from '../../../src/kube/client.js';
import { repoPath } from '../../support/repo.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.exitCode;
  const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
  process.exitCode = saved;
  return { code, out, err };
}

/** Runs `env` as the process environment for the duration of `fn` (undefined removes a variable). */
async function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(env);
  try {
    return await fn();
  } finally {
    set(saved);
  }
}

describe('cli: exit codes', function () {
  it('--version and `version` print package.json\'s version, the commit and the Node.js, and exit 0', async function () {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    const r = await run('--version');
    expect(r.code).to.equal(0);
    // Unbundled (dist/src, as the tests run it) no commit was baked in.
    expect(r.out).to.equal(`meshrev ${pkg.version} (commit unknown, node ${process.version})\n`);
    expect(await run('version')).to.deep.equal(r);
    const json = await run('version', '-o', 'json');
    expect(JSON.parse(json.out)).to.deep.equal({ version: pkg.version, commit: 'unknown', node: process.version });
  });

  it('the bundle (dist/meshrev.mjs) reports the git commit it was built from', function () {
    this.timeout(20_000);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repoPath('.'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    try {
      git('rev-parse', 'HEAD');
    } catch {
      this.skip(); // not a git checkout: the bundle says "unknown", which the test above covers
    }
    const out = execFileSync(process.execPath, [repoPath('dist/meshrev.mjs'), 'version', '-o', 'json'], { encoding: 'utf8' });
    const info = JSON.parse(out) as { version: string; commit: string };
    expect(info.commit).to.match(/^[0-9a-f]{40}(-dirty)?$/);
    // A commit of this repository (HEAD when the bundle is fresh).
    expect(git('cat-file', '-t', info.commit.replace(/-dirty$/, ''))).to.equal('commit');
    expect(execFileSync(process.execPath, [repoPath('dist/meshrev.mjs'), '--version'], { encoding: 'utf8' })).to.contain(`(commit ${info.commit},`);
  });

  it('--help and help <command> exit 0', async function () {
    expect((await run('--help')).code).to.equal(0);
    expect((await run('help', 'status')).code).to.equal(0);
    expect((await run('pause', '--help')).code).to.equal(0);
  });

  it('exits 2 for usage errors commander finds: unknown option, unknown command, missing argument, no command', async function () {
    const unknownOption = await run('status', '--bogus');
    expect(unknownOption.code).to.equal(2);
    expect(unknownOption.err).to.contain("unknown option '--bogus'");
    expect((await run('frobnicate')).code).to.equal(2);
    const missing = await run('pause');
    expect(missing.code).to.equal(2);
    expect(missing.err).to.contain("missing required argument 'name'");
    expect((await run('kube-inject')).code).to.equal(2); // required -f
    expect((await run()).code).to.equal(2);
  });

  it('exits 2 for usage errors a command finds (a bad -o, a bad flag value)', async function () {
    const badFormat = await run('check-inject', '--namespace-labels', 'a=b', '-o', 'xml');
    expect(badFormat.code).to.equal(2);
    expect(badFormat.err).to.equal('error: -o/--output: "xml" is not a format; use text, json, yaml\n');
    expect((await run('rollback', 'canary', '--namespaces', 'Not_A_Name')).code).to.equal(2);
    expect((await run('promote', 'canary', '--step', '0')).code).to.equal(2);
  });

  it('exits 1 for failures (a file that cannot be read)', async function () {
    const r = await run('plan', '-f', '/nonexistent/mrev.yaml');
    expect(r.code).to.equal(1);
    expect(r.err).to.equal('error: cannot read /nonexistent/mrev.yaml: no such file or directory\n');
  });

  it('is "kubectl meshrev" when run as the kubectl plugin executable', function () {
    expect(programName('/usr/local/bin/kubectl-meshrev')).to.equal('kubectl meshrev');
    expect(programName('/usr/local/bin/meshrev')).to.equal('meshrev');
    expect(programName('/repo/dist/meshrev.mjs')).to.equal('meshrev');
  });
});

describe('cli: -o text|json|yaml', function () {
  it('accepts text, json and yaml only', function () {
    expect(['text', 'json', 'yaml'].map(parseOutputFormat)).to.deep.equal(['text', 'json', 'yaml']);
    expect(() => parseOutputFormat('wide')).to.throw('"wide" is not a format');
  });

  it('renders the same data as JSON and YAML', function () {
    const data = { a: [1, { b: 'x: y' }], long: 'word '.repeat(40).trim() };
    expect(JSON.parse(renderData(data, 'json'))).to.deep.equal(data);
    expect(renderData(data, 'json', true)).to.equal(`${JSON.stringify(data)}\n`);
    const yaml = renderData(data, 'yaml');
    expect(parse(yaml)).to.deep.equal(data);
    expect(yaml.split('\n').find((l) => l.startsWith('long:'))).to.have.length(6 + 199); // not folded
  });

  it('status -o yaml is the JSON report as YAML', function () {
    const input = { meshRevisions: [], namespaces: [{ metadata: { name: 'shop', labels: { 'istio-injection': 'enabled' } } }], pods: [] };
    expect(parse(renderStatus(input, 'yaml'))).to.deep.equal(JSON.parse(renderStatus(input, 'json')));
  });

  it('check-inject -o json and -o yaml print the explanation offline', async function () {
    const json = await run('check-inject', '-n', 'shop', '--namespace-labels', 'istio.io/rev=1-21', '-o', 'json');
    expect(json.code).to.equal(0);
    const report = JSON.parse(json.out) as { namespaces: { namespace: { name: string }; pods: { policy: { revision: string } }[] }[] };
    expect(report.namespaces.map((n) => n.namespace.name)).to.deep.equal(['shop']);
    expect(report.namespaces[0]?.pods[0]?.policy.revision).to.equal('1-21');
    const yaml = await run('check-inject', '-n', 'shop', '--namespace-labels', 'istio.io/rev=1-21', '-o', 'yaml');
    expect(parse(yaml.out)).to.deep.equal(report);
  });
});

describe('cli: a broken pipe', function () {
  it('exits 0 without a word on EPIPE, and reports any other stream error with exit 1', function () {
    const stream = new EventEmitter();
    const exits: number[] = [];
    const said: string[] = [];
    exitQuietlyOnBrokenPipe(stream, (c) => exits.push(c), (t) => said.push(t));
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(exits).to.deep.equal([0]);
    expect(said).to.deep.equal([]);
    stream.emit('error', Object.assign(new Error('write EIO'), { code: 'EIO' }));
    expect(exits).to.deep.equal([0, 1]);
    expect(said).to.deep.equal(['error: write EIO\n']);
  });

  it('a real `meshrev kube-inject | head -c 1` ends quietly with exit 0, no stack trace', async function () {
    this.timeout(20_000);
    const dir = mkdtempSync(join(tmpdir(), 'meshrev-epipe-'));
    try {
      const doc = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n';
      const file = join(dir, 'big.yaml');
      writeFileSync(file, Array.from({ length: 3000 }, () => doc).join('---\n'));
      const child = spawn(process.execPath, [repoPath('dist/src/cli/main.js'), 'kube-inject', '-q', '--offline', '--proxy-image', 'registry.local/proxyv2:1', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      // Like `head -c 1`: read one chunk, then close the pipe.
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(stderr).to.equal('');
      expect(code).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cli: no kubeconfig', function () {
  it('says no configuration has been provided and how to give one, instead of client-node\'s skipTLSVerify error', async function () {
    const home = mkdtempSync(join(tmpdir(), 'meshrev-home-'));
    try {
      const r = await withEnv({ HOME: home, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined }, () => run('status'));
      expect(r.code).to.equal(1);
      expect(r.err).to.equal(`error: ${NO_CONFIGURATION_MESSAGE}\n`);
      expect(r.err).to.contain('no configuration has been provided').and.not.contain('skipTLSVerify');
      const verb = await withEnv({ HOME: home, KUBECONFIG: undefined }, () => run('pause', 'canary'));
      expect(verb.code).to.equal(1);
      expect(verb.err).to.contain('no configuration has been provided');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
