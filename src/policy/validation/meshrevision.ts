// A whole MeshRevision: apiVersion, kind, metadata, spec.revision, spec.default,
// spec.tags and spec.webhooks here; spec.injector, spec.migration and spec.healthChecks in
// their own files. Repeats what the CRD enforces (so the CLI can check a file
// offline, before `kubectl apply`) and reports unknown fields, which the API
// server silently prunes unless the client asks for strict validation. No I/O.
import { API_VERSION, KIND, MAX_TAGS, RESERVED_TAG_DEFAULT, WEBHOOK_MANAGEMENTS, WEBHOOKS_EXTERNAL } from '../../api/meshrevision.js';
import { dnsLabel, isObject, quote, unknownFields, type FieldError } from './fields.js';
import { validateHealthChecks } from './health-checks.js';
import { validateInjector } from './injector.js';
import { validateMigrationSpec } from './migration.js';

const SPEC_FIELDS = ['revision', 'default', 'tags', 'enableNamespacesByDefault', 'injector', 'webhooks', 'migration', 'healthChecks'];

/**
 * spec.webhooks: the management mode, and what External implies: the default
 * and the tags are istiod's chart's and istioctl's (meshrev reads them), so
 * the spec may not declare them; spec.injector becomes optional. Returns
 * whether the webhooks are External.
 */
function validateWebhooks(spec: Record<string, unknown>, path: string, errors: FieldError[]): boolean {
  const webhooks = spec['webhooks'];
  if (webhooks === undefined) return false;
  if (!isObject(webhooks)) {
    errors.push({ field: `${path}.webhooks`, message: 'webhooks must be an object, e.g. {management: External}' });
    return false;
  }
  unknownFields(webhooks, ['management'], `${path}.webhooks`, errors);
  const management = webhooks['management'];
  if (management !== undefined && !WEBHOOK_MANAGEMENTS.includes(management as never)) {
    errors.push({
      field: `${path}.webhooks.management`,
      message: `management ${quote(management)} is not valid: use "Managed" (meshrev writes the webhooks) or "External" (istiod's chart or istioctl wrote them)`,
    });
    return false;
  }
  if (management !== WEBHOOKS_EXTERNAL) return false;
  if (spec['default'] === true) {
    errors.push({
      field: `${path}.default`,
      message: 'with spec.webhooks.management External the default revision is set by istiod\'s chart or `istioctl tag set default`, not here: remove spec.default (status.defaultRevision reports it)',
    });
  }
  if (Array.isArray(spec['tags']) && spec['tags'].length > 0) {
    errors.push({
      field: `${path}.tags`,
      message: 'with spec.webhooks.management External tags are set by istiod\'s chart (revisionTags) or `istioctl tag set`, not here: remove spec.tags (status.activeTags reports them)',
    });
  }
  return true;
}
/** Checks a MeshRevision spec. `path` prefixes field names. */
export function validateMeshRevisionSpec(spec: unknown, path = 'spec'): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(spec)) {
    return [{ field: path, message: 'spec is required: set at least spec.revision and spec.injector' }];
  }
  unknownFields(spec, SPEC_FIELDS, path, errors);
  dnsLabel(spec['revision'], `${path}.revision`, 'revision', errors);
  const revision = typeof spec['revision'] === 'string' ? spec['revision'] : undefined;
  if (revision === RESERVED_TAG_DEFAULT) {
    errors.push({
      field: `${path}.revision`,
      message: `revision "default" is reserved: istio.io/rev=default selects whichever revision is the default, not a revision of that name; name the revision after its control plane (e.g. "1-21") and set spec.default: true to make it the default`,
    });
  }

  if (spec['default'] !== undefined && typeof spec['default'] !== 'boolean') {
    errors.push({ field: `${path}.default`, message: `default must be true or false, not ${quote(spec['default'])}` });
  }

  const byDefault = spec['enableNamespacesByDefault'];
  if (byDefault !== undefined && typeof byDefault !== 'boolean') {
    errors.push({ field: `${path}.enableNamespacesByDefault`, message: `enableNamespacesByDefault must be true or false, not ${quote(byDefault)}` });
  } else if (byDefault === true && spec['default'] !== true) {
    errors.push({
      field: `${path}.enableNamespacesByDefault`,
      message: 'enableNamespacesByDefault injects unlabelled namespaces with the default revision, so it needs spec.default: true on the same MeshRevision; set both, or remove it',
    });
  }

  const tags = spec['tags'];
  if (tags !== undefined) {
    if (!Array.isArray(tags)) {
      errors.push({ field: `${path}.tags`, message: 'tags must be a list of names, e.g. [stable]' });
    } else {
      if (tags.length > MAX_TAGS) {
        errors.push({ field: `${path}.tags`, message: `${tags.length} tags is too many: use at most ${MAX_TAGS}` });
      }
      const seen = new Set<unknown>();
      tags.forEach((tag: unknown, i) => {
        const field = `${path}.tags[${i}]`;
        dnsLabel(tag, field, 'tag', errors);
        if (seen.has(tag)) errors.push({ field, message: `tag ${quote(tag)} is listed twice: list each tag once` });
        seen.add(tag);
        if (tag === RESERVED_TAG_DEFAULT) {
          errors.push({ field, message: 'tag "default" is reserved: set spec.default: true to make this the default revision instead' });
        }
        if (revision !== undefined && tag === revision) {
          errors.push({ field, message: `tag ${quote(tag)} is the revision name itself: a tag is another name for the revision; remove it` });
        }
      });
    }
  }
  const external = validateWebhooks(spec, path, errors);
  if (!external || spec['injector'] !== undefined) validateInjector(spec['injector'], `${path}.injector`, errors);
  if (spec['migration'] !== undefined) {
    const aliases = { tags: Array.isArray(tags) ? (tags as unknown[]) : [], isDefault: spec['default'] === true };
    errors.push(...validateMigrationSpec(spec['migration'], `${path}.migration`, revision, aliases));
  }
  if (spec['healthChecks'] !== undefined) errors.push(...validateHealthChecks(spec['healthChecks'], `${path}.healthChecks`));
  return errors;
}

