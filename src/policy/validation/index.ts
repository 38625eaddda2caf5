// Pure validation of MeshRevisions, and the no-op check for their webhook
// configurations, one concern a file:
// - meshrevision.ts: the object, spec.revision, spec.default, spec.tags;
// - injector.ts: spec.injector (caBundle decodes to PEM, a usable webhook URL);
// - migration.ts: spec.migration (`meshrev plan -f` runs it before planning);
// - health-checks.ts: spec.healthChecks, with the query variables it knows;
// - durations.ts: Go-style durations, parsed and bounded;
// - fields.ts: the error shape and the checks of a single field;
// - webhook-diff.ts: whether a webhook configuration needs a write.
// The bounds are the CRD's and live next to their defaults in src/api/.
export type { FieldError } from './fields.js';
export { parseDuration } from './durations.js';
export { validateMeshRevision, validateMeshRevisionSpec, validateMeshRevisionUpdate } from './meshrevision.js';
export { validateMigrationSpec } from './migration.js';
export { validateHealthChecks } from './health-checks.js';
export { webhookConfigurationDiff, webhookConfigurationNeedsWrite, type CompareOptions } from './webhook-diff.js';
