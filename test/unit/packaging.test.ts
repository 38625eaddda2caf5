// The packaging agrees with itself: the Containerfile's image layout (user,
// Node.js and bundle paths), the Deployment in config/manager and the Helm
// chart's Deployment run the same command as the same user; the chart renders
// as its snapshot (test/unit/testdata/chart-default.yaml; helm from
// hack/helm/build.sh, skipped when not built yet — the e2e tier builds it).
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { cachedHelm, helm } from '../support/helm.js';
import { repoPath } from '../support/repo.js';

interface Containerfile {
  /** Instructions of the last stage (the image that ships), as [KEYWORD, rest]. */
  final: [string, string][];
  stages: number;
}

function readContainerfile(): Containerfile {
  // Join continuation lines, drop comments.
  const lines = readFileSync(repoPath('Containerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const instr = lines.map((l) => {
    const m = /^\s*(\w+)\s+(.*)$/.exec(l)!;
    return [m[1]!.toUpperCase(), m[2]!.trim()] as [string, string];
  });
  const froms = instr.map((x, i) => (x[0] === 'FROM' ? i : -1)).filter((i) => i >= 0);
  return { final: instr.slice(froms.at(-1)), stages: froms.length };
}

function configDeployment(): k8s.V1Deployment {
  return parse(readFileSync(repoPath('config/manager/deployment.yaml'), 'utf8')) as k8s.V1Deployment;
}

