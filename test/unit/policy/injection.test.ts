import { expect } from 'chai';
import {
  decideInjection,
  InjectionReason,
  type InjectionDecision,
  type InjectionInput,
  type MeshInjectionSettings,
} from '../../../src/policy/injection.js';
import { matchingWebhooks } from '../../../src/policy/selectors.js';
import { chartWebhooks } from '../../support/istio-chart.js';

type L = Record<string, string>;

interface Case {
  name: string;
  ns?: L;
  nsName?: string;
  pod?: L;
  annotations?: L;
  hostNetwork?: boolean;
  mesh?: MeshInjectionSettings;
  via?: InjectionInput['via'];
  want: Partial<InjectionDecision> & { inject: boolean };
  /** Words the reason must contain. */
  says?: string[];
}

const INJ = 'sidecar.istio.io/inject';
const REV = 'istio.io/rev';
const NSI = 'istio-injection';

// The seeds' policy table and rules (001), DESIGN.md §1 precedence, and the
// injector-side rules (upstream injectRequired), one behaviour per row.
const cases: Case[] = [
  // Table 1: istio-injection / sidecar.istio.io/inject
  { name: 'injects a plain pod in an istio-injection=enabled namespace with the default revision', ns: { [NSI]: 'enabled' },
    want: { inject: true, revision: 'default', webhook: 'namespace.sidecar-injector.istio.io', code: InjectionReason.NamespaceInjectionEnabled } },
  { name: 'never injects in an istio-injection=disabled namespace', ns: { [NSI]: 'disabled' },
    want: { inject: false, code: InjectionReason.NamespaceDisabled }, says: ['istio-injection=disabled'] },
  { name: 'treats istio-injection with a value other than enabled as not injecting', ns: { [NSI]: 'yes' },
    want: { inject: false, code: InjectionReason.NamespaceDisabled }, says: ['not "enabled"'] },
  { name: 'rule 1: a pod label sidecar.istio.io/inject=false opts out of an enabled namespace', ns: { [NSI]: 'enabled' }, pod: { [INJ]: 'false' },
    want: { inject: false, code: InjectionReason.PodOptedOut }, says: ['pod label'] },
  { name: 'rule 1: a disabled namespace beats a pod label sidecar.istio.io/inject=true (namespace over pod)', ns: { [NSI]: 'disabled' }, pod: { [INJ]: 'true' },
    want: { inject: false, code: InjectionReason.NamespaceDisabled } },
  { name: 'a pod annotation sidecar.istio.io/inject=false opts out (the injector reads annotations)', ns: { [NSI]: 'enabled' }, annotations: { [INJ]: 'false' },
    want: { inject: false, code: InjectionReason.PodOptedOut, revision: 'default' }, says: ['annotation'] },
  { name: 'the sidecar.istio.io/inject label wins over the annotation (label true, annotation false injects)', ns: { [NSI]: 'enabled' },
    pod: { [INJ]: 'true' }, annotations: { [INJ]: 'false' }, want: { inject: true, revision: 'default' } },
  { name: 'the label wins over the annotation (label false, annotation true does not inject)', ns: { [NSI]: 'enabled' },
    pod: { [INJ]: 'false' }, annotations: { [INJ]: 'true' }, want: { inject: false, code: InjectionReason.PodOptedOut } },
  { name: 'a label value the selectors let through that is not exactly "false" (no) is ignored by istiod: injected', ns: { [NSI]: 'enabled' }, pod: { [INJ]: 'no' },
    want: { inject: true, revision: 'default' }, says: ['neither "true" nor "false"'] },
  { name: 'reads the opt-out case-sensitively as istiod does (False is no opinion: injected)', ns: { [NSI]: 'enabled' }, pod: { [INJ]: 'False' },
    want: { inject: true, revision: 'default' }, says: ['istiod ignores it'] },
  { name: 'a pod label sidecar.istio.io/inject=yes in an enabled namespace is injected (NotIn [false] lets it through, istiod ignores it)',
    ns: { [NSI]: 'enabled' }, pod: { [INJ]: 'yes' }, want: { inject: true, revision: 'default' } },
  { name: 'with autoInject disabled, inject=yes does not opt in (only exactly "true" does)', ns: { [NSI]: 'enabled' }, pod: { [INJ]: 'yes' },
    mesh: { autoInject: 'disabled' }, want: { inject: false, code: InjectionReason.PodNotOptedIn } },
  { name: 'a neverInjectSelector keeps a pod with no opinion out', ns: { [NSI]: 'enabled' }, pod: { app: 'batch' },
    mesh: { neverInjectSelector: [{ matchLabels: { app: 'batch' } }] }, want: { inject: false, code: InjectionReason.NeverInjectSelector }, says: ['app=batch'] },
  { name: 'an alwaysInjectSelector injects a pod with no opinion under autoInject disabled', ns: { [NSI]: 'enabled' }, pod: { app: 'web' },
    mesh: { autoInject: 'disabled', alwaysInjectSelector: [{ matchLabels: { app: 'web' } }] }, want: { inject: true, revision: 'default' }, says: ['alwaysInjectSelector'] },
  { name: 'an illegal autoInject policy injects nothing', ns: { [NSI]: 'enabled' }, mesh: { autoInject: 'on' },
    want: { inject: false, code: InjectionReason.PolicyInvalid } },
  { name: 'an empty sidecar.istio.io/inject label means no opinion and the namespace decides', ns: { [NSI]: 'enabled' }, pod: { [INJ]: '' },
    want: { inject: true, revision: 'default' } },
  // Table 2: revisions
  { name: 'injects with the namespace istio.io/rev revision', ns: { [REV]: 'canary' },
    want: { inject: true, revision: 'canary', webhook: 'rev.namespace.sidecar-injector.istio.io', code: InjectionReason.NamespaceRevision } },
  { name: 'a pod label sidecar.istio.io/inject=false opts out of an istio.io/rev namespace', ns: { [REV]: 'canary' }, pod: { [INJ]: 'false' },
    want: { inject: false, code: InjectionReason.PodOptedOut } },
  { name: 'istio-injection=enabled beats istio.io/rev on the same namespace', ns: { [NSI]: 'enabled', [REV]: 'canary' },
    want: { inject: true, revision: 'default', code: InjectionReason.NamespaceInjectionEnabled }, says: ['istio.io/rev=canary ignored'] },
  { name: 'istio-injection=disabled beats istio.io/rev on the same namespace', ns: { [NSI]: 'disabled', [REV]: 'canary' },
    want: { inject: false, code: InjectionReason.NamespaceDisabled } },
  { name: 'a namespace istio.io/rev beats a pod istio.io/rev', ns: { [REV]: 'canary' }, pod: { [REV]: 'stable' },
    want: { inject: true, revision: 'canary', webhook: 'rev.namespace.sidecar-injector.istio.io' }, says: ["pod's istio.io/rev=stable ignored"] },
  { name: 'istio-injection=enabled beats a pod istio.io/rev', ns: { [NSI]: 'enabled' }, pod: { [REV]: 'canary' },
    want: { inject: true, revision: 'default' } },
  { name: 'a pod istio.io/rev selects its revision in an unlabelled namespace', pod: { [REV]: 'canary' },
    want: { inject: true, revision: 'canary', webhook: 'rev.object.sidecar-injector.istio.io', code: InjectionReason.PodRevision } },
  { name: 'a pod with istio.io/rev and sidecar.istio.io/inject=false is not injected', pod: { [REV]: 'canary', [INJ]: 'false' },
    want: { inject: false, code: InjectionReason.PodOptedOut } },
  { name: 'rule 2: a pod label sidecar.istio.io/inject=true injects with the default revision in an unlabelled namespace', pod: { [INJ]: 'true' },
    want: { inject: true, revision: 'default', webhook: 'object.sidecar-injector.istio.io', code: InjectionReason.PodInjectLabel } },
  { name: 'a pod with inject=true and istio.io/rev goes to that revision, not the default', pod: { [INJ]: 'true', [REV]: 'canary' },
    want: { inject: true, revision: 'canary', webhook: 'rev.object.sidecar-injector.istio.io' } },
  // Rule 3: no labels
  { name: 'rule 3: with no label anywhere a pod is not injected by default', want: { inject: false, code: InjectionReason.NoInjectionLabel },
    says: ['enableNamespacesByDefault is off'] },
  { name: 'rule 3: with no label anywhere a pod is injected when enableNamespacesByDefault is on', mesh: { enableNamespacesByDefault: true },
    want: { inject: true, revision: 'default', webhook: 'auto.sidecar-injector.istio.io', code: InjectionReason.EnabledByDefault } },
  { name: 'enableNamespacesByDefault still honours a pod label opt-out', pod: { [INJ]: 'false' }, mesh: { enableNamespacesByDefault: true },
    want: { inject: false, code: InjectionReason.PodOptedOut } },
  { name: 'enableNamespacesByDefault still honours a pod annotation opt-out', annotations: { [INJ]: 'false' }, mesh: { enableNamespacesByDefault: true },
    want: { inject: false, code: InjectionReason.PodOptedOut } },
  { name: 'a pod annotation sidecar.istio.io/inject=true alone selects no webhook in an unlabelled namespace', annotations: { [INJ]: 'true' },
    want: { inject: false, code: InjectionReason.NoInjectionLabel }, says: ['selectors only see labels'] },
  { name: 'a pod label sidecar.istio.io/inject=yes is not the exact "true" the object selector needs', pod: { [INJ]: 'yes' },
    want: { inject: false, code: InjectionReason.NoInjectionLabel }, says: ['not exactly "true"'] },
  // Skips
  { name: 'never injects a hostNetwork pod, even in an enabled namespace', ns: { [NSI]: 'enabled' }, hostNetwork: true,
    want: { inject: false, code: InjectionReason.HostNetwork } },
  { name: 'never injects a hostNetwork pod that opts in', pod: { [INJ]: 'true', [REV]: 'canary' }, hostNetwork: true,
    want: { inject: false, code: InjectionReason.HostNetwork } },
  ...['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'].map((nsName): Case => ({
    name: `never injects in the system namespace ${nsName}, whatever its labels`, nsName, ns: { [NSI]: 'enabled' },
    want: { inject: false, code: InjectionReason.SystemNamespace },
  })),
  { name: 'honours a configured list of ignored namespaces', nsName: 'legacy', ns: { [NSI]: 'enabled' }, mesh: { ignoredNamespaces: ['legacy'] },
    want: { inject: false, code: InjectionReason.SystemNamespace } },
  { name: 'injects in istio-system when it is labelled (istiod does not ignore it)', nsName: 'istio-system', ns: { [NSI]: 'enabled' },
    want: { inject: true, revision: 'default' } },
  { name: 'an already-injected pod is injected again (istiod strips the old sidecar and re-injects)', ns: { [NSI]: 'enabled' },
    annotations: { 'sidecar.istio.io/status': '{"revision":"default"}' }, want: { inject: true, revision: 'default' } },
  { name: 'istio.io/rev=default on the namespace selects the default revision (upstream\'s default tag)', ns: { [REV]: 'default' }, mesh: { defaultRevision: '1-20', revisions: ['1-20'] },
    want: { inject: true, revision: '1-20', selectedAs: 'default', webhook: 'rev.namespace.sidecar-injector.istio.io' } },
  { name: 'istio.io/rev=default on a pod selects the default revision', pod: { [REV]: 'default' }, mesh: { defaultRevision: '1-20', revisions: ['1-20'] },
    want: { inject: true, revision: '1-20', webhook: 'rev.object.sidecar-injector.istio.io' } },
  { name: 'istio.io/rev=default names nothing when the mesh has no default', ns: { [REV]: 'default' }, mesh: { defaultRevision: null, revisions: ['1-20'] },
    want: { inject: false, code: InjectionReason.UnknownRevision } },
  // Revisions, tags and the default revision
  { name: 'resolves a revision tag on the namespace to the real revision', ns: { [REV]: 'prod' }, mesh: { tags: { prod: '1-21' } },
    want: { inject: true, revision: '1-21', selectedAs: 'prod' }, says: ['tag of revision 1-21'] },
  { name: 'resolves a revision tag on the pod to the real revision', pod: { [REV]: 'prod' }, mesh: { tags: { prod: '1-21' } },
    want: { inject: true, revision: '1-21', selectedAs: 'prod', webhook: 'rev.object.sidecar-injector.istio.io' } },
  { name: 'a namespace istio.io/rev naming no known revision or tag injects nothing', ns: { [REV]: 'gone' }, mesh: { revisions: ['1-20'] },
    want: { inject: false, code: InjectionReason.UnknownRevision } },
  { name: 'a pod istio.io/rev naming no known revision or tag injects nothing', pod: { [REV]: 'gone' }, mesh: { revisions: ['1-20'] },
    want: { inject: false, code: InjectionReason.UnknownRevision } },
  { name: 'istio-injection=enabled injects nothing when the mesh has no default revision', ns: { [NSI]: 'enabled' }, mesh: { defaultRevision: null },
    want: { inject: false, code: InjectionReason.NoDefaultRevision } },
  { name: 'uses the configured default revision for istio-injection=enabled', ns: { [NSI]: 'enabled' }, mesh: { defaultRevision: '1-20' },
    want: { inject: true, revision: '1-20' } },
  { name: 'takes the default revision from the "default" tag when none is configured', ns: { [NSI]: 'enabled' }, mesh: { tags: { default: '1-21' } },
    want: { inject: true, revision: '1-21' } },
  // Mesh autoInject policy
  { name: 'with autoInject disabled a called injector skips pods that do not opt in', ns: { [NSI]: 'enabled' }, mesh: { autoInject: 'disabled' },
    want: { inject: false, code: InjectionReason.PodNotOptedIn } },
  { name: 'with autoInject disabled a pod annotation sidecar.istio.io/inject=true opts in', ns: { [NSI]: 'enabled' }, annotations: { [INJ]: 'true' },
    mesh: { autoInject: 'disabled' }, want: { inject: true, revision: 'default' } },
  // Injector view: the webhook was called
  { name: 'injector view: injects a plain pod with the called webhook\'s revision', via: { revision: '1-21', webhook: 'rev.namespace.sidecar-injector.istio.io' },
    want: { inject: true, revision: '1-21', code: InjectionReason.WebhookCalled, webhook: 'rev.namespace.sidecar-injector.istio.io' } },
  { name: 'injector view: ignores namespace labels (the API server applied the selectors)', ns: { [NSI]: 'disabled' }, via: { revision: '1-21' },
    want: { inject: true, revision: '1-21' } },
  { name: 'injector view: a pod annotation sidecar.istio.io/inject=false opts out', annotations: { [INJ]: 'false' }, via: { revision: '1-21' },
    want: { inject: false, code: InjectionReason.PodOptedOut, revision: '1-21' } },
  { name: 'injector view: the label wins over the annotation', pod: { [INJ]: 'true' }, annotations: { [INJ]: 'false' }, via: { revision: '1-21' },
    want: { inject: true }, says: ['pod label sidecar.istio.io/inject=true'] },
  { name: 'injector view: YAML false words (off) are no opinion, so the policy injects', pod: { [INJ]: 'off' }, via: { revision: '1-21' }, want: { inject: true } },
  { name: 'injector view: skips hostNetwork pods', hostNetwork: true, via: { revision: '1-21' }, want: { inject: false, code: InjectionReason.HostNetwork } },
  { name: 'injector view: skips system namespaces', nsName: 'kube-system', via: { revision: '1-21' }, want: { inject: false, code: InjectionReason.SystemNamespace } },
  { name: 'injector view: reports the tag it was called through', via: { revision: '1-21', tag: 'prod' },
    want: { inject: true, revision: '1-21', selectedAs: 'prod' }, says: ['tag prod'] },
];

