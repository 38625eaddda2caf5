// Writes a release's install manifest: config/default (CRD, namespace, RBAC,
// the admission policies, the operator Deployment and its metrics Service)
// rendered with `kubectl kustomize`, the Deployment pinned to IMG:VERSION and
// every object labelled with the version.
//
//   node hack/release.mjs --version 0.1.0 --image registry.example.com/meshrev --out dist/release/install.yaml [--kubectl PATH]
//
// `make release` runs it, then packages the Helm chart beside it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';

const { values } = parseArgs({
  options: { version: { type: 'string' }, image: { type: 'string' }, out: { type: 'string' }, kubectl: { type: 'string', default: 'kubectl' } },
});
const fail = (msg) => {
  console.error(`release: ${msg}`);
  process.exit(2);
};
// Semantic Versioning 2.0.0, without the leading "v" (the image tag and the chart version are the same string).
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
if (!values.version || !SEMVER.test(values.version)) fail(`VERSION="${values.version ?? ''}" is not a semantic version such as 0.1.0 or 0.2.0-rc.1 (no leading v): make release VERSION=0.1.0 IMG=registry.example.com/meshrev`);
if (!values.image) fail('IMG is empty: give the image repository without a tag, e.g. make release VERSION=0.1.0 IMG=registry.example.com/meshrev');
if (/[@]|:[^/]*$/.test(values.image)) fail(`IMG="${values.image}" has a tag or digest; give the repository alone (the tag is VERSION): IMG=${values.image.replace(/[@:][^/]*$/, '')}`);
if (!values.out) fail('--out is missing');
// Helm's tag rules: the "+" of build metadata is not allowed in an image tag.
const tag = values.version.replace(/\+/g, '_');
const image = `${values.image}:${tag}`;

const rendered = execFileSync(values.kubectl, ['kustomize', 'config/default'], { encoding: 'utf8' });
const docs = parseAllDocuments(rendered).map((d) => d.toJS());
let pinned = 0;
for (const obj of docs) {
  obj.metadata.labels = { ...obj.metadata.labels, 'app.kubernetes.io/part-of': 'meshrev', 'app.kubernetes.io/version': values.version };
  if (obj.kind !== 'Deployment') continue;
  for (const c of obj.spec.template.spec.containers) {
    if (c.image === 'meshrev:dev') {
      c.image = image;
      c.imagePullPolicy = 'IfNotPresent';
      pinned++;
    }
  }
  obj.spec.template.metadata.labels = { ...obj.spec.template.metadata.labels, 'app.kubernetes.io/version': values.version };
}
if (pinned !== 1) fail(`expected one container with image meshrev:dev in config/default, found ${pinned}`);
const header = `# meshrev ${values.version}: kubectl apply --server-side -f install.yaml\n# image ${image}\n`;
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, header + docs.map((d) => `---\n${stringify(d, { lineWidth: 0 })}`).join(''));
console.log(`release: wrote ${values.out} (${docs.length} objects, image ${image})`);
