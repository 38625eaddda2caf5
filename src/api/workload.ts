// The workloads a migration restarts (DESIGN.md §3): Deployments,
// StatefulSets and DaemonSets, tagged with their kind (informers return them
// without apiVersion/kind).
import type { V1DaemonSet, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
export type Workload = (V1Deployment & { kind: 'Deployment' }) | (V1StatefulSet & { kind: 'StatefulSet' }) | (V1DaemonSet & { kind: 'DaemonSet' });
