// Pure: the `meshrev status` report, from what the cluster holds
// (MeshRevisions with their status, namespaces, pods, revision webhooks).
// Three parts: the revisions, the namespaces that use injection (which
// revision their labels select and which ones their pods actually run — a
// condensed `istioctl proxy-status`), and the migrations with their progress.
// No I/O: src/kube/mesh-view.ts reads, src/cli/commands/status.ts prints.
import type { V1MutatingWebhookConfiguration, V1Namespace, V1Pod } from '@kubernetes/client-node';
import {
  ANNOTATION_ISTIO_REV,
  LABEL_ISTIO_INJECTION,
  LABEL_ISTIO_REV,
  LABEL_SIDECAR_INJECT,
} from '../api/labels.js';
import { CONDITION_READY, CRD_NAME, inUseSummary, type MeshRevision } from '../api/meshrevision.js';
import {
  MIGRATION_PHASE_AWAITING_PROMOTION,
  MIGRATION_PHASE_FAILED,
  MIGRATION_PHASE_ROLLED_BACK,
  MIGRATION_PHASE_SUCCEEDED,
  MIGRATION_PHASE_SUSPENDED,
  NS_MIGRATED,
  NS_MIGRATING,
  NS_PENDING,
  NS_ROLLED_BACK,
  NS_ROLLING_BACK,
  rollbackWasRequested,
  type MigrationCounts,
} from '../api/migration.js';
import { findCondition } from '../policy/conditions.js';
import { classifyNamespaces, readOrigin } from '../policy/migration.js';
import { isLivePod } from '../policy/pods.js';
import {
  podRoute,
  readWebhookConfiguration,
  recordedResolver,
  routeValue,
  sourceOfLabels,
  type RevisionResolver,
} from '../policy/routing.js';

/** The PODS key for live pods without an `istio.io/rev` annotation. */
const UNINJECTED = 'uninjected';
/** Migration state shown for a namespace known only by its origin annotation (no MeshRevision status lists it). */
const NS_MOVED = 'Moved';
/** Phase of a revision row whose webhook configuration meshrev does not manage (e.g. istiod's Helm chart). */
const PHASE_UNMANAGED = 'Unmanaged';
/** Phase of a revision row that only running pods name: nothing serves it any more. */
const PHASE_NO_WEBHOOK = 'NoWebhook';

export interface StatusInput {
  meshRevisions: readonly MeshRevision[];
  /** False when the cluster does not serve the MeshRevision CRD (default true). */
  crdInstalled?: boolean;
  namespaces: readonly V1Namespace[];
  pods: readonly V1Pod[];
  /** MutatingWebhookConfigurations labelled istio.io/rev: revisions and tags meshrev does not manage. */
  webhooks?: readonly V1MutatingWebhookConfiguration[];
  /** Only this namespace in the namespaces part (-n). */
  namespace?: string;
  /** How the hints name the program: "meshrev" (default) or "kubectl meshrev". */
  program?: string;
}

export interface ReadyState {
  status: string;
  reason: string;
  message: string;
}

export interface RevisionRow {
  /** null for a revision no MeshRevision declares (served by an unmanaged webhook, or only named by pods). */
  meshRevision: string | null;
  revision: string;
  /** Holds the default (status.defaultRevision), i.e. serves istio-injection=enabled. */
  default: boolean;
  /** Tags in effect (status.activeTags). */
  tags: string[];
  /** status.phase; Unmanaged / NoWebhook for rows without a MeshRevision; "" when not yet reconciled. */
  phase: string;
  /** The Ready condition; null when absent. */
  ready: ReadyState | null;
  /** status.inUse.summary, or computed from the pods for rows without a MeshRevision. */
  inUse: string;
  /** "migrated/eligible phase", e.g. "7/10 Progressing"; null without a migration. */
  migration: string | null;
}

export interface NamespaceMigration {
  meshRevision: string;
  state: string;
  /** 1-based step of the migration the namespace belongs to. */
  step?: number;
  /** Where it came from: "default" or a revision/tag. */
  from?: string;
  message?: string;
}

