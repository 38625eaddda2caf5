// The pod and workload projections keep exactly what the policies read: the
// planner, the rollout readers and the in-use computation give the same
// answers on projected objects as on whole ones, and an injected pod or a
// workload shrinks to a fraction of its size.
import type { KubernetesObject, V1DaemonSet, V1Deployment, V1ObjectMeta, V1Pod, V1PodTemplateSpec, V1StatefulSet } from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATION_ISTIO_REV, ANNOTATION_RESTARTED_AT, LABEL_SIDECAR_INJECT } from '../../../src/api/labels.js';
import { ANNOTATION_RESTARTED_FOR } from '../../../src/api/migration.js';
import { defaultInjectorConfig } from '../../../src/injector/config.js';
import { injectPod } from '../../../src/injector/inject.js';
import { Informer, toTyped } from '../../../src/kube/informer.js';
import { podProjection, withoutBookkeeping, workloadProjection } from '../../../src/kube/projections.js';
import type { Workload } from '../../../src/api/workload.js';
import { planWorkloads, rolloutComplete, rolloutDeadlineMs } from '../../../src/policy/migration.js';
import { computeInUse } from '../../../src/policy/revision-status.js';

const NOW = new Date('2026-12-02T10:00:00Z');

function injected(name: string, rev: string, extra: Partial<V1Pod> = {}): V1Pod {
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      resourceVersion: '42',
      labels: { app: 'web', 'pod-template-hash': '5d4' },
      annotations: { 'prometheus.io/scrape': 'true' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d4', uid: 'rs', controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': {} } }],
    },
    spec: { containers: [{ name: 'app', image: 'registry.example/web:1', env: [{ name: 'A', value: 'b' }] }] },
    ...extra,
  };
  const out = injectPod(pod, { config: defaultInjectorConfig(rev), namespace: 'shop' });
  if (out.status !== 'injected') throw new Error(`not injected: ${out.status}`);
  return out.pod;
}

const running = (p: V1Pod, status: V1Pod['status']): V1Pod => ({ ...p, status });