describe('packaging: Containerfile, config/ Deployment and chart agree', function () {
  const cf = readContainerfile();
  const get = (kw: string) => cf.final.filter((x) => x[0] === kw).map((x) => x[1]);
  const deploy = configDeployment();
  const pod = deploy.spec!.template.spec!;
  const container = pod.containers[0]!;

  it('builds in one stage and ships another, from a distroless Node.js 20 base', function () {
    expect(cf.stages).to.equal(2);
    expect(get('FROM')[0]).to.match(/^gcr\.io\/distroless\/nodejs20-debian12:nonroot$/);
  });

  it('runs the Deployment\'s command: the image\'s Node.js on the bundle it copies', function () {
    const entrypoint = JSON.parse(get('ENTRYPOINT')[0]!) as string[];
    const cmd = JSON.parse(get('CMD')[0]!) as string[];
    expect(container.command).to.deep.equal([...entrypoint, ...cmd]);
    const copies = get('COPY').map((c) => c.split(/\s+/).filter((w) => !w.startsWith('--')));
    // Only the bundle goes into the image, at the path the command runs.
    expect(copies).to.deep.equal([['/src/dist/meshrev.mjs', container.command![1]]]);
    expect(entrypoint[0]).to.equal('/nodejs/bin/node'); // distroless's Node.js
  });

  it('runs as the fixed non-root UID the Deployment requires, on a read-only root', function () {
    expect(get('USER')).to.deep.equal(['65532:65532']);
    expect(pod.securityContext).to.deep.include({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 });
    expect(container.securityContext).to.deep.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.securityContext?.capabilities?.drop).to.deep.equal(['ALL']);
  });

  it('labels the image with its source, version and revision (OCI annotations)', function () {
    const labels = get('LABEL').join(' ');
    for (const key of ['source', 'version', 'revision', 'licenses']) expect(labels).to.contain(`org.opencontainers.image.${key}=`);
    expect(labels).to.contain('org.opencontainers.image.licenses="Apache-2.0"');
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { license: string };
    expect(pkg.license).to.equal('Apache-2.0');
    expect(readFileSync(repoPath('LICENSE'), 'utf8')).to.contain('Apache License\n                           Version 2.0');
  });

  it('versions the chart as the package (make release sets both to VERSION)', function () {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    const chart = parse(readFileSync(repoPath('charts/meshrev/Chart.yaml'), 'utf8')) as { version: string; appVersion: string; kubeVersion: string };
    expect([chart.version, chart.appVersion]).to.deep.equal([pkg.version, pkg.version]);
    expect(chart.kubeVersion).to.equal('>=1.30.0-0');
  });

  describe('the Helm chart (helm template)', function () {
    const bin = cachedHelm();
    before(function () {
      if (!bin) {
        console.log('      skipped: helm is not built yet (hack/helm/build.sh; make test-e2e builds it)');
        this.skip();
      }
    });
    const render = (...args: string[]) =>
      parseAllDocuments(helm(bin!, ['template', 'meshrev', repoPath('charts/meshrev'), '--namespace', 'meshrev-system', '--kube-version', '1.33.0', ...args], { HELM_LOG_LEVEL: 'warn' }))
        .map((d) => d.toJS() as k8s.KubernetesObject)
        .filter(Boolean);

    it('renders as its snapshot (UPDATE_SNAPSHOTS=1 rewrites it)', function () {
      this.timeout(20_000);
      const out = helm(bin!, ['template', 'meshrev', repoPath('charts/meshrev'), '--namespace', 'meshrev-system', '--kube-version', '1.33.0', '--set', 'image.repository=registry.example.com/meshrev']);
      const file = join(repoPath('test/unit/testdata'), 'chart-default.yaml');
      if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(file, out);
      expect(out).to.equal(readFileSync(file, 'utf8'));
    });

    it('runs the same container as config/manager (command, user, env, probes, resources); args add the lease name and concurrency', function () {
      this.timeout(20_000);
      const chartDeploy = render().find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
      const c = chartDeploy.spec!.template.spec!.containers[0]!;
      for (const k of ['command', 'env', 'ports', 'livenessProbe', 'readinessProbe', 'resources', 'securityContext'] as const) expect(c[k], k).to.deep.equal(container[k]);
      expect(chartDeploy.spec!.template.spec!.securityContext).to.deep.equal(pod.securityContext);
      expect(c.args).to.deep.equal([...container.args!.slice(0, 2), '--leader-election-name=meshrev-leader', container.args![2], '--concurrency=2']);
      expect(c.image).to.equal(`meshrev:${(parse(readFileSync(repoPath('charts/meshrev/Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion}`);
    });

    it('spreads 2 replicas over nodes with a PodDisruptionBudget, and drops both for 1 replica', function () {
      this.timeout(20_000);
      const two = render();
      const d = two.find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
      expect(d.spec?.replicas).to.equal(2);
      expect(d.spec?.template.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey).to.equal('kubernetes.io/hostname');
      expect(two.filter((o) => o.kind === 'PodDisruptionBudget')).to.have.length(1);
      const one = render('--set', 'replicaCount=1');
      expect((one.find((o) => o.kind === 'Deployment') as k8s.V1Deployment).spec?.template.spec?.affinity).to.equal(undefined);
      expect(one.filter((o) => o.kind === 'PodDisruptionBudget')).to.have.length(0);
    });

    it('refuses 2 replicas without leader election, saying why', function () {
      this.timeout(20_000);
      expect(() => render('--set', 'leaderElection.enabled=false')).to.throw(/replicaCount > 1 needs leaderElection.enabled=true/);
    });

    it('binds config/rbac\'s rules and config/admission\'s policies to the release namespace\'s ServiceAccount', function () {
      this.timeout(20_000);
      const objs = parseAllDocuments(helm(bin!, ['template', 'x', repoPath('charts/meshrev'), '--namespace', 'ops', '--kube-version', '1.33.0'])).map((d) => d.toJS() as k8s.KubernetesObject & Record<string, unknown>);
      const role = objs.find((o) => o.kind === 'ClusterRole' && o.metadata?.name === 'meshrev') as k8s.V1ClusterRole;
      expect(role.rules).to.deep.equal((parse(readFileSync(repoPath('config/rbac/cluster_role.yaml'), 'utf8')) as k8s.V1ClusterRole).rules);
      const policies = objs.filter((o) => o.kind === 'ValidatingAdmissionPolicy') as k8s.V1ValidatingAdmissionPolicy[];
      expect(policies).to.have.length(5);
      for (const p of policies) {
        expect(JSON.stringify(p.spec?.matchConditions), p.metadata?.name).to.contain("'system:serviceaccount:ops:meshrev'").and.not.contain('meshrev-system');
      }
      const view = objs.find((o) => o.metadata?.name === 'meshrev-view') as k8s.V1ClusterRole;
      expect(view.metadata?.labels).to.include({ 'rbac.authorization.k8s.io/aggregate-to-view': 'true' });
      expect(view.rules?.[0]?.verbs).to.deep.equal(['get', 'list', 'watch']);
      const edit = objs.find((o) => o.metadata?.name === 'meshrev-edit') as k8s.V1ClusterRole;
      expect(edit.metadata?.labels).to.include({ 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' }).and.not.have.property('rbac.authorization.k8s.io/aggregate-to-view');
    });
  });
});
