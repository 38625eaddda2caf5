import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CliError, formatError, parseKeyValues } from '../../../src/cli/errors.js';
import { main } from '../../../src/cli/main.js';
import { InjectorConfigError } from '../../../src/injector/config.js';
import { istioWebhookConfiguration } from '../../support/istio-webhooks.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.exitCode;
  const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
  process.exitCode = saved;
  return { code, out, err };
}

describe('cli: error formatting', function () {
  it('prints a CliError with its hint', function () {
    expect(formatError(new CliError('bad flag', 2, 'try --help'))).to.equal('error: bad flag\nhint: try --help');
  });

  it('says which file could not be read', function () {
    const e = Object.assign(new Error('ENOENT: no such file or directory, open \'x.yaml\''), { code: 'ENOENT', path: 'x.yaml' });
    expect(formatError(e)).to.equal('error: cannot read x.yaml: no such file or directory');
  });

  it('prints a configuration error with its path', function () {
    expect(formatError(new InjectorConfigError('proxy.image', 'must be a string'))).to.equal('error: injector config: proxy.image: must be a string');
  });

  it('adds the cause of a wrapped error', function () {
    expect(formatError(new Error('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:6443') })))
      .to.equal('error: fetch failed (connect ECONNREFUSED 127.0.0.1:6443)');
  });

  it('never throws, whatever it is given', function () {
    expect(formatError('plain')).to.equal('error: plain');
    expect(formatError(undefined)).to.equal('error: undefined');
    expect(formatError({ a: 1 })).to.equal('error: {"a":1}');
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    expect(formatError(circular)).to.be.a('string');
  });

  it('parses k=v lists and names the flag on a bad entry', function () {
    expect(parseKeyValues('a=1, b=, c=x=y', '--l')).to.deep.equal({ a: '1', b: '', c: 'x=y' });
    expect(() => parseKeyValues('a', '--namespace-labels')).to.throw('--namespace-labels: "a" is not key=value');
  });
});

