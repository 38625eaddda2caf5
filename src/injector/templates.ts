// The built-in injection templates, `sidecar` and `gateway`, modelled on
// upstream's istio-sidecar-injector ConfigMap. Each renders a Pod fragment
// from the submitted pod; inject.ts merges fragments in the order the pod
// asks for (`inject.istio.io/templates`), then re-applies the user's own
// `istio-proxy` container on top.
import type { V1Container, V1ContainerPort, V1ResourceRequirements, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import {
  ANNOTATION_DEFAULT_CONTAINER,
  ANNOTATION_DEFAULT_LOGS_CONTAINER,
  CONTAINER_ISTIO_INIT,
  CONTAINER_ISTIO_PROXY,
  LABEL_CANONICAL_NAME,
  LABEL_CANONICAL_REVISION,
  LABEL_TLS_MODE,
} from '../api/labels.js';
import type { InjectorConfig, PodFragment } from './config.js';

/** The parts of the submitted pod the templates read (already shape-checked). */
export interface TemplatePod {
  name?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The pod's containers other than the ones templates add. */
  appContainers: Array<{ name: string; ports?: V1ContainerPort[] }>;
}

export interface TemplateContext {
  pod: TemplatePod;
  namespace: string;
  workloadName: string;
  config: InjectorConfig;
  /** istio-proxy resources after the `sidecar.istio.io/proxy*` annotations. */
  proxyResources: V1ResourceRequirements;
}

export type BuiltinTemplate = (ctx: TemplateContext) => PodFragment;

const PROXY_PORT_OUTBOUND = 15001;
const PROXY_PORT_INBOUND = 15006;
const PROXY_PORT_PROMETHEUS = 15090;
const PROXY_PORT_HEALTH = 15021;

function volumes(): V1Volume[] {
  return [
    { name: 'workload-socket', emptyDir: {} },
    { name: 'credential-socket', emptyDir: {} },
    { name: 'workload-certs', emptyDir: {} },
    { name: 'istio-envoy', emptyDir: { medium: 'Memory' } },
    { name: 'istio-data', emptyDir: {} },
    {
      name: 'istio-podinfo',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    {
      name: 'istio-token',
      projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] },
    },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
  ];
}

