// What the MeshRevision controller remembers in process memory, per
// MeshRevision, in one place with one way to forget it. None of it is needed
// to resume after a restart (the cluster holds that): it saves work (a
// validation per generation, an injector probe for a few seconds), coalesces
// progress-only status writes, and keeps what admission dry runs showed (see
// policy/migration-decide). A MeshRevision deleted and created again under the
// same name (another uid) starts from nothing.
import type { MeshRevision, MeshRevisionStatus } from '../api/meshrevision.js';
import type { AdmissionMemo, MigrationObservation } from '../policy/migration-decide.js';
import type { FieldError } from '../policy/validation/index.js';

export interface RevisionMemo {
  readonly uid: string | undefined;
  /** Per namespace this MeshRevision moves: what its dry runs showed (replaced by each decision). */
  admission: Map<string, AdmissionMemo>;
  /** Every namespace as the last applied migration decision left it (status lists only some). */
  known?: MigrationObservation['known'];
  /** Every check state of the gated step as the last applied decision left it (status lists only some). */
  knownChecks?: MigrationObservation['knownChecks'];
  /** The spec's validation, for one generation. */
  validated?: { generation: number; errors: FieldError[] };
  /** The injector gate's last answer, reused for a few seconds. */
  injectorProbe?: { generation: number | undefined; at: number; result: Promise<string | undefined> };
  /** A status computed but not written yet (progress, coalesced): the newest status there is. */
  pendingStatus?: MeshRevisionStatus;
  /** When status was last written (ms, by the controller's clock). */
  lastStatusWrite?: number;
}

export class RevisionMemos {
  private readonly byName = new Map<string, RevisionMemo>();

  /** The memo of this MeshRevision (by name), fresh when the uid changed. */
  of(mrev: Pick<MeshRevision, 'metadata'>): RevisionMemo {
    const name = mrev.metadata.name ?? '';
    const uid = mrev.metadata.uid;
    const known = this.byName.get(name);
    if (known && known.uid === uid) return known;
    const fresh: RevisionMemo = { uid, admission: new Map() };
    this.byName.set(name, fresh);
    return fresh;
  }

  /** The MeshRevision is gone: forget everything about it. */
  forget(name: string): void {
    this.byName.delete(name);
  }
}