export interface NamespaceRow {
  name: string;
  /** The injection labels present on the namespace. */
  labels: { 'istio-injection'?: string; 'istio.io/rev'?: string };
  /** What the labels select: "default", a tag or a revision; null when they inject nothing (none, or istio-injection=disabled). */
  selects: string | null;
  /** The revision serving `selects` (tags and default resolved); null when nothing is selected or nothing serves it. */
  revision: string | null;
  /** Live pods by the revision that injected them (`istio.io/rev` annotation), plus "uninjected"; keys sorted. */
  pods: Record<string, number>;
  /** Live pods that would get another revision (or none) if recreated now. */
  stalePods: number;
  /** True when every live pod runs what its labels select now. False also when the labels select something nothing serves. */
  inSync: boolean;
  migration: NamespaceMigration | null;
}

export interface MigrationRow {
  meshRevision: string;
  revision: string;
  /** spec.migration.from. */
  from: string[];
  phase: string | null;
  currentStep: number | null;
  steps: number;
  counts: MigrationCounts;
  /** "[#####---------------] 3/12" (migrated of eligible). */
  progress: string;
  rollbackReason?: string;
  /**
   * Where the migration stands for `status --watch`, which ends once none is
   * `running`: `succeeded`, `rolledBack` (a rollback someone asked for, done)
   * and `failed` (Failed, or rolled back after a failed gate) are final until
   * the spec changes; a status older than the spec is `running`.
   */
  outcome: MigrationOutcome;
  /** What to do next, a command to run, when the migration waits for a person; else null. */
  hint: string | null;
}

export type MigrationOutcome = 'running' | 'succeeded' | 'rolledBack' | 'failed';

export interface StatusReport {
  crdInstalled: boolean;
  revisions: RevisionRow[];
  namespaces: NamespaceRow[];
  migrations: MigrationRow[];
}

// ---------------------------------------------------------------------------
// Resolution (policy/routing.ts: recordedResolver, podRoute, sourceOfLabels)

/**
 * The revision a pod would get if it were created now (DESIGN.md §1): null for
 * none, undefined when its labels select a value nothing serves. Ignores
 * enableNamespacesByDefault (a mesh setting the cluster does not show).
 */
function expectedRevisionOf(nsLabels: Record<string, string>, pod: V1Pod, resolve: RevisionResolver): string | null | undefined {
  if (pod.metadata?.annotations?.[LABEL_SIDECAR_INJECT] === 'false') return null;
  if (pod.spec?.hostNetwork === true) return null;
  const value = routeValue(podRoute(nsLabels, pod.metadata?.labels ?? {}));
  if (value === undefined) return null;
  return resolve(value);
}

// ---------------------------------------------------------------------------
// Report

