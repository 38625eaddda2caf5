#!/usr/bin/env bash
# Runs a real Kubernetes control plane on 127.0.0.1 from binaries built by
# build.sh: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
# KWOK (fake kubelets: nodes are Ready, pods become Running/Ready without
# containers), orchestrated by kwokctl's binary runtime.
#
#   cluster.sh up NAME [--owner-pid PID] [--pod-startup D[±J]] [--pod-terminating D[±J]]
#                                          start (or reuse) cluster NAME, wait until the API
#                                          and one Node are Ready; prints KUBECONFIG=<path>
#                                          and KUBECTL=<path of the matching kubectl>.
#                                          Pod lifecycle: instant by default (KWOK makes a
#                                          scheduled pod Running and Ready at once, deletes a
#                                          terminating one at once); --pod-startup 5s±2s makes
#                                          a new pod Pending/ContainerCreating, then Running
#                                          not Ready, then Ready 5 s ± 2 s after it was
#                                          scheduled; --pod-terminating 2s±1s keeps a deleted
#                                          pod Terminating that long (see pod-lifecycle.sh).
#                                          A cluster is reused only with the same lifecycle.
#   cluster.sh down NAME                   stop cluster NAME and delete its state
#   cluster.sh prune                       stop clusters whose owner process is gone
#   cluster.sh down-all                    stop every cluster
#   cluster.sh list                        list clusters with their kubeconfig
#   cluster.sh restart NAME COMPONENT [--kill]
#                                          stop one component (etcd, kube-apiserver,
#                                          kube-controller-manager, kube-scheduler,
#                                          kwok-controller; SIGTERM, or SIGKILL with --kill),
#                                          then supervise: start it and whatever exited with it
#   cluster.sh supervise NAME [--settle S] [--watch]
#                                          start every component of NAME that is not running
#                                          (kube-controller-manager and kube-scheduler exit
#                                          when kube-apiserver stays away past their lease
#                                          renewal, up to ~15 s later); waits for the API, then
#                                          keeps restarting what exits until S seconds pass
#                                          with everything up (default 0; restart uses 20);
#                                          --watch: keep supervising until killed
#   cluster.sh istiod NAME REVISION        start a real istiod (Istio's pilot-discovery, built by
#                                          build.sh --istio) for REVISION on 127.0.0.1: renders its
#                                          ConfigMaps with Istio's own renderer into istio-system
#                                          first, gives it its own port block and working directory,
#                                          waits for /ready; prints ISTIOD_INJECT_URL=, ISTIOD_PID=,
#                                          ISTIOD_VERSION=. Stopped by pid with istiod-stop or down.
#   cluster.sh istiod-stop NAME REVISION   stop that istiod (SIGTERM, then SIGKILL)
#   cluster.sh render ARGS...              run istio-render (Istio's renderer): --kind K, --set k=v
#
# State lives in $MESHREV_CACHE/clusters/<NAME>/ (kwokctl's work dir). kwokctl
# picks free ports for every component, so clusters never collide; creation is
# serialised with a lock so two concurrent `up`s cannot pick the same ports.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export MESHREV_CACHE=${MESHREV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshrev}
export KWOK_WORKDIR=$MESHREV_CACHE
clusters=$KWOK_WORKDIR/clusters
# shellcheck source=pod-lifecycle.sh
source "$here/pod-lifecycle.sh"
log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

load_binaries() {
  local out
  out=$("$here/build.sh") || die "building the control plane failed (see above)"
  eval "$(grep -E '^(KUBE_BIN|ETCD_BIN|KWOK_BIN)=' <<<"$out")"
  # kwokctl shells out to kubectl and would download one if none were on PATH.
  export PATH="$KUBE_BIN:$KWOK_BIN:$PATH"
}

kwokctl_() { "$KWOK_BIN/kwokctl" "$@"; }

