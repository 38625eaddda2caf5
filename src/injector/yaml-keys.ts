// Duplicate mapping keys, found in linear time. The `yaml` package's own
// check (its uniqueKeys option, on by default) compares each key with every
// key before it in the mapping: quadratic, so a 0.5 MB ConfigMap took 11 s
// to kube-inject and larger files never finished (issue 17). Parse with
// uniqueKeys: false, then ask this.
import { isMap, isScalar, visit, type Document } from 'yaml';

export interface DuplicateKey {
  key: string | number | boolean | null;
  /** Offset of the second occurrence in the source, when known. */
  offset?: number;
}

/** The first key that appears twice in one mapping of `doc`, or undefined. Complex (non-scalar) keys are not compared. */
export function firstDuplicateKey(doc: Document): DuplicateKey | undefined {
  let found: DuplicateKey | undefined;
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return undefined;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) && pair.key !== null && typeof pair.key === 'object') continue;
        const key = (isScalar(pair.key) ? pair.key.value : pair.key) as DuplicateKey['key'];
        if (seen.has(key)) {
          const offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
          found = { key, ...(offset !== undefined ? { offset } : {}) };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return found;
}