describe('injection policy: decideInjection', function () {
  for (const c of cases) {
    it(c.name, function () {
      const d = decideInjection({
        namespace: { name: c.nsName ?? 'app', labels: c.ns ?? {} },
        pod: { labels: c.pod ?? {}, annotations: c.annotations ?? {}, hostNetwork: c.hostNetwork ?? false },
        ...(c.via ? { via: c.via } : {}),
        ...(c.mesh ? { mesh: c.mesh } : {}),
      });
      expect(d).to.deep.include(c.want);
      expect(d.reason).to.be.a('string').and.not.empty;
      for (const s of c.says ?? []) expect(d.reason).to.contain(s);
    });
  }
});

describe('injection policy: agrees with upstream\'s chart-rendered webhooks', function () {
  // Every combination of the labels that matter: the cluster view must equal
  // what the API server does with the webhook configurations Istio's own chart
  // renders (test/fixtures/istio-chart: revision 1-30, and 1-31 with tags
  // default and prod) — call every matching entry — followed by the
  // injector's own pod rules.
  const nsInjection = [undefined, 'enabled', 'disabled', 'other'];
  const revs = [undefined, '1-30', '1-31', 'prod', 'default', 'nope'];
  const injectLabel = [undefined, 'true', 'false', 'yes', 'False', ''];
  const injectAnnotation = [undefined, 'true', 'false', 'yes'];
  const set = (o: Record<string, string | undefined>): L =>
    Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
  const nsNames = ['app', 'kube-system', 'istio-system'];
  const total = nsNames.length * nsInjection.length * revs.length ** 2 * injectLabel.length * injectAnnotation.length;

  for (const byDefault of [false, true]) {
    it(`for all ${total} label combinations with enableNamespacesByDefault=${byDefault}`, function () {
      const configs = [
        ...chartWebhooks('rev-1-30.yaml'),
        ...chartWebhooks(byDefault ? 'rev-1-31-tags-default-prod-auto.yaml' : 'rev-1-31-tags-default-prod.yaml'),
      ];
      expect(configs.map((c) => c.metadata?.name).sort()).to.deep.equal(['istio-revision-tag-default', 'istio-revision-tag-prod', 'istio-sidecar-injector-1-30', 'istio-sidecar-injector-1-31']);
      const mesh: MeshInjectionSettings = { defaultRevision: '1-31', tags: { prod: '1-31' }, revisions: ['1-30', '1-31'], enableNamespacesByDefault: byDefault };
      let checked = 0;
      let injected = 0;
      for (const nsName of nsNames) {
        for (const ni of nsInjection) for (const nr of revs) for (const pi of injectLabel) for (const pr of revs) for (const pa of injectAnnotation) {
          const namespace = { name: nsName, labels: set({ [NSI]: ni, [REV]: nr }) };
          const pod = { labels: set({ [INJ]: pi, [REV]: pr }), annotations: set({ [INJ]: pa }) };
          const cluster = decideInjection({ namespace, pod, mesh });
          const injecting = matchingWebhooks(configs, namespace, pod)
            .map((e) => decideInjection({ namespace, pod, mesh, via: { revision: e.revision ?? '', webhook: e.webhookName, ...(e.tag ? { tag: e.tag } : {}) } }))
            .filter((d) => d.inject);
          const where = JSON.stringify({ namespace, pod });
          if (cluster.inject) {
            injected++;
            expect(injecting.map((d) => [d.revision, d.webhook]), where).to.deep.equal([[cluster.revision, cluster.webhook]]);
          } else {
            expect(injecting, where).to.deep.equal([]);
          }
          checked++;
        }
      }
      expect(checked).to.equal(total);
      // The matrix must exercise both answers, or agreement proves nothing.
      expect(injected).to.be.greaterThan(total / 10).and.lessThan(total);
    });
  }
});
