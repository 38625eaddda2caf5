// The admission probe dry-runs the workload's whole pod template, read with a
// GET (the informer cache keeps only a projection of it), and falls back to
// the cached projection, saying so, when that GET fails.
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATION_ISTIO_REV } from '../../../src/api/labels.js';
import { makeInjectionProbe, type ProbeWorkload } from '../../../src/kube/admission-probe.js';

const whole: k8s.V1PodTemplateSpec = {
  metadata: { labels: { app: 'web' }, annotations: { 'prometheus.io/scrape': 'true' } },
  spec: { containers: [{ name: 'app', image: 'registry.example/web:1', resources: { requests: { cpu: '100m' } } }], securityContext: { runAsNonRoot: true } },
};
const projected: k8s.V1PodTemplateSpec = { metadata: { labels: { app: 'web' } }, spec: {} as k8s.V1PodSpec };

function harness(read: (ns: string, w: ProbeWorkload) => Promise<k8s.V1PodTemplateSpec | undefined>) {
  const sent: k8s.V1Pod[] = [];
  const reads: string[] = [];
  const warnings: { message: string; meta?: Record<string, unknown> }[] = [];
  const core = {
    createNamespacedPod: (req: { namespace: string; body: k8s.V1Pod; dryRun?: string }) => {
      expect(req.dryRun).to.equal('All');
      sent.push(req.body);
      return Promise.resolve({ metadata: { annotations: { [ANNOTATION_ISTIO_REV]: '1-21' } } });
    },
  } as unknown as k8s.CoreV1Api;
  const probe = makeInjectionProbe({
    core,
    fieldManager: 'meshrev',
    readTemplate: (ns, w) => {
      reads.push(`${ns}/${w.kind}/${w.name}`);
      return read(ns, w);
    },
    log: { warn: (message, meta) => warnings.push({ message, ...(meta ? { meta } : {}) }) },
  });
  return { probe, sent, reads, warnings };
}

describe('admission probe', () => {
  it('GETs the workload and dry-runs its whole pod template, not the cached projection', async () => {
    const h = harness(() => Promise.resolve(whole));
    const r = await h.probe('shop', { kind: 'Deployment', name: 'web' }, projected);
    expect(r).to.deep.equal({ revision: '1-21' });
    expect(h.reads).to.deep.equal(['shop/Deployment/web']);
    expect(h.sent[0]?.spec).to.deep.equal(whole.spec);
    expect(h.sent[0]?.metadata?.annotations).to.deep.equal(whole.metadata?.annotations);
    expect(h.warnings).to.deep.equal([]);
  });

  it('falls back to the cached labels and annotations with a placeholder container when the GET fails, and warns', async () => {
    const h = harness(() => Promise.reject(Object.assign(new Error('HTTP-Code: 403 forbidden'), { code: 403 })));
    const r = await h.probe('shop', { kind: 'StatefulSet', name: 'db' }, { metadata: { labels: { app: 'db', 'istio.io/rev': '1-21' } } });
    expect(r).to.deep.equal({ revision: '1-21' });
    expect(h.sent[0]?.metadata?.labels).to.deep.equal({ app: 'db', 'istio.io/rev': '1-21' });
    expect(h.sent[0]?.spec?.containers).to.have.length(1);
    expect(h.warnings).to.have.length(1);
    expect(h.warnings[0]?.message).to.match(/could not read the workload/);
    expect(h.warnings[0]?.meta?.workload).to.equal('StatefulSet/db');
  });

  it('uses the cached template when the workload is gone or has no template, and a placeholder without either', async () => {
    const h = harness(() => Promise.resolve(undefined));
    await h.probe('shop', { kind: 'DaemonSet', name: 'agent' }, projected);
    expect(h.sent[0]?.metadata?.labels).to.deep.equal({ app: 'web' });
    expect(h.sent[0]?.spec?.containers?.[0]?.name).to.equal('probe');
    await h.probe('shop', undefined);
    expect(h.reads).to.have.length(1);
    expect(h.sent[1]?.spec?.containers?.[0]?.name).to.equal('probe');
  });
});
