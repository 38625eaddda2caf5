// Upstream's injectRequired test table, ported row by row: istio/istio
// pkg/kube/inject/webhook_test.go TestInjectRequired, at
// istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad (the build the test bed
// runs). Each row keeps upstream's name, config (Policy, Always/Never
// selectors), pod metadata and expected answer; upstream calls
// injectRequired(IgnoredNamespaces, config, podSpec, meta), which is
// decideInjection's injector view (`via`). parseToLabelSelector(t, "foo") is
// a selector `foo Exists`. Rows after the port cover what upstream reads in
// injectRequired but its table does not exercise.
import type { V1LabelSelector } from '@kubernetes/client-node';
import { expect } from 'chai';
import { decideInjection, INJECTOR_IGNORED_NAMESPACES, parseInjectValue, type MeshInjectionSettings } from '../../../src/policy/injection.js';

type L = Record<string, string>;
interface Row {
  name: string;
  policy: string;
  always?: V1LabelSelector[];
  never?: V1LabelSelector[];
  hostNetwork?: boolean;
  namespace?: string;
  labels?: L;
  annotations?: L;
  want: boolean;
}

const INJ = 'sidecar.istio.io/inject';
const exists = (key: string): V1LabelSelector => ({ matchExpressions: [{ key, operator: 'Exists' }] });
const fooBar: V1LabelSelector = { matchLabels: { foo: 'bar' } };

const upstream: Row[] = [
  { name: 'no-policy', policy: 'enabled', annotations: {}, want: true },
  { name: 'default-policy', policy: 'enabled', want: true },
  { name: 'force-on-policy', policy: 'enabled', annotations: { [INJ]: 'true' }, want: true },
  { name: 'force-off-policy', policy: 'enabled', annotations: { [INJ]: 'false' }, want: false },
  { name: 'no-policy', policy: 'disabled', annotations: {}, want: false },
  { name: 'default-policy', policy: 'disabled', want: false },
  { name: 'force-on-policy', policy: 'disabled', annotations: { [INJ]: 'true' }, want: true },
  { name: 'force-off-policy', policy: 'disabled', annotations: { [INJ]: 'false' }, want: false },
  { name: 'invalid-inject-value-yes', policy: 'enabled', annotations: { [INJ]: 'yes' }, want: true },
  { name: 'invalid-inject-value-on', policy: 'disabled', annotations: { [INJ]: 'on' }, want: false },
  { name: 'invalid-inject-value-random', policy: 'enabled', labels: { [INJ]: 'random' }, want: true },
  { name: 'force-off-policy (hostNetwork)', policy: 'enabled', hostNetwork: true, annotations: {}, want: false },
  { name: 'wrong-policy', policy: 'wrong_policy', annotations: {}, want: false },
  { name: 'policy-enabled-always-inject-no-labels', policy: 'enabled', always: [fooBar], want: true },
  { name: 'policy-enabled-always-inject-with-labels', policy: 'enabled', always: [fooBar], labels: { foo: 'bar1' }, want: true },
  { name: 'policy-disabled-always-inject-no-labels', policy: 'disabled', always: [fooBar], want: false },
  { name: 'policy-disabled-always-inject-with-labels', policy: 'disabled', always: [fooBar], labels: { foo: 'bar' }, want: true },
  { name: 'policy-enabled-never-inject-no-labels', policy: 'enabled', never: [fooBar], want: true },
  { name: 'policy-enabled-never-inject-with-labels', policy: 'enabled', never: [fooBar], labels: { foo: 'bar' }, want: false },
  { name: 'policy-disabled-never-inject-no-labels', policy: 'disabled', never: [fooBar], want: false },
  { name: 'policy-disabled-never-inject-with-labels', policy: 'disabled', never: [fooBar], labels: { foo: 'bar' }, want: false },
  { name: 'policy-enabled-never-inject-with-empty-label', policy: 'enabled', never: [exists('foo')], labels: { foo: '', foo2: 'bar2' }, want: false },
  { name: 'policy-disabled-always-inject-with-empty-label', policy: 'disabled', always: [exists('foo')], labels: { foo: '', foo2: 'bar2' }, want: true },
  { name: 'policy-disabled-always-never-inject-with-label-returns-true', policy: 'disabled', always: [exists('always')], never: [exists('never')],
    labels: { always: 'bar', foo2: 'bar2' }, want: true },
  { name: 'policy-disabled-always-never-inject-with-label-returns-false', policy: 'disabled', always: [exists('always')], never: [exists('never')],
    labels: { never: 'bar', foo2: 'bar2' }, want: false },
  { name: 'policy-disabled-always-never-inject-with-both-labels', policy: 'disabled', always: [exists('always')], never: [exists('never')],
    labels: { always: 'bar', never: 'bar2' }, want: false },
  { name: 'policy-enabled-annotation-true-never-inject', policy: 'enabled', never: [exists('foo')], annotations: { [INJ]: 'true' },
    labels: { foo: '', foo2: 'bar2' }, want: true },
  { name: 'policy-enabled-annotation-false-always-inject', policy: 'enabled', always: [exists('foo')], annotations: { [INJ]: 'false' },
    labels: { foo: '', foo2: 'bar2' }, want: false },
  { name: 'policy-disabled-annotation-false-always-inject', policy: 'disabled', always: [exists('foo')], annotations: { [INJ]: 'false' },
    labels: { foo: '', foo2: 'bar2' }, want: false },
  { name: 'policy-enabled-never-inject-multiple-labels', policy: 'enabled', never: [exists('foo'), exists('bar')],
    labels: { label1: '', bar: 'anything' }, want: false },
  { name: 'policy-enabled-always-inject-multiple-labels', policy: 'disabled', always: [exists('foo'), exists('bar')],
    labels: { label1: '', bar: 'anything' }, want: true },
  { name: 'policy-disabled-annotation-true-never-inject', policy: 'disabled', never: [exists('foo')], annotations: { [INJ]: 'true' },
    labels: { foo: '', foo2: 'bar2' }, want: true },
  { name: 'policy-disabled-label-enabled', policy: 'disabled', labels: { [INJ]: 'true' }, want: true },
  { name: 'policy-disabled-both-enabled', policy: 'disabled', annotations: { [INJ]: 'true' }, labels: { [INJ]: 'true' }, want: true },
  { name: 'policy-disabled-label-enabled-annotation-disabled', policy: 'disabled', annotations: { [INJ]: 'false' }, labels: { [INJ]: 'true' }, want: true },
  { name: 'policy-disabled-label-disabled-annotation-enabled', policy: 'disabled', annotations: { [INJ]: 'true' }, labels: { [INJ]: 'false' }, want: false },
];