describe('informer projections', () => {
  const pods: V1Pod[] = [
    running(injected('web-a', '1-20'), { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: 'x', imageID: 'y', state: { running: {} } }] }),
    running(injected('web-b', '1-21'), {
      phase: 'Running',
      containerStatuses: [{ name: 'istio-proxy', ready: false, restartCount: 4, image: 'x', imageID: 'y', state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } } }],
    }),
    running(injected('web-c', '1-21'), { phase: 'Succeeded' }),
    { ...running(injected('web-d', '1-20'), { phase: 'Running' }), metadata: { ...injected('web-d', '1-20').metadata, deletionTimestamp: new Date(NOW.getTime() - 1000) } },
    running(injected('solo', '1-20', {}), { phase: 'Running' }),
  ];
  pods[4]!.metadata!.ownerReferences = undefined;
  pods[4]!.metadata!.labels = { app: 'other', [LABEL_SIDECAR_INJECT]: 'true' };
  const projected = pods.map((p) => toTyped<V1Pod>(podProjection(toTyped<V1Pod>(JSON.parse(JSON.stringify(p)) as unknown, 'v1', 'Pod')), 'v1', 'Pod'));

  const deployment = (stamp?: string): Workload => {
    const d: V1Deployment = {
      metadata: { name: 'web', namespace: 'shop', generation: 2, resourceVersion: '40' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' }, annotations: stamp ? { [ANNOTATION_RESTARTED_FOR]: stamp, [ANNOTATION_RESTARTED_AT]: '2026-12-02T09:59:00Z' } : {} }, spec: { containers: [] } },
      },
      status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 },
    };
    return { ...d, kind: 'Deployment' };
  };

  for (const [name, workloads, expected, kind, reported] of [
    ['an unstamped Deployment going to 1-21', [deployment()], '1-21', 'restart', 1],
    ['a Deployment stamped for 1-21 with a crash-looping new pod', [deployment('1-21')], '1-21', 'failed', 1],
    ['a Deployment going back to 1-20', [deployment('1-21')], '1-20', 'restart', 0],
  ] as const) {
    it(`plans ${name} the same on projected pods as on whole ones (${kind})`, () => {
      const whole = planWorkloads({ expectedRevision: expected, workloads, pods, now: NOW });
      const slim = planWorkloads({ expectedRevision: expected, workloads, pods: projected, now: NOW });
      expect(slim).to.deep.equal(whole);
      expect(whole.actions.map((a) => a.kind)).to.deep.equal([kind]);
      expect(whole.reported).to.have.length(reported);
    });
  }

  it('counts the same pods as in use', () => {
    const decision = { servesRevision: true, holdsDefault: false, tags: [] };
    for (const rev of ['1-20', '1-21']) {
      const whole = computeInUse(rev, decision, [], pods);
      const slim = computeInUse(rev, decision, [], projected);
      expect({ ...slim, why: [...slim.why] }).to.deep.equal({ ...whole, why: [...whole.why] });
    }
  });

  it('keeps identity, labels, the injection annotations, owners and the health fields, and nothing of the sidecar', () => {
    const p = projected[1]!;
    expect(p.metadata?.name).to.equal('web-b');
    expect(p.metadata?.resourceVersion).to.equal('42');
    expect(p.metadata?.annotations).to.deep.equal({ [ANNOTATION_ISTIO_REV]: '1-21' });
    expect(p.metadata?.managedFields).to.equal(undefined);
    expect(p.status?.containerStatuses?.[0]?.state?.waiting?.reason).to.equal('CrashLoopBackOff');
    expect(p.status?.containerStatuses?.[0]?.restartCount).to.equal(4);
    expect(p.spec?.containers ?? []).to.deep.equal([]);
    expect(p.spec?.initContainers).to.equal(undefined);
    expect(p.spec?.volumes).to.equal(undefined);
  });

  it('shrinks an injected pod to a small fraction of its size', () => {
    const whole = JSON.stringify(pods[0]).length;
    const slim = JSON.stringify(podProjection(pods[0]!)).length;
    expect(whole).to.be.above(5000);
    expect(slim / whole).to.be.below(0.2);
  });

  it('drops managedFields and last-applied-configuration from other kinds, keeping the rest and the input intact', () => {
    const ns = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'shop',
        labels: { 'istio.io/rev': '1-21' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}', 'meshrev.io/origin': '{}' },
        managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      },
    };
    const before = JSON.stringify(ns);
    const out = withoutBookkeeping(ns);
    expect(out.metadata).to.deep.equal({ name: 'shop', labels: { 'istio.io/rev': '1-21' }, annotations: { 'meshrev.io/origin': '{}' } });
    expect(JSON.stringify(ns)).to.equal(before);
    const plain = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } };
    expect(withoutBookkeeping(plain)).to.equal(plain);
  });
});

