import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { buildInjectorConfig, defaultInjectorConfig, parseInjectorConfigYaml, type InjectorConfig } from '../../../src/injector/config.js';
import { injectPod, parseSidecarStatus, type InjectOutcome } from '../../../src/injector/inject.js';
import { strategicMerge } from '../../../src/injector/merge.js';

function injected(out: InjectOutcome): { pod: V1Pod; warnings: string[] } {
  if (out.status !== 'injected') throw new Error(`expected injection, got ${out.status}: ${'message' in out ? out.message : out.status === 'unchanged' ? out.reason : ''}`);
  return out;
}

function container(pod: V1Pod, name: string): V1Container {
  const c = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

const plain = (annotations: Record<string, string> = {}): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', labels: { app: 'web' }, annotations },
  spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080, name: 'http' }] }] },
});

/** The seeds' customisation example (001), verbatim. */
const seedsExample = (): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'example' },
  spec: {
    containers: [
      { name: 'hello', image: 'alpine' },
      {
        name: 'istio-proxy',
        image: 'auto',
        resources: { requests: { cpu: '100m' } },
        volumeMounts: [{ mountPath: '/etc/certs', name: 'certs' }],
        lifecycle: { preStop: { exec: { command: ['curl', '10'] } } },
      },
    ],
    volumes: [{ name: 'certs', secret: { secretName: 'istio-certs' } }],
  },
});

