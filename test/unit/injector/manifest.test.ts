import type { V1CronJob, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { defaultInjectorConfig } from '../../../src/injector/config.js';
import { kubeInjectManifest, splitYamlDocuments, workloadPods } from '../../../src/injector/manifest.js';

const config = defaultInjectorConfig('1-21');

// Non-workload documents are written in deliberately unusual styles
// (comments, flow maps, quoting, block scalars, anchors) to prove they are
// emitted byte for byte.
const SERVICE = `# The service, with a comment kept verbatim
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: "web"}}   # flow style
spec:
  ports:
  - port: 80
    targetPort: 'http'
`;
const CONFIGMAP = `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  base: &base "shared"
  copy: *base
  script: |
    #!/bin/sh
    echo "--- not a document marker, it is indented"
`;
const DEPLOYMENT = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the workload
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
`;
const CRONJOB = `---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: report, image: busybox}]
`;
const OPTED_OUT = `---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata:
      labels: {app: db}
      annotations: {sidecar.istio.io/inject: "false"}
    spec:
      containers: [{name: db, image: postgres}]
`;
const POD = `---
apiVersion: v1
kind: Pod
metadata: {name: single}
spec:
  containers: [{name: c, image: busybox}]
`;

const MANIFEST = SERVICE + CONFIGMAP + DEPLOYMENT + CRONJOB + OPTED_OUT + POD;

/** The parsed documents; tests index them knowing which kind is where. */
function docs<T extends unknown[]>(text: string): Partial<T> {
  return parseAllDocuments(text).map((d) => d.toJS() as unknown) as Partial<T>;
}

describe('kube-inject: manifests', function () {
  it('splits a stream into documents that concatenate back to the input', function () {
    const parts = splitYamlDocuments(MANIFEST);
    expect(parts).to.have.length(6);
    expect(parts.join('')).to.equal(MANIFEST);
    expect(splitYamlDocuments('a: 1\n...\n---\nb: 2')).to.deep.equal(['a: 1\n...\n', '---\nb: 2']);
    expect(splitYamlDocuments('--- {a: 1}\n--- {b: 2}\n')).to.deep.equal(['--- {a: 1}\n', '--- {b: 2}\n']);
  });

  it('round-trips non-workload kinds byte for byte and injects each workload kind', function () {
    const r = kubeInjectManifest(MANIFEST, config);
    expect(r.errors).to.deep.equal([]);
    const out = splitYamlDocuments(r.output);
    expect(out[0]).to.equal(SERVICE);
    expect(out[1]).to.equal(CONFIGMAP);
    expect(out[4]).to.equal(OPTED_OUT);
    expect(r.injected).to.deep.equal(['Deployment shop/web', 'CronJob report', 'Pod single']);
    expect(r.skipped.map((s) => s.object)).to.deep.equal(['StatefulSet db']);
    expect(r.skipped[0]?.reason).to.contain('opts it out');
    const [, , deploy, cron, , pod] = docs<[unknown, unknown, V1Deployment, V1CronJob, unknown, V1Pod]>(r.output);
    expect(deploy?.spec?.template.spec?.containers.map((c) => c.name)).to.deep.equal(['web', 'istio-proxy']);
    expect(deploy?.spec?.template.spec?.initContainers?.map((c) => c.name)).to.deep.equal(['istio-init']);
    expect(deploy?.spec?.template.metadata?.annotations?.['istio.io/rev']).to.equal('1-21');
    expect(deploy?.spec?.selector).to.deep.equal({ matchLabels: { app: 'web' } });
    expect(cron?.spec?.jobTemplate.spec?.template.spec?.containers).to.have.length(2);
    expect(cron?.spec?.schedule).to.equal('0 * * * *');
    expect(pod?.spec?.containers.map((c) => c.name)).to.deep.equal(['c', 'istio-proxy']);
    expect(pod?.metadata?.annotations?.['sidecar.istio.io/status']).to.contain('"revision":"1-21"');
  });

  it('keeps comments outside the pod template of an injected workload', function () {
    const out = splitYamlDocuments(kubeInjectManifest(MANIFEST, config).output);
    expect(out[2]).to.contain('name: web # the workload');
  });

  it('is idempotent: injecting twice gives the same text as once', function () {
    const once = kubeInjectManifest(MANIFEST, config);
    const twice = kubeInjectManifest(once.output, config);
    expect(twice.output).to.equal(once.output);
    expect(twice.injected).to.deep.equal([]);
    expect(twice.skipped.map((s) => s.reason).filter((r) => r.includes('already'))).to.have.length(3);
  });

  it('leaves a manifest with no workloads exactly as it was', function () {
    const text = SERVICE + CONFIGMAP + '---\n# trailing comment only\n';
    expect(kubeInjectManifest(text, config).output).to.equal(text);
  });

  it('injects the workloads of a List and every other workload kind', function () {
    const kinds = ['DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController'];
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: kinds.map((kind) => ({ kind, metadata: { name: kind.toLowerCase() }, spec: { template: { spec: { containers: [{ name: 'c', image: 'x' }] } } } })),
    };
    const r = kubeInjectManifest(JSON.stringify(list), config);
    expect(r.injected).to.deep.equal(kinds.map((k) => `${k} ${k.toLowerCase()}`));
    const [out] = docs<[{ items: V1Deployment[] }]>(r.output);
    for (const item of out?.items ?? []) expect(item.spec?.template.spec?.containers).to.have.length(2);
  });

  it('skips hostNetwork workloads and workloads in system namespaces', function () {
    const text = [
      'kind: DaemonSet\nmetadata: {name: agent}\nspec: {template: {spec: {hostNetwork: true, containers: [{name: a, image: x}]}}}\n',
      '---\nkind: Deployment\nmetadata: {name: dns, namespace: kube-system}\nspec: {template: {spec: {containers: [{name: a, image: x}]}}}\n',
    ].join('');
    const r = kubeInjectManifest(text, config);
    expect(r.output).to.equal(text);
    expect(r.skipped.map((s) => s.reason).join('\n')).to.contain('hostNetwork').and.contain('namespace kube-system is one istiod never injects');
  });

  it('reports invalid annotations as errors naming the workload and annotation', function () {
    const text = 'kind: Deployment\nmetadata: {name: web}\nspec: {template: {metadata: {annotations: {sidecar.istio.io/proxyCPU: abc}}, spec: {containers: [{name: a, image: x}]}}}\n';
    const r = kubeInjectManifest(text, config);
    expect(r.errors).to.have.length(1);
    expect(r.errors[0]).to.contain('Deployment web').and.contain('sidecar.istio.io/proxyCPU');
  });

  it('reports invalid YAML with the document number', function () {
    const r = kubeInjectManifest('a: 1\n---\nb: [\n', config);
    expect(r.errors[0]).to.contain('document 2');
  });

  it('returns warnings for the seeds\' incomplete resource annotations', function () {
    const text = 'kind: Pod\nmetadata: {name: p, annotations: {sidecar.istio.io/proxyCPU: 200m, sidecar.istio.io/proxyMemoryLimit: 5Gi}}\nspec: {containers: [{name: a, image: x}]}\n';
    const r = kubeInjectManifest(text, config);
    expect(r.warnings).to.have.length(2);
    const [pod] = docs<[V1Pod]>(r.output);
    expect(pod?.spec?.containers[1]?.resources).to.deep.equal({ limits: { memory: '5Gi' }, requests: { cpu: '200m', memory: '5Gi' } });
  });

  it('keeps strings that YAML 1.1 (kubectl) would read as booleans or numbers quoted', function () {
    const text = 'kind: Pod\nmetadata: {name: p, labels: {flag: "yes", mode: "on", perm: "0777", day: "2001-01-01"}}\nspec: {containers: [{name: a, image: x}]}\n';
    const r = kubeInjectManifest(text, config);
    expect(r.output).to.contain('flag: "yes"').and.contain('mode: "on"').and.contain('perm: "0777"').and.contain('day: "2001-01-01"');
    expect(docs<[V1Pod]>(r.output)[0]?.metadata?.labels).to.include({ flag: 'yes', mode: 'on', perm: '0777', day: '2001-01-01' });
  });

  it('says which annotation YAML turned into a non-string', function () {
    const text = 'kind: Pod\nmetadata: {name: p, annotations: {sidecar.istio.io/proxyCPU: 1}}\nspec: {containers: [{name: a, image: x}]}\n';
    expect(kubeInjectManifest(text, config).errors[0]).to.contain('metadata.annotations["sidecar.istio.io/proxyCPU"] must be a string').and.contain('quote it');
  });

  it('lists the pod templates of a manifest for check-inject', function () {
    expect(workloadPods(MANIFEST).map((p) => p.description)).to.deep.equal(['Deployment shop/web', 'CronJob report', 'StatefulSet db', 'Pod single']);
    expect(workloadPods(MANIFEST)[2]?.annotations).to.deep.equal({ 'sidecar.istio.io/inject': 'false' });
  });
});
