// Label and annotation keys meshrev reads or writes. Istio's own keys are
// listed as Istio spells them (DESIGN.md §1); meshrev's are under meshrev.io.

/** Namespace label of the default revision: `enabled` injects, `disabled` never injects; beats istio.io/rev. */
export const LABEL_ISTIO_INJECTION = 'istio-injection';
/** Namespace or pod label selecting a revision (or tag). Injected pods also carry it as an annotation naming the real revision. */
export const LABEL_ISTIO_REV = 'istio.io/rev';
/** Pod label or annotation: "false" opts a pod out, "true" opts it in. */
export const LABEL_SIDECAR_INJECT = 'sidecar.istio.io/inject';
/** Label on tag webhook configurations naming the tag. */
export const LABEL_ISTIO_TAG = 'istio.io/tag';
/** Label upstream puts on every sidecar-injector webhook configuration. */
export const LABEL_APP = 'app';
export const LABEL_APP_SIDECAR_INJECTOR = 'sidecar-injector';

/** Annotation on an injected pod: the revision that really injected it (even through a tag). */
export const ANNOTATION_ISTIO_REV = 'istio.io/rev';
/** Annotation on an injected pod: JSON {containers, initContainers, volumes, revision, ...}. */
export const ANNOTATION_SIDECAR_STATUS = 'sidecar.istio.io/status';
/** Pod annotation choosing named injection templates, comma separated, applied in order. */
export const ANNOTATION_INJECT_TEMPLATES = 'inject.istio.io/templates';
export const ANNOTATION_PROXY_CPU = 'sidecar.istio.io/proxyCPU';
export const ANNOTATION_PROXY_CPU_LIMIT = 'sidecar.istio.io/proxyCPULimit';
export const ANNOTATION_PROXY_MEMORY = 'sidecar.istio.io/proxyMemory';
export const ANNOTATION_PROXY_MEMORY_LIMIT = 'sidecar.istio.io/proxyMemoryLimit';

/** The `kubectl rollout restart` pod-template annotation. */
export const ANNOTATION_RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export const MESHREV_GROUP = 'meshrev.io';
/** Label meshrev puts on the webhook configurations it manages, naming the owning MeshRevision. */
export const LABEL_MANAGED_BY_MESHREVISION = 'meshrev.io/meshrevision';
/** Standard managed-by label value on objects meshrev owns. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'meshrev';

// --- sidecar injector (appended for the injector; see src/policy/injection.ts) ---
/** Namespace label the API server sets on every namespace (Kubernetes ≥1.21); webhook namespaceSelectors may use it. */
export const LABEL_NAMESPACE_NAME = 'kubernetes.io/metadata.name';
/** Label the injector puts on injected pods: mTLS-capable endpoint. */
export const LABEL_TLS_MODE = 'security.istio.io/tlsMode';
export const LABEL_CANONICAL_NAME = 'service.istio.io/canonical-name';
export const LABEL_CANONICAL_REVISION = 'service.istio.io/canonical-revision';
/** Annotation `kubectl logs/exec` use to pick the app container rather than istio-proxy. */
export const ANNOTATION_DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';
export const ANNOTATION_DEFAULT_LOGS_CONTAINER = 'kubectl.kubernetes.io/default-logs-container';
/** Names of the containers the sidecar injection adds. */
export const CONTAINER_ISTIO_PROXY = 'istio-proxy';
export const CONTAINER_ISTIO_INIT = 'istio-init';

/** Suffix of every sidecar-injector webhook entry name; istiod patches caBundle only on entries ending with it. */
const INJECTOR_WEBHOOK_SUFFIX = 'sidecar-injector.istio.io';
/** Istio's webhook entry names (DESIGN.md §1). */
export const WEBHOOK_REV_NAMESPACE = `rev.namespace.${INJECTOR_WEBHOOK_SUFFIX}`;
export const WEBHOOK_REV_OBJECT = `rev.object.${INJECTOR_WEBHOOK_SUFFIX}`;
export const WEBHOOK_DEFAULT_NAMESPACE = `namespace.${INJECTOR_WEBHOOK_SUFFIX}`;
export const WEBHOOK_DEFAULT_OBJECT = `object.${INJECTOR_WEBHOOK_SUFFIX}`;
/** Upstream's entry for sidecarInjectorWebhook.enableNamespacesByDefault. */
export const WEBHOOK_AUTO = `auto.${INJECTOR_WEBHOOK_SUFFIX}`;