describe('sidecar injector: template', function () {
  const config = defaultInjectorConfig('1-21');

  it('adds istio-init, istio-proxy and their volumes to a plain pod', function () {
    const { pod } = injected(injectPod(plain(), { config, namespace: 'shop' }));
    expect(pod.spec?.containers.map((c) => c.name)).to.deep.equal(['app', 'istio-proxy']);
    expect(pod.spec?.initContainers?.map((c) => c.name)).to.deep.equal(['istio-init']);
    expect(pod.spec?.volumes?.map((v) => v.name)).to.deep.equal([
      'workload-socket', 'credential-socket', 'workload-certs', 'istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert',
    ]);
    const proxy = container(pod, 'istio-proxy');
    expect(proxy.image).to.equal('docker.io/istio/proxyv2:1.21.0');
    expect(proxy.resources).to.deep.equal({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } });
    expect(proxy.env?.find((e) => e.name === 'ISTIO_META_APP_CONTAINERS')?.value).to.equal('app');
    expect(proxy.env?.find((e) => e.name === 'CA_ADDR')?.value).to.equal('istiod-1-21.istio-system.svc:15012');
    expect(proxy.securityContext).to.include({ runAsUser: 1337, runAsNonRoot: true, allowPrivilegeEscalation: false });
    expect(container(pod, 'istio-init').securityContext?.capabilities?.add).to.deep.equal(['NET_ADMIN', 'NET_RAW']);
    expect(pod.metadata?.labels).to.include({ app: 'web', 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': 'web' });
  });

  it('annotates istio.io/rev and sidecar.istio.io/status exactly like upstream', function () {
    const { pod } = injected(injectPod(plain(), { config }));
    expect(pod.metadata?.annotations?.['istio.io/rev']).to.equal('1-21');
    expect(pod.metadata?.annotations?.['sidecar.istio.io/status']).to.equal(
      '{"initContainers":["istio-init"],"containers":["istio-proxy"],' +
      '"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],' +
      '"imagePullSecrets":null,"revision":"1-21"}');
    expect(parseSidecarStatus(pod.metadata?.annotations?.['sidecar.istio.io/status'])?.revision).to.equal('1-21');
  });

  it('does not change the pod it is given', function () {
    const pod = plain();
    const before = JSON.stringify(pod);
    injectPod(pod, { config });
    expect(JSON.stringify(pod)).to.equal(before);
  });

  it('does not inject a pod twice', function () {
    const once = injected(injectPod(plain(), { config })).pod;
    const twice = injectPod(once, { config: defaultInjectorConfig('1-22') });
    expect(twice.status).to.equal('unchanged');
  });

  it('seeds example: the user\'s istio-proxy container overrides the template, image auto means the injector\'s image', function () {
    const { pod } = injected(injectPod(seedsExample(), { config }));
    expect(pod.spec?.containers.map((c) => c.name)).to.deep.equal(['hello', 'istio-proxy']);
    expect(pod.spec?.containers[0]).to.deep.equal({ name: 'hello', image: 'alpine' });
    const proxy = container(pod, 'istio-proxy');
    expect(proxy.image).to.equal(config.proxy.image);
    // The lowered CPU request replaces the template's; the rest of the template's resources stay.
    expect(proxy.resources).to.deep.equal({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } });
    expect(proxy.volumeMounts?.[0]).to.deep.equal({ mountPath: '/etc/certs', name: 'certs' });
    expect(proxy.volumeMounts?.map((m) => m.mountPath)).to.include.members(['/etc/certs', '/etc/istio/proxy', '/var/run/secrets/tokens']);
    expect(proxy.lifecycle).to.deep.equal({ preStop: { exec: { command: ['curl', '10'] } } });
    expect(proxy.args?.slice(0, 2)).to.deep.equal(['proxy', 'sidecar']);
    expect(pod.spec?.volumes?.map((v) => v.name)).to.include.members(['certs', 'istio-envoy']);
    expect(pod.spec?.volumes?.[0]).to.deep.equal({ name: 'certs', secret: { secretName: 'istio-certs' } });
    expect(parseSidecarStatus(pod.metadata?.annotations?.['sidecar.istio.io/status'])?.containers).to.deep.equal(['istio-proxy']);
  });

  it('keeps an explicit image set on the user\'s istio-proxy container', function () {
    const p = seedsExample();
    (p.spec?.containers[1] as V1Container).image = 'registry.local/proxyv2:patched';
    expect(container(injected(injectPod(p, { config })).pod, 'istio-proxy').image).to.equal('registry.local/proxyv2:patched');
  });

  it('lets a user istio-init container override the init template too', function () {
    const p = plain();
    p.spec!.initContainers = [{ name: 'istio-init', image: 'auto', resources: { limits: { cpu: '500m' } } }];
    const init = container(injected(injectPod(p, { config })).pod, 'istio-init');
    expect(init.image).to.equal(config.proxy.initImage);
    expect(init.resources?.limits).to.deep.equal({ cpu: '500m', memory: '1024Mi' });
  });

  it('seeds example: proxyCPU 200m and proxyMemoryLimit 5Gi give exactly the resources the seeds show, with warnings', function () {
    const out = injected(injectPod(plain({ 'sidecar.istio.io/proxyCPU': '200m', 'sidecar.istio.io/proxyMemoryLimit': '5Gi' }), { config }));
    expect(container(out.pod, 'istio-proxy').resources).to.deep.equal({ limits: { memory: '5Gi' }, requests: { cpu: '200m', memory: '5Gi' } });
    expect(out.warnings).to.have.length(2);
    expect(out.warnings[0]).to.contain('sidecar.istio.io/proxyCPU is set without sidecar.istio.io/proxyCPULimit').and.contain('no CPU limit');
    expect(out.warnings[1]).to.contain('sidecar.istio.io/proxyMemoryLimit is set without sidecar.istio.io/proxyMemory');
  });

  it('sets all four resource annotations without warnings', function () {
    const out = injected(injectPod(plain({
      'sidecar.istio.io/proxyCPU': '250m', 'sidecar.istio.io/proxyCPULimit': '1',
      'sidecar.istio.io/proxyMemory': '256Mi', 'sidecar.istio.io/proxyMemoryLimit': '512Mi',
    }), { config }));
    expect(container(out.pod, 'istio-proxy').resources).to.deep.equal({ limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } });
    expect(out.warnings).to.deep.equal([]);
  });

  it('warns that a lone proxyCPU leaves the sidecar without a CPU limit and without memory settings', function () {
    const out = injected(injectPod(plain({ 'sidecar.istio.io/proxyCPU': '300m' }), { config }));
    expect(container(out.pod, 'istio-proxy').resources).to.deep.equal({ requests: { cpu: '300m' } });
    expect(out.warnings.join('\n')).to.contain('no CPU limit').and.contain('no memory request or limit');
  });

  it('accepts a request equal to its limit written differently (1 and 1000m)', function () {
    injected(injectPod(plain({ 'sidecar.istio.io/proxyCPU': '1', 'sidecar.istio.io/proxyCPULimit': '1000m' }), { config }));
  });

  it('rejects proxyCPU: abc naming the annotation and why', function () {
    const out = injectPod(plain({ 'sidecar.istio.io/proxyCPU': 'abc' }), { config });
    expect(out.status).to.equal('invalid');
    if (out.status !== 'invalid') return;
    expect(out.problems[0]?.annotation).to.equal('sidecar.istio.io/proxyCPU');
    expect(out.message).to.contain('sidecar.istio.io/proxyCPU').and.contain('"abc"').and.contain('not a Kubernetes quantity');
  });

  it('rejects a negative memory request and reports every bad annotation', function () {
    const out = injectPod(plain({ 'sidecar.istio.io/proxyMemory': '-1Gi', 'sidecar.istio.io/proxyCPULimit': '2 cores' }), { config });
    expect(out.status).to.equal('invalid');
    if (out.status !== 'invalid') return;
    expect(out.problems.map((p) => p.annotation)).to.deep.equal(['sidecar.istio.io/proxyCPULimit', 'sidecar.istio.io/proxyMemory']);
    expect(out.message).to.contain('negative');
  });

  it('rejects a CPU request above its limit, naming both annotations', function () {
    const out = injectPod(plain({ 'sidecar.istio.io/proxyCPU': '3', 'sidecar.istio.io/proxyCPULimit': '2' }), { config });
    expect(out.status).to.equal('invalid');
    if (out.status === 'invalid') expect(out.message).to.contain('sidecar.istio.io/proxyCPU').and.contain('sidecar.istio.io/proxyCPULimit').and.contain('must not exceed');
  });

  it('rejects a user istio-proxy request above the template limit (the seeds: set both together)', function () {
    const p = seedsExample();
    (p.spec?.containers[1] as V1Container).resources = { requests: { cpu: '3' } };
    const out = injectPod(p, { config });
    expect(out.status).to.equal('invalid');
    if (out.status === 'invalid') expect(out.message).to.contain('container istio-proxy requests cpu "3" but its limit is "2000m"');
  });

  it('applies inject.istio.io/templates in order: sidecar then a custom template from configuration', function () {
    const cfg = parseInjectorConfigYaml([
      'templates:',
      '  custom: |',
      '    spec:',
      '      containers:',
      '      - name: istio-proxy',
      '        env:',
      '        - name: GREETING',
      '          value: hello-world',
    ].join('\n'), '1-21');
    const { pod } = injected(injectPod(plain({ 'inject.istio.io/templates': 'sidecar,custom' }), { config: cfg }));
    const env = container(pod, 'istio-proxy').env ?? [];
    expect(env.find((e) => e.name === 'GREETING')?.value).to.equal('hello-world');
    expect(env.find((e) => e.name === 'PILOT_CERT_PROVIDER')?.value).to.equal('istiod');
    expect(pod.spec?.initContainers?.map((c) => c.name)).to.deep.equal(['istio-init']);
  });

  it('gateway template: the proxy runs as a router with no init container', function () {
    const p: V1Pod = {
      metadata: { name: 'gw', labels: { istio: 'ingressgateway' }, annotations: { 'inject.istio.io/templates': 'gateway' } },
      spec: { containers: [{ name: 'istio-proxy', image: 'auto' }] },
    };
    const { pod } = injected(injectPod(p, { config }));
    expect(pod.spec?.containers.map((c) => c.name)).to.deep.equal(['istio-proxy']);
    expect(pod.spec?.initContainers).to.equal(undefined);
    const proxy = container(pod, 'istio-proxy');
    expect(proxy.image).to.equal(config.proxy.image);
    expect(proxy.args?.slice(0, 2)).to.deep.equal(['proxy', 'router']);
    expect(parseSidecarStatus(pod.metadata?.annotations?.['sidecar.istio.io/status'])).to.include({ initContainers: null, revision: '1-21' });
  });

  it('rejects unknown templates, listing the known ones', function () {
    const out = injectPod(plain({ 'inject.istio.io/templates': 'sidecar,nope' }), { config });
    expect(out.status).to.equal('invalid');
    if (out.status === 'invalid') {
      expect(out.problems[0]?.annotation).to.equal('inject.istio.io/templates');
      expect(out.message).to.contain('"nope"').and.contain('known: sidecar, gateway');
    }
  });

  it('rejects an empty inject.istio.io/templates annotation', function () {
    expect(injectPod(plain({ 'inject.istio.io/templates': ' , ' }), { config }).status).to.equal('invalid');
  });

  it('uses the configured default templates when the pod names none', function () {
    const cfg = buildInjectorConfig({ templates: { extra: { metadata: { labels: { mesh: 'yes' } } } }, defaultTemplates: ['sidecar', 'extra'] }, '1-21');
    expect(injected(injectPod(plain(), { config: cfg })).pod.metadata?.labels?.['mesh']).to.equal('yes');
  });

  it('starts istio-proxy first when holdApplicationUntilProxyStarts is configured', function () {
    const cfg = buildInjectorConfig({ proxy: { holdApplicationUntilProxyStarts: true } }, '1-21');
    const { pod } = injected(injectPod(plain(), { config: cfg }));
    expect(pod.spec?.containers.map((c) => c.name)).to.deep.equal(['istio-proxy', 'app']);
    expect(container(pod, 'istio-proxy').lifecycle?.postStart?.exec?.command).to.deep.equal(['pilot-agent', 'wait']);
  });

  it('adds configured image pull secrets and lists them in the status', function () {
    const cfg = buildInjectorConfig({ imagePullSecrets: ['regcred'] }, '1-21');
    const { pod } = injected(injectPod(plain(), { config: cfg }));
    expect(pod.spec?.imagePullSecrets).to.deep.equal([{ name: 'regcred' }]);
    expect(parseSidecarStatus(pod.metadata?.annotations?.['sidecar.istio.io/status'])?.imagePullSecrets).to.deep.equal(['regcred']);
  });

  it('keeps annotations the user set (default container, prometheus scraping)', function () {
    const { pod } = injected(injectPod(plain({ 'kubectl.kubernetes.io/default-container': 'other', 'prometheus.io/scrape': 'false' }), { config }));
    expect(pod.metadata?.annotations).to.include({ 'kubectl.kubernetes.io/default-container': 'other', 'prometheus.io/scrape': 'false' });
    expect(pod.metadata?.annotations).to.not.have.property('prometheus.io/port');
  });

  it('names a Deployment\'s pod after the Deployment (generateName without the template hash)', function () {
    const p: V1Pod = { metadata: { generateName: 'checkout-7d9c5b8f6-' }, spec: { containers: [{ name: 'c', image: 'x' }] } };
    const { pod } = injected(injectPod(p, { config }));
    expect(pod.metadata?.labels?.['service.istio.io/canonical-name']).to.equal('checkout');
  });

  it('rejects pods whose shape it cannot inject, saying which field', function () {
    const out = injectPod({ spec: { containers: 'nope' } } as unknown as V1Pod, { config });
    expect(out.status).to.equal('invalid');
    if (out.status === 'invalid') expect(out.message).to.contain('spec.containers');
  });
});

