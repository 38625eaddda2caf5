// Pure predicates on pods that several policies share.
import type { V1Pod } from '@kubernetes/client-node';

/**
 * A pod that runs or will run: not terminating, not finished (Succeeded or
 * Failed). Only such pods count as using a revision or as needing a restart.
 */
export function isLivePod(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return !pod.metadata?.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}
