// Reading one MeshRevision and merge-patching its spec, for the CLI's day-2
// verbs (meshrev promote, pause, resume, rollback, retry).
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type MeshRevision } from '../api/meshrevision.js';
import { loadKubeConfig, type KubeConfigOptions } from './client.js';
import { apiErrorMessage, classifyError, type KubeErrorKind } from './errors.js';

/** The field manager the CLI's patches are recorded under (metadata.managedFields). */
export const CLI_FIELD_MANAGER = 'meshrev-cli';

/** A failed read or patch, said for a person. */
export class MeshRevisionClientError extends Error {
  readonly kind: KubeErrorKind;

  constructor(what: string, name: string, err: unknown) {
    const info = classifyError(err);
    const text = info.kind === 'notFound'
      ? `MeshRevision ${name} not found (kubectl get meshrevisions lists them)`
      : info.kind === 'conflict'
        ? `MeshRevision ${name} changed while it was being ${what}; nothing was changed: run the command again`
        : `cannot ${what === 'read' ? 'read' : 'patch'} MeshRevision ${name}: ${apiErrorMessage(err)}` +
          (info.kind === 'forbidden' || info.kind === 'unauthorized' ? ' (the day-2 verbs need get and patch on meshrevisions.meshrev.io)'
            : info.transient ? ' (is the cluster reachable? check --kubeconfig / --context)' : '');
    const cause = info.kind === 'unknown' && err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    super(text + cause);
    this.name = 'MeshRevisionClientError';
    this.kind = info.kind;
  }
}

export interface MeshRevisionClient {
  get(name: string): Promise<MeshRevision>;
  /** JSON merge patch; dryRun asks the API server to validate without storing. */
  mergePatch(name: string, patch: Record<string, unknown>, opts?: { dryRun?: boolean }): Promise<MeshRevision>;
}

export function meshRevisionClient(opts: KubeConfigOptions): MeshRevisionClient {
  const kc = loadKubeConfig(opts);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  return {
    async get(name) {
      try {
        return (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as MeshRevision;
      } catch (err) {
        throw new MeshRevisionClientError('read', name, err);
      }
    },
    async mergePatch(name, patch, o = {}) {
      try {
        return (await custom.patchClusterCustomObject(
          { group: GROUP, version: VERSION, plural: PLURAL, name, body: patch, fieldManager: CLI_FIELD_MANAGER, ...(o.dryRun ? { dryRun: 'All' } : {}) },
          mergePatch,
        )) as MeshRevision;
      } catch (err) {
        throw new MeshRevisionClientError('patched', name, err);
      }
    },
  };
}
