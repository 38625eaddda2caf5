#!/usr/bin/env bash
# make release VERSION=x.y.z IMG=registry.example.com/meshrev
# Writes dist/release/install.yaml (config/default with the Deployment pinned
# to IMG:VERSION) and dist/release/meshrev-VERSION.tgz (the Helm chart with
# version, appVersion and image set to this release).
set -euo pipefail
version=${1:-} img=${2:-}
if [ -z "$version" ] || [ -z "$img" ]; then
  echo "make release: set VERSION and IMG, e.g. make release VERSION=0.1.0 IMG=registry.example.com/meshrev (IMG without a tag: the tag is VERSION)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=dist/release
kube_bin=$(hack/localcluster/build.sh 2>/dev/null | sed -n 's/^KUBE_BIN=//p')
helm=$(hack/helm/build.sh | sed -n 's/^HELM=//p')
rm -rf "$out" && mkdir -p "$out"
node hack/release.mjs --version "$version" --image "$img" --out "$out/install.yaml" --kubectl "$kube_bin/kubectl"
# The chart, with its links (crds/, files/) resolved and this release's image as the default.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -rL charts/meshrev "$tmp/meshrev"
sed -i -E "s|^(  repository:) .*$|\1 $img|" "$tmp/meshrev/values.yaml"
grep -q "^  repository: $img\$" "$tmp/meshrev/values.yaml" || { echo "release: could not set image.repository in the chart's values.yaml" >&2; exit 1; }
"$helm" lint --strict "$tmp/meshrev" >/dev/null
"$helm" package "$tmp/meshrev" --version "$version" --app-version "$version" --destination "$out" >/dev/null
echo "release: wrote $out/meshrev-$version.tgz (helm install meshrev $out/meshrev-$version.tgz -n meshrev-system --create-namespace)"
