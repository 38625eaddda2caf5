#!/usr/bin/env bash
# Builds the meshrev image from the Containerfile with the first container
# builder that works here: docker (with a reachable daemon), podman, buildah.
#   hack/image.sh IMG [VERSION]
# Exits 1 with what was tried when none works.
set -euo pipefail
img=${1:?usage: hack/image.sh IMG [VERSION]  (e.g. registry.example.com/meshrev:0.1.0)}
here=$(cd "$(dirname "$0")/.." && pwd)
version=${2:-$(node -p "require('$here/package.json').version")}
revision=$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then revision+=-dirty; fi
source_url=$(git -C "$here" remote get-url origin 2>/dev/null || true)
args=(--file "$here/Containerfile" --tag "$img"
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url" "$here")

tried=()
if command -v docker >/dev/null; then
  if why=$(docker info 2>&1 >/dev/null); then exec docker build "${args[@]}"; fi
  tried+=("docker: installed, but 'docker info' failed: $(printf '%s' "$why" | grep -v '^$' | tail -n1)")
else
  tried+=("docker: not installed")
fi
if command -v podman >/dev/null; then
  if podman info >/dev/null 2>&1; then exec podman build "${args[@]}"; fi
  tried+=("podman: installed, but 'podman info' failed")
else
  tried+=("podman: not installed")
fi
if command -v buildah >/dev/null; then
  exec buildah build "${args[@]}"
else
  tried+=("buildah: not installed")
fi
{
  echo "make image: no container builder works on this machine, so no image was built. Tried:"
  printf '  - %s\n' "${tried[@]}"
  echo "Install one (e.g. 'apt-get install podman' or 'apt-get install buildah'), or start the Docker daemon, and run 'make image IMG=$img' again."
  echo "To check the image's layout without a builder: 'make rootfs' (hack/rootfs.sh) assembles the same files."
} >&2
exit 1
