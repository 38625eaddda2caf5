// Table tests for the pure migration planner (DESIGN.md §3): which namespaces
// move, in which steps, and which workloads must be restarted. No cluster:
// every Kubernetes object is a plain literal built by a factory below.
import type { Workload } from '../../../src/api/workload.js';
import type {
  V1DaemonSet,
  V1Deployment,
  V1DeploymentCondition,
  V1LabelSelector,
  V1Namespace,
  V1OwnerReference,
  V1Pod,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import type { MigrationSpec, MigrationStatus, MigrationStep, NamespaceOrigin } from '../../../src/api/migration.js';
import {
  classifyNamespaces,
  effectiveSteps,
  hasOriginLabels,
  hasTargetLabels,
  originOf,
  parsePause,
  planSteps,
  planWorkloads,
  readOrigin,
  returnedNamespaces,
  resourceVersionOlder,
  rolloutComplete,
  rolloutDeadlineMs,
  stepTargets,
  type NamespaceClass,
  type PauseKind,
  type WorkloadAction,
  type WorkloadPlanInput,
} from '../../../src/policy/migration.js';
import { sourceOfLabels as sourceOf } from '../../../src/policy/routing.js';
import { requestRollback } from '../../../src/reconcile/migration.js';

type L = Record<string, string>;

const NSI = 'istio-injection';
const REV = 'istio.io/rev';
const INJECT = 'sidecar.istio.io/inject';
const ORIGIN = 'meshrev.io/origin';
const RESTARTED_FOR = 'meshrev.io/restarted-for';
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** metadata.name of the MeshRevision under test, and its spec.revision (the target). */
const MREV = 'canary';
const TARGET = '1-21';
const OLD = '1-20';
const APPS = 'apps';
const NOW = new Date('2024-05-01T10:00:00Z');

/** RFC 3339 `seconds` before NOW, as `kubectl rollout restart` writes it. */
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---------------------------------------------------------------------------
// Factories

function ns(name: string, labels: L = {}, annotations: L = {}): V1Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, annotations } };
}

function originJson(o: Partial<NamespaceOrigin> & { labels: NamespaceOrigin['labels'] }, meshRevision = MREV): string {
  return JSON.stringify({ meshRevision, revision: TARGET, ...o });
}

/** A namespace this MeshRevision moved (target labels on, origin recorded). */
function movedNs(name: string, originLabels: NamespaceOrigin['labels'], meshRevision = MREV): V1Namespace {
  return ns(name, { [REV]: TARGET }, { [ORIGIN]: originJson({ labels: originLabels }, meshRevision) });
}

interface PodOpts {
  /** Pod labels (the workload selectors match these). */
  labels?: L;
  /** The revision that injected it (its istio.io/rev annotation). */
  rev?: string;
  annotations?: L;
  owners?: V1OwnerReference[];
  phase?: string;
  terminating?: boolean;
}

function pod(name: string, o: PodOpts = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: APPS,
      labels: o.labels ?? {},
      annotations: { ...(o.rev !== undefined ? { [REV]: o.rev } : {}), ...(o.annotations ?? {}) },
      ...(o.owners ? { ownerReferences: o.owners } : {}),
      ...(o.terminating ? { deletionTimestamp: new Date(NOW.getTime() - 5000) } : {}),
    },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase: o.phase ?? 'Running' },
  };
}

function owner(kind: string, name: string, controller = true): V1OwnerReference {
  return { apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1', kind, name, uid: `uid-${name}`, controller };
}

/** Pods of the app `app`, one per revision given (undefined: not injected). */
function appPods(app: string, revs: (string | undefined)[], extra: PodOpts = {}): V1Pod[] {
  return revs.map((rev, i) => pod(`${app}-${i}`, { labels: { app }, ...(rev !== undefined ? { rev } : {}), ...extra }));
}

interface TemplateOpts {
  /** meshrev.io/restarted-for on the pod template. */
  stamp?: string;
  /** kubectl.kubernetes.io/restartedAt on the pod template. */
  restartedAt?: string;
  tmplLabels?: L;
  tmplAnnotations?: L;
  selector?: V1LabelSelector;
  generation?: number;
  hostNetwork?: boolean;
}

function template(name: string, o: TemplateOpts) {
  return {
    metadata: {
      labels: { app: name, ...(o.tmplLabels ?? {}) },
      annotations: {
        ...(o.stamp !== undefined ? { [RESTARTED_FOR]: o.stamp } : {}),
        ...(o.restartedAt !== undefined ? { [RESTARTED_AT]: o.restartedAt } : {}),
        ...(o.tmplAnnotations ?? {}),
      },
    },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...(o.hostNetwork ? { hostNetwork: true } : {}) },
  };
}

type DeployStatus = NonNullable<V1Deployment['status']>;
interface DeployOpts extends TemplateOpts {
  replicas?: number;
  progressDeadlineSeconds?: number;
  /** Overrides of a complete rollout's status. */
  status?: Partial<DeployStatus>;
  conditions?: V1DeploymentCondition[];
  noStatus?: boolean;
}

/** A Deployment whose rollout is complete unless `status` says otherwise. */
function deploy(name: string, o: DeployOpts = {}): Workload {
  const replicas = o.replicas ?? 2;
  const generation = o.generation ?? 3;
  const d: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: APPS, generation },
    spec: {
      replicas,
      selector: o.selector ?? { matchLabels: { app: name } },
      ...(o.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: o.progressDeadlineSeconds } : {}),
      template: template(name, o),
    },
    ...(o.noStatus
      ? {}
      : {
          status: {
            observedGeneration: generation,
            replicas,
            updatedReplicas: replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            ...(o.conditions ? { conditions: o.conditions } : {}),
            ...(o.status ?? {}),
          },
        }),
  };
  return { ...d, kind: 'Deployment' };
}

type StsStatus = NonNullable<V1StatefulSet['status']>;
interface StsOpts extends TemplateOpts {
  replicas?: number;
  onDelete?: boolean;
  status?: Partial<StsStatus>;
}

/** A StatefulSet whose rollout is complete (currentRevision == updateRevision) unless `status` says otherwise. */
function sts(name: string, o: StsOpts = {}): Workload {
  const replicas = o.replicas ?? 3;
  const generation = o.generation ?? 2;
  const s: V1StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: APPS, generation },
    spec: {
      replicas,
      serviceName: name,
      selector: o.selector ?? { matchLabels: { app: name } },
      ...(o.onDelete ? { updateStrategy: { type: 'OnDelete' } } : {}),
      template: template(name, o),
    },
    status: {
      observedGeneration: generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      currentRevision: `${name}-7c9`,
      updateRevision: `${name}-7c9`,
      ...(o.status ?? {}),
    },
  };
  return { ...s, kind: 'StatefulSet' };
}

type DsStatus = NonNullable<V1DaemonSet['status']>;
interface DsOpts extends TemplateOpts {
  desired?: number;
  status?: Partial<DsStatus>;
}

/** A DaemonSet whose rollout is complete unless `status` says otherwise. */
function ds(name: string, o: DsOpts = {}): Workload {
  const desired = o.desired ?? 3;
  const generation = o.generation ?? 5;
  const d: V1DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: APPS, generation },
    spec: { selector: o.selector ?? { matchLabels: { app: name } }, template: template(name, o) },
    status: {
      observedGeneration: generation,
      currentNumberScheduled: desired,
      desiredNumberScheduled: desired,
      numberMisscheduled: 0,
      numberReady: desired,
      updatedNumberScheduled: desired,
      numberAvailable: desired,
      ...(o.status ?? {}),
    },
  };
  return { ...d, kind: 'DaemonSet' };
}

const deadlineExceeded: V1DeploymentCondition = {
  type: 'Progressing',
  status: 'False',
  reason: 'ProgressDeadlineExceeded',
  message: 'ReplicaSet "web-5d4" has timed out progressing.',
};

// ---------------------------------------------------------------------------

