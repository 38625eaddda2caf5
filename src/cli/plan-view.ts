// Pure: the `meshrev plan` report — what applying a MeshRevision's
// spec.migration would do to the cluster as it is now, computed by the same
// functions the operator runs (classifyNamespaces, planSteps, planWorkloads),
// so the plan and the migration cannot disagree. No I/O.
import type { Workload } from '../api/workload.js';
import type { V1MutatingWebhookConfiguration, V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { MeshRevision } from '../api/meshrevision.js';
import { FROM_DEFAULT } from '../api/migration.js';
import {
  classifyNamespaces,
  effectiveSteps,
  planSteps,
  planWorkloads,
  type PauseKind,
  type WorkloadAction,
  type WorkloadRef,
} from '../policy/migration.js';
import { decide, type MigrationDecision } from '../policy/migration-decide.js';
import { recordedResolver } from '../policy/routing.js';
import { formatTable } from './status-view.js';

/** classifyNamespaces' reason for a namespace with no injection label: the many such namespaces are summarised in text. */
const REASON_NO_INJECTION_LABEL = 'no injection label';

export interface PlanInput {
  /** The MeshRevision to plan (validated; read from a file). */
  meshRevision: MeshRevision;
  namespaces: readonly V1Namespace[];
  pods: readonly V1Pod[];
  workloads: readonly Workload[];
  now: Date;
  /** The cluster's MeshRevisions and revision webhooks: for notes and to name the revision behind each `from`. */
  clusterMeshRevisions?: readonly MeshRevision[];
  webhooks?: readonly V1MutatingWebhookConfiguration[];
}

export interface NamedReason {
  name: string;
  reason: string;
}

/** One namespace of a step, exactly as `-o json` prints it. */
export interface PlanNamespaceJson {
  name: string;
  /** Where it comes from: "default" or a revision/tag. */
  from: string;
  /** Workloads that would be restarted, "Kind/name", sorted. */
  restart: string[];
  /** Workloads left alone, "Kind/name" with why, sorted by name. */
  skipped: NamedReason[];
  /** Pods no restartable workload owns (never deleted), sorted by name. */
  reported: NamedReason[];
}

export interface PlanStepJson {
  /** 1-based. */
  index: number;
  /** Namespaces moved by the end of the step (cumulative). */
  target: number;
  /** The step's pause as written ("30s", "indefinite"); null when it goes on at once. */
  pause: string | null;
  /** In migration order: already moved first, then pending, each by name. */
  namespaces: PlanNamespaceJson[];
}

/**
 * What the operator would decide in its next reconcile, by the same `decide` it runs — before the
 * dry runs, the injector gate and the checks it would look at first (`waitingFor`).
 */
export interface PlanNow {
  /** The migration's phase after that reconcile. */
  phase: string;
  /** Namespaces it would relabel now. */
  start: string[];
  /** Workloads it would restart now (once their dry runs confirm), "namespace/Kind/name", sorted. */
  restart: string[];
  /** Why nothing new starts now, or null. */
  held: string | null;
  /** What it observes before acting: the injector gate, dry runs, health checks due. */
  waitingFor: string[];
}

/** The `meshrev plan -o json` document. An e2e test compares it with what the operator does: keep its shape. */
export interface PlanJson {
  steps: PlanStepJson[];
  /** Namespaces the migration never touches, with why, sorted by namespace. */
  skipped: { namespace: string; reason: string }[];
  now: PlanNow;
}

export interface PlanNamespaceDetail extends PlanNamespaceJson {
  /** Already relabelled by this MeshRevision (carries its origin annotation). */
  moved: boolean;
  /** Workloads already on the target revision. */
  done: string[];
  /** Restarted for the target; still rolling out. */
  rolling: string[];
  failed: NamedReason[];
}

export interface PlanStepDetail extends Omit<PlanStepJson, 'namespaces'> {
  pauseKind: PauseKind;
  namespaces: PlanNamespaceDetail[];
}

export interface PlanReport {
  meshRevision: string;
  revision: string;
  /** spec.migration.from, each with the revision serving it in the cluster now (null: nothing). */
  from: { value: string; revision: string | null }[];
  eligible: number;
  steps: PlanStepDetail[];
  skipped: { namespace: string; reason: string }[];
  now: PlanNow;
  /** Things to know before applying (text only). */
  notes: string[];
}

function refText(r: WorkloadRef): string {
  return `${r.kind}/${r.name}`;
}

function byKey<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

function only<K extends WorkloadAction['kind']>(actions: readonly WorkloadAction[], kind: K): Extract<WorkloadAction, { kind: K }>[] {
  return actions.filter((a): a is Extract<WorkloadAction, { kind: K }> => a.kind === kind);
}

function notesFor(input: PlanInput): string[] {
  const notes: string[] = [];
  const name = input.meshRevision.metadata.name ?? '';
  const revision = input.meshRevision.spec.revision;
  const cluster = input.clusterMeshRevisions ?? [];
  const same = cluster.find((m) => m.metadata.name === name);
  if (!same) {
    notes.push(`MeshRevision ${name} is not in the cluster yet: applying the file starts this plan.`);
  } else if (same.spec.revision !== revision) {
    notes.push(`MeshRevision ${name} in the cluster has revision ${same.spec.revision}; spec.revision is immutable, so applying the file is rejected.`);
  } else if (same.status?.migration?.phase) {
    notes.push(`MeshRevision ${name} is in the cluster; its migration is ${same.status.migration.phase}. The plan shows what is left from here.`);
  }
  for (const other of cluster) {
    if (other.metadata.name !== name && other.spec.revision === revision) {
      notes.push(`MeshRevision ${other.metadata.name ?? ''} already declares revision ${revision}: this one would get no webhooks (RevisionCollision).`);
    }
  }
  return notes;
}

/** Plans the file's migration against the cluster as observed. Deterministic for the same input. */
export function buildPlan(input: PlanInput): PlanReport {
  const mrev = input.meshRevision;
  const name = mrev.metadata.name ?? '';
  const revision = mrev.spec.revision;
  const migration = mrev.spec.migration ?? { from: [] };
  const resolve = recordedResolver(input.clusterMeshRevisions ?? [], input.webhooks ?? []);

  const classes = classifyNamespaces({ meshRevision: name, revision, migration, namespaces: input.namespaces });
  const plan = planSteps(classes, migration.steps);
  const written = effectiveSteps(migration.steps, plan.order.length);
  const fromOf = new Map(classes.flatMap((c) => (c.kind === 'skipped' ? [] : [[c.name, { from: c.from, moved: c.kind === 'moved' }] as const])));

  const podsByNs = new Map<string, V1Pod[]>();
  for (const p of input.pods) {
    const ns = p.metadata?.namespace ?? '';
    podsByNs.set(ns, [...(podsByNs.get(ns) ?? []), p]);
  }
  const workloadsByNs = new Map<string, Workload[]>();
  for (const w of input.workloads) {
    const ns = w.metadata?.namespace ?? '';
    workloadsByNs.set(ns, [...(workloadsByNs.get(ns) ?? []), w]);
  }

  const detail = (ns: string): PlanNamespaceDetail => {
    const wp = planWorkloads({
      expectedRevision: revision,
      workloads: workloadsByNs.get(ns) ?? [],
      pods: podsByNs.get(ns) ?? [],
      now: input.now,
      ...(migration.rolloutTimeoutSeconds !== undefined ? { rolloutTimeoutSeconds: migration.rolloutTimeoutSeconds } : {}),
    });
    const c = fromOf.get(ns);
    return {
      name: ns,
      from: c?.from ?? 'none',
      restart: only(wp.actions, 'restart').map((a) => refText(a.ref)).sort(),
      skipped: only(wp.actions, 'skipped').map((a) => ({ name: refText(a.ref), reason: a.reason })).sort(byKey((x) => x.name)),
      reported: wp.reported.map((p) => ({ name: p.name, reason: p.reason })).sort(byKey((x) => x.name)),
      moved: c?.moved ?? false,
      done: only(wp.actions, 'done').map((a) => refText(a.ref)).sort(),
      rolling: only(wp.actions, 'rolling').map((a) => refText(a.ref)).sort(),
      failed: only(wp.actions, 'failed').map((a) => ({ name: refText(a.ref), reason: a.reason })).sort(byKey((x) => x.name)),
    };
  };

  const steps: PlanStepDetail[] = plan.steps.map((s) => {
    const pause = written[s.index - 1]?.pause;
    return {
      index: s.index,
      target: s.target,
      pause: pause === undefined || pause === '' ? null : pause,
      pauseKind: s.pause,
      namespaces: s.namespaces.map(detail),
    };
  });
  const skipped = classes
    .flatMap((c) => (c.kind === 'skipped' ? [{ namespace: c.name, reason: c.reason }] : []))
    .sort(byKey((x) => x.namespace));

  return {
    meshRevision: name,
    revision,
    from: migration.from.map((value) => ({ value, revision: resolve(value) ?? null })),
    eligible: plan.order.length,
    steps,
    skipped,
    now: nowOf(input, (ns) => workloadsByNs.get(ns) ?? [], (ns) => podsByNs.get(ns) ?? []),
    notes: notesFor(input),
  };
}

/** A spec as compared by the plan: keys sorted, so a file and the API server's copy compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The MeshRevision as the operator would see it once the file is applied: the live object's status
 * and generation, the generation one more when the file changes the spec (a new generation starts clean).
 */
function asApplied(input: PlanInput): MeshRevision {
  const file = input.meshRevision;
  const live = (input.clusterMeshRevisions ?? []).find((m) => m.metadata.name === file.metadata.name && m.spec.revision === file.spec.revision);
  if (!live) return { ...file, metadata: { ...file.metadata, generation: 1 } };
  const generation = (live.metadata.generation ?? 1) + (canonical(live.spec) === canonical(file.spec) ? 0 : 1);
  return { ...file, metadata: { ...live.metadata, generation }, ...(live.status ? { status: live.status } : {}) };
}

function nowOf(input: PlanInput, workloads: (ns: string) => Workload[], pods: (ns: string) => V1Pod[]): PlanNow {
  const mrev = asApplied(input);
  const d = decide({
    mrev,
    now: input.now,
    deleting: false,
    resolve: recordedResolver(input.clusterMeshRevisions ?? [], input.webhooks ?? []),
    view: { namespaces: input.namespaces, workloads, pods },
    memo: new Map(),
    admission: new Map(),
    measurements: new Map(),
  });
  if (!d) return { phase: 'None', start: [], restart: [], held: 'no spec.migration and nothing moved', waitingFor: [] };
  const waitingFor = [
    ...(d.needs.injector ? [`the injector of ${mrev.spec.revision} to answer (checked before anything moves)`] : []),
    ...d.needs.admission.map((a) => `a dry-run pod in ${a.namespace} injected by the expected revision (restarts wait for it)`),
    ...d.needs.checks.map((c) => `health check ${c.key}`),
  ];
  return {
    phase: d.result.status.phase ?? 'Pending',
    start: [...d.started],
    restart: d.restarts.map((r) => `${r.ref.namespace}/${r.ref.kind}/${r.ref.name}`).sort(),
    held: heldReason(d, input.now),
    waitingFor,
  };
}

/** Why the decision starts nothing new, in words that say what would move it on; null when it does start (or is done). */
function heldReason(d: MigrationDecision, now: Date): string | null {
  const s = d.result.status;
  const step = s.currentStep ?? 1;
  switch (s.phase) {
    case 'Suspended':
      return 'spec.migration.paused is true: set it to false to go on';
    case 'AwaitingPromotion':
      return `step ${step} ends in an indefinite pause: set spec.migration.promotedStep to ${step} to go on`;
    case 'Paused':
      if (s.blocked) return s.blocked;
      return `soaking after step ${step}${d.result.requeueAfterMs !== undefined ? ` until ${new Date(now.getTime() + d.result.requeueAfterMs).toISOString()}` : ''}`;
    case 'Failed':
    case 'RollingBack':
    case 'RolledBack':
      return `${s.phase}: ${s.rollbackReason ?? 'see status'}; a spec change starts a new generation`;
    case 'Succeeded':
      return null;
    default:
      if (s.blocked) return s.blocked;
      if (d.started.length > 0) return null;
      if ((s.counts?.inProgress ?? 0) > 0) return `${s.counts!.inProgress} namespace(s) still in flight (maxConcurrentNamespaces, or the step is not complete)`;
      return null;
  }
}

/** The `-o json` document: exactly PlanJson's fields, nothing else. */
export function planJson(report: PlanReport): PlanJson {
  return {
    steps: report.steps.map((s) => ({
      index: s.index,
      target: s.target,
      pause: s.pause,
      namespaces: s.namespaces.map((n) => ({ name: n.name, from: n.from, restart: [...n.restart], skipped: n.skipped, reported: n.reported })),
    })),
    skipped: report.skipped,
    now: report.now,
  };
}

// ---------------------------------------------------------------------------
// Text

function pauseText(s: PlanStepDetail, last: boolean): string {
  switch (s.pauseKind.kind) {
    case 'indefinite':
      return `, then wait until spec.migration.promotedStep is ${s.index} or more`;
    case 'duration':
      return `, then soak ${s.pause ?? ''}`;
    case 'none':
      return last ? '' : ', then the next step at once';
  }
}

function fromText(from: PlanReport['from']): string {
  return from
    .map((f) => {
      const what = f.value === FROM_DEFAULT ? 'default (istio-injection=enabled)' : f.value;
      if (f.revision === null) return `${what}, served by nothing now`;
      return f.revision === f.value ? what : `${what} → ${f.revision}`;
    })
    .join('; ');
}

function nowText(now: PlanNow): string[] {
  const out = [`Now: the operator's next reconcile would leave the migration ${now.phase}`];
  if (now.start.length > 0) out.push(`  start   ${now.start.join(', ')}`);
  if (now.restart.length > 0) out.push(`  restart ${now.restart.join(', ')}`);
  if (now.held !== null) out.push(`  held    ${now.held}`);
  for (const w of now.waitingFor) out.push(`  first   ${w}`);
  return out;
}

/** The human plan: the steps with, per namespace, what restarts, what is left alone, what is reported; then the namespaces left out. */
export function formatPlanText(report: PlanReport): string {
  const out: string[] = [];
  const n = report.eligible;
  out.push(`MeshRevision ${report.meshRevision}: move ${n} namespace${n === 1 ? '' : 's'} to revision ${report.revision}` +
    ` in ${report.steps.length} step${report.steps.length === 1 ? '' : 's'}, from ${fromText(report.from) || 'nothing'}`);
  for (const note of report.notes) out.push(`note: ${note}`);
  out.push('');

  let prev = 0;
  report.steps.forEach((s, i) => {
    const added = s.target - prev;
    prev = s.target;
    out.push(`Step ${s.index}: ${added} namespace${added === 1 ? '' : 's'} (${s.target}/${n} in all)${pauseText(s, i === report.steps.length - 1)}`);
    for (const ns of s.namespaces) {
      out.push(`  ${ns.name}  from ${ns.from}${ns.moved ? '  (already relabelled)' : ''}`);
      const lines: [string, string][] = [];
      for (const r of ns.restart) lines.push(['restart', r]);
      for (const r of ns.rolling) lines.push(['rolling', `${r} (restarted, rolling out)`]);
      for (const r of ns.done) lines.push(['done', `${r} (already on ${report.revision})`]);
      for (const f of ns.failed) lines.push(['failed', `${f.name}: ${f.reason}`]);
      for (const k of ns.skipped) lines.push(['leave', `${k.name}: ${k.reason}`]);
      for (const p of ns.reported) lines.push(['report', `pod ${p.name}: ${p.reason}`]);
      if (lines.length === 0) lines.push(['-', 'no workloads']);
      for (const [what, text] of lines) out.push(`    ${what.padEnd(8)}${text}`);
    }
  });
  if (report.steps.every((s) => s.namespaces.length === 0)) out.push('No namespace would move.');
  out.push('');
  out.push(...nowText(report.now));

  const listed = report.skipped.filter((s) => s.reason !== REASON_NO_INJECTION_LABEL);
  const unlabelled = report.skipped.length - listed.length;
  if (report.skipped.length > 0) {
    out.push('');
    out.push('Not migrated:');
    if (listed.length > 0) {
      out.push(formatTable(['NAMESPACE', 'REASON'], listed.map((s) => [s.namespace, s.reason])).trimEnd().replace(/^/gm, '  '));
    }
    if (unlabelled > 0) {
      out.push(`  and ${unlabelled} namespace${unlabelled === 1 ? '' : 's'} with no injection label (-o json lists them)`);
    }
  }
  return out.join('\n') + '\n';
}