describe('sidecar injector: strategic merge', function () {
  it('merges named lists by key keeping the base order, replaces other lists, and deletes on null', function () {
    const base = { containers: [{ name: 'a', args: ['1'], env: [{ name: 'X', value: '1' }] }], tolerations: [{ key: 't' }], keep: 1, drop: 2 };
    const patch = { containers: [{ name: 'b' }, { name: 'a', args: ['2'], env: [{ name: 'Y', value: '2' }] }], tolerations: [{ key: 'u' }], drop: null };
    expect(strategicMerge(base, patch)).to.deep.equal({
      containers: [{ name: 'a', args: ['2'], env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] }, { name: 'b' }],
      tolerations: [{ key: 'u' }],
      keep: 1,
    });
  });
});

describe('sidecar injector: configuration', function () {
  it('defaults the image and istiod address from the revision name', function () {
    expect(defaultInjectorConfig('1-20').proxy.image).to.equal('docker.io/istio/proxyv2:1.20.0');
    expect(defaultInjectorConfig('1-21-3').proxy.image).to.equal('docker.io/istio/proxyv2:1.21.3');
    expect(defaultInjectorConfig('canary').proxy.image).to.match(/^docker\.io\/istio\/proxyv2:/);
    expect(defaultInjectorConfig('default').discoveryAddress).to.equal('istiod.istio-system.svc:15012');
  });

  it('loads proxy settings, templates and mesh policy from YAML, the command line revision winning', function () {
    const cfg: InjectorConfig = parseInjectorConfigYaml([
      'revision: from-file',
      'proxy:',
      '  image: registry.local/proxyv2:1.21.2',
      '  resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {cpu: 1, memory: 256Mi}}',
      'mesh: {enableNamespacesByDefault: true}',
    ].join('\n'), '1-21');
    expect(cfg.revision).to.equal('1-21');
    expect(cfg.proxy.image).to.equal('registry.local/proxyv2:1.21.2');
    expect(cfg.proxy.initImage).to.equal('registry.local/proxyv2:1.21.2');
    expect(cfg.proxy.resources).to.deep.equal({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } });
    expect(cfg.mesh.enableNamespacesByDefault).to.equal(true);
    expect(parseInjectorConfigYaml('revision: from-file').revision).to.equal('from-file');
  });

  it('reads the seeds\' IstioOperator (custom template, hub/tag, enableNamespacesByDefault)', function () {
    const cfg = parseInjectorConfigYaml([
      'apiVersion: install.istio.io/v1alpha1',
      'kind: IstioOperator',
      'metadata: {name: istio}',
      'spec:',
      '  revision: 1-21',
      '  values:',
      '    global: {hub: docker.io/istio, tag: 1.21.2}',
      '    sidecarInjectorWebhook:',
      '      enableNamespacesByDefault: true',
      '      templates:',
      '        custom: |',
      '          spec:',
      '            containers:',
      '            - name: istio-proxy',
      '              env:',
      '              - name: GREETING',
      '                value: hello-world',
    ].join('\n'));
    expect(cfg.revision).to.equal('1-21');
    expect(cfg.proxy.image).to.equal('docker.io/istio/proxyv2:1.21.2');
    expect(cfg.mesh.enableNamespacesByDefault).to.equal(true);
    expect(cfg.templates['custom']?.spec).to.deep.equal({ containers: [{ name: 'istio-proxy', env: [{ name: 'GREETING', value: 'hello-world' }] }] });
  });

  it('reads never/alwaysInjectSelector from our shape and from an IstioOperator\'s sidecarInjectorWebhook', function () {
    const ours = parseInjectorConfigYaml('mesh: {neverInjectSelector: [{matchLabels: {app: batch}}], alwaysInjectSelector: [{matchExpressions: [{key: mesh, operator: Exists}]}]}');
    expect(ours.mesh.neverInjectSelector).to.deep.equal([{ matchLabels: { app: 'batch' } }]);
    expect(ours.mesh.alwaysInjectSelector).to.deep.equal([{ matchExpressions: [{ key: 'mesh', operator: 'Exists' }] }]);
    const io = parseInjectorConfigYaml([
      'kind: IstioOperator',
      'spec:',
      '  values:',
      '    global: {proxy: {autoInject: disabled}}',
      '    sidecarInjectorWebhook: {neverInjectSelector: [{matchLabels: {app: batch}}], alwaysInjectSelector: []}',
    ].join('\n'));
    expect(io.mesh).to.deep.equal({ autoInject: 'disabled', neverInjectSelector: [{ matchLabels: { app: 'batch' } }], alwaysInjectSelector: [] });
  });

  const bad: Array<[string, string, string]> = [
    ['an unknown field', 'proxi: {}', 'proxi: unknown field'],
    ['an invalid quantity, with its path', 'proxy: {resources: {limits: {cpu: lots}}}', 'proxy.resources.limits.cpu: "lots"'],
    ['Go template expressions', 'templates: {x: "spec: {{ .Values }}"}', 'Go template expressions'],
    ['an unknown default template', 'defaultTemplates: [nope]', 'unknown template "nope"'],
    ['an invalid revision name', 'revision: Not_Valid', 'not a valid revision name'],
    ['a bad autoInject value', 'mesh: {autoInject: maybe}', 'mesh.autoInject'],
    ['a neverInjectSelector istiod could not read', 'mesh: {neverInjectSelector: [{matchExpressions: [{key: app, operator: In}]}]}',
      'mesh.neverInjectSelector[0]: matchExpressions[0]: operator In needs at least one value'],
    ['a selector expression with no key', 'mesh: {neverInjectSelector: [{matchExpressions: [{operator: Exists}]}]}', 'matchExpressions[0]: key must be a string'],
    ['an alwaysInjectSelector that is not a list', 'mesh: {alwaysInjectSelector: {matchLabels: {a: b}}}', 'mesh.alwaysInjectSelector: must be a list'],
    ['invalid YAML', 'proxy: [', 'not valid YAML'],
  ];
  for (const [what, yaml, says] of bad) {
    it(`rejects ${what}, saying where`, function () {
      expect(() => parseInjectorConfigYaml(yaml)).to.throw(says);
    });
  }
});
