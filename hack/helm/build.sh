#!/usr/bin/env bash
# Builds helm from the Go module proxy (this wrapper module pins it) into
#   $MESHREV_CACHE/helm-v$HELM_VERSION/helm
# once; later runs reuse it. Prints HELM=<path> as its last line.
# A cold build takes about 4 minutes on 2 cores (see README "Helm chart").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MESHREV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshrev}
log() { printf '[helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v go >/dev/null || { log "go is not on PATH: install Go >= 1.26 and retry"; exit 1; }
HELM_VERSION=$(cd "$here" && GOFLAGS=-mod=readonly GOTOOLCHAIN=local go list -m -f '{{.Version}}' helm.sh/helm/v4)
HELM_VERSION=${HELM_VERSION#v}
dir=$cache/helm-v$HELM_VERSION
if [ ! -x "$dir/helm" ]; then
  log "building helm v$HELM_VERSION into $dir (first time only)"
  mkdir -p "$dir"
  start=$SECONDS
  (
    cd "$here"
    GOFLAGS=-mod=readonly GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" \
      -o "$dir/helm.tmp" helm.sh/helm/v4/cmd/helm
  ) &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && log "still building ($((SECONDS - start))s)"
  done
  wait "$pid"
  mv "$dir/helm.tmp" "$dir/helm"
  log "helm v$HELM_VERSION built in $((SECONDS - start))s"
else
  log "helm v$HELM_VERSION: cached in $dir"
fi
echo "HELM=$dir/helm"
