// Pure: the day-2 verbs (promote, pause, resume, rollback, retry) as one JSON
// merge patch (RFC 7386) of a MeshRevision's spec.migration each — the same
// change as editing the YAML — with the lines saying what changes, and the
// detection of objects that Argo CD or Flux own (whose Git source would undo
// the change). No I/O: commands/steer.ts reads, patches and prints.
import { stringify } from 'yaml';
import { API_VERSION, KIND, type MeshRevision } from '../api/meshrevision.js';
import {
  MIGRATION_PHASE_AWAITING_PROMOTION,
  MIGRATION_PHASE_FAILED,
  MIGRATION_PHASE_ROLLED_BACK,
  type MigrationSpec,
} from '../api/migration.js';
import { CliError } from './errors.js';

export type SteeringVerb = 'promote' | 'pause' | 'resume' | 'rollback' | 'retry';

export interface SteeringRequest {
  verb: SteeringVerb;
  /** rollback: only these namespaces (else every namespace moved). */
  namespaces?: readonly string[];
  /** promote: this step instead of the one awaiting promotion. */
  step?: number;
}

export interface SteeringChange {
  /** JSON merge patch of the object (spec.migration only, plus metadata.resourceVersion when known). Null values remove fields. */
  patch: Record<string, unknown>;
  /** One line per field changed: "spec.migration.paused: false → true". */
  changes: string[];
  /** When nothing changes: what the spec already says ("spec.migration.paused is already true"). */
  unchanged: string[];
  /** spec.migration as it reads after the change: what to commit to Git when a GitOps tool owns the object. */
  after: MigrationSpec;
}

/** What one migration field reads like in a change line. */
function show(v: unknown): string {
  return v === undefined ? '(unset)' : JSON.stringify(v);
}

/** Applies a merge patch of spec.migration (RFC 7386: null removes, objects merge, the rest replaces). */
function mergeMigration(current: MigrationSpec, patch: Record<string, unknown>): MigrationSpec {
  const merge = (target: unknown, p: unknown): unknown => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return p;
    const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
    for (const [k, v] of Object.entries(p)) {
      if (v === null) delete out[k];
      else out[k] = merge(out[k], v);
    }
    return out;
  };
  return merge(current, patch) as MigrationSpec;
}

/** Field → new value (null removes) of spec.migration for a verb; throws a CliError when the verb does not apply. */
function migrationPatch(mrev: MeshRevision, req: SteeringRequest): Record<string, unknown> {
  const name = mrev.metadata.name ?? '';
  const spec = mrev.spec.migration!;
  const status = mrev.status?.migration;
  switch (req.verb) {
    case 'pause':
      return { paused: true };
    case 'resume':
      return { paused: false };
    case 'promote': {
      const step = req.step ?? (status?.phase === MIGRATION_PHASE_AWAITING_PROMOTION ? status.currentStep : undefined);
      if (step === undefined) {
        throw new CliError(
          `MeshRevision ${name} has no step awaiting promotion (migration phase: ${status?.phase ?? 'not started'})`,
          1,
          'promote a step whose pause is "indefinite" once the migration reports AwaitingPromotion (meshrev status), or name one with --step',
        );
      }
      // Promoting never takes a promotion back: a lower step leaves it as it is.
      return { promotedStep: Math.max(step, spec.promotedStep ?? 0) };
    }
    case 'rollback': {
      if (!req.namespaces) return { rollback: { all: true, namespaces: null } };
      if (spec.rollback?.all === true) {
        throw new CliError(`MeshRevision ${name} already rolls back every namespace (spec.migration.rollback.all: true)`, 1,
          `run meshrev retry ${name} to migrate again`);
      }
      // Added to those already listed: two rollbacks of one namespace each return both.
      const listed = [...new Set([...(spec.rollback?.namespaces ?? []), ...req.namespaces])];
      return { rollback: { namespaces: listed } };
    }
    case 'retry': {
      if (spec.rollback !== undefined) return { rollback: null };
      const phase = status?.phase;
      if (phase !== MIGRATION_PHASE_FAILED && phase !== MIGRATION_PHASE_ROLLED_BACK) {
        throw new CliError(`MeshRevision ${name} has nothing to retry: its migration is ${phase ?? 'not started'}, not Failed or RolledBack`, 1);
      }
      if (spec.paused === true) {
        throw new CliError(`MeshRevision ${name} is paused (spec.migration.paused: true)`, 1, `run meshrev resume ${name}: that spec change also retries`);
      }
      // A failed generation stays failed; any spec change makes a new one.
      // `rollback: {all: false}` asks for nothing (and the CRD defaults no
      // field of it, unlike paused, so the API server keeps it as written);
      // the next retry removes it again.
      return { rollback: { all: false } };
    }
  }
}

/**
 * The merge patch for a verb on `mrev`, or a CliError when the verb does not
 * apply (no migration, nothing awaiting promotion, nothing to retry). A
 * change that would leave the spec as it is has no lines and an empty patch.
 */
