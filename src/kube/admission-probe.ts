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
import { apiErrorMessage } from './errors.js';

export interface ProbeResult {
  /** The revision that injected the dry-run pod (its istio.io/rev annotation); null: no webhook injected it. */
  revision?: string | null;
  /** The dry run failed (quota, pod security, an injector error...): nothing can be concluded. */
  error?: string;
}

/** A dry-run pod of `template` in `namespace`: what the workload's next pod would be at admission. */
function probePod(namespace: string, template: k8s.V1PodTemplateSpec | undefined): k8s.V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'meshrev-injection-probe-',
      namespace,
      ...(template?.metadata?.labels ? { labels: template.metadata.labels } : {}),
      ...(template?.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
    },
    spec: template?.spec ?? { containers: [{ name: 'probe', image: 'meshrev.io/injection-probe' }] },
  };
}

export type InjectionProbe = (namespace: string, template: k8s.V1PodTemplateSpec | undefined) => Promise<ProbeResult>;

export function makeInjectionProbe(core: k8s.CoreV1Api, fieldManager: string): InjectionProbe {
  return async (namespace, template) => {
    try {
      const pod = await core.createNamespacedPod({ namespace, body: probePod(namespace, template), dryRun: 'All', fieldManager });
      return { revision: pod.metadata?.annotations?.[ANNOTATION_ISTIO_REV] ?? null };
    } catch (err) {
      return { error: apiErrorMessage(err) };
    }
  };
}