/** `[####----------------] 3/12`: `width` cells, full only when done === total. */
export function progressBar(done: number, total: number, width = 20): string {
  const d = Math.max(0, Math.min(done, total));
  const filled = total > 0 ? Math.floor((width * d) / total) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

const ZERO_COUNTS: MigrationCounts = { eligible: 0, migrated: 0, inProgress: 0, failed: 0, rolledBack: 0 };

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function migrationSummary(m: MeshRevision): string | null {
  const st = m.status?.migration;
  if (!st && !m.spec.migration) return null;
  const summary = st?.summary ?? (st?.counts ? `${st.counts.migrated}/${st.counts.eligible}` : '0/?');
  return `${summary} ${st?.phase ?? 'Pending'}`;
}

function revisionRows(input: StatusInput, pods: readonly V1Pod[]): RevisionRow[] {
  const rows: RevisionRow[] = input.meshRevisions.map((m) => {
    const ready = findCondition(m.status?.conditions, CONDITION_READY);
    return {
      meshRevision: m.metadata.name ?? '',
      revision: m.spec.revision,
      default: m.status?.defaultRevision === true,
      tags: [...(m.status?.activeTags ?? [])].sort(byString),
      phase: m.status?.phase ?? '',
      ready: ready ? { status: ready.status, reason: ready.reason, message: ready.message } : null,
      inUse: m.status?.inUse?.summary ?? '',
      migration: migrationSummary(m),
    };
  });
  const declared = new Set(input.meshRevisions.map((m) => m.spec.revision));
  // Revisions meshrev does not declare: from unmanaged webhooks, then from pods alone.
  const extra = new Map<string, { phase: string; tags: Set<string>; isDefault: boolean }>();
  for (const w of (input.webhooks ?? []).map(readWebhookConfiguration)) {
    const rev = w.revision;
    if (rev === undefined || w.managed || declared.has(rev)) continue;
    const row = extra.get(rev) ?? { phase: PHASE_UNMANAGED, tags: new Set<string>(), isDefault: false };
    if (w.tagLabel !== undefined) row.tags.add(w.tagLabel);
    if (w.defaultEntries.namespace || w.defaultEntries.object) row.isDefault = true;
    for (const tag of w.entryTags) row.tags.add(tag);
    extra.set(rev, row);
  }
  for (const p of pods) {
    const rev = p.metadata?.annotations?.[ANNOTATION_ISTIO_REV];
    if (rev !== undefined && !declared.has(rev) && !extra.has(rev)) extra.set(rev, { phase: PHASE_NO_WEBHOOK, tags: new Set(), isDefault: false });
  }
  for (const [rev, x] of [...extra].sort(([a], [b]) => byString(a, b))) {
    const onRev = pods.filter((p) => p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] === rev);
    const nsCount = new Set(onRev.map((p) => p.metadata?.namespace ?? '')).size;
    rows.push({
      meshRevision: null,
      revision: rev,
      // A MeshRevision holding the default wins; an unmanaged default entry then competes with it.
      default: x.isDefault,
      tags: [...x.tags].sort(byString),
      phase: x.phase,
      ready: null,
      inUse: inUseSummary(nsCount, onRev.length),
      migration: null,
    });
  }
  return rows;
}

/**
 * A namespace's migration, read where its record of truth is. status.migration lists only the
 * namespaces moving, failed or returned (at most 100); every namespace a migration moved carries
 * its own record (the origin annotation: migration, step, when moved or returned), and its pods
 * say whether it arrived. A namespace no migration moved yet is Pending when a migration selects it.
 */
function namespaceMigration(ns: V1Namespace, meshRevisions: readonly MeshRevision[], arrived: boolean, pendingFor: ReadonlyMap<string, PendingIn>): NamespaceMigration | null {
  const name = ns.metadata?.name ?? '';
  const origin = readOrigin(ns);
  const entries = meshRevisions.flatMap((m) =>
    (m.status?.migration?.namespaces ?? []).filter((e) => e.name === name).map((e) => ({ mrev: m.metadata.name ?? '', e })));
  // The migration that recorded the origin owns the namespace; otherwise one still acting on it.
  const pick = entries.find((x) => x.mrev === origin?.meshRevision) ?? entries.find((x) => x.e.state !== NS_ROLLED_BACK) ?? entries[0];
  if (pick) {
    return {
      meshRevision: pick.mrev,
      state: pick.e.state,
      step: pick.e.step,
      ...(pick.e.from !== undefined ? { from: pick.e.from } : {}),
      ...(pick.e.message !== undefined ? { message: pick.e.message } : {}),
    };
  }
  if (origin) {
    const owner = meshRevisions.find((m) => m.metadata.name === origin.meshRevision);
    const state = origin.rolledBackAt ? NS_ROLLED_BACK : origin.returnedAt ? NS_ROLLING_BACK : owner === undefined ? NS_MOVED : movedState(owner, origin.step, arrived);
    return { meshRevision: origin.meshRevision, state, ...(origin.step !== undefined ? { step: origin.step } : {}), from: sourceOfLabels(origin.labels) ?? 'none' };
  }
  const pending = pendingFor.get(name);
  return pending ? { meshRevision: pending.meshRevision, state: NS_PENDING, from: pending.from } : null;
}

/**
 * A moved namespace its migration does not list: Migrated once its step completed (or the
 * migration succeeded), or when its pods all run the revision its labels select; otherwise its
 * workloads are still being restarted or verified (Migrating).
 */
