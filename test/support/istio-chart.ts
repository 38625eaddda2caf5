// Upstream's MutatingWebhookConfigurations as Istio's own chart renders them:
// the fixtures under test/fixtures/istio-chart (each says how it was
// rendered). Tests that must agree with upstream compare against these, not
// against a hand-written copy.
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { repoPath } from './repo.js';

/** The webhook configurations in one fixture file, e.g. `rev-1-30.yaml`. */
export function chartWebhooks(file: string): V1MutatingWebhookConfiguration[] {
  const text = readFileSync(repoPath(`test/fixtures/istio-chart/${file}`), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as unknown)
    .filter((o): o is V1MutatingWebhookConfiguration => typeof o === 'object' && o !== null && (o as { kind?: unknown }).kind === 'MutatingWebhookConfiguration');
}

/** One configuration of a fixture by metadata.name; throws when absent, so a test never passes on nothing. */
export function chartWebhook(file: string, name: string): V1MutatingWebhookConfiguration {
  const found = chartWebhooks(file).find((c) => c.metadata?.name === name);
  if (!found) throw new Error(`${file} has no MutatingWebhookConfiguration ${name}`);
  return found;
}
