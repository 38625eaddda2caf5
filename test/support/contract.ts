// Captures MeshRevisions as the real operator wrote them on the local cluster,
// one per row of the status contract (README.md), for hack/integrations: the
// kstatus, Argo CD Lua and Flux CEL evaluators judge them against the verdicts
// of the row of the same name in hack/integrations/testdata. `make test` runs
// the e2e tests before `make test-integrations`, which reads this directory.
import * as k8s from '@kubernetes/client-node';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_VERSION, type MeshRevision } from '../../src/api/meshrevision.js';
import { repoPath } from './repo.js';

/** Where captures go: $MESHREV_CONTRACT_CAPTURE, else .test-results/contract in the repository. */
export function contractCaptureDir(): string {
  return process.env.MESHREV_CONTRACT_CAPTURE ?? join(repoPath('package.json'), '..', '.test-results', 'contract');
}

/** Records `mrev` as the contract row `row` (a file name of hack/integrations/testdata, without .json). */
export function captureContractRow(row: string, mrev: MeshRevision | undefined): void {
  if (mrev === undefined) throw new Error(`contract row ${row}: no MeshRevision to capture`);
  const dir = contractCaptureDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${row}.json`), `${JSON.stringify({ captured: 'e2e', object: mrev }, null, 2)}\n`);
}

/**
 * Every version of every MeshRevision the API server announces, from a
 * watch: the states a migration passes through in a second (moving, rolling
 * back, a spec not yet observed) are caught as the operator wrote them, not
 * as a poll happens to see them.
 */
export class MeshRevisionRecorder {
  private readonly versions: MeshRevision[] = [];
  private controller: AbortController | undefined;
  private stopped = false;
  private resourceVersion: string | undefined;

  private constructor(private readonly kc: k8s.KubeConfig) {}

  static async start(kc: k8s.KubeConfig): Promise<MeshRevisionRecorder> {
    const r = new MeshRevisionRecorder(kc);
    await r.open();
    return r;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.controller = await new k8s.Watch(this.kc).watch(
      `/apis/${API_VERSION}/meshrevisions`,
      this.resourceVersion ? { resourceVersion: this.resourceVersion } : {},
      (type, obj: MeshRevision) => {
        if (type !== 'ADDED' && type !== 'MODIFIED') return;
        this.versions.push(obj);
        this.resourceVersion = obj.metadata.resourceVersion;
      },
      // client-node ends a watch quiet for 30 s: reopen it from where it was.
      () => { void this.open(); },
    );
  }

  /** The first version of `name` recorded that satisfies `pred`, waiting for it up to `timeoutMs`. */
  async waitFor(name: string, what: string, pred: (m: MeshRevision) => boolean, timeoutMs = 120_000): Promise<MeshRevision> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.versions.find((v) => v.metadata.name === name && pred(v));
      if (m) return m;
      if (Date.now() > deadline) {
        const seen = this.versions.filter((v) => v.metadata.name === name).map((v) => `${v.metadata.generation}/${v.status?.observedGeneration} ${v.status?.phase}/${v.status?.migration?.phase ?? '-'}`);
        throw new Error(`MeshRevision ${name}: no version ${what} within ${timeoutMs} ms (seen generation/observed phase/migration: ${seen.join(', ')})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}

/** The condition `type` of a MeshRevision, when present. */
export function conditionOf(m: MeshRevision, type: string): { status: string; reason: string } | undefined {
  return m.status?.conditions?.find((c) => c.type === type);
}

/** True when the status was written for the spec it sits next to. */
export function observed(m: MeshRevision): boolean {
  return m.status?.observedGeneration === m.metadata.generation;
}