function movedState(owner: MeshRevision, step: number | undefined, arrived: boolean): string {
  const m = owner.status?.migration;
  const stepDone = step !== undefined && m?.steps?.some((s) => s.index === step && s.completedAt !== undefined);
  return m?.phase === MIGRATION_PHASE_SUCCEEDED || stepDone || arrived ? NS_MIGRATED : NS_MIGRATING;
}

interface PendingIn {
  meshRevision: string;
  from: string;
}

/** Namespaces a migration selects that it has not moved yet, by name (the plan's pending ones). */
function pendingNamespaces(meshRevisions: readonly MeshRevision[], namespaces: readonly V1Namespace[]): Map<string, PendingIn> {
  const out = new Map<string, PendingIn>();
  for (const m of meshRevisions) {
    const migration = m.spec?.migration;
    if (!migration || !m.metadata.name) continue;
    const uid = m.metadata.uid;
    for (const c of classifyNamespaces({ meshRevision: m.metadata.name, ...(uid !== undefined ? { uid } : {}), revision: m.spec.revision, migration, namespaces })) {
      if (c.kind === 'pending' && !out.has(c.name)) out.set(c.name, { meshRevision: m.metadata.name, from: c.from });
    }
  }
  return out;
}

function namespaceRows(input: StatusInput, pods: readonly V1Pod[], resolve: RevisionResolver): NamespaceRow[] {
  const podsByNs = new Map<string, V1Pod[]>();
  for (const p of pods) {
    const ns = p.metadata?.namespace ?? '';
    const list = podsByNs.get(ns) ?? [];
    list.push(p);
    podsByNs.set(ns, list);
  }
  const rows: NamespaceRow[] = [];
  const pendingFor = pendingNamespaces(input.meshRevisions, input.namespaces);
  for (const ns of input.namespaces) {
    const name = ns.metadata?.name;
    if (!name || (input.namespace !== undefined && name !== input.namespace)) continue;
    const labels = ns.metadata?.labels ?? {};
    const injectionLabels: NamespaceRow['labels'] = {};
    if (labels[LABEL_ISTIO_INJECTION] !== undefined) injectionLabels['istio-injection'] = labels[LABEL_ISTIO_INJECTION];
    if (labels[LABEL_ISTIO_REV] !== undefined) injectionLabels['istio.io/rev'] = labels[LABEL_ISTIO_REV];
    const selects = sourceOfLabels(labels) ?? null;
    const revision = selects === null ? null : (resolve(selects) ?? null);
    const counts: Record<string, number> = {};
    let stale = 0;
    let injected = 0;
    for (const p of podsByNs.get(name) ?? []) {
      const actual = p.metadata?.annotations?.[ANNOTATION_ISTIO_REV];
      if (actual !== undefined) injected++;
      const key = actual ?? UNINJECTED;
      counts[key] = (counts[key] ?? 0) + 1;
      const expected = expectedRevisionOf(labels, p, resolve);
      if (expected === undefined || (expected ?? UNINJECTED) !== key) stale++;
    }
    const migration = namespaceMigration(ns, input.meshRevisions, stale === 0 && revision !== null, pendingFor);
    const relevant = Object.keys(injectionLabels).length > 0 || injected > 0 || stale > 0 || migration !== null;
    if (!relevant) continue;
    const sortedCounts = Object.fromEntries(Object.entries(counts).sort(([a], [b]) => byString(a, b)));
    rows.push({
      name,
      labels: injectionLabels,
      selects,
      revision,
      pods: sortedCounts,
      stalePods: stale,
      inSync: stale === 0 && !(selects !== null && revision === null),
      migration,
    });
  }
  return rows.sort((a, b) => byString(a.name, b.name));
}

