// The pod projection keeps exactly what the policies read: the planner and the
// in-use computation give the same answers on projected pods as on whole ones,
// and an injected pod shrinks to a fraction of its size.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATION_ISTIO_REV, ANNOTATION_RESTARTED_AT, LABEL_SIDECAR_INJECT } from '../../../src/api/labels.js';
import { ANNOTATION_RESTARTED_FOR } from '../../../src/api/migration.js';
import { defaultInjectorConfig } from '../../../src/injector/config.js';
import { injectPod } from '../../../src/injector/inject.js';
import { toTyped } from '../../../src/kube/informer.js';
import { podProjection, withoutBookkeeping } from '../../../src/kube/projections.js';
import type { Workload } from '../../../src/api/workload.js';
import { planWorkloads } from '../../../src/policy/migration.js';
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