/** Checks a whole MeshRevision object, e.g. read from a file by the CLI. Empty when valid. */
export function validateMeshRevision(obj: unknown): FieldError[] {
  if (!isObject(obj)) return [{ field: '', message: 'a MeshRevision must be an object with apiVersion, kind, metadata and spec' }];
  const errors: FieldError[] = [];
  if (obj['apiVersion'] !== undefined && obj['apiVersion'] !== API_VERSION) {
    errors.push({ field: 'apiVersion', message: `apiVersion ${quote(obj['apiVersion'])} is not served: use ${API_VERSION}` });
  }
  if (obj['kind'] !== undefined && obj['kind'] !== KIND) {
    errors.push({ field: 'kind', message: `kind ${quote(obj['kind'])} is not ${KIND}` });
  }
  const meta = obj['metadata'];
  if (!isObject(meta) || typeof meta['name'] !== 'string' || meta['name'] === '') {
    errors.push({ field: 'metadata.name', message: 'metadata.name is required (e.g. the revision, "1-21")' });
  } else if (meta['namespace'] !== undefined) {
    errors.push({ field: 'metadata.namespace', message: 'MeshRevision is cluster-scoped: remove metadata.namespace' });
  }
  errors.push(...validateMeshRevisionSpec(obj['spec']));
  return errors;
}

/** Checks a change, as the CRD's transition rules do. */
export function validateMeshRevisionUpdate(oldObj: { spec?: { revision?: unknown } }, newObj: unknown): FieldError[] {
  const errors = validateMeshRevision(newObj);
  const next = isObject(newObj) && isObject(newObj['spec']) ? newObj['spec']['revision'] : undefined;
  const prev = oldObj.spec?.revision;
  if (prev !== undefined && next !== prev) {
    errors.push({
      field: 'spec.revision',
      message: `revision is immutable (was ${quote(prev)}): create a new MeshRevision for ${quote(next)} and migrate to it`,
    });
  }
  return errors;
}