/** The outcome of a migration's status (see MigrationRow.outcome). */
export function migrationOutcome(m: MeshRevision): MigrationOutcome {
  const st = m.status?.migration;
  // A status written for an older spec says nothing about the new one (a retry, a promotion, a rollback request).
  if (!st || m.status?.observedGeneration !== m.metadata.generation) return 'running';
  if (st.phase === MIGRATION_PHASE_SUCCEEDED) return 'succeeded';
  if (st.phase === MIGRATION_PHASE_FAILED) return 'failed';
  if (st.phase === MIGRATION_PHASE_ROLLED_BACK) return rollbackWasRequested(st) ? 'rolledBack' : 'failed';
  return 'running';
}

/** The next thing a person can do, as a command (program: "meshrev" or "kubectl meshrev"); null while nothing waits for one. */
export function migrationHint(m: MeshRevision, program = 'meshrev'): string | null {
  const st = m.status?.migration;
  const name = m.metadata.name ?? '';
  const run = (verb: string) => `"${program} ${verb} ${name}"`;
  const outcome = migrationOutcome(m);
  if (outcome === 'failed') {
    return `${name} failed and stays stopped: see why with "kubectl describe meshrevision ${name}", fix the cause, ` +
      `then run ${run('retry')} to migrate again${st?.phase === MIGRATION_PHASE_FAILED ? `, or ${run('rollback')} to return every namespace` : ''}`;
  }
  if (outcome === 'rolledBack') return `${name} is rolled back as asked; ${run('retry')} migrates again`;
  if (outcome !== 'running' || m.status?.observedGeneration !== m.metadata.generation) return null;
  if (st?.phase === MIGRATION_PHASE_AWAITING_PROMOTION) {
    const step = st.currentStep ?? 0;
    const steps = st.steps?.length ?? 0;
    return `${name} finished step ${step} of ${steps} and awaits promotion: run ${run('promote')} to start step ${step + 1}, or ${run('rollback')}`;
  }
  if (st?.phase === MIGRATION_PHASE_SUSPENDED) {
    return `${name} is paused (spec.migration.paused): run ${run('resume')} to go on, or ${run('rollback')}`;
  }
  return null;
}

function migrationRows(meshRevisions: readonly MeshRevision[], program: string | undefined): MigrationRow[] {
  const rows: MigrationRow[] = [];
  for (const m of meshRevisions) {
    const st = m.status?.migration;
    if (!st && !m.spec.migration) continue;
    const counts = { ...ZERO_COUNTS, ...(st?.counts ?? {}) };
    rows.push({
      meshRevision: m.metadata.name ?? '',
      revision: m.spec.revision,
      from: [...(m.spec.migration?.from ?? [])],
      phase: st?.phase ?? null,
      currentStep: st?.currentStep ?? null,
      steps: st?.steps?.length ?? 0,
      counts,
      progress: progressBar(counts.migrated, counts.eligible),
      ...(st?.rollbackReason !== undefined ? { rollbackReason: st.rollbackReason } : {}),
      outcome: migrationOutcome(m),
      hint: migrationHint(m, program),
    });
  }
  return rows;
}

/**
 * When `status --watch` ends: once the migrations it saw running (`seen`, the
 * MeshRevisions' names; this report's running ones included) have all ended,
 * with exit code 1 if one of them failed — as `kubectl rollout status` ends
 * with a finished rollout and fails with a stalled one. Undefined while one
 * runs (paused, awaiting promotion and suspended included) and while none was
 * seen running: started before `kubectl apply`, it waits for the migration.
 */
export function watchExitCode(report: StatusReport, seen: ReadonlySet<string>): 0 | 1 | undefined {
  if (seen.size === 0 || report.migrations.some((m) => m.outcome === 'running')) return undefined;
  return report.migrations.some((m) => seen.has(m.meshRevision) && m.outcome === 'failed') ? 1 : 0;
}

/** The migrations running in `report`, by MeshRevision name. */
export function runningMigrations(report: StatusReport): string[] {
  return report.migrations.filter((m) => m.outcome === 'running').map((m) => m.meshRevision);
}

