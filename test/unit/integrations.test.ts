// The Argo CD and Flux health checks under config/integrations: every copy of
// them (the argocd-cm snippet, the Flux Kustomization, the README) says the
// same as the file that is evaluated, and they name the reasons meshrev
// writes. What they decide per row of the status contract is checked by the
// real evaluators in hack/integrations (make test-integrations).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { REASON_MIGRATION_AWAITING_PROMOTION, REASON_MIGRATION_SUSPENDED } from '../../src/api/meshrevision.js';
import { repoPath } from '../support/repo.js';

const read = (path: string): string => readFileSync(repoPath(path), 'utf8');
const indent = (text: string, n: number): string =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l === '' ? '' : ' '.repeat(n) + l))
    .join('\n');

interface HealthCheckExpr {
  apiVersion: string;
  kind: string;
  inProgress?: string;
  failed?: string;
  current: string;
}

describe('GitOps integrations (config/integrations)', () => {
  const lua = read('config/integrations/argocd/health.lua');
  const exprsText = read('config/integrations/flux/health-check-exprs.yaml');
  const exprs = parse(exprsText) as HealthCheckExpr[];

  it('ships the Argo CD health check in argocd-cm under resource.customizations.health.meshrev.io_MeshRevision, identical to health.lua', () => {
    const cm = parse(read('config/integrations/argocd/argocd-cm.yaml')) as { kind: string; metadata: { name: string }; data: Record<string, string> };
    expect(cm.kind).to.equal('ConfigMap');
    expect(cm.metadata.name).to.equal('argocd-cm');
    expect(cm.data['resource.customizations.health.meshrev.io_MeshRevision']).to.equal(lua);
  });

  it('tells the planned stops (awaiting promotion, suspended) apart by the Ready reasons meshrev writes', () => {
    expect(lua).to.contain(`"${REASON_MIGRATION_AWAITING_PROMOTION}"`).and.contain(`"${REASON_MIGRATION_SUSPENDED}"`);
    expect(lua).to.contain('"Suspended"').and.contain('"Degraded"').and.contain('"Healthy"').and.contain('"Progressing"');
  });

  it('uses no Lua library Argo CD does not open (only base, table and package)', () => {
    expect(lua).not.to.match(/\b(string|math|io|os|debug)\.|:(find|match|sub|gsub|len|lower|upper)\(/);
  });

  it('gives Flux inProgress, failed and current expressions for meshrev.io/v1alpha1 MeshRevision', () => {
    expect(exprs).to.have.length(1);
    expect(exprs[0]).to.include({ apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision' });
    for (const k of ['inProgress', 'failed', 'current'] as const) expect(exprs[0]![k], k).to.be.a('string').and.match(/status\.\?conditions\.orValue\(\[\]\)/);
  });

  it('puts the same expressions in the sample Flux Kustomization', () => {
    const k = parse(read('config/integrations/flux/kustomization.yaml')) as { kind: string; spec: { wait: boolean; healthCheckExprs: HealthCheckExpr[] } };
    expect(k.kind).to.equal('Kustomization');
    expect(k.spec.wait).to.equal(true);
    expect(k.spec.healthCheckExprs).to.deep.equal(exprs);
  });

  it('quotes both, verbatim, in the README', () => {
    const readme = read('README.md');
    expect(readme).to.contain(indent(lua, 4));
    expect(readme).to.contain(indent(exprsText.slice(exprsText.indexOf('- apiVersion')), 4));
  });
});