describe('informer projections: workloads', () => {
  const heavyTemplate = (labels: Record<string, string>, annotations: Record<string, string>, hostNetwork?: boolean): V1PodTemplateSpec => ({
    metadata: { labels, annotations: { 'prometheus.io/scrape': 'true', 'checksum/config': 'c'.repeat(64), ...annotations } },
    spec: {
      ...(hostNetwork !== undefined ? { hostNetwork } : {}),
      containers: [
        {
          name: 'app',
          image: 'registry.example/web:1',
          env: Array.from({ length: 20 }, (_, i) => ({ name: `VAR_${i}`, value: `value-${i}` })),
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
          volumeMounts: [{ name: 'config', mountPath: '/etc/config' }],
        },
      ],
      volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
    },
  });
  const meta = (name: string, extra: Partial<V1ObjectMeta> = {}): V1ObjectMeta => ({
    name,
    namespace: 'shop',
    uid: `uid-${name}`,
    resourceVersion: '40',
    generation: 3,
    creationTimestamp: new Date('2026-12-01T10:00:00Z'),
    labels: { app: name },
    annotations: { 'deployment.kubernetes.io/revision': '3', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }],
    ...extra,
  });
  const progressing = (status: string, reason: string) => ({
    type: 'Progressing',
    status,
    reason,
    message: `ReplicaSet "web-5d4" ${reason}`,
    lastUpdateTime: new Date('2026-12-02T09:00:00Z'),
    lastTransitionTime: new Date('2026-12-02T09:00:00Z'),
  });
  const stamp = (rev: string, at = '2026-12-02T09:59:00Z') => ({ [ANNOTATION_RESTARTED_FOR]: rev, [ANNOTATION_RESTARTED_AT]: at });
  const deploymentStatus = (n: number, gen = 3) => ({ observedGeneration: gen, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n });

  const full: Workload[] = [
    {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: meta('web'),
      spec: { replicas: 2, progressDeadlineSeconds: 120, minReadySeconds: 5, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } }, selector: { matchLabels: { app: 'web' } }, template: heavyTemplate({ app: 'web' }, stamp('1-21')) },
      status: { ...deploymentStatus(2), conditions: [progressing('True', 'NewReplicaSetAvailable'), { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }] },
    },
    {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: meta('stuck', { generation: 4 }),
      spec: { replicas: 2, progressDeadlineSeconds: 60, selector: { matchLabels: { app: 'stuck' } }, template: heavyTemplate({ app: 'stuck' }, stamp('1-21', '2026-12-02T09:50:00Z')) },
      status: { observedGeneration: 4, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1, conditions: [progressing('False', 'ProgressDeadlineExceeded')] },
    },
    {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: meta('optout'),
      spec: { replicas: 1, paused: true, selector: { matchLabels: { app: 'optout' } }, template: heavyTemplate({ app: 'optout' }, { [LABEL_SIDECAR_INJECT]: 'false' }) },
      status: deploymentStatus(1),
    },
    {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: meta('pinned'),
      spec: { replicas: 1, selector: { matchLabels: { app: 'pinned' } }, template: heavyTemplate({ app: 'pinned', 'istio.io/rev': '1-20' }, {}) },
      status: deploymentStatus(1),
    },
    {
      kind: 'StatefulSet',
      apiVersion: 'apps/v1',
      metadata: meta('db'),
      spec: { replicas: 2, serviceName: 'db', updateStrategy: { type: 'OnDelete' }, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] }, template: heavyTemplate({ app: 'db' }, {}) },
      status: { observedGeneration: 3, replicas: 2, readyReplicas: 2, updatedReplicas: 2, currentRevision: 'db-1', updateRevision: 'db-2', collisionCount: 0 },
    },
    {
      kind: 'StatefulSet',
      apiVersion: 'apps/v1',
      metadata: meta('cache'),
      spec: { replicas: 1, serviceName: 'cache', updateStrategy: { type: 'RollingUpdate' }, selector: { matchLabels: { app: 'cache' } }, template: heavyTemplate({ app: 'cache' }, stamp('1-21')) },
      status: { observedGeneration: 3, replicas: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: 'cache-1', updateRevision: 'cache-2' },
    },
    {
      kind: 'DaemonSet',
      apiVersion: 'apps/v1',
      metadata: meta('agent'),
      spec: { selector: { matchLabels: { app: 'agent' } }, updateStrategy: { type: 'RollingUpdate' }, template: heavyTemplate({ app: 'agent' }, {}) },
      status: { observedGeneration: 3, desiredNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 0, updatedNumberScheduled: 2, numberReady: 2, numberAvailable: 2 },
    },
    {
      kind: 'DaemonSet',
      apiVersion: 'apps/v1',
      metadata: meta('node-exporter'),
      spec: { selector: { matchLabels: { app: 'node-exporter' } }, template: heavyTemplate({ app: 'node-exporter' }, {}, true) },
      status: { observedGeneration: 2, desiredNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 0, updatedNumberScheduled: 1, numberReady: 2 },
    },
  ];
  /** As the informer caches it: listed (typed model in, typed out) or watched (wire JSON in). */
  const viaList = (w: Workload): Workload => ({ ...toTyped<Workload>(workloadProjection(toTyped<Workload>(JSON.parse(JSON.stringify(w)) as unknown, 'apps/v1', w.kind)), 'apps/v1', w.kind), kind: w.kind } as Workload);
  const viaWatch = (w: Workload): Workload => ({ ...toTyped<Workload>(workloadProjection(JSON.parse(JSON.stringify(w)) as KubernetesObject), 'apps/v1', w.kind), kind: w.kind } as Workload);
  const whole = full.map((w) => ({ ...toTyped<Workload>(JSON.parse(JSON.stringify(w)) as unknown, 'apps/v1', w.kind), kind: w.kind } as Workload));

  const pod = (name: string, app: string, rev: string, extra: Partial<V1Pod['status']> = {}): V1Pod => ({
    metadata: { name, namespace: 'shop', labels: { app }, annotations: { [ANNOTATION_ISTIO_REV]: rev } },
    spec: { containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], ...extra },
  });
  const podSets: [string, V1Pod[]][] = [
    ['no pods', []],
    ['pods on 1-20', ['web', 'stuck', 'optout', 'pinned', 'db', 'cache', 'agent', 'node-exporter'].map((a) => pod(`${a}-0`, a, '1-20'))],
    ['pods on 1-21', ['web', 'stuck', 'optout', 'pinned', 'db', 'cache', 'agent', 'node-exporter'].map((a) => pod(`${a}-0`, a, '1-21'))],
    [
      'crash-looping pods on 1-21',
      ['web', 'stuck', 'cache'].map((a) => pod(`${a}-0`, a, '1-21', { containerStatuses: [{ name: 'istio-proxy', ready: false, restartCount: 5, image: 'x', imageID: 'y', state: { waiting: { reason: 'CrashLoopBackOff' } } }] })),
    ],
  ];

  for (const [path, project] of [['listed', viaList], ['watched', viaWatch]] as const) {
    const slim = full.map(project);
    for (const [podsName, pods] of podSets) {
      for (const expected of ['1-20', '1-21']) {
        for (const now of [NOW, new Date(NOW.getTime() + 3_600_000)]) {
          it(`plans ${path} workloads the same as whole ones (${podsName}, to ${expected}, ${now === NOW ? 'now' : 'an hour later'})`, () => {
            const input = { expectedRevision: expected, pods, now, relabelledAt: '2026-12-02T09:58:00Z', podsResourceVersion: '50' };
            const a = planWorkloads({ ...input, workloads: whole });
            const b = planWorkloads({ ...input, workloads: slim });
            expect(b).to.deep.equal(a);
          });
        }
      }
    }

    it(`judges ${path} workloads' rollouts and deadlines the same as whole ones`, () => {
      expect(slim.map((w) => rolloutComplete(w))).to.deep.equal(whole.map((w) => rolloutComplete(w)));
      expect(slim.map((w) => rolloutDeadlineMs(w, 300))).to.deep.equal(whole.map((w) => rolloutDeadlineMs(w, 300)));
      // The fixtures cover both answers, so "the same" is not "always false".
      expect(whole.map((w) => rolloutComplete(w))).to.include.members([true, false]);
    });
  }

  it('pins what a workload keeps: identity, selector, replica and strategy scalars, the template labels and three annotations, hostNetwork, status', () => {
    const w = viaList(full[0]!) as V1Deployment;
    expect(w.metadata).to.deep.equal({
      name: 'web',
      namespace: 'shop',
      uid: 'uid-web',
      resourceVersion: '40',
      generation: 3,
      creationTimestamp: new Date('2026-12-01T10:00:00Z'),
      labels: { app: 'web' },
    });
    expect(w.spec?.template.spec?.containers ?? []).to.deep.equal([]);
    expect(w.spec?.template.spec?.volumes).to.equal(undefined);
    expect(JSON.parse(JSON.stringify(w.spec))).to.deep.equal({
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate' },
      progressDeadlineSeconds: 120,
      minReadySeconds: 5,
      template: { metadata: { labels: { app: 'web' }, annotations: stamp('1-21') }, spec: {} },
    });
    expect(JSON.parse(JSON.stringify(w.status))).to.deep.equal({
      ...deploymentStatus(2),
      conditions: [
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
      ],
    });
    const ds = viaWatch(full[7]!) as V1DaemonSet;
    expect(ds.spec?.template.spec?.hostNetwork).to.equal(true);
    expect(ds.status?.numberMisscheduled).to.equal(0);
    const sts = viaWatch(full[4]!) as V1StatefulSet;
    expect(sts.spec?.updateStrategy).to.deep.equal({ type: 'OnDelete' });
    expect(sts.spec?.selector).to.deep.equal({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] });
    expect(sts.status?.updateRevision).to.equal('db-2');
    expect((viaWatch(full[2]!) as V1Deployment).spec?.paused).to.equal(true);
    expect(viaWatch(full[2]!).spec?.template?.metadata?.annotations).to.deep.equal({ [LABEL_SIDECAR_INJECT]: 'false' });
  });

  it('gives the same object whether listed or watched, and leaves its input intact', () => {
    const input = JSON.parse(JSON.stringify(full[1])) as KubernetesObject;
    const before = JSON.stringify(input);
    workloadProjection(input);
    expect(JSON.stringify(input)).to.equal(before);
    for (const w of full) expect(viaWatch(w)).to.deep.equal(viaList(w));
  });

  it('shrinks a workload to a small fraction of its size', () => {
    const a = JSON.stringify(full[0]).length;
    const b = JSON.stringify(workloadProjection(full[0]!)).length;
    expect(b / a).to.be.below(0.4);
  });

  it('projects what the operator\'s own writes return too (Informer.assume), not just listed and watched objects', async () => {
    const d = JSON.parse(JSON.stringify(full[0])) as V1Deployment;
    let onWatch: ((phase: string, obj: unknown) => void) | undefined;
    const informer = new Informer<V1Deployment>({
      resource: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
      list: () => Promise.resolve({ apiVersion: 'apps/v1', kind: 'DeploymentList', metadata: { resourceVersion: '41' }, items: [toTyped<V1Deployment>(d, 'apps/v1', 'Deployment')] }),
      watch: {
        watch: (_p, _q, cb) => {
          onWatch = cb;
          return Promise.resolve(new AbortController());
        },
      },
      transform: workloadProjection,
    });
    informer.start();
    await informer.whenSynced();
    for (let i = 0; i < 20 && !onWatch; i++) await new Promise((r) => setImmediate(r));
    expect(informer.get('shop/web')?.spec?.template.spec?.containers ?? []).to.deep.equal([]);
    const written = toTyped<V1Deployment>({ ...d, metadata: { ...d.metadata, resourceVersion: '45' } }, 'apps/v1', 'Deployment');
    informer.assume(written);
    expect(informer.get('shop/web')?.metadata?.resourceVersion).to.equal('45');
    expect(informer.get('shop/web')?.spec?.template.spec?.containers ?? []).to.deep.equal([]);
    expect(informer.get('shop/web')?.metadata?.managedFields).to.equal(undefined);
    expect(onWatch).to.be.a('function');
    onWatch!('MODIFIED', { ...d, metadata: { ...d.metadata, resourceVersion: '46' } });
    expect(informer.get('shop/web')?.metadata?.resourceVersion).to.equal('46');
    expect(informer.get('shop/web')?.spec?.template.spec?.containers ?? []).to.deep.equal([]);
    await informer.stop();
  });
});
