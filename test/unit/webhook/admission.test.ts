import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import fastJsonPatch from 'fast-json-patch';
import { buildInjectorConfig, defaultInjectorConfig } from '../../../src/injector/config.js';
import { appPod, podReview } from '../../support/admission.js';
import { createAdmissionApp, type AdmissionEvent, type AdmissionHttpResponse, type AdmissionReviewResponse, type JsonPatchOperation } from '../../../src/webhook/admission.js';

const { applyPatch, deepClone } = fastJsonPatch;

function response(r: AdmissionHttpResponse): AdmissionReviewResponse['response'] {
  expect(r.status).to.equal(200);
  const body = r.body as AdmissionReviewResponse;
  expect(body.apiVersion).to.equal('admission.k8s.io/v1');
  expect(body.kind).to.equal('AdmissionReview');
  return body.response;
}

function decodePatch(patch: string | undefined): JsonPatchOperation[] {
  return JSON.parse(Buffer.from(patch ?? '', 'base64').toString('utf8')) as JsonPatchOperation[];
}

describe('webhook: admission app', function () {
  const config = defaultInjectorConfig('1-21');
  const app = createAdmissionApp({ config });

  it('answers a pod CREATE with a base64 JSONPatch that yields the injected pod, echoing the uid', function () {
    const pod = appPod();
    const res = response(app.handle(podReview(pod)));
    expect(res.uid).to.equal('705ab4f5-6393-11e8-b7cc-42010a800002');
    expect(res.allowed).to.equal(true);
    expect(res.patchType).to.equal('JSONPatch');
    const ops = decodePatch(res.patch);
    const patched = applyPatch(deepClone(pod) as V1Pod, ops as fastJsonPatch.Operation[], true).newDocument;
    expect(patched.spec?.containers.map((c) => c.name)).to.deep.equal(['web', 'istio-proxy']);
    expect(patched.spec?.initContainers?.map((c) => c.name)).to.deep.equal(['istio-init']);
    expect(patched.metadata?.annotations?.['istio.io/rev']).to.equal('1-21');
    expect(JSON.parse(patched.metadata?.annotations?.['sidecar.istio.io/status'] ?? '{}')).to.include({ revision: '1-21' });
    // Pod is unchanged; the patch escapes "/" in annotation keys.
    expect(pod.spec?.containers).to.have.length(1);
    expect(ops.map((o) => o.path)).to.include('/metadata/annotations/sidecar.istio.io~1status');
  });

  it('escapes "~" and "/" in keys it adds', function () {
    const cfg = buildInjectorConfig({ templates: { odd: { metadata: { annotations: { 'example.com/a~b': 'x' } } } }, defaultTemplates: ['sidecar', 'odd'] }, '1-21');
    const pod = appPod();
    const ops = decodePatch(response(createAdmissionApp({ config: cfg }).handle(podReview(pod))).patch);
    expect(ops.map((o) => o.path)).to.include('/metadata/annotations/example.com~1a~0b');
    const patched = applyPatch(deepClone(pod) as V1Pod, ops as fastJsonPatch.Operation[], true).newDocument;
    expect(patched.metadata?.annotations?.['example.com/a~b']).to.equal('x');
  });

  it('adds metadata.annotations when the pod has none', function () {
    const pod = appPod();
    delete pod.metadata?.annotations;
    const ops = decodePatch(response(app.handle(podReview(pod))).patch);
    const patched = applyPatch(deepClone(pod) as V1Pod, ops as fastJsonPatch.Operation[], true).newDocument;
    expect(patched.metadata?.annotations?.['istio.io/rev']).to.equal('1-21');
  });

  it('allows an opted-out pod without a patch', function () {
    const res = response(app.handle(podReview(appPod({ 'sidecar.istio.io/inject': 'false' }))));
    expect(res).to.deep.equal({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  });

  it('allows an already-injected pod without a patch', function () {
    const res = response(app.handle(podReview(appPod({ 'sidecar.istio.io/status': '{"revision":"1-20"}' }))));
    expect(res.patch).to.equal(undefined);
    expect(res.allowed).to.equal(true);
  });

  it('allows pods in system namespaces and hostNetwork pods without a patch', function () {
    expect(response(app.handle(podReview(appPod(), { namespace: 'kube-system' }))).patch).to.equal(undefined);
    const hn = appPod();
    hn.spec!.hostNetwork = true;
    expect(response(app.handle(podReview(hn))).patch).to.equal(undefined);
  });

  it('lets operations other than CREATE and other kinds through untouched', function () {
    expect(response(app.handle(podReview(appPod(), { operation: 'UPDATE' })))).to.deep.equal({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    const dep = podReview({}, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } });
    expect(response(app.handle(dep)).allowed).to.equal(true);
    expect(response(app.handle(podReview(appPod(), { subResource: 'ephemeralcontainers' }))).patch).to.equal(undefined);
  });

  it('denies an invalid annotation value, saying which annotation and why', function () {
    const res = response(app.handle(podReview(appPod({ 'sidecar.istio.io/proxyCPU': 'abc' }))));
    expect(res.allowed).to.equal(false);
    expect(res.status?.code).to.equal(422);
    expect(res.status?.message).to.contain('sidecar.istio.io/proxyCPU').and.contain('"abc"').and.contain('not a Kubernetes quantity');
  });

  it('denies an unknown template', function () {
    const res = response(app.handle(podReview(appPod({ 'inject.istio.io/templates': 'sidecar,missing' }))));
    expect(res.allowed).to.equal(false);
    expect(res.status?.message).to.contain('inject.istio.io/templates').and.contain('"missing"');
  });

  it('returns the seeds\' resource warnings to the client', function () {
    const res = response(app.handle(podReview(appPod({ 'sidecar.istio.io/proxyCPU': '200m', 'sidecar.istio.io/proxyMemoryLimit': '5Gi' }))));
    expect(res.allowed).to.equal(true);
    expect(res.warnings).to.have.length(2);
  });

  it('denies a request whose object is not a Pod with a 400 status', function () {
    const res = response(app.handle(podReview({ spec: { containers: 7 } })));
    expect(res.allowed).to.equal(false);
    expect(res.status?.code).to.equal(400);
    expect(res.status?.message).to.contain('spec.containers');
  });

  const malformed: Array<[string, unknown, string]> = [
    ['a body that is not an object', [1, 2], 'expected a JSON object'],
    ['a body of another kind', { apiVersion: 'v1', kind: 'Pod' }, 'expected "AdmissionReview"'],
    ['admission.k8s.io/v1beta1', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }, 'admissionReviewVersions: [v1]'],
    ['a review without a request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'no request'],
    ['a request without a uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 5 } }, 'no uid'],
  ];
  for (const [what, body, says] of malformed) {
    it(`answers 400 with a Status to ${what}`, function () {
      const r = app.handle(body);
      expect(r.status).to.equal(400);
      expect(r.body).to.include({ kind: 'Status', code: 400, reason: 'BadRequest' });
      expect((r.body as { message: string }).message).to.contain(says);
    });
  }

  it('answers 400 to bytes that are not JSON', function () {
    const r = app.handleRaw('{"apiVersion": ');
    expect(r.status).to.equal(400);
    expect((r.body as { message: string }).message).to.contain('not valid JSON');
  });

  it('reports each request\'s outcome, and survives a throwing event handler', function () {
    const events: AdmissionEvent[] = [];
    const a = createAdmissionApp({ config, onEvent: (e) => { events.push(e); throw new Error('broken logger'); } });
    response(a.handle(podReview(appPod())));
    response(a.handle(podReview(appPod({ 'sidecar.istio.io/inject': 'false' }))));
    expect(events.map((e) => e.outcome)).to.deep.equal(['injected', 'skipped']);
    expect(events[0]).to.include({ namespace: 'shop', pod: 'web-5d8f7c9b6-' });
    expect(events[1]?.decision?.code).to.equal('PodOptedOut');
  });
});