cluster_up() {
  local name=$1 owner=${2:-} startup=${3:-} terminating=${4:-}
  [[ $name =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "cluster name '$name' must be lowercase letters, digits and '-'"
  # The pod lifecycle this cluster must have (checked before anything starts).
  local lifecycle
  lifecycle=$(lifecycle_describe "$startup" "$terminating") || exit 2
  load_binaries
  # shellcheck source=versions.env
  local want_kube=${KUBE_VERSION:-}; source "$here/versions.env"; KUBE_VERSION=${want_kube:-$KUBE_VERSION}
  local dir=$clusters/$name kubeconfig=$clusters/$name/kubeconfig
  mkdir -p "$clusters"
  local start=$SECONDS
  # fd 9 holds the lock; the cluster's processes must not inherit it (9>&- below),
  # or the lock would stay held for as long as the cluster runs.
  (
    flock -w 300 9 || die "timed out waiting for another cluster creation to finish"
    if [ -f "$dir/kwok.yaml" ] && kwokctl_ get clusters 2>/dev/null | grep -qx "$name"; then
      # Clusters made before pod lifecycles existed are instant.
      local have
      have=$(cat "$dir/pod-lifecycle" 2>/dev/null || echo instant)
      [ "$have" = "$lifecycle" ] || die "cluster $name exists with pod lifecycle '$have', not the '$lifecycle' asked for: stop it first (cluster.sh down $name) or use another name"
      log "cluster $name exists (pod lifecycle $have); starting it if stopped"
      kwokctl_ start cluster --name "$name" >&2 9>&- || true
    else
      rm -rf "$dir"
      log "creating cluster $name (Kubernetes v$KUBE_VERSION, etcd v$ETCD_VERSION, kwok v$KWOK_VERSION)"
      cat >"$MESHREV_CACHE/kwokctl-$name.yaml" <<YAML
kind: KwokctlConfiguration
apiVersion: config.kwok.x-k8s.io/v1alpha1
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: v$KUBE_VERSION
  kubeBinaryPrefix: $KUBE_BIN
  etcdBinary: $ETCD_BIN
  kwokControllerBinary: $KWOK_BIN/kwok
  disableQPSLimits: true
YAML
      # Realistic pod lifecycle: KWOK Stages in the same file (kwokctl hands them to the KWOK controller).
      [ "$lifecycle" = instant ] || lifecycle_stages "$startup" "$terminating" >>"$MESHREV_CACHE/kwokctl-$name.yaml"
      kwokctl_ create cluster --name "$name" --config "$MESHREV_CACHE/kwokctl-$name.yaml" \
        --kubeconfig "$kubeconfig" --extra-args etcd=unsafe-no-fsync=true \
        --wait 3m >&2 9>&- || { log "kwokctl failed; logs in $dir/logs"; tail -n 20 "$dir"/logs/*.log >&2 2>/dev/null || true; exit 1; }
      rm -f "$MESHREV_CACHE/kwokctl-$name.yaml"
      echo "$lifecycle" >"$dir/pod-lifecycle"
    fi
  ) 9>"$MESHREV_CACHE/clusters.lock"
  [ -n "$owner" ] && echo "$owner" >"$dir/owner.pid"

  local k=(kubectl --kubeconfig "$kubeconfig")
  "${k[@]}" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "1000"}
  capacity: {cpu: "64", memory: 256Gi, pods: "1000"}
YAML
  "${k[@]}" wait --for=condition=Ready node/kwok-node-0 --timeout=120s >/dev/null \
    || die "node kwok-node-0 did not become Ready; logs in $dir/logs"
  # Pods need the default ServiceAccount, which the controller manager creates.
  local i
  for i in $(seq 1 120); do
    "${k[@]}" get serviceaccount default -n default >/dev/null 2>&1 && break
    sleep 0.5
  done
  log "cluster $name ready in $((SECONDS - start))s (pod lifecycle $lifecycle): $("${k[@]}" config view -o jsonpath='{.clusters[0].cluster.server}')"
  echo "KUBECONFIG=$kubeconfig"
  echo "KUBECTL=$KUBE_BIN/kubectl"
}

cluster_down() {
  local name=$1 dir=$clusters/$1
  [ -d "$dir" ] || { log "cluster $name does not exist"; return 0; }
  # istiods first (they watch the API server), by pid.
  local rdir
  for rdir in "$dir"/istiod/*/; do [ -d "$rdir" ] && istiod_stop "$name" "$(basename "$rdir")"; done
  KWOK_BIN=${KWOK_BIN:-$(ls -d "$MESHREV_CACHE"/kwok-v*/ 2>/dev/null | head -n1)}
  if [ -x "${KWOK_BIN%/}/kwokctl" ]; then
    "${KWOK_BIN%/}/kwokctl" delete cluster --name "$name" >/dev/null 2>&1 || true
  fi
  # Whatever kwokctl could not stop (a half-created cluster) is stopped by pid.
  local pidfile pid
  for pidfile in "$dir"/pids/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for pidfile in "$dir"/pids/*.pid; do
    [ -f "$pidfile" ] || continue
    kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$dir"
  log "cluster $name deleted"
}

# Components of a cluster that are not running, one per line.
down_components() {
  local dir=$clusters/$1 pidfile
  for pidfile in "$dir"/pids/*.pid; do
    [ -f "$pidfile" ] || continue
    kill -0 "$(cat "$pidfile")" 2>/dev/null || basename "$pidfile" .pid
  done
}

# One pass: start what is down and wait until it runs and the API is ready.
start_down() {
  local name=$1 dir=$clusters/$1 down i
  down=$(down_components "$name" | tr '\n' ' ')
  [ -z "$down" ] && return 0
  log "cluster $name: starting $down"
  kwokctl_ start cluster --name "$name" >&2 || die "kwokctl could not start $down; logs in $dir/logs"
  for i in $(seq 1 240); do
    if [ -z "$(down_components "$name")" ] && kubectl --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
      log "cluster $name: running again ($down)"
      return 0
    fi
    sleep 0.25
  done
  die "cluster $name: $(down_components "$name" | tr '\n' ' ')not running 60s after start; logs in $dir/logs"
}

cluster_supervise() {
  local name=$1 settle=${2:-0} watch=${3:-} dir=$clusters/$1
  [ -d "$dir" ] || die "cluster $name does not exist"
  load_binaries
  local quiet_since=$SECONDS
  while :; do
    if [ -n "$(down_components "$name")" ]; then
      start_down "$name"
      quiet_since=$SECONDS
    fi
    if [ -z "$watch" ] && [ $((SECONDS - quiet_since)) -ge "$settle" ]; then break; fi
    [ -d "$dir" ] || return 0
    sleep 1
  done
  log "cluster $name: every component is running"
}

cluster_restart() {
  local name=$1 component=$2 signal=${3:-TERM} dir=$clusters/$1
  local pidfile=$dir/pids/$component.pid
  [ -f "$pidfile" ] || die "cluster $name has no component $component (see $dir/pids)"
  local pid i
  pid=$(cat "$pidfile")
  log "cluster $name: stopping $component (pid $pid, SIG$signal)"
  kill -s "$signal" "$pid" 2>/dev/null || true
  for i in $(seq 1 240); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  # What depends on it notices and exits on its own time (lease renewal): supervise until quiet.
  cluster_supervise "$name" 20
}

# ---- a real istiod per revision (../../../shared/REAL-ISTIOD.md) ----

load_istio() {
  local out
  out=$("$here/build.sh" --istio) || die "building istiod failed (see above)"
  eval "$(grep -E '^(KUBE_BIN|ISTIO_BIN)=' <<<"$out")"
}

# Free TCP ports on 127.0.0.1? (nothing listening: a connect is refused)
ports_free() {
  local p
  for p in "$@"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 1
  done
  return 0
}

# A block of 10 ports below kwokctl's range (it picks ephemeral ports), free now and not
# claimed by another istiod of any cluster. Called under the clusters lock.
pick_port_block() {
  local base f taken
  for base in $(seq 20000 10 29990 | shuf); do
    taken=false
    for f in "$clusters"/*/istiod/*/ports; do
      [ -f "$f" ] && [ "$(cat "$f")" = "$base" ] && { taken=true; break; }
    done
    $taken && continue
    ports_free $((base)) $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)) && { echo "$base"; return 0; }
  done
  return 1
}

istiod_stop() {
  local name=$1 rev=$2 dir=$clusters/$1/istiod/$2 pid i
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid" "$dir/ports"
  log "cluster $name: istiod $rev stopped (pid $pid)"
}

istiod_start() {
  local name=$1 rev=$2 cdir=$clusters/$1
  [ -d "$cdir" ] || die "cluster $name does not exist"
  [[ $rev =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "revision '$rev' must be a DNS-1123 label"
  load_istio
  source "$here/versions.env"
  local dir=$cdir/istiod/$rev kubeconfig=$cdir/kubeconfig
  local k=("$KUBE_BIN/kubectl" --kubeconfig "$kubeconfig")
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    log "cluster $name: istiod $rev already running (pid $(cat "$dir/pid"))"
  else
    mkdir -p "$dir/work"
    # Two istiods may start at once: whichever creates the namespace, it exists afterwards.
    "${k[@]}" get namespace istio-system >/dev/null 2>&1 || "${k[@]}" create namespace istio-system >/dev/null 2>&1 \
      || "${k[@]}" get namespace istio-system >/dev/null || die "cannot create namespace istio-system"
    # istiod reads these at start; without the injector ConfigMap it never serves /inject.
    "$ISTIO_BIN/istio-render" --kind ConfigMap --set profile=minimal --set "revision=$rev" \
      --set values.global.istioNamespace=istio-system --set hub=docker.io/istio --set "tag=$ISTIO_BUILD_VERSION" \
      | "${k[@]}" apply --server-side --field-manager=meshrev-testbed -n istio-system -f - >/dev/null \
      || die "rendering or applying istiod $rev's ConfigMaps failed"
    local base
    base=$( (flock -w 60 9 || exit 1; b=$(pick_port_block) || exit 1; echo "$b" >"$dir/ports"; echo "$b") 9>"$MESHREV_CACHE/clusters.lock") \
      || die "no free block of ports in 20000-29999 for istiod $rev"
    (
      cd "$dir/work"
      # exec: the recorded pid is pilot-discovery itself.
      exec env REVISION="$rev" POD_NAMESPACE=istio-system POD_NAME="istiod-$rev-0" CLUSTER_ID=Kubernetes \
        PILOT_ENABLE_ANALYSIS=false VALIDATION_WEBHOOK_CONFIG_NAME= ISTIOD_CUSTOM_HOST=127.0.0.1 \
        ENABLE_NATIVE_SIDECARS=false GOMAXPROCS=1 \
        "$ISTIO_BIN/pilot-discovery" discovery --kubeconfig "$kubeconfig" \
        --httpAddr "127.0.0.1:$base" --grpcAddr "127.0.0.1:$((base + 1))" --secureGRPCAddr "127.0.0.1:$((base + 2))" \
        --httpsAddr "127.0.0.1:$((base + 3))" --monitoringAddr "127.0.0.1:$((base + 4))" \
        --ctrlz_address 127.0.0.1 --ctrlz_port "$((base + 5))" --log_output_level default:warn
    ) >"$dir/istiod.log" 2>&1 9>&- &
    echo $! >"$dir/pid"
    local i
    for i in $(seq 1 120); do
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -n 20 "$dir/istiod.log" >&2; rm -f "$dir/pid" "$dir/ports"; die "istiod $rev exited; log: $dir/istiod.log"; }
      curl -sf "http://127.0.0.1:$base/ready" >/dev/null 2>&1 && break
      sleep 0.25
    done
    curl -sf "http://127.0.0.1:$base/ready" >/dev/null 2>&1 || { istiod_stop "$name" "$rev"; die "istiod $rev not ready after 30s; log: $dir/istiod.log"; }
    log "cluster $name: istiod $rev ($ISTIO_BUILD_VERSION) ready on 127.0.0.1:$((base + 3)) (pid $(cat "$dir/pid"))"
  fi
  echo "ISTIOD_INJECT_URL=https://127.0.0.1:$(($(cat "$dir/ports") + 3))/inject"
  echo "ISTIOD_READY_URL=http://127.0.0.1:$(cat "$dir/ports")/ready"
  echo "ISTIOD_PID=$(cat "$dir/pid")"
  echo "ISTIOD_VERSION=$ISTIO_BUILD_VERSION"
  echo "ISTIOD_LOG=$dir/istiod.log"
}

cluster_names() {
  local d
  for d in "$clusters"/*/; do [ -d "$d" ] && basename "$d"; done
  return 0
}

cmd=${1:-}; shift || true
case $cmd in
  up)
    [ $# -ge 1 ] || usage
    name=$1; shift; owner=; startup=; terminating=
    while [ $# -gt 0 ]; do
      case $1 in
        --owner-pid) [ $# -ge 2 ] || usage; owner=$2; shift 2 ;;
        --pod-startup) [ $# -ge 2 ] || die "--pod-startup needs a value: $LIFECYCLE_FORMAT"; startup=$2; shift 2 ;;
        --pod-startup=*) startup=${1#*=}; shift ;;
        --pod-terminating) [ $# -ge 2 ] || die "--pod-terminating needs a value: $LIFECYCLE_FORMAT"; terminating=$2; shift 2 ;;
        --pod-terminating=*) terminating=${1#*=}; shift ;;
        *) usage ;;
      esac
    done
    cluster_up "$name" "$owner" "$startup" "$terminating" ;;
  down) [ $# -eq 1 ] || usage; cluster_down "$1" ;;
  prune)
    for n in $(cluster_names); do
      f=$clusters/$n/owner.pid
      if [ -f "$f" ] && ! kill -0 "$(cat "$f")" 2>/dev/null; then
        log "pruning cluster $n (owner process $(cat "$f") is gone)"
        cluster_down "$n"
      fi
    done ;;
  down-all) for n in $(cluster_names); do cluster_down "$n"; done ;;
  list) for n in $(cluster_names); do echo "$n $clusters/$n/kubeconfig"; done ;;
  supervise)
    [ $# -ge 1 ] || usage
    name=$1; shift; settle=0; watch=
    while [ $# -gt 0 ]; do
      case $1 in --settle) settle=$2; shift 2 ;; --watch) watch=1; shift ;; *) usage ;; esac
    done
    cluster_supervise "$name" "$settle" "$watch" ;;
  istiod) [ $# -eq 2 ] || usage; istiod_start "$1" "$2" ;;
  istiod-stop) [ $# -eq 2 ] || usage; istiod_stop "$1" "$2" ;;
  render) load_istio; exec "$ISTIO_BIN/istio-render" "$@" ;;
  restart)
    [ $# -ge 2 ] || usage
    sig=TERM; [ "${3:-}" = --kill ] && sig=KILL
    cluster_restart "$1" "$2" "$sig" ;;
  *) usage ;;
esac
