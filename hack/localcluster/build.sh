#!/usr/bin/env bash
# Builds the local control plane's binaries into a cache outside the repo,
# keyed by version, skipping whatever is already built:
#   $MESHREV_CACHE/kube-v$KUBE_VERSION/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
#   $MESHREV_CACHE/etcd-v$ETCD_VERSION/etcd
#   $MESHREV_CACHE/kwok-v$KWOK_VERSION/{kwok,kwokctl}
#   $MESHREV_CACHE/istio-$ISTIO_BUILD_VERSION/{pilot-discovery,istio-render}   (only with --istio)
# Prints the bin directories as KEY=VALUE lines on the last lines of stdout.
set -euo pipefail
with_istio=false
for arg in "$@"; do
  case $arg in
    --istio) with_istio=true ;;
    *) echo "usage: build.sh [--istio]" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
want_kube=${KUBE_VERSION:-}; source "$here/versions.env"; KUBE_VERSION=${want_kube:-$KUBE_VERSION}  # KUBE_VERSION=… picks another minor (make test-matrix)
kube_mod=$here/kube; [ -d "$here/kube-${KUBE_VERSION%.*}" ] && kube_mod=$here/kube-${KUBE_VERSION%.*}
cache=${MESHREV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshrev}
log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { log "go is not on PATH: install Go >= 1.24 (https://go.dev/dl) and retry"; exit 1; }
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "$go_minor" -ge 24 ] || { log "Go $(go env GOVERSION) is too old: Kubernetes $KUBE_VERSION needs Go >= 1.24"; exit 1; }
export GOFLAGS=-mod=readonly GOTOOLCHAIN=local CGO_ENABLED=0

# Builds in the background while printing a heartbeat, so a long cold build
# shows it is alive (CI and people watching need to see progress).
with_heartbeat() {
  local what=$1; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && log "$what: still building ($((SECONDS - start))s)"
  done
  wait "$pid"
  log "$what: done in $((SECONDS - start))s"
}

kube_dir=$cache/kube-v$KUBE_VERSION
kube_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
missing=()
for b in "${kube_bins[@]}"; do [ -x "$kube_dir/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "building Kubernetes v$KUBE_VERSION (${missing[*]}) into $kube_dir — a cold build takes about 10 minutes on 2 cores (measured: 6 min for Kubernetes)"
  mkdir -p "$kube_dir"
  major=${KUBE_VERSION%%.*}; rest=${KUBE_VERSION#*.}; minor=${rest%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  build_kube() {
    cd "$kube_mod"
    for b in "${missing[@]}"; do
      log "go build k8s.io/kubernetes/cmd/$b"
      go build -trimpath -ldflags "$ldflags" -o "$kube_dir/$b.tmp" "k8s.io/kubernetes/cmd/$b"
      mv "$kube_dir/$b.tmp" "$kube_dir/$b"
    done
  }
  with_heartbeat "kubernetes" build_kube
else
  log "Kubernetes v$KUBE_VERSION: cached in $kube_dir"
fi

etcd_dir=$cache/etcd-v$ETCD_VERSION
if [ ! -x "$etcd_dir/etcd" ]; then
  log "building etcd v$ETCD_VERSION into $etcd_dir"
  mkdir -p "$etcd_dir"
  build_etcd() { cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$etcd_dir/etcd.tmp" go.etcd.io/etcd/server/v3 && mv "$etcd_dir/etcd.tmp" "$etcd_dir/etcd"; }
  with_heartbeat "etcd" build_etcd
else
  log "etcd v$ETCD_VERSION: cached in $etcd_dir"
fi

kwok_dir=$cache/kwok-v$KWOK_VERSION
if [ ! -x "$kwok_dir/kwok" ] || [ ! -x "$kwok_dir/kwokctl" ]; then
  log "installing kwok/kwokctl v$KWOK_VERSION into $kwok_dir"
  mkdir -p "$kwok_dir"
  build_kwok() { GOBIN=$kwok_dir GOFLAGS= go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"; }
  with_heartbeat "kwok" build_kwok
else
  log "kwok v$KWOK_VERSION: cached in $kwok_dir"
fi

istio_dir=$cache/istio-$ISTIO_BUILD_VERSION
if $with_istio; then
  if [ ! -x "$istio_dir/pilot-discovery" ] || [ ! -x "$istio_dir/istio-render" ]; then
    log "building istiod (pilot-discovery) and istio-render $ISTIO_BUILD_VERSION into $istio_dir — a cold build takes about 10 minutes on 2 cores"
    mkdir -p "$istio_dir"
    pkg=istio.io/istio/pkg/version
    istio_ldflags="-s -w -X $pkg.buildVersion=$ISTIO_BUILD_VERSION -X $pkg.buildGitRevision=${ISTIO_MODULE_VERSION##*-} -X $pkg.buildStatus=Clean -X $pkg.buildTag=$ISTIO_BUILD_VERSION -X $pkg.buildHub=docker.io/istio"
    build_istio() {
      cd "$here/istio"
      log "go build istio.io/istio/pilot/cmd/pilot-discovery"
      go build -trimpath -ldflags "$istio_ldflags" -o "$istio_dir/pilot-discovery.tmp" istio.io/istio/pilot/cmd/pilot-discovery
      log "go build ./render (istio-render)"
      go build -trimpath -ldflags "$istio_ldflags" -o "$istio_dir/istio-render.tmp" ./render
      mv "$istio_dir/pilot-discovery.tmp" "$istio_dir/pilot-discovery"
      mv "$istio_dir/istio-render.tmp" "$istio_dir/istio-render"
    }
    with_heartbeat "istio" build_istio
  else
    log "istiod $ISTIO_BUILD_VERSION: cached in $istio_dir"
  fi
fi

echo "KUBE_BIN=$kube_dir"
echo "ETCD_BIN=$etcd_dir/etcd"
echo "KWOK_BIN=$kwok_dir"
if $with_istio; then echo "ISTIO_BIN=$istio_dir"; fi