/** Builds the report. Deterministic: every list is sorted (revisions: MeshRevisions by name, then the others by revision). */
export function buildStatusReport(input: StatusInput): StatusReport {
  const pods = input.pods.filter(isLivePod);
  const resolve = recordedResolver(input.meshRevisions, input.webhooks ?? []);
  const meshRevisions = [...input.meshRevisions].sort((a, b) => byString(a.metadata.name ?? '', b.metadata.name ?? ''));
  const sorted = { ...input, meshRevisions };
  return {
    crdInstalled: input.crdInstalled ?? true,
    revisions: revisionRows(sorted, pods),
    namespaces: namespaceRows(sorted, pods, resolve),
    migrations: migrationRows(meshRevisions, input.program),
  };
}

// ---------------------------------------------------------------------------
// Text

/** Aligned columns, two spaces apart, no trailing spaces (kubectl get style). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function dash(s: string | null | undefined): string {
  return s === null || s === undefined || s === '' ? '-' : s;
}

function readyText(r: ReadyState | null): string {
  if (!r) return '-';
  return r.status === 'True' ? 'True' : `${r.status} (${r.reason})`;
}

function labelsText(l: NamespaceRow['labels']): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(',') : '-';
}

function revisionText(r: NamespaceRow): string {
  if (r.selects === null) return '-';
  return r.revision ?? `(nothing serves ${r.selects})`;
}

function podsText(pods: Record<string, number>): string {
  const parts = Object.entries(pods).map(([k, v]) => `${k}: ${v}`);
  return parts.length ? parts.join(', ') : '-';
}

function syncText(r: NamespaceRow): string {
  if (r.inSync) return 'yes';
  if (r.selects !== null && r.revision === null) return 'NO (unserved)';
  return `NO (${r.stalePods} stale)`;
}

function nsMigrationText(m: NamespaceMigration | null): string {
  if (!m) return '-';
  return `${m.meshRevision}: ${m.state}${m.step ? ` (step ${m.step})` : ''}`;
}

function stepText(r: MigrationRow): string {
  return r.currentStep !== null ? `${r.currentStep}/${r.steps}` : '-';
}

/** The human report: revisions, namespaces, migrations, each an aligned table. */
export function formatStatusText(report: StatusReport): string {
  const parts: string[] = [];
  if (!report.crdInstalled) {
    parts.push(`The MeshRevision CRD (${CRD_NAME}) is not installed: showing webhooks and pods only.\n`);
  }
  parts.push(report.revisions.length === 0
    ? 'No revisions: no MeshRevision, no revision webhook, no injected pod.\n'
    : formatTable(
      ['MESHREVISION', 'REVISION', 'DEFAULT', 'TAGS', 'PHASE', 'READY', 'IN USE', 'MIGRATION'],
      report.revisions.map((r) => [
        dash(r.meshRevision), r.revision, r.default ? 'yes' : 'no', r.tags.length ? r.tags.join(',') : '-',
        dash(r.phase), readyText(r.ready), dash(r.inUse), dash(r.migration),
      ]),
    ));
  parts.push(report.namespaces.length === 0
    ? 'No namespace is labelled for injection or runs injected pods.\n'
    : formatTable(
      ['NAMESPACE', 'LABELS', 'SELECTS', 'REVISION', 'PODS', 'IN SYNC', 'MIGRATION'],
      report.namespaces.map((n) => [n.name, labelsText(n.labels), dash(n.selects), revisionText(n), podsText(n.pods), syncText(n), nsMigrationText(n.migration)]),
    ));
  if (report.migrations.length > 0) {
    const reasons = report.migrations.filter((m) => m.rollbackReason).map((m) => `${m.meshRevision}: rollback reason: ${m.rollbackReason}\n`);
    const hints = report.migrations.filter((m) => m.hint !== null).map((m) => `next: ${m.hint}\n`);
    parts.push(formatTable(
      ['MIGRATION', 'REVISION', 'FROM', 'PROGRESS', 'IN PROGRESS', 'FAILED', 'PHASE', 'STEP'],
      report.migrations.map((m) => [
        m.meshRevision, m.revision, m.from.length ? m.from.join(',') : '-', m.progress,
        String(m.counts.inProgress), String(m.counts.failed), dash(m.phase), stepText(m),
      ]),
    ) + reasons.join('') + hints.join(''));
  }
  return parts.join('\n');
}
