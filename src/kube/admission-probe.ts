// Which revision would inject a pod created in a namespace right now: a
// server-side dry run of a pod CREATE (dryRun=All), which goes through the
// whole admission chain — the MutatingWebhookConfigurations' selectors as the
// API server sees the namespace's labels at this moment, and the injector's
// patch — and persists nothing. Istio's webhooks declare sideEffects: None,
// so the API server calls them on dry runs.
//
// The migration uses it between relabelling a namespace and restarting its
// workloads: it proves the relabel has reached the admission chain instead of
// sleeping and hoping it has, and it catches a namespace that some other
// webhook would still inject before any workload is restarted.
import * as k8s from '@kubernetes/client-node';
import { ANNOTATION_ISTIO_REV } from '../api/labels.js';
import type { WorkloadKind } from '../api/workload.js';
import { apiErrorMessage } from './errors.js';

export interface ProbeResult {
  /** The revision that injected the dry-run pod (its istio.io/rev annotation); null: no webhook injected it. */
  revision?: string | null;
  /** The dry run failed (quota, pod security, an injector error...): nothing can be concluded. */
  error?: string;
}

/** A dry-run pod of `template` in `namespace`: what the workload's next pod would be at admission. */
export function probePod(namespace: string, template: k8s.V1PodTemplateSpec | undefined): k8s.V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'meshrev-injection-probe-',
      namespace,
      ...(template?.metadata?.labels ? { labels: template.metadata.labels } : {}),
      ...(template?.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
    },
    // A projected template (kube/projections) has no containers: a placeholder makes it a valid pod.
    spec: template?.spec?.containers?.length ? template.spec : { ...template?.spec, containers: [{ name: 'probe', image: 'meshrev.io/injection-probe' }] },
  };
}

/** The workload whose next pod the dry run stands for. */
export interface ProbeWorkload {
  kind: WorkloadKind;
  name: string;
}

/**
 * A dry run of `workload`'s pod in `namespace`. The informer cache keeps only
 * a projection of each workload's pod template (kube/projections: labels and
 * a few annotations, no containers), so the probe GETs the workload for its
 * whole template; `cached` (the projection) is the fallback if that GET fails.
 */
export type InjectionProbe = (namespace: string, workload: ProbeWorkload | undefined, cached?: k8s.V1PodTemplateSpec) => Promise<ProbeResult>;

/** Reads one workload's whole pod template (a GET). */
export type TemplateReader = (namespace: string, workload: ProbeWorkload) => Promise<k8s.V1PodTemplateSpec | undefined>;

export function readTemplate(apps: k8s.AppsV1Api): TemplateReader {
  return async (namespace, { kind, name }) => {
    switch (kind) {
      case 'Deployment':
        return (await apps.readNamespacedDeployment({ namespace, name })).spec?.template;
      case 'StatefulSet':
        return (await apps.readNamespacedStatefulSet({ namespace, name })).spec?.template;
      case 'DaemonSet':
        return (await apps.readNamespacedDaemonSet({ namespace, name })).spec?.template;
    }
  };
}

export interface InjectionProbeOptions {
  core: k8s.CoreV1Api;
  fieldManager: string;
  /** Omit to dry-run the cached (projected) template as it is. */
  readTemplate?: TemplateReader;
  log?: { warn(message: string, meta?: Record<string, unknown>): unknown };
}

export function makeInjectionProbe(opts: InjectionProbeOptions): InjectionProbe {
  const { core, fieldManager, log } = opts;
  return async (namespace, workload, cached) => {
    let template = cached;
    if (workload && opts.readTemplate) {
      try {
        template = (await opts.readTemplate(namespace, workload)) ?? cached;
      } catch (err) {
        // Labels and the injection annotations (what selects the webhook and the revision) are in the
        // projection; the containers are not, so the dry run gets a placeholder one.
        log?.warn('admission probe: could not read the workload; dry-running its cached labels and annotations with a placeholder container', {
          namespace,
          workload: `${workload.kind}/${workload.name}`,
          error: apiErrorMessage(err),
        });
      }
    }
    try {
      const pod = await core.createNamespacedPod({ namespace, body: probePod(namespace, template), dryRun: 'All', fieldManager });
      return { revision: pod.metadata?.annotations?.[ANNOTATION_ISTIO_REV] ?? null };
    } catch (err) {
      return { error: apiErrorMessage(err) };
    }
  };
}
