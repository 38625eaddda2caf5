// Captures MeshRevisions as the real operator wrote them on the local cluster,
// one per row of the status contract (README.md), for hack/integrations: the
// kstatus, Argo CD Lua and Flux CEL evaluators judge them against the verdicts
// of the row of the same name in hack/integrations/testdata. `make test` runs
// the e2e tests before `make test-integrations`, which reads this directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MeshRevision } from '../../src/api/meshrevision.js';
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