describe('migration planner', () => {
  describe('stepTargets', () => {
    const cases: { name: string; steps: MigrationStep[] | undefined; total: number; want: number[] }[] = [
      { name: 'counts namespaces cumulatively and implies a final 100% step', steps: [{ namespaces: 1 }, { namespaces: 3 }], total: 5, want: [1, 3, 5] },
      { name: 'turns percentages into counts of the eligible namespaces', steps: [{ percent: 10 }, { percent: 50 }, { percent: 100 }], total: 10, want: [1, 5, 10] },
      { name: 'rounds a percentage up (33% of 10 is 4)', steps: [{ percent: 33 }], total: 10, want: [4, 10] },
      { name: 'rounds a half up (1% of 250 is 3)', steps: [{ percent: 1 }], total: 250, want: [3, 250] },
      { name: 'never rounds a non-zero percentage down to zero (1% of 1 is 1)', steps: [{ percent: 1 }], total: 1, want: [1] },
      { name: 'never shrinks: a later, smaller count keeps the earlier target', steps: [{ namespaces: 4 }, { namespaces: 2 }], total: 10, want: [4, 4, 10] },
      { name: 'never shrinks: a later, smaller percentage keeps the earlier target', steps: [{ percent: 50 }, { percent: 20 }], total: 10, want: [5, 5, 10] },
      { name: 'caps a count at the namespaces that exist', steps: [{ namespaces: 20 }], total: 5, want: [5] },
      { name: 'caps every step after the total is reached', steps: [{ namespaces: 10 }, { percent: 100 }], total: 3, want: [3, 3] },
      { name: 'adds no implied step when the last step reaches every namespace', steps: [{ percent: 50 }, { namespaces: 4 }], total: 4, want: [2, 4] },
      { name: 'implies a final 100% step when the last one stops short', steps: [{ percent: 50 }], total: 4, want: [2, 4] },
      { name: 'reads empty steps as one step of 100%', steps: [], total: 7, want: [7] },
      { name: 'reads absent steps as one step of 100%', steps: undefined, total: 7, want: [7] },
      { name: 'reads a step with neither count nor percent as everything', steps: [{ pause: '1m' }], total: 3, want: [3] },
      { name: 'gives one empty step when nothing is eligible', steps: [], total: 0, want: [0] },
      { name: 'gives empty steps, and no implied one, when nothing is eligible', steps: [{ namespaces: 2 }, { percent: 50 }], total: 0, want: [0, 0] },
      { name: 'mixes a count then a percentage', steps: [{ namespaces: 2 }, { percent: 50 }], total: 10, want: [2, 5, 10] },
      { name: 'mixes a count then a smaller percentage without shrinking', steps: [{ namespaces: 6 }, { percent: 50 }], total: 10, want: [6, 6, 10] },
      { name: 'mixes a percentage then a count', steps: [{ percent: 10 }, { namespaces: 3 }], total: 20, want: [2, 3, 20] },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(stepTargets(c.steps, c.total)).to.deep.equal(c.want);
      });
    }
  });

  describe('effectiveSteps', () => {
    it('appends the implied final 100% step when the last one stops short', () => {
      expect(effectiveSteps([{ namespaces: 1, pause: '30s' }], 3)).to.deep.equal([{ namespaces: 1, pause: '30s' }, { percent: 100 }]);
    });

    it('returns the steps as written when the last one reaches every namespace', () => {
      expect(effectiveSteps([{ percent: 50 }, { percent: 100, pause: 'indefinite' }], 3)).to.deep.equal([{ percent: 50 }, { percent: 100, pause: 'indefinite' }]);
    });

    it('reads empty or absent steps as one step of 100%', () => {
      expect(effectiveSteps([], 3)).to.deep.equal([{ percent: 100 }]);
      expect(effectiveSteps(undefined, 0)).to.deep.equal([{ percent: 100 }]);
    });

    it('has exactly as many steps as stepTargets has targets', () => {
      for (const steps of [[{ namespaces: 1 }], [{ percent: 100 }], [{ namespaces: 2 }, { namespaces: 1 }], []] as MigrationStep[][]) {
        for (const total of [0, 1, 2, 5]) {
          expect(effectiveSteps(steps, total), `${JSON.stringify(steps)} of ${total}`).to.have.length(stepTargets(steps, total).length);
        }
      }
    });

    it('does not modify the steps it is given', () => {
      const steps: MigrationStep[] = [{ namespaces: 1 }];
      effectiveSteps(steps, 4);
      expect(steps).to.deep.equal([{ namespaces: 1 }]);
    });
  });

  describe('parsePause', () => {
    const cases: { name: string; pause: string | undefined; want: PauseKind | undefined }[] = [
      { name: 'reads an absent pause as none', pause: undefined, want: { kind: 'none' } },
      { name: 'reads an empty pause as none', pause: '', want: { kind: 'none' } },
      { name: 'reads "30s" as a 30 s soak', pause: '30s', want: { kind: 'duration', ms: 30_000 } },
      { name: 'reads "1h30m" as a 90 min soak', pause: '1h30m', want: { kind: 'duration', ms: 5_400_000 } },
      { name: 'reads "500ms" in milliseconds', pause: '500ms', want: { kind: 'duration', ms: 500 } },
      { name: 'reads "indefinite" as waiting for promotion', pause: 'indefinite', want: { kind: 'indefinite' } },
      { name: 'rejects words that are not durations', pause: 'forever', want: undefined },
      { name: 'rejects a number without a unit', pause: '30', want: undefined },
      { name: 'rejects a negative duration', pause: '-5s', want: undefined },
      { name: 'rejects units Go has but the CRD does not (days)', pause: '1d', want: undefined },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(parsePause(c.pause)).to.deep.equal(c.want);
      });
    }
  });

  describe('origins', () => {
    it('records only the injection labels a namespace has', () => {
      expect(originOf(ns('a', { [NSI]: 'enabled', team: 'x' }), MREV, TARGET)).to.deep.equal({ meshRevision: MREV, revision: TARGET, labels: { [NSI]: 'enabled' } });
      expect(originOf(ns('b', { [REV]: OLD }), MREV, TARGET)).to.deep.equal({ meshRevision: MREV, revision: TARGET, labels: { [REV]: OLD } });
      expect(originOf(ns('c', { [NSI]: 'enabled', [REV]: OLD }), MREV, TARGET).labels).to.deep.equal({ [NSI]: 'enabled', [REV]: OLD });
      expect(originOf(ns('d'), MREV, TARGET).labels).to.deep.equal({});
      expect(originOf({ metadata: { name: 'e' } }, MREV, TARGET).labels).to.deep.equal({});
    });

    it('reads back exactly the origin it recorded (annotation round trip)', () => {
      for (const labels of [{ [NSI]: 'enabled' }, { [REV]: OLD }, { [NSI]: 'enabled', [REV]: 'stable' }, {}] as L[]) {
        const recorded: NamespaceOrigin = { ...originOf(ns('a', labels), MREV, TARGET), movedAt: '2024-05-01T09:00:00Z' };
        expect(readOrigin(ns('a', {}, { [ORIGIN]: JSON.stringify(recorded) }))).to.deep.equal(recorded);
      }
    });

    it('keeps movedAt, returnedAt and rolledBackAt when they are strings and drops them otherwise', () => {
      const raw = JSON.stringify({ meshRevision: MREV, revision: TARGET, labels: {}, movedAt: 'm', returnedAt: 'r', rolledBackAt: 'b' });
      expect(readOrigin(ns('a', {}, { [ORIGIN]: raw }))).to.deep.equal({ meshRevision: MREV, revision: TARGET, labels: {}, movedAt: 'm', returnedAt: 'r', rolledBackAt: 'b' });
      const odd = JSON.stringify({ meshRevision: MREV, revision: TARGET, labels: {}, movedAt: 5, returnedAt: null, rolledBackAt: false, extra: true });
      expect(readOrigin(ns('a', {}, { [ORIGIN]: odd }))).to.deep.equal({ meshRevision: MREV, revision: TARGET, labels: {} });
    });

    const unreadable: { name: string; annotations: L }[] = [
      { name: 'no annotation', annotations: {} },
      { name: 'malformed JSON', annotations: { [ORIGIN]: '{"meshRevision": "canary",' } },
      { name: 'JSON null', annotations: { [ORIGIN]: 'null' } },
      { name: 'a JSON string', annotations: { [ORIGIN]: '"canary"' } },
      { name: 'no meshRevision', annotations: { [ORIGIN]: JSON.stringify({ revision: TARGET, labels: {} }) } },
      { name: 'a numeric revision', annotations: { [ORIGIN]: JSON.stringify({ meshRevision: MREV, revision: 121, labels: {} }) } },
      { name: 'labels null', annotations: { [ORIGIN]: JSON.stringify({ meshRevision: MREV, revision: TARGET, labels: null }) } },
      { name: 'labels a string', annotations: { [ORIGIN]: JSON.stringify({ meshRevision: MREV, revision: TARGET, labels: 'enabled' }) } },
    ];
    for (const c of unreadable) {
      it(`reads no origin, without throwing, from ${c.name}`, () => {
        expect(readOrigin(ns('a', {}, c.annotations))).to.equal(undefined);
      });
    }

    it('reads no origin from a namespace without metadata', () => {
      expect(readOrigin({})).to.equal(undefined);
    });

    const sources: { name: string; labels: Record<string, string | undefined>; want: string | undefined }[] = [
      { name: 'reads istio-injection=enabled as the default revision', labels: { [NSI]: 'enabled' }, want: 'default' },
      { name: 'reads istio.io/rev as that revision or tag', labels: { [REV]: 'stable' }, want: 'stable' },
      { name: 'lets istio-injection=enabled beat istio.io/rev', labels: { [NSI]: 'enabled', [REV]: OLD }, want: 'default' },
      { name: 'reads istio-injection=disabled as no source, even with istio.io/rev', labels: { [NSI]: 'disabled', [REV]: OLD }, want: undefined },
      { name: 'reads any other istio-injection value as no source', labels: { [NSI]: 'yes', [REV]: OLD }, want: undefined },
      { name: 'reads no labels as no source', labels: {}, want: undefined },
      { name: 'ignores an explicitly undefined istio-injection', labels: { [NSI]: undefined, [REV]: OLD }, want: OLD },
    ];
    for (const c of sources) {
      it(`sourceOf ${c.name}`, () => {
        expect(sourceOf(c.labels)).to.equal(c.want);
      });
    }

    it('sees target labels only as istio.io/rev=<revision> without istio-injection', () => {
      expect(hasTargetLabels(ns('a', { [REV]: TARGET }), TARGET)).to.equal(true);
      expect(hasTargetLabels(ns('a', { [REV]: TARGET, team: 'x' }), TARGET)).to.equal(true);
      expect(hasTargetLabels(ns('a', { [REV]: TARGET, [NSI]: 'enabled' }), TARGET)).to.equal(false);
      expect(hasTargetLabels(ns('a', { [REV]: OLD }), TARGET)).to.equal(false);
      expect(hasTargetLabels(ns('a'), TARGET)).to.equal(false);
      expect(hasTargetLabels({ metadata: { name: 'a' } }, TARGET)).to.equal(false);
    });

    it('sees origin labels only when both injection labels are exactly as recorded', () => {
      const o = originOf(ns('a', { [NSI]: 'enabled' }), MREV, TARGET);
      expect(hasOriginLabels(ns('a', { [NSI]: 'enabled', team: 'x' }), o)).to.equal(true);
      expect(hasOriginLabels(ns('a', { [NSI]: 'enabled', [REV]: TARGET }), o)).to.equal(false);
      expect(hasOriginLabels(ns('a', { [REV]: TARGET }), o)).to.equal(false);
      expect(hasOriginLabels(ns('a'), o)).to.equal(false);
      const none = originOf(ns('b'), MREV, TARGET);
      expect(hasOriginLabels(ns('b'), none)).to.equal(true);
      expect(hasOriginLabels(ns('b', { [REV]: TARGET }), none)).to.equal(false);
    });

    it('round trips a namespace: origin recorded, relabelled to the target, restored to the origin', () => {
      for (const before of [{ [NSI]: 'enabled' }, { [REV]: OLD }, { [NSI]: 'enabled', [REV]: 'stable' }] as L[]) {
        const origin = originOf(ns('a', before), MREV, TARGET);
        const recorded = readOrigin(ns('a', before, { [ORIGIN]: JSON.stringify(origin) }))!;
        // The relabel of DESIGN.md §3: istio-injection removed, istio.io/rev set.
        const moved = ns('a', { [REV]: TARGET }, { [ORIGIN]: JSON.stringify(recorded) });
        expect(hasTargetLabels(moved, TARGET), JSON.stringify(before)).to.equal(true);
        expect(hasOriginLabels(moved, recorded), JSON.stringify(before)).to.equal(false);
        const restored = ns('a', { ...recorded.labels });
        expect(hasOriginLabels(restored, recorded), JSON.stringify(before)).to.equal(true);
        expect(hasTargetLabels(restored, TARGET), JSON.stringify(before)).to.equal(false);
        expect(sourceOf(restored.metadata!.labels!), JSON.stringify(before)).to.equal(sourceOf(before));
      }
    });
  });

  describe('classifyNamespaces', () => {
    type Want = { kind: 'pending'; from: string } | { kind: 'moved'; from: string; origin?: NamespaceOrigin } | { kind: 'skipped'; says: string };
    interface Case {
      name: string;
      ns: V1Namespace;
      migration?: Partial<MigrationSpec>;
      want: Want;
    }
    const cases: Case[] = [
      // Sources
      { name: 'takes istio-injection=enabled when from lists default', ns: ns('shop', { [NSI]: 'enabled' }), migration: { from: ['default'] }, want: { kind: 'pending', from: 'default' } },
      { name: 'takes istio.io/rev=X when from lists X', ns: ns('shop', { [REV]: OLD }), migration: { from: [OLD] }, want: { kind: 'pending', from: OLD } },
      { name: 'takes a namespace on a tag when from lists the tag', ns: ns('shop', { [REV]: 'stable' }), migration: { from: ['stable', OLD] }, want: { kind: 'pending', from: 'stable' } },
      { name: 'lets istio-injection=enabled beat istio.io/rev (source is default)', ns: ns('shop', { [NSI]: 'enabled', [REV]: '1-19' }), migration: { from: ['default'] }, want: { kind: 'pending', from: 'default' } },
      {
        name: 'skips istio-injection=enabled + istio.io/rev=X when from lists only X (the default injects it)',
        ns: ns('shop', { [NSI]: 'enabled', [REV]: OLD }),
        migration: { from: [OLD] },
        want: { kind: 'skipped', says: 'the default revision, not in spec.migration.from' },
      },
      { name: 'skips istio-injection=enabled when from does not list default', ns: ns('shop', { [NSI]: 'enabled' }), migration: { from: [OLD] }, want: { kind: 'skipped', says: 'not in spec.migration.from' } },
      { name: 'skips a revision from does not list', ns: ns('shop', { [REV]: '1-19' }), migration: { from: [OLD] }, want: { kind: 'skipped', says: 'on 1-19, not in spec.migration.from' } },
      // Never touched
      { name: 'skips istio-injection=disabled', ns: ns('shop', { [NSI]: 'disabled' }), want: { kind: 'skipped', says: 'istio-injection=disabled' } },
      { name: 'skips istio-injection=disabled even with istio.io/rev on a from revision', ns: ns('shop', { [NSI]: 'disabled', [REV]: OLD }), migration: { from: [OLD] }, want: { kind: 'skipped', says: 'istio-injection=disabled' } },
      { name: 'skips any other istio-injection value even with istio.io/rev', ns: ns('shop', { [NSI]: 'true', [REV]: OLD }), migration: { from: [OLD, 'default'] }, want: { kind: 'skipped', says: 'istio-injection=true' } },
      { name: 'skips an empty istio-injection value even with istio.io/rev', ns: ns('shop', { [NSI]: '', [REV]: OLD }), migration: { from: [OLD] }, want: { kind: 'skipped', says: 'istio-injection=' } },
      { name: 'skips a namespace with no injection label', ns: ns('shop', { team: 'a' }), want: { kind: 'skipped', says: 'no injection label' } },
      { name: 'skips a namespace with no labels at all', ns: { metadata: { name: 'shop' } }, want: { kind: 'skipped', says: 'no injection label' } },
      { name: 'skips a namespace already on the target', ns: ns('shop', { [REV]: TARGET }), migration: { from: [TARGET, 'default'] }, want: { kind: 'skipped', says: `already on ${TARGET}` } },
      ...['kube-system', 'kube-public', 'kube-node-lease', 'istio-system'].map((name): Case => ({
        name: `skips the system namespace ${name} whatever its labels`,
        ns: ns(name, { [NSI]: 'enabled' }),
        want: { kind: 'skipped', says: 'system namespace' },
      })),
      // Selection
      {
        name: 'takes a namespace the namespaceSelector matches',
        ns: ns('shop', { [NSI]: 'enabled', team: 'payments' }),
        migration: { namespaceSelector: { matchLabels: { team: 'payments' } } },
        want: { kind: 'pending', from: 'default' },
      },
      {
        name: 'skips a namespace the namespaceSelector does not match',
        ns: ns('shop', { [NSI]: 'enabled', team: 'search' }),
        migration: { namespaceSelector: { matchLabels: { team: 'payments' } } },
        want: { kind: 'skipped', says: 'outside spec.migration.namespaceSelector' },
      },
      {
        name: 'skips a namespace without the label a matchExpressions Exists asks for',
        ns: ns('shop', { [NSI]: 'enabled' }),
        migration: { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } },
        want: { kind: 'skipped', says: 'outside spec.migration.namespaceSelector' },
      },
      {
        name: 'selects on kubernetes.io/metadata.name, which the API server sets on every namespace',
        ns: ns('shop', { [NSI]: 'enabled' }),
        migration: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', 'cart'] }] } },
        want: { kind: 'pending', from: 'default' },
      },
      {
        name: 'skips a namespace whose name a kubernetes.io/metadata.name selector leaves out',
        ns: ns('search', { [NSI]: 'enabled' }),
        migration: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', 'cart'] }] } },
        want: { kind: 'skipped', says: 'outside spec.migration.namespaceSelector' },
      },
      {
        name: 'skips a namespace listed in rollback.namespaces that was never moved',
        ns: ns('shop', { [NSI]: 'enabled' }),
        migration: { rollback: { namespaces: ['shop'] } },
        want: { kind: 'skipped', says: 'rollback.namespaces' },
      },
      // State recorded on the namespace
      {
        name: "classifies a namespace carrying this migration's origin as moved, with that origin",
        ns: movedNs('shop', { [NSI]: 'enabled' }),
        want: { kind: 'moved', from: 'default', origin: { meshRevision: MREV, revision: TARGET, labels: { [NSI]: 'enabled' } } },
      },
      { name: 'reports the from of a moved namespace from its origin labels, not its current ones', ns: movedNs('shop', { [REV]: OLD }), want: { kind: 'moved', from: OLD } },
      { name: 'reports a moved namespace whose origin had no injection label as from none', ns: movedNs('shop', {}), want: { kind: 'moved', from: 'none' } },
      {
        name: 'keeps a moved namespace listed in rollback.namespaces as moved, so it can be returned',
        ns: movedNs('shop', { [NSI]: 'enabled' }),
        migration: { rollback: { namespaces: ['shop'] } },
        want: { kind: 'moved', from: 'default' },
      },
      {
        name: 'keeps a moved namespace as moved after it leaves the namespaceSelector and from',
        ns: movedNs('shop', { [NSI]: 'enabled' }),
        migration: { from: [OLD], namespaceSelector: { matchLabels: { team: 'payments' } } },
        want: { kind: 'moved', from: 'default' },
      },
      { name: 'keeps a moved namespace whose labels were restored (a rollback in progress) as moved', ns: ns('shop', { [NSI]: 'enabled' }, { [ORIGIN]: originJson({ labels: { [NSI]: 'enabled' }, returnedAt: '2024-05-01T09:00:00Z' }) }), want: { kind: 'moved', from: 'default' } },
      {
        name: "skips a namespace carrying another MeshRevision's origin",
        ns: movedNs('shop', { [NSI]: 'enabled' }, 'other-mrev'),
        migration: { from: ['default', TARGET] },
        want: { kind: 'skipped', says: 'being migrated by MeshRevision other-mrev' },
      },
      {
        name: "skips a namespace on a from revision carrying another MeshRevision's origin",
        ns: ns('shop', { [NSI]: 'enabled' }, { [ORIGIN]: originJson({ labels: { [NSI]: 'enabled' } }, 'other-mrev') }),
        want: { kind: 'skipped', says: 'being migrated by MeshRevision other-mrev' },
      },
      {
        name: 'judges a namespace this migration already returned by its labels again (a later generation may move it anew)',
        ns: ns('shop', { [NSI]: 'enabled' }, { [ORIGIN]: originJson({ labels: { [NSI]: 'enabled' }, rolledBackAt: '2024-05-01T09:00:00Z' }) }),
        want: { kind: 'pending', from: 'default' },
      },
      {
        name: 'skips a namespace this migration returned while rollback.namespaces still lists it',
        ns: ns('shop', { [NSI]: 'enabled' }, { [ORIGIN]: originJson({ labels: { [NSI]: 'enabled' }, rolledBackAt: '2024-05-01T09:00:00Z' }) }),
        migration: { rollback: { namespaces: ['shop'] } },
        want: { kind: 'skipped', says: 'rollback.namespaces' },
      },
      {
        name: 'judges a namespace another MeshRevision returned by its labels',
        ns: ns('shop', { [REV]: OLD }, { [ORIGIN]: originJson({ labels: { [REV]: OLD }, rolledBackAt: '2024-05-01T09:00:00Z' }, 'other-mrev') }),
        migration: { from: [OLD] },
        want: { kind: 'pending', from: OLD },
      },
      { name: 'treats a malformed origin annotation as absent (pending by its labels)', ns: ns('shop', { [REV]: OLD }, { [ORIGIN]: '{not json' }), migration: { from: [OLD] }, want: { kind: 'pending', from: OLD } },
      { name: 'treats a malformed origin annotation as absent (already on the target)', ns: ns('shop', { [REV]: TARGET }, { [ORIGIN]: '{not json' }), want: { kind: 'skipped', says: `already on ${TARGET}` } },
      { name: 'treats an origin annotation missing its fields as absent', ns: ns('shop', { [NSI]: 'enabled' }, { [ORIGIN]: '{"labels":{}}' }), want: { kind: 'pending', from: 'default' } },
    ];

    for (const c of cases) {
      it(c.name, () => {
        const got = classifyNamespaces({
          meshRevision: MREV,
          revision: TARGET,
          migration: { from: ['default'], ...(c.migration ?? {}) },
          namespaces: [c.ns],
        });
        expect(got).to.have.length(1);
        const g = got[0]!;
        expect(g.name).to.equal(c.ns.metadata!.name);
        expect(g.kind).to.equal(c.want.kind);
        if (c.want.kind === 'skipped') {
          expect(g.kind === 'skipped' ? g.reason : '').to.contain(c.want.says);
        } else {
          expect(g.kind === 'skipped' ? undefined : g.from).to.equal(c.want.from);
        }
        if (c.want.kind === 'moved' && c.want.origin) expect(g.kind === 'moved' ? g.origin : undefined).to.deep.equal(c.want.origin);
        if (c.want.kind === 'pending') expect(g).to.deep.equal({ kind: 'pending', name: g.name, from: c.want.from });
      });
    }

    it('returns every namespace, sorted by name, whatever the input order', () => {
      const got = classifyNamespaces({
        meshRevision: MREV,
        revision: TARGET,
        migration: { from: ['default'] },
        namespaces: [ns('zeta', { [NSI]: 'enabled' }), ns('kube-system'), movedNs('mid', { [NSI]: 'enabled' }), ns('alpha'), ns('beta', { [NSI]: 'enabled' })],
      });
      expect(got.map((c) => `${c.kind}:${c.name}`)).to.deep.equal(['skipped:alpha', 'pending:beta', 'skipped:kube-system', 'moved:mid', 'pending:zeta']);
    });

    it('ignores a namespace without a name', () => {
      expect(classifyNamespaces({ meshRevision: MREV, revision: TARGET, migration: { from: ['default'] }, namespaces: [{ metadata: { labels: { [NSI]: 'enabled' } } }] })).to.deep.equal([]);
    });

    it('does not modify the namespaces it reads', () => {
      const list = [ns('b', { [NSI]: 'enabled' }), movedNs('a', { [NSI]: 'enabled' })];
      const frozen = structuredClone(list);
      classifyNamespaces({ meshRevision: MREV, revision: TARGET, migration: { from: ['default'] }, namespaces: list });
      expect(list).to.deep.equal(frozen);
    });
  });

  describe('returnedNamespaces', () => {
    it('lists, by name, the namespaces whose origin says this migration fully returned them', () => {
      const back = (name: string, meshRevision = MREV) =>
        ns(name, { [NSI]: 'enabled' }, { [ORIGIN]: originJson({ labels: { [NSI]: 'enabled' }, rolledBackAt: '2024-05-01T09:00:00Z' }, meshRevision) });
      const got = returnedNamespaces(MREV, [
        back('zeta'),
        movedNs('moving', { [NSI]: 'enabled' }),
        back('other', 'other-mrev'),
        ns('plain', { [NSI]: 'enabled' }),
        ns('broken', {}, { [ORIGIN]: '{' }),
        back('alpha'),
      ]);
      expect(got.map((r) => r.name)).to.deep.equal(['alpha', 'zeta']);
      expect(got[0]!.origin).to.deep.equal({ meshRevision: MREV, revision: TARGET, labels: { [NSI]: 'enabled' }, rolledBackAt: '2024-05-01T09:00:00Z' });
    });

    it('lists nothing when no namespace was returned', () => {
      expect(returnedNamespaces(MREV, [movedNs('a', { [NSI]: 'enabled' }), ns('b')])).to.deep.equal([]);
    });
  });

  describe('planSteps', () => {
    const classify = (namespaces: V1Namespace[], from = ['default']) => classifyNamespaces({ meshRevision: MREV, revision: TARGET, migration: { from }, namespaces });
    // Deliberately unsorted: two moved, four pending, two never touched.
    const world = [
      ns('pay', { [NSI]: 'enabled' }),
      movedNs('orders', { [NSI]: 'enabled' }),
      ns('ads', { [NSI]: 'enabled' }),
      ns('legacy', { [NSI]: 'disabled' }),
      movedNs('cart', { [NSI]: 'enabled' }),
      ns('web', { [NSI]: 'enabled' }),
      ns('kube-system', { [NSI]: 'enabled' }),
      ns('mail', { [NSI]: 'enabled' }),
    ];

    it('orders moved namespaces first, then pending ones, each by name, leaving skipped ones out', () => {
      const plan = planSteps(classify(world), undefined);
      expect(plan.order).to.deep.equal(['cart', 'orders', 'ads', 'mail', 'pay', 'web']);
      expect([...plan.stepOf.keys()]).to.have.members(plan.order);
      expect(plan.stepOf.has('legacy')).to.equal(false);
      expect(plan.stepOf.has('kube-system')).to.equal(false);
    });

    it('gives each step the namespaces it adds and records each namespace\'s step', () => {
      const plan = planSteps(classify(world), [{ namespaces: 1, pause: 'indefinite' }, { percent: 50, pause: '30s' }]);
      expect(plan.steps.map((s) => ({ index: s.index, target: s.target, namespaces: s.namespaces }))).to.deep.equal([
        { index: 1, target: 1, namespaces: ['cart'] },
        { index: 2, target: 3, namespaces: ['orders', 'ads'] },
        { index: 3, target: 6, namespaces: ['mail', 'pay', 'web'] },
      ]);
      expect(Object.fromEntries(plan.stepOf)).to.deep.equal({ cart: 1, orders: 2, ads: 2, mail: 3, pay: 3, web: 3 });
    });

    it('parses each step\'s pause, the implied final step having none', () => {
      const plan = planSteps(classify(world), [{ namespaces: 1, pause: 'indefinite' }, { percent: 50, pause: '1h30m' }]);
      expect(plan.steps.map((s) => s.pause)).to.deep.equal([{ kind: 'indefinite' }, { kind: 'duration', ms: 5_400_000 }, { kind: 'none' }]);
    });

    it('reads an unreadable pause as none (validation reports it on the spec)', () => {
      const plan = planSteps(classify(world), [{ namespaces: 2, pause: 'soon' }, { percent: 100 }]);
      expect(plan.steps.map((s) => s.pause)).to.deep.equal([{ kind: 'none' }, { kind: 'none' }]);
    });

    it('gives a step that adds nothing (cumulative target not above the last) no namespaces', () => {
      const plan = planSteps(classify(world), [{ namespaces: 3 }, { namespaces: 2 }, { percent: 100 }]);
      expect(plan.steps.map((s) => s.namespaces)).to.deep.equal([['cart', 'orders', 'ads'], [], ['mail', 'pay', 'web']]);
    });

    it('counts progress already made toward the earliest steps', () => {
      // Two moved namespaces fill a first step of 2 before any pending one is started.
      const plan = planSteps(classify(world), [{ namespaces: 2, pause: '5m' }]);
      expect(plan.steps[0]!.namespaces).to.deep.equal(['cart', 'orders']);
    });

    it('plans one empty step when nothing is eligible', () => {
      const plan = planSteps(classify([ns('legacy', { [NSI]: 'disabled' })]), [{ namespaces: 1, pause: '30s' }]);
      expect(plan.order).to.deep.equal([]);
      expect(plan.steps).to.deep.equal([{ index: 1, target: 0, namespaces: [], pause: { kind: 'duration', ms: 30_000 } }]);
      expect(plan.stepOf.size).to.equal(0);
    });

    it('keeps every class, skipped ones included, for reporting', () => {
      const classes = classify(world);
      expect(planSteps(classes, undefined).classes).to.deep.equal(classes);
    });

    it('plans hand-written classes in the order moved, then pending', () => {
      const classes: NamespaceClass[] = [
        { kind: 'pending', name: 'a', from: 'default' },
        { kind: 'skipped', name: 'b', reason: 'no injection label' },
        { kind: 'moved', name: 'c', from: 'default', origin: { meshRevision: MREV, revision: TARGET, labels: { [NSI]: 'enabled' } } },
      ];
      expect(planSteps(classes, [{ namespaces: 1 }]).steps.map((s) => s.namespaces)).to.deep.equal([['c'], ['a']]);
    });
  });

  describe('rolloutComplete', () => {
    const cases: { name: string; w: Workload; want: boolean }[] = [
      { name: 'a Deployment with every replica updated, ready and available', w: deploy('web'), want: true },
      { name: 'not a Deployment whose controller has not seen its latest generation', w: deploy('web', { status: { observedGeneration: 2 } }), want: false },
      { name: 'not a Deployment without status', w: deploy('web', { noStatus: true }), want: false },
      { name: 'not a Deployment with replicas still to update', w: deploy('web', { status: { updatedReplicas: 1 } }), want: false },
      { name: 'not a Deployment with an updated replica not ready', w: deploy('web', { status: { readyReplicas: 1 } }), want: false },
      { name: 'not a Deployment with an updated replica not yet available', w: deploy('web', { status: { availableReplicas: 1 } }), want: false },
      { name: 'not a Deployment with old replicas still running (surge)', w: deploy('web', { status: { replicas: 3 } }), want: false },
      { name: 'a Deployment scaled to zero', w: deploy('web', { replicas: 0, status: { replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0 } }), want: true },
      {
        name: 'a Deployment whose zero counts are omitted, as the API server does',
        w: deploy('web', { replicas: 0, status: { replicas: undefined, updatedReplicas: undefined, readyReplicas: undefined, availableReplicas: undefined } }),
        want: true,
      },
      { name: 'a StatefulSet with currentRevision == updateRevision and every replica updated and ready', w: sts('db'), want: true },
      { name: 'not a StatefulSet whose currentRevision is still behind updateRevision', w: sts('db', { status: { updateRevision: 'db-8d0' } }), want: false },
      { name: 'not a StatefulSet with replicas still to update', w: sts('db', { status: { updatedReplicas: 2 } }), want: false },
      { name: 'not a StatefulSet with an updated replica not ready', w: sts('db', { status: { readyReplicas: 2 } }), want: false },
      { name: 'not a StatefulSet whose controller has not seen its latest generation', w: sts('db', { status: { observedGeneration: 1 } }), want: false },
      { name: 'an OnDelete StatefulSet with every replica updated, whatever its revisions say', w: sts('db', { onDelete: true, status: { updateRevision: 'db-8d0' } }), want: true },
      { name: 'not an OnDelete StatefulSet whose pods were not recreated', w: sts('db', { onDelete: true, status: { updateRevision: 'db-8d0', updatedReplicas: 0 } }), want: false },
      { name: 'a DaemonSet with every desired pod updated, ready and available', w: ds('agent'), want: true },
      { name: 'not a DaemonSet with pods still to update', w: ds('agent', { status: { updatedNumberScheduled: 2 } }), want: false },
      { name: 'not a DaemonSet with a pod not ready', w: ds('agent', { status: { numberReady: 2 } }), want: false },
      { name: 'not a DaemonSet with a pod not yet available', w: ds('agent', { status: { numberAvailable: 2 } }), want: false },
      { name: 'not a DaemonSet whose controller has not seen its latest generation', w: ds('agent', { status: { observedGeneration: 4 } }), want: false },
      { name: 'a DaemonSet scheduled on no node', w: ds('agent', { desired: 0, status: { updatedNumberScheduled: undefined, numberAvailable: undefined } }), want: true },
    ];
    for (const c of cases) {
      it(`${c.want ? 'sees' : 'does not see'} the rollout complete: ${c.name.replace(/^not /, '')}`, () => {
        expect(rolloutComplete(c.w)).to.equal(c.want);
      });
    }
  });

  describe('rolloutDeadlineMs', () => {
    it("uses a Deployment's progressDeadlineSeconds", () => {
      expect(rolloutDeadlineMs(deploy('web', { progressDeadlineSeconds: 300 }), 120)).to.equal(300_000);
    });
    it('falls back to the migration timeout for a Deployment without progressDeadlineSeconds', () => {
      expect(rolloutDeadlineMs(deploy('web'), 120)).to.equal(120_000);
    });
    it('uses the migration timeout for StatefulSets and DaemonSets', () => {
      expect(rolloutDeadlineMs(sts('db'), 120)).to.equal(120_000);
      expect(rolloutDeadlineMs(ds('agent'), 45)).to.equal(45_000);
    });
    it('defaults to 600 s', () => {
      expect(rolloutDeadlineMs(sts('db'))).to.equal(600_000);
      expect(rolloutDeadlineMs(deploy('web'), undefined)).to.equal(600_000);
    });
  });

  describe('planWorkloads', () => {
    /** An action as compared: kind and name, plus restarted / since when the action has them. */
    type Got = { kind: WorkloadAction['kind']; name: string; restarted?: boolean; since?: string };
    interface Case {
      name: string;
      workloads: Workload[];
      pods?: V1Pod[];
      expected?: string;
      rolloutTimeoutSeconds?: number;
      want: Got[];
      /** Words the reason of each failed / skipped action must contain, by workload name. */
      says?: Record<string, string[]>;
      /** Reported pods and words their reason must contain. */
      reported?: Record<string, string[]>;
    }

    const owned = (app: string) => [owner('ReplicaSet', `${app}-5d4`)];

    const cases: Case[] = [
      // Restart
      { name: 'restarts a Deployment whose pods are on the old revision', workloads: [deploy('web')], pods: appPods('web', [OLD, OLD]), want: [{ kind: 'restart', name: 'web' }] },
      { name: 'restarts a Deployment with one pod left on the old revision', workloads: [deploy('web')], pods: appPods('web', [TARGET, OLD]), want: [{ kind: 'restart', name: 'web' }] },
      { name: 'restarts a Deployment whose pods were never injected', workloads: [deploy('web')], pods: appPods('web', [undefined, undefined]), want: [{ kind: 'restart', name: 'web' }] },
      {
        name: 'restarts a Deployment stamped for another revision (it is going the other way now)',
        workloads: [deploy('web', { stamp: OLD, restartedAt: ago(30) })],
        pods: appPods('web', [OLD, OLD]),
        want: [{ kind: 'restart', name: 'web' }],
      },
      {
        name: 'restarts toward the origin in a rollback (expected is the old revision)',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(3000) })],
        pods: appPods('web', [TARGET, TARGET]),
        expected: OLD,
        want: [{ kind: 'restart', name: 'web' }],
      },
      // Never twice
      {
        name: 'never restarts again a Deployment stamped for the expected revision while its rollout runs',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(60), status: { updatedReplicas: 1, replicas: 3 } })],
        pods: appPods('web', [OLD, TARGET, OLD]),
        want: [{ kind: 'rolling', name: 'web', since: ago(60) }],
      },
      {
        name: 'reports rolling for a stamped Deployment whose pods are on the target but not all ready',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(60), status: { readyReplicas: 1, availableReplicas: 1 } })],
        pods: appPods('web', [TARGET, TARGET]),
        want: [{ kind: 'rolling', name: 'web', since: ago(60) }],
      },
      {
        name: 'reports rolling, without a since, for a stamped Deployment without restartedAt',
        workloads: [deploy('web', { stamp: TARGET, status: { observedGeneration: 2 } })],
        pods: appPods('web', [OLD, OLD]),
        want: [{ kind: 'rolling', name: 'web' }],
      },
      // Done
      {
        name: 'sees a stamped Deployment done once its rollout is complete and its pods carry the expected revision',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(60) })],
        pods: appPods('web', [TARGET, TARGET]),
        want: [{ kind: 'done', name: 'web', restarted: true }],
      },
      {
        name: 'sees a stamped Deployment done even past its deadline once its rollout is complete',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(5000), progressDeadlineSeconds: 600 })],
        pods: appPods('web', [TARGET, TARGET]),
        want: [{ kind: 'done', name: 'web', restarted: true }],
      },
      {
        name: 'sees a Deployment already on the expected revision done without restarting it',
        workloads: [deploy('web')],
        pods: appPods('web', [TARGET, TARGET]),
        want: [{ kind: 'done', name: 'web', restarted: false }],
      },
      {
        name: 'sees a Deployment scaled to zero done without restarting it',
        workloads: [deploy('web', { replicas: 0, status: { replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0 } })],
        pods: [],
        want: [{ kind: 'done', name: 'web', restarted: false }],
      },
      // Left alone
      {
        name: 'leaves alone a Deployment opted out by its pod-template label sidecar.istio.io/inject: "false"',
        workloads: [deploy('web', { tmplLabels: { [INJECT]: 'false' } })],
        pods: appPods('web', [undefined, undefined]),
        want: [{ kind: 'skipped', name: 'web' }],
        says: { web: ['opted out', 'sidecar.istio.io/inject'] },
      },
      {
        name: 'leaves alone a Deployment opted out by its pod-template annotation sidecar.istio.io/inject: "false"',
        workloads: [deploy('web', { tmplAnnotations: { [INJECT]: 'false' } })],
        pods: appPods('web', [undefined, undefined]),
        want: [{ kind: 'skipped', name: 'web' }],
        says: { web: ['opted out'] },
      },
      {
        name: 'lets the sidecar.istio.io/inject label beat the annotation (label "true", annotation "false": restart)',
        workloads: [deploy('web', { tmplLabels: { [INJECT]: 'true' }, tmplAnnotations: { [INJECT]: 'false' } })],
        pods: appPods('web', [OLD, OLD]),
        want: [{ kind: 'restart', name: 'web' }],
      },
      {
        name: 'restarts a Deployment whose pod template opts in with sidecar.istio.io/inject: "true"',
        workloads: [deploy('web', { tmplLabels: { [INJECT]: 'true' } })],
        pods: appPods('web', [OLD]),
        want: [{ kind: 'restart', name: 'web' }],
      },
      {
        name: 'leaves alone a Deployment pinned by its pod-template label istio.io/rev',
        workloads: [deploy('web', { tmplLabels: { [REV]: OLD } })],
        pods: appPods('web', [OLD, OLD]),
        want: [{ kind: 'skipped', name: 'web' }],
        says: { web: ['pinned', `istio.io/rev=${OLD}`] },
      },
      {
        name: 'leaves alone a Deployment pinned even when it is stamped and past its deadline',
        workloads: [deploy('web', { tmplLabels: { [REV]: OLD }, stamp: TARGET, restartedAt: ago(5000), status: { updatedReplicas: 1 } })],
        pods: appPods('web', [OLD, OLD]),
        want: [{ kind: 'skipped', name: 'web' }],
      },
      {
        name: 'does not report the pods of a workload it leaves alone',
        workloads: [deploy('web', { tmplLabels: { [INJECT]: 'false' } }), deploy('api', { tmplLabels: { [REV]: OLD } })],
        pods: [...appPods('web', [undefined], { owners: owned('web') }), ...appPods('api', [OLD], { owners: owned('api') })],
        want: [
          { kind: 'skipped', name: 'api' },
          { kind: 'skipped', name: 'web' },
        ],
        reported: {},
      },
      // StatefulSets
      { name: 'restarts a StatefulSet whose pods are on the old revision', workloads: [sts('db')], pods: appPods('db', [OLD, OLD, OLD]), want: [{ kind: 'restart', name: 'db' }] },
      {
        name: 'reports rolling for a stamped StatefulSet whose currentRevision has not caught up with updateRevision',
        workloads: [sts('db', { stamp: TARGET, restartedAt: ago(60), status: { updateRevision: 'db-8d0' } })],
        pods: appPods('db', [TARGET, TARGET, TARGET]),
        want: [{ kind: 'rolling', name: 'db', since: ago(60) }],
      },
      {
        name: 'reports rolling for a stamped StatefulSet with a replica not yet updated',
        workloads: [sts('db', { stamp: TARGET, restartedAt: ago(60), status: { updatedReplicas: 2, updateRevision: 'db-8d0' } })],
        pods: appPods('db', [TARGET, TARGET, OLD]),
        want: [{ kind: 'rolling', name: 'db', since: ago(60) }],
      },
      {
        name: 'sees a stamped StatefulSet done once revisions match and its pods carry the expected revision',
        workloads: [sts('db', { stamp: TARGET, restartedAt: ago(60) })],
        pods: appPods('db', [TARGET, TARGET, TARGET]),
        want: [{ kind: 'done', name: 'db', restarted: true }],
      },
      {
        name: 'leaves alone a StatefulSet opted out by its pod-template label',
        workloads: [sts('db', { tmplLabels: { [INJECT]: 'false' } })],
        pods: appPods('db', [undefined]),
        want: [{ kind: 'skipped', name: 'db' }],
      },
      // DaemonSets
      { name: 'restarts a DaemonSet whose pods are on the old revision', workloads: [ds('agent')], pods: appPods('agent', [OLD, OLD, OLD]), want: [{ kind: 'restart', name: 'agent' }] },
      {
        name: 'reports rolling for a stamped DaemonSet with pods still to update',
        workloads: [ds('agent', { stamp: TARGET, restartedAt: ago(60), status: { updatedNumberScheduled: 1 } })],
        pods: appPods('agent', [TARGET, OLD, OLD]),
        want: [{ kind: 'rolling', name: 'agent', since: ago(60) }],
      },
      {
        name: 'reports rolling for a stamped DaemonSet with an updated pod not yet available',
        workloads: [ds('agent', { stamp: TARGET, restartedAt: ago(60), status: { numberAvailable: 2 } })],
        pods: appPods('agent', [TARGET, TARGET, TARGET]),
        want: [{ kind: 'rolling', name: 'agent', since: ago(60) }],
      },
      {
        name: 'sees a stamped DaemonSet done when desired, updated, ready and available agree',
        workloads: [ds('agent', { stamp: TARGET, restartedAt: ago(60) })],
        pods: appPods('agent', [TARGET, TARGET, TARGET]),
        want: [{ kind: 'done', name: 'agent', restarted: true }],
      },
      // Deadlines
      {
        name: 'fails a stamped Deployment whose Progressing condition says ProgressDeadlineExceeded',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(30), progressDeadlineSeconds: 600, status: { updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }, conditions: [deadlineExceeded] })],
        pods: appPods('web', [TARGET, OLD]),
        want: [{ kind: 'failed', name: 'web' }],
        says: { web: ['did not complete within 600s'] },
      },
      {
        name: 'fails a stamped Deployment restarted longer ago than its progressDeadlineSeconds',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(301), progressDeadlineSeconds: 300, status: { readyReplicas: 1 } })],
        pods: appPods('web', [TARGET, TARGET]),
        want: [{ kind: 'failed', name: 'web' }],
        says: { web: ['300s'] },
      },
      {
        name: 'keeps rolling a stamped Deployment restarted less than its progressDeadlineSeconds ago',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(299), progressDeadlineSeconds: 300, status: { readyReplicas: 1 } })],
        pods: appPods('web', [TARGET, TARGET]),
        want: [{ kind: 'rolling', name: 'web', since: ago(299) }],
      },
      {
        name: "prefers a Deployment's progressDeadlineSeconds over rolloutTimeoutSeconds",
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(300), progressDeadlineSeconds: 900, status: { readyReplicas: 1 } })],
        pods: appPods('web', [TARGET, OLD]),
        rolloutTimeoutSeconds: 120,
        want: [{ kind: 'rolling', name: 'web', since: ago(300) }],
      },
      {
        name: 'fails a Deployment without progressDeadlineSeconds past rolloutTimeoutSeconds',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(121), status: { readyReplicas: 1 } })],
        pods: appPods('web', [TARGET, OLD]),
        rolloutTimeoutSeconds: 120,
        want: [{ kind: 'failed', name: 'web' }],
        says: { web: ['120s'] },
      },
      {
        name: 'fails a stamped StatefulSet past rolloutTimeoutSeconds',
        workloads: [sts('db', { stamp: TARGET, restartedAt: ago(121), status: { updatedReplicas: 1, updateRevision: 'db-8d0' } })],
        pods: appPods('db', [TARGET, OLD, OLD]),
        rolloutTimeoutSeconds: 120,
        want: [{ kind: 'failed', name: 'db' }],
        says: { db: ['120s'] },
      },
      {
        name: 'keeps rolling a stamped StatefulSet within rolloutTimeoutSeconds',
        workloads: [sts('db', { stamp: TARGET, restartedAt: ago(119), status: { updatedReplicas: 1, updateRevision: 'db-8d0' } })],
        pods: appPods('db', [TARGET, OLD, OLD]),
        rolloutTimeoutSeconds: 120,
        want: [{ kind: 'rolling', name: 'db', since: ago(119) }],
      },
      {
        name: 'fails a stamped DaemonSet past the default 600 s when rolloutTimeoutSeconds is unset',
        workloads: [ds('agent', { stamp: TARGET, restartedAt: ago(601), status: { numberReady: 2 } })],
        pods: appPods('agent', [TARGET, TARGET, TARGET]),
        want: [{ kind: 'failed', name: 'agent' }],
        says: { agent: ['600s'] },
      },
      {
        name: 'keeps rolling a stamped DaemonSet within the default 600 s',
        workloads: [ds('agent', { stamp: TARGET, restartedAt: ago(599), status: { numberReady: 2 } })],
        pods: appPods('agent', [TARGET, TARGET, TARGET]),
        want: [{ kind: 'rolling', name: 'agent', since: ago(599) }],
      },
      {
        name: 'ignores a restartedAt it cannot read (rolling, not failed)',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: 'yesterday', status: { readyReplicas: 1 } })],
        pods: appPods('web', [TARGET, TARGET]),
        want: [{ kind: 'rolling', name: 'web', since: 'yesterday' }],
      },
      // Which pods belong to a workload
      {
        name: 'matches pods by matchLabels only, whoever owns them',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(60) })],
        pods: [pod('web-a', { labels: { app: 'web' }, rev: TARGET, owners: [owner('ReplicaSet', 'unrelated')] }), pod('web-b', { labels: { app: 'web', tier: 'x' }, rev: TARGET })],
        want: [{ kind: 'done', name: 'web', restarted: true }],
        reported: {},
      },
      {
        name: 'matches pods by matchExpressions and reports the pods it does not select',
        workloads: [deploy('web', { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'www'] }] } })],
        pods: [pod('www-0', { labels: { app: 'www' }, rev: OLD, owners: owned('www') }), pod('cron-0', { labels: { app: 'cron' }, rev: OLD, owners: [owner('Job', 'cron-28551')] })],
        want: [{ kind: 'restart', name: 'web' }],
        reported: { 'cron-0': ['Job cron-28551'] },
      },
      {
        name: 'restarts no workload for a pod outside every selector, and reports that pod',
        workloads: [deploy('web')],
        pods: [...appPods('web', [TARGET, TARGET]), pod('other-0', { labels: { app: 'other' }, rev: OLD, owners: [owner('ReplicaSet', 'other-77f')] })],
        want: [{ kind: 'done', name: 'web', restarted: false }],
        reported: { 'other-0': ['owned by ReplicaSet other-77f', 'recreate it through its controller'] },
      },
      // Reported pods
      {
        name: 'reports a Job pod with its owner, and restarts nothing for it',
        workloads: [],
        pods: [pod('migrate-x1', { labels: { job: 'migrate' }, rev: OLD, owners: [owner('Job', 'migrate')] })],
        want: [],
        reported: { 'migrate-x1': ['owned by Job migrate', 'not restarted'] },
      },
      {
        name: 'reports a pod of a ReplicaSet with no Deployment with its owner',
        workloads: [deploy('web')],
        pods: [...appPods('web', [TARGET, TARGET]), pod('bare-rs-1', { labels: { app: 'legacy' }, rev: OLD, owners: [owner('ReplicaSet', 'legacy-rs')] })],
        want: [{ kind: 'done', name: 'web', restarted: false }],
        reported: { 'bare-rs-1': ['owned by ReplicaSet legacy-rs'] },
      },
      {
        name: 'reports a pod with no owner as having no controller, not deleted',
        workloads: [],
        pods: [pod('debug', { rev: OLD })],
        want: [],
        reported: { debug: ['has no controller, not deleted'] },
      },
      {
        name: 'names the controlling owner of a pod with several owners',
        workloads: [],
        pods: [pod('p', { rev: OLD, owners: [owner('ConfigMap', 'cm', false), owner('Job', 'nightly')] })],
        want: [],
        reported: { p: ['owned by Job nightly'] },
      },
      {
        name: 'names the first owner of a pod none of whose owners is its controller',
        workloads: [],
        pods: [pod('p', { rev: OLD, owners: [owner('Job', 'first', false), owner('Job', 'second', false)] })],
        want: [],
        reported: { p: ['owned by Job first'] },
      },
      {
        name: 'does not report a pod already on the expected revision',
        workloads: [],
        pods: [pod('debug', { rev: TARGET }), pod('job-1', { rev: TARGET, owners: [owner('Job', 'j')] })],
        want: [],
        reported: {},
      },
      {
        name: 'reports an uninjected pod no workload owns',
        workloads: [],
        pods: [pod('debug')],
        want: [],
        reported: { debug: ['has no controller'] },
      },
      // Pods that do not count
      {
        name: 'ignores terminating and finished pods when judging a workload',
        workloads: [deploy('web', { stamp: TARGET, restartedAt: ago(60) })],
        pods: [
          ...appPods('web', [TARGET, TARGET]),
          pod('web-old-1', { labels: { app: 'web' }, rev: OLD, terminating: true }),
          pod('web-old-2', { labels: { app: 'web' }, rev: OLD, phase: 'Succeeded' }),
          pod('web-old-3', { labels: { app: 'web' }, rev: OLD, phase: 'Failed' }),
        ],
        want: [{ kind: 'done', name: 'web', restarted: true }],
      },
      {
        name: 'neither reports nor counts terminating and Succeeded pods no workload owns',
        workloads: [],
        pods: [
          pod('gone', { rev: OLD, terminating: true }),
          pod('job-done', { rev: OLD, phase: 'Succeeded', owners: [owner('Job', 'j')] }),
          pod('job-failed', { rev: OLD, phase: 'Failed', owners: [owner('Job', 'j')] }),
        ],
        want: [],
        reported: {},
      },
      // Several workloads
      {
        name: 'plans every workload, ordered by kind then name',
        workloads: [sts('db'), deploy('web', { stamp: TARGET, restartedAt: ago(60) }), ds('agent'), deploy('api')],
        pods: [...appPods('db', [TARGET, TARGET, TARGET]), ...appPods('web', [TARGET, TARGET]), ...appPods('agent', [OLD]), ...appPods('api', [OLD])],
        want: [
          { kind: 'restart', name: 'agent' },
          { kind: 'restart', name: 'api' },
          { kind: 'done', name: 'web', restarted: true },
          { kind: 'done', name: 'db', restarted: false },
        ],
      },
      // Bugs pinned (see the report): expected behaviour per DESIGN.md §3 and upstream semantics.
      {
        name: 'leaves alone a hostNetwork workload: its pods are never injected, so a restart cannot move them',
        workloads: [ds('node-exporter', { hostNetwork: true })],
        pods: appPods('node-exporter', [undefined, undefined, undefined]),
        want: [{ kind: 'skipped', name: 'node-exporter' }],
        says: { 'node-exporter': ['hostNetwork'] },
      },
      {
        name: "trusts a Deployment's ProgressDeadlineExceeded only once observedGeneration has caught up (as kubectl rollout status does)",
        workloads: [
          deploy('web', {
            stamp: TARGET,
            restartedAt: ago(5),
            generation: 4,
            progressDeadlineSeconds: 600,
            status: { observedGeneration: 3 },
            conditions: [deadlineExceeded],
          }),
        ],
        pods: appPods('web', [OLD, OLD]),
        want: [{ kind: 'rolling', name: 'web', since: ago(5) }],
      },
      {
        name: 'does not report a pod opted out of injection: recreating it would not move it',
        workloads: [],
        pods: [
          pod('backup-x1', { labels: { [INJECT]: 'false' }, owners: [owner('Job', 'backup')] }),
          pod('debug', { annotations: { [INJECT]: 'false' } }),
        ],
        want: [],
        reported: {},
      },
    ];

    const project = (a: WorkloadAction): Got => ({
      kind: a.kind,
      name: a.ref.name,
      ...(a.kind === 'done' ? { restarted: a.restarted } : {}),
      ...(a.kind === 'rolling' && a.since !== undefined ? { since: a.since } : {}),
    });

    for (const c of cases) {
      it(c.name, () => {
        const input: WorkloadPlanInput = {
          expectedRevision: c.expected ?? TARGET,
          workloads: c.workloads,
          pods: c.pods ?? [],
          now: NOW,
          ...(c.rolloutTimeoutSeconds !== undefined ? { rolloutTimeoutSeconds: c.rolloutTimeoutSeconds } : {}),
        };
        const plan = planWorkloads(input);
        expect(plan.actions.map(project)).to.deep.equal(c.want);
        for (const a of plan.actions) {
          expect(a.ref.namespace).to.equal(APPS);
          const reason = a.kind === 'failed' || a.kind === 'skipped' ? a.reason : '';
          for (const word of c.says?.[a.ref.name] ?? []) expect(reason, `${a.ref.kind} ${a.ref.name}`).to.contain(word);
        }
        if (c.reported !== undefined) {
          expect(plan.reported.map((p) => p.name)).to.have.members(Object.keys(c.reported));
          for (const p of plan.reported) for (const word of c.reported[p.name] ?? []) expect(p.reason, `pod ${p.name}`).to.contain(word);
        }
      });
    }

    it('gives each action the kind, namespace and name of its workload', () => {
      const plan = planWorkloads({ expectedRevision: TARGET, workloads: [sts('db'), ds('agent'), deploy('web')], pods: [], now: NOW });
      expect(plan.actions.map((a) => a.ref)).to.deep.equal([
        { kind: 'DaemonSet', namespace: APPS, name: 'agent' },
        { kind: 'Deployment', namespace: APPS, name: 'web' },
        { kind: 'StatefulSet', namespace: APPS, name: 'db' },
      ]);
    });

    it('carries the observed resourceVersion in the ref, so a restart from a stale cache is refused', () => {
      const w = deploy('web');
      w.metadata!.resourceVersion = '4711';
      const plan = planWorkloads({ expectedRevision: TARGET, workloads: [w], pods: appPods('web', [OLD]), now: NOW });
      expect(plan.actions).to.deep.equal([{ kind: 'restart', ref: { kind: 'Deployment', namespace: APPS, name: 'web', resourceVersion: '4711' } }]);
    });

    it('does not depend on the order of its input, nor modify it', () => {
      const workloads = [deploy('web'), sts('db'), deploy('api', { stamp: TARGET, restartedAt: ago(10), status: { readyReplicas: 0 } })];
      const pods = [...appPods('web', [OLD]), ...appPods('db', [TARGET]), ...appPods('api', [TARGET]), pod('debug', { rev: OLD })];
      const frozen = structuredClone({ workloads, pods });
      const a = planWorkloads({ expectedRevision: TARGET, workloads, pods, now: NOW });
      const b = planWorkloads({ expectedRevision: TARGET, workloads: [...workloads].reverse(), pods: [...pods].reverse(), now: NOW });
      expect(b).to.deep.equal(a);
      expect({ workloads, pods }).to.deep.equal(frozen);
    });

    it('plans rolling, not a second restart, as soon as the executor has stamped the workload', () => {
      const before = planWorkloads({ expectedRevision: TARGET, workloads: [deploy('web')], pods: appPods('web', [OLD, OLD]), now: NOW });
      expect(before.actions.map((a) => a.kind)).to.deep.equal(['restart']);
      // What the executor writes: the restart annotations on the pod template (the controller has not reacted yet).
      const stamped = deploy('web', { stamp: TARGET, restartedAt: ago(0), generation: 4, status: { observedGeneration: 3 } });
      const after = planWorkloads({ expectedRevision: TARGET, workloads: [stamped], pods: appPods('web', [OLD, OLD]), now: NOW });
      expect(after.actions.map((a) => a.kind)).to.deep.equal(['rolling']);
    });
  });

  describe('planWorkloads with a pod cache behind the workload cache', () => {
    // The Deployment's status (resourceVersion 500) says the rollout is complete, but the pod cache has
    // seen events only up to 480: it still shows an old pod the Deployment controller already replaced.
    const stamped = () => {
      const w = deploy('web', { stamp: TARGET, restartedAt: ago(5) });
      w.metadata!.resourceVersion = '500';
      return w;
    };
    const pods = () => [...appPods('web', [TARGET, TARGET]), pod('web-old', { labels: { app: 'web' }, rev: OLD })];

    it('waits (rolling) instead of failing while the pod cache has not caught up with the workload', () => {
      const plan = planWorkloads({ expectedRevision: TARGET, workloads: [stamped()], pods: pods(), now: NOW, podsResourceVersion: '480' });
      expect(plan.actions.map((a) => a.kind)).to.deep.equal(['rolling']);
    });

    it('fails once the pod cache is as new as the workload and still shows a pod on another revision', () => {
      const plan = planWorkloads({ expectedRevision: TARGET, workloads: [stamped()], pods: pods(), now: NOW, podsResourceVersion: '500' });
      expect(plan.actions.map((a) => a.kind)).to.deep.equal(['failed']);
    });

    it('does not wait for the pod cache past the rollout deadline (a stuck pod watch cannot hold a migration forever)', () => {
      const late = deploy('web', { stamp: TARGET, restartedAt: ago(700) });
      late.metadata!.resourceVersion = '500';
      const plan = planWorkloads({ expectedRevision: TARGET, workloads: [late], pods: pods(), now: NOW, podsResourceVersion: '480' });
      expect(plan.actions.map((a) => a.kind)).to.deep.equal(['failed']);
    });

    it('judges at once when the pod cache version is unknown or not an integer (as before)', () => {
      for (const podsResourceVersion of [undefined, 'opaque']) {
        const plan = planWorkloads({ expectedRevision: TARGET, workloads: [stamped()], pods: pods(), now: NOW, ...(podsResourceVersion ? { podsResourceVersion } : {}) });
        expect(plan.actions.map((a) => a.kind)).to.deep.equal(['failed']);
      }
    });

    it('is not held back when every pod is on the target already', () => {
      const plan = planWorkloads({ expectedRevision: TARGET, workloads: [stamped()], pods: appPods('web', [TARGET, TARGET]), now: NOW, podsResourceVersion: '1' });
      expect(plan.actions.map((a) => a.kind)).to.deep.equal(['done']);
    });

    it('compares resourceVersions as integers, and only integers', () => {
      expect(resourceVersionOlder('99', '100')).to.equal(true);
      expect(resourceVersionOlder('100', '100')).to.equal(false);
      expect(resourceVersionOlder('18446744073709551617', '18446744073709551616')).to.equal(false);
      expect(resourceVersionOlder('a1', '100')).to.equal(false);
      expect(resourceVersionOlder(undefined, '100')).to.equal(false);
    });
  });

  describe('requestRollback', () => {
    const status: MigrationStatus = {
      generation: 3,
      phase: 'Progressing',
      currentStep: 2,
      steps: [{ index: 1, target: 1, completedAt: '2024-05-01T09:00:00Z' }, { index: 2, target: 4 }],
      namespaces: [{ name: 'shop', state: 'Migrated', step: 1, from: 'default' }],
      counts: { eligible: 4, migrated: 1, inProgress: 1, failed: 0, rolledBack: 0 },
      startedAt: '2024-05-01T08:00:00Z',
      summary: '1/4',
    };

    it('sets phase RollingBack, the generation and the reason, and keeps the rest', () => {
      const frozen = structuredClone(status);
      expect(requestRollback(status, 4, 'health check error-rate failed')).to.deep.equal({
        ...frozen,
        generation: 4,
        phase: 'RollingBack',
        rollbackReason: 'health check error-rate failed',
      });
      expect(status).to.deep.equal(frozen);
    });

    it('replaces an earlier rollback reason', () => {
      expect(requestRollback({ ...status, rollbackReason: 'old' }, 3, 'new').rollbackReason).to.equal('new');
    });

    it('starts from nothing when there is no migration status yet', () => {
      expect(requestRollback(undefined, 2, 'requested')).to.deep.equal({ generation: 2, phase: 'RollingBack', rollbackReason: 'requested' });
    });
  });
});