// What injectRequired reads that upstream's table leaves out, derived from its code.
const beyond: Row[] = [
  ...['True', 'TRUE', '1', 'y', 'on', 'enabled'].map((v): Row => ({ name: `label ${v} is no opinion: policy disabled does not inject`, policy: 'disabled', labels: { [INJ]: v }, want: false })),
  ...['False', 'FALSE', '0', 'no', 'off', 'disabled'].map((v): Row => ({ name: `label ${v} is no opinion: policy enabled injects`, policy: 'enabled', labels: { [INJ]: v }, want: true })),
  { name: 'an empty label replaces an annotation false (no opinion, policy enabled injects)', policy: 'enabled', labels: { [INJ]: '' }, annotations: { [INJ]: 'false' }, want: true },
  { name: 'an empty label replaces an annotation true (no opinion, policy disabled skips)', policy: 'disabled', labels: { [INJ]: '' }, annotations: { [INJ]: 'true' }, want: false },
  { name: 'a garbage label falls through to the never selector', policy: 'enabled', never: [fooBar], labels: { [INJ]: 'yes', foo: 'bar' }, want: false },
  { name: 'an explicit true does not save the pod from an illegal policy', policy: 'Enabled', annotations: { [INJ]: 'true' }, want: false },
  { name: 'an empty policy is illegal too', policy: '', want: false },
  { name: 'an empty selector is skipped, not "everything"', policy: 'enabled', never: [{}], want: true },
  { name: 'an invalid selector (NotIn with no values) is skipped, not "everything"', policy: 'enabled',
    never: [{ matchExpressions: [{ key: 'foo', operator: 'NotIn', values: [] }] }], want: true },
  { name: 'a hostNetwork pod that opts in is still skipped', policy: 'enabled', hostNetwork: true, labels: { [INJ]: 'true' }, want: false },
  ...INJECTOR_IGNORED_NAMESPACES.map((ns): Row => ({ name: `namespace ${ns} is ignored even when the pod opts in`, policy: 'enabled', namespace: ns, labels: { [INJ]: 'true' }, want: false })),
  { name: 'istio-system is not ignored by istiod', policy: 'enabled', namespace: 'istio-system', want: true },
  { name: 'an already-injected pod is injected again (istiod strips and re-injects)', policy: 'enabled',
    annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"],"revision":"1-30"}' }, want: true },
];

function decide(r: Row): boolean {
  const mesh: MeshInjectionSettings = {
    autoInject: r.policy,
    ...(r.always ? { alwaysInjectSelector: r.always } : {}),
    ...(r.never ? { neverInjectSelector: r.never } : {}),
  };
  return decideInjection({
    namespace: { name: r.namespace ?? 'test-namespace' },
    pod: { labels: r.labels ?? {}, annotations: r.annotations ?? {}, hostNetwork: r.hostNetwork ?? false },
    via: { revision: '1-31' },
    mesh,
  }).inject;
}

describe('injection policy: upstream injectRequired table (pkg/kube/inject/webhook_test.go), ported', function () {
  it(`has all ${upstream.length} of upstream's rows`, function () {
    expect(upstream).to.have.length(36);
  });
  for (const [i, r] of upstream.entries()) {
    it(`upstream row ${i + 1}: ${r.name} (policy ${r.policy}) → ${r.want}`, function () {
      expect(decide(r)).to.equal(r.want);
    });
  }
});

describe('injection policy: what injectRequired reads beyond its table', function () {
  for (const r of beyond) {
    it(`${r.name} → ${r.want}`, function () {
      expect(decide(r)).to.equal(r.want);
    });
  }
  it('parses sidecar.istio.io/inject as istiod does: exactly "true" and "false", nothing else', function () {
    expect(parseInjectValue('true')).to.equal(true);
    expect(parseInjectValue('false')).to.equal(false);
    for (const v of ['', 'True', 'FALSE', 'yes', 'no', '1', '0', 'on', 'off', ' true']) expect(parseInjectValue(v), JSON.stringify(v)).to.equal(undefined);
  });
});