export function buildSteeringChange(mrev: MeshRevision, req: SteeringRequest): SteeringChange {
  const name = mrev.metadata.name ?? '';
  const spec = mrev.spec.migration;
  if (!spec) {
    throw new CliError(`MeshRevision ${name} has no spec.migration: there is no migration to ${req.verb}`, 1,
      'add spec.migration (from, steps) to migrate namespaces to this revision');
  }
  if (req.namespaces !== undefined && req.verb !== 'rollback') throw new CliError('--namespaces is for rollback only', 2);
  if (req.namespaces !== undefined && req.namespaces.length === 0) throw new CliError('--namespaces: give at least one namespace', 2);
  if (req.step !== undefined && (!Number.isInteger(req.step) || req.step < 1)) throw new CliError(`--step: "${req.step}" is not a step number (1, 2, ...)`, 2);
  const fields = migrationPatch(mrev, req);
  const after = mergeMigration(spec, fields);
  const changes: string[] = [];
  const unchanged: string[] = [];
  for (const key of Object.keys(fields) as (keyof MigrationSpec)[]) {
    const before = spec[key];
    const now = after[key];
    if (JSON.stringify(before) !== JSON.stringify(now)) changes.push(`spec.migration.${key}: ${show(before)} → ${show(now)}`);
    else unchanged.push(`spec.migration.${key} is already ${show(now)}`);
  }
  if (changes.length === 0) return { patch: {}, changes, unchanged, after };
  const rv = mrev.metadata.resourceVersion;
  // The resourceVersion makes the patch fail (409) if the object changed since it was read.
  return { patch: { ...(rv ? { metadata: { resourceVersion: rv } } : {}), spec: { migration: fields } }, changes, unchanged: [], after };
}

/** The manifest fragment to commit instead: the object's identity and spec.migration as it reads after the change. */
export function gitOpsSnippet(mrev: MeshRevision, after: MigrationSpec): string {
  return stringify({ apiVersion: API_VERSION, kind: KIND, metadata: { name: mrev.metadata.name }, spec: { migration: after } });
}

export interface GitOpsOwner {
  tool: 'Argo CD' | 'Flux';
  /** What gave it away: "label kustomize.toolkit.fluxcd.io/name=apps", "field manager argocd-controller". */
  evidence: string;
}

const FLUX_LABELS = ['kustomize.toolkit.fluxcd.io/name', 'helm.toolkit.fluxcd.io/name'];
const FLUX_MANAGERS = ['kustomize-controller', 'helm-controller'];
const ARGO_PREFIX = 'argocd.argoproj.io/';
/** Argo CD's default label for label-based tracking (app.kubernetes.io/instance is also Helm's, so alone it proves nothing). */
const ARGO_INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** Argo CD applies with server-side apply as argocd-controller; older versions as argocd-application-controller. */
const ARGO_MANAGER = /^argocd(-application)?-controller$/;

/**
 * Whether Argo CD or Flux manages the object, from what they leave on it:
 * Flux's labels or field managers, Argo CD's tracking annotation
 * (argocd.argoproj.io/tracking-id), its instance label next to any other
 * argocd.argoproj.io/ key, or its field manager. Null when none is found.
 */
export function detectGitOpsOwner(mrev: Pick<MeshRevision, 'metadata'>): GitOpsOwner | null {
  const md = mrev.metadata;
  const labels = md.labels ?? {};
  const annotations = md.annotations ?? {};
  for (const key of FLUX_LABELS) {
    if (labels[key] !== undefined) return { tool: 'Flux', evidence: `label ${key}=${labels[key]}` };
  }
  const tracking = annotations[`${ARGO_PREFIX}tracking-id`];
  if (tracking !== undefined) return { tool: 'Argo CD', evidence: `annotation ${ARGO_PREFIX}tracking-id=${tracking}` };
  const argoKey = [...Object.keys(annotations), ...Object.keys(labels)].find((k) => k.startsWith(ARGO_PREFIX));
  if (labels[ARGO_INSTANCE_LABEL] !== undefined && argoKey !== undefined) {
    return { tool: 'Argo CD', evidence: `label ${ARGO_INSTANCE_LABEL}=${labels[ARGO_INSTANCE_LABEL]} with ${argoKey}` };
  }
  for (const entry of md.managedFields ?? []) {
    const manager = entry.manager ?? '';
    if (FLUX_MANAGERS.includes(manager)) return { tool: 'Flux', evidence: `field manager ${manager}` };
    if (ARGO_MANAGER.test(manager)) return { tool: 'Argo CD', evidence: `field manager ${manager}` };
  }
  return null;
}

/** The warning printed before changing an object a GitOps tool owns, with the YAML to commit. */
export function formatGitOpsWarning(owner: GitOpsOwner, snippet: string): string {
  return `warning: ${owner.tool} manages this MeshRevision (${owner.evidence}): its next sync reverts this change to what Git says.\n` +
    'Commit this to Git instead (spec.migration as it reads after the change):\n\n' +
    snippet.replace(/^/gm, '    ').replace(/ +$/gm, '') + '\n';
}