describe('cli: kube-inject and check-inject commands', function () {
  let dir: string;
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'meshrev-cli-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const manifest = 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n' +
    'spec:\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n';

  const IMAGE = ['--proxy-image', 'registry.local/proxyv2:1.21.0'];

  it('kube-inject --offline writes the injected manifest to stdout, says it is offline, and exits 0', async function () {
    const r = await run('kube-inject', '--offline', ...IMAGE, '-f', file('app.yaml', manifest), '--revision', '1-21');
    expect(r.code).to.equal(0);
    expect(r.err).to.contain('injecting offline with meshrev\'s built-in templates (revision 1-21, proxy registry.local/proxyv2:1.21.0)');
    expect(r.out).to.contain('apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n');
    expect(r.out).to.contain('name: istio-proxy').and.contain('image: registry.local/proxyv2:1.21.0').and.contain('istio.io/rev: 1-21');
    const again = await run('kube-inject', '--offline', ...IMAGE, '-f', file('injected.yaml', r.out), '--revision', '1-21');
    expect(again.out).to.equal(r.out);
    expect(again.err).to.contain('skipped Deployment web: already injected (sidecar.istio.io/status is set)');
  });

  it('kube-inject uses the image from --config', async function () {
    const cfg = file('inject.yaml', 'proxy: {image: registry.local/proxyv2:custom}\n');
    const r = await run('kube-inject', '--offline', '-f', file('app2.yaml', manifest), '--config', cfg);
    expect(r.out).to.contain('image: registry.local/proxyv2:custom');
  });

  it('kube-inject offline never guesses the proxy image from the revision name, and writes nothing', async function () {
    const r = await run('kube-inject', '--offline', '-f', file('app5.yaml', manifest), '--revision', '1-21');
    expect(r.code).to.equal(2);
    expect(r.out).to.equal('');
    expect(r.err).to.contain('never guessed from the revision name').and.contain('--proxy-image');
  });

  it('kube-inject falls back to the built-in templates when no cluster can be reached, and says so on stderr', async function () {
    const saved = process.env['KUBECONFIG'];
    process.env['KUBECONFIG'] = join(dir, 'no-such-kubeconfig');
    try {
      const r = await run('kube-inject', ...IMAGE, '-f', file('app6.yaml', manifest), '--revision', '1-21', '--kubeconfig', join(dir, 'no-such-kubeconfig'));
      expect(r.code, r.err).to.equal(0);
      expect(r.err).to.contain('warning: cannot read the cluster\'s webhook configurations').and.contain('injecting OFFLINE');
      expect(r.out).to.contain('image: registry.local/proxyv2:1.21.0');
    } finally {
      if (saved === undefined) delete process.env['KUBECONFIG'];
      else process.env['KUBECONFIG'] = saved;
    }
  });

  it('kube-inject fails with a clear message for an invalid annotation and prints no manifest', async function () {
    const bad = manifest.replace('metadata: {labels: {app: web}}', 'metadata: {labels: {app: web}, annotations: {sidecar.istio.io/proxyCPU: abc}}');
    const r = await run('kube-inject', '--offline', ...IMAGE, '-f', file('bad.yaml', bad));
    expect(r.code).to.equal(1);
    expect(r.out).to.equal('');
    expect(r.err).to.contain('error: cannot inject').and.contain('Deployment web').and.contain('sidecar.istio.io/proxyCPU');
  });

  it('kube-inject reports a missing file and a bad config', async function () {
    const missing = await run('kube-inject', '-f', join(dir, 'nope.yaml'));
    expect(missing.code).to.equal(1);
    expect(missing.err).to.contain('cannot read').and.contain('nope.yaml');
    const badCfg = await run('kube-inject', '--offline', '-f', file('app3.yaml', manifest), '--config', file('bad-cfg.yaml', 'proxy: {resources: {limits: {cpu: lots}}}'));
    expect(badCfg.err).to.contain('proxy.resources.limits.cpu');
  });

  it('check-inject offline explains from the policy table', async function () {
    const r = await run('check-inject', '-n', 'shop', '--namespace-labels', 'istio.io/rev=1-21');
    expect(r.code).to.equal(0);
    expect(r.out).to.contain('Namespace shop  labels: istio.io/rev=1-21');
    expect(r.out).to.contain('=> injected by revision 1-21 through rev.namespace.sidecar-injector.istio.io');
  });

  it('check-inject explains each workload of a manifest against webhook configurations from a file', async function () {
    const hooks = file('hooks.yaml', [
      istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-20', revision: '1-20', isDefault: true }),
      istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-21', revision: '1-21' }),
    ].map((c) => stringify(c)).join('---\n'));
    const r = await run('check-inject', '-f', file('app4.yaml', manifest), '--namespace-labels', 'istio-injection=enabled', '--webhooks', hooks);
    expect(r.code).to.equal(0);
    expect(r.out).to.contain('Deployment web').and.contain('istio-sidecar-injector-1-20/namespace.sidecar-injector.istio.io  1-20      yes');
  });

  it('check-inject judges each document of a manifest in its own namespace, with a Namespace document\'s labels', async function () {
    const spanning = [
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {istio-injection: disabled}}',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {spec: {containers: [{name: a, image: x}]}}}',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: batch, namespace: legacy}\nspec: {template: {spec: {containers: [{name: a, image: x}]}}}',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: lone}\nspec: {containers: [{name: a, image: x}]}',
    ].join('\n---\n');
    const f = file('spanning.yaml', spanning);
    const text = await run('check-inject', '-f', f, '-n', 'fallback', '--namespace-labels', 'istio-injection=enabled', '--default-revision', '1-20');
    expect(text.code, text.err).to.equal(0);
    expect(text.out).to.contain('Namespace shop  labels: istio-injection=enabled').and.contain('Namespace legacy  labels: istio-injection=disabled')
      .and.contain('Namespace fallback  labels: istio-injection=enabled');

    const json = await run('check-inject', '-f', f, '-n', 'fallback', '--namespace-labels', 'istio-injection=enabled', '--default-revision', '1-20', '-o', 'json');
    expect(json.code, json.err).to.equal(0);
    const report = JSON.parse(json.out) as { namespaces: { namespace: { name: string }; pods: { pod: { description: string }; policy: { inject: boolean; revision?: string } }[] }[] };
    const verdicts = report.namespaces.flatMap((n) => n.pods.map((p) => [n.namespace.name, p.pod.description, p.policy.inject]));
    expect(verdicts).to.deep.equal([
      ['shop', 'Deployment shop/web', true],
      ['legacy', 'Deployment legacy/batch', false],
      ['fallback', 'Pod lone', true],
    ]);

    const yaml = await run('check-inject', '-f', f, '--namespace-labels', 'istio-injection=enabled', '-o', 'yaml');
    expect(yaml.out).to.match(/^namespaces:\n {2}- namespace:\n {6}name: shop/);
    expect(yaml.out).to.contain('name: default');
  });

  it('check-inject rejects an unknown -o format as a usage error', async function () {
    const r = await run('check-inject', '--namespace-labels', 'a=b', '-o', 'wide');
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('"wide" is not a format');
  });

  it('check-inject exits non-zero when more than one webhook would inject', async function () {
    const hooks = file('dup.yaml', [
      istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-21', revision: '1-21' }),
      istioWebhookConfiguration({ name: 'meshrev-sidecar-injector-1-21', revision: '1-21' }),
    ].map((c) => stringify(c)).join('---\n'));
    const r = await run('check-inject', '-n', 'shop', '--namespace-labels', 'istio.io/rev=1-21', '--webhooks', hooks);
    expect(r.code).to.equal(1);
    expect(r.out).to.contain('injected by 2 webhooks');
    expect(r.err).to.contain('error: more than one webhook would inject')
      .and.contain('istio-sidecar-injector-1-21/rev.namespace.sidecar-injector.istio.io (revision 1-21) and meshrev-sidecar-injector-1-21')
      .and.contain('hint:');
  });

  it('check-inject rejects a bad --namespace-labels value with a usage exit code', async function () {
    const r = await run('check-inject', '--namespace-labels', 'nokey');
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('--namespace-labels: "nokey" is not key=value');
  });

  it('rejects an unknown command and a missing required option through commander, as usage errors (exit 2)', async function () {
    expect((await run('nope')).code).to.equal(2);
    const r = await run('injector', '--revision', '1-21');
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('--cert');
  });

  it('injector rejects a port that is not a number before reading any file', async function () {
    const r = await run('injector', '--revision', '1-21', '--cert', 'c', '--key', 'k', '--port', 'http');
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('--port: "http" is not a port number');
  });

  it('check-inject needs -n to read a pod by name', async function () {
    const r = await run('check-inject', 'web-0');
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('[pod] needs -n/--namespace');
  });

  it('prints help and exits 0', async function () {
    const r = await run('--help');
    expect(r.code).to.equal(0);
    expect(r.out).to.contain('kube-inject').and.contain('check-inject').and.contain('injector');
  });
});
