// A small strategic merge for pod fragments, the way upstream applies its
// injection templates and a user's `istio-proxy` container: maps merge key by
// key, lists of named things (containers, volumes, env, mounts, ports) merge
// by their key and keep the base's order, other lists and scalars are
// replaced, and `null` in the patch deletes the field.

/** Lists Kubernetes merges by a key (patchMergeKey in the API types). */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  hostAliases: 'ip',
};

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A deep copy through JSON: drops undefined, so the result is exactly what would go over the wire. */
export function jsonClone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function mergeKeyed(base: unknown[], patch: unknown[], key: string): unknown[] {
  const out = base.map((b) => jsonClone(b));
  for (const p of patch) {
    const k = isPlainObject(p) ? p[key] : undefined;
    const at = k === undefined ? -1 : out.findIndex((b) => isPlainObject(b) && b[key] === k);
    if (at >= 0) out[at] = strategicMerge(out[at], p);
    else out.push(jsonClone(p));
  }
  return out;
}

/**
 * Merges `patch` onto `base` and returns a new value (neither input changes).
 * `field` is the name of the field being merged, which decides list handling.
 */
export function strategicMerge(base: unknown, patch: unknown, field?: string): unknown {
  if (isPlainObject(base) && isPlainObject(patch)) {
    const out: Record<string, unknown> = jsonClone(base);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else if (v !== undefined) out[k] = strategicMerge(out[k], v, k);
    }
    return out;
  }
  // A new map from the patch still has its nulls removed.
  if (isPlainObject(patch)) return strategicMerge({}, patch);
  const key = field !== undefined ? MERGE_KEYS[field] : undefined;
  if (key && Array.isArray(base) && Array.isArray(patch)) return mergeKeyed(base, patch, key);
  return jsonClone(patch);
}