function volumeMounts(): V1VolumeMount[] {
  return [
    { name: 'workload-socket', mountPath: '/var/run/secrets/workload-spiffe-uds' },
    { name: 'credential-socket', mountPath: '/var/run/secrets/credential-uds' },
    { name: 'workload-certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' },
    { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' },
    { name: 'istio-data', mountPath: '/var/lib/istio/data' },
    { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
    { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
    { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
  ];
}

function proxyEnv(ctx: TemplateContext, gateway: boolean): NonNullable<V1Container['env']> {
  const c = ctx.config;
  const ports = ctx.pod.appContainers.flatMap((a) => a.ports ?? []);
  const proxyConfig: Record<string, unknown> = { discoveryAddress: c.discoveryAddress };
  if (c.proxy.concurrency > 0) proxyConfig['concurrency'] = c.proxy.concurrency;
  if (c.proxy.holdApplicationUntilProxyStarts) proxyConfig['holdApplicationUntilProxyStarts'] = true;
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  return [
    { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
    { name: 'CA_ADDR', value: c.discoveryAddress },
    { name: 'POD_NAME', ...field('metadata.name') },
    { name: 'POD_NAMESPACE', ...field('metadata.namespace') },
    { name: 'INSTANCE_IP', ...field('status.podIP') },
    { name: 'SERVICE_ACCOUNT', ...field('spec.serviceAccountName') },
    { name: 'HOST_IP', ...field('status.hostIP') },
    { name: 'ISTIO_CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
    { name: 'PROXY_CONFIG', value: JSON.stringify(proxyConfig) },
    ...(gateway ? [] : [
      { name: 'ISTIO_META_POD_PORTS', value: JSON.stringify(ports) },
      { name: 'ISTIO_META_APP_CONTAINERS', value: ctx.pod.appContainers.map((a) => a.name).join(',') },
      { name: 'ISTIO_META_INTERCEPTION_MODE', value: 'REDIRECT' },
    ]),
    { name: 'GOMEMLIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
    { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
    { name: 'ISTIO_META_CLUSTER_ID', value: c.clusterId },
    { name: 'ISTIO_META_NODE_NAME', ...field('spec.nodeName') },
    { name: 'ISTIO_META_WORKLOAD_NAME', value: ctx.workloadName },
    { name: 'ISTIO_META_MESH_ID', value: c.meshId },
    { name: 'TRUST_DOMAIN', value: c.trustDomain },
  ];
}

function proxyContainer(ctx: TemplateContext, gateway: boolean): V1Container {
  const p = ctx.config.proxy;
  const container: V1Container = {
    name: CONTAINER_ISTIO_PROXY,
    image: p.image,
    imagePullPolicy: p.imagePullPolicy,
    args: [
      'proxy',
      gateway ? 'router' : 'sidecar',
      '--domain',
      `$(POD_NAMESPACE).svc.${ctx.config.clusterDomain}`,
      `--proxyLogLevel=${p.logLevel}`,
      `--proxyComponentLogLevel=${p.componentLogLevel}`,
      '--log_output_level=default:info',
    ],
    ports: [{ name: 'http-envoy-prom', containerPort: PROXY_PORT_PROMETHEUS, protocol: 'TCP' }],
    env: proxyEnv(ctx, gateway),
    readinessProbe: {
      httpGet: { path: '/healthz/ready', port: PROXY_PORT_HEALTH },
      initialDelaySeconds: 0,
      periodSeconds: 15,
      timeoutSeconds: 3,
      failureThreshold: 4,
    },
    resources: ctx.proxyResources,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: p.gid,
      runAsNonRoot: true,
      runAsUser: p.uid,
    },
    volumeMounts: volumeMounts(),
  };
  if (!gateway) {
    container.startupProbe = {
      httpGet: { path: '/healthz/ready', port: PROXY_PORT_HEALTH },
      initialDelaySeconds: 0,
      periodSeconds: 1,
      timeoutSeconds: 3,
      failureThreshold: 600,
    };
  }
  if (!gateway && p.holdApplicationUntilProxyStarts) {
    container.lifecycle = { postStart: { exec: { command: ['pilot-agent', 'wait'] } } };
  }
  return container;
}

function initContainer(ctx: TemplateContext): V1Container {
  const p = ctx.config.proxy;
  const excludeInbound = [String(PROXY_PORT_PROMETHEUS), String(PROXY_PORT_HEALTH), String(p.statusPort), ...p.excludeInboundPorts.split(',')]
    .map((s) => s.trim()).filter((s, i, all) => s !== '' && all.indexOf(s) === i);
  const args = [
    'istio-iptables',
    '-p', String(PROXY_PORT_OUTBOUND),
    '-z', String(PROXY_PORT_INBOUND),
    '-u', String(p.uid),
    '-m', 'REDIRECT',
    '-i', p.includeIPRanges,
    '-x', p.excludeIPRanges,
    '-b', p.includeInboundPorts,
    '-d', excludeInbound.join(','),
    ...(p.excludeOutboundPorts ? ['-o', p.excludeOutboundPorts] : []),
    '--log_output_level=default:info',
  ];
  return {
    name: CONTAINER_ISTIO_INIT,
    image: p.initImage,
    imagePullPolicy: p.imagePullPolicy,
    args,
    resources: ctx.config.proxy.initResources,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: false,
      runAsGroup: 0,
      runAsNonRoot: false,
      runAsUser: 0,
    },
  };
}

/** Labels and annotations every injected pod gets; existing values the user set are kept. */
function metadata(ctx: TemplateContext, gateway: boolean): NonNullable<PodFragment['metadata']> {
  const { labels, annotations } = ctx.pod;
  const outLabels: Record<string, string> = { [LABEL_TLS_MODE]: 'istio' };
  if (labels[LABEL_CANONICAL_NAME] === undefined) {
    outLabels[LABEL_CANONICAL_NAME] = labels['app.kubernetes.io/name'] ?? labels['app'] ?? ctx.workloadName;
  }
  if (labels[LABEL_CANONICAL_REVISION] === undefined) {
    outLabels[LABEL_CANONICAL_REVISION] = labels['app.kubernetes.io/version'] ?? labels['version'] ?? 'latest';
  }
  const outAnnotations: Record<string, string> = {};
  const first = ctx.pod.appContainers[0]?.name;
  if (!gateway && first !== undefined) {
    if (annotations[ANNOTATION_DEFAULT_CONTAINER] === undefined) outAnnotations[ANNOTATION_DEFAULT_CONTAINER] = first;
    if (annotations[ANNOTATION_DEFAULT_LOGS_CONTAINER] === undefined) outAnnotations[ANNOTATION_DEFAULT_LOGS_CONTAINER] = first;
  }
  // Prometheus scrapes the merged app+proxy metrics on the status port unless the pod configures scraping itself.
  if (!Object.keys(annotations).some((k) => k.startsWith('prometheus.io/'))) {
    outAnnotations['prometheus.io/port'] = String(ctx.config.proxy.statusPort);
    outAnnotations['prometheus.io/path'] = '/stats/prometheus';
    outAnnotations['prometheus.io/scrape'] = 'true';
  }
  return { labels: outLabels, annotations: outAnnotations };
}

function pullSecrets(ctx: TemplateContext): Record<string, unknown> {
  return ctx.config.imagePullSecrets.length ? { imagePullSecrets: ctx.config.imagePullSecrets.map((name) => ({ name })) } : {};
}

/** `sidecar`: iptables init container plus the Envoy sidecar, for application pods. */
const sidecarTemplate: BuiltinTemplate = (ctx) => ({
  metadata: metadata(ctx, false),
  spec: {
    initContainers: [initContainer(ctx)],
    containers: [proxyContainer(ctx, false)],
    volumes: volumes(),
    ...pullSecrets(ctx),
  },
});

/** `gateway`: the proxy as the pod's main process (router mode) with no traffic capture, for gateway Deployments. */
const gatewayTemplate: BuiltinTemplate = (ctx) => ({
  metadata: metadata(ctx, true),
  spec: {
    containers: [{
      ...proxyContainer(ctx, true),
      ports: [
        { name: 'http-envoy-prom', containerPort: PROXY_PORT_PROMETHEUS, protocol: 'TCP' },
        { name: 'status-port', containerPort: PROXY_PORT_HEALTH, protocol: 'TCP' },
      ],
    }],
    volumes: volumes(),
    ...pullSecrets(ctx),
  },
});

export const BUILTIN_TEMPLATE_RENDERERS: Readonly<Record<string, BuiltinTemplate>> = {
  sidecar: sidecarTemplate,
  gateway: gatewayTemplate,
};
