#!/usr/bin/env bash
# meshrev's demo: a canary migration of an Istio data plane from revision 1-30
# to 1-31 on the local cluster, then its rollback.
#
#   hack/demo.sh up     (make demo)       start everything from scratch (a previous
#                                         demo is stopped first), run the migration
#                                         and the rollback, leave the cluster running
#   hack/demo.sh down   (make demo-down)  stop the operator, the injectors and the cluster
#
# What runs, all on 127.0.0.1:
#   - the local cluster "meshrev-demo" (hack/localcluster/cluster.sh);
#   - two real istiods (Istio's pilot-discovery, built from the Go module proxy
#     by hack/localcluster/build.sh --istio), revisions 1-30 and 1-31, each on its
#     own ports (cluster.sh istiod); the API server calls their webhooks by url,
#     and istiod fills in caBundle itself. MESHREV_DEMO_INJECTOR=meshrev runs
#     meshrev's reference injector (`meshrev injector`) instead, with a
#     throwaway CA in caBundle: for a machine that cannot build istiod;
#   - the operator, `meshrev operator --kubeconfig ...`, on the host (the
#     Deployment that `kubectl apply -k config/default` installs gets a fake
#     KWOK pod that runs nothing).
# State (certificates, pid files, logs, rendered manifests) lives in
# $MESHREV_CACHE/demo/ (default ~/.cache/meshrev/demo). Expects `make build
# binaries` to have run (make demo does it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export MESHREV_CACHE=${MESHREV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshrev}
CLUSTER=${MESHREV_DEMO_CLUSTER:-meshrev-demo}
STATE=$MESHREV_CACHE/demo
OLD=1-30
NEW=1-31
INJECTOR=${MESHREV_DEMO_INJECTOR:-istiod}
ISTIO_VERSION=
MAIN=$repo/dist/meshrev.mjs
PART_OF=app.kubernetes.io/part-of=meshrev-demo
TIMEOUT=${MESHREV_DEMO_TIMEOUT:-5m}

t0=$SECONDS
nstep=0
step() {
  nstep=$((nstep + 1))
  printf '\n\033[1m==> [%s +%ss] %d. %s\033[0m\n' "$(date +%H:%M:%S)" "$((SECONDS - t0))" "$nstep" "$*"
}
info() { printf '    %s\n' "$*"; }
die() { printf '\n\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------------------
# Processes (operator, injectors): started detached (setsid) so they outlive
# `make demo`; tracked by pid files in $STATE/pids.

# Is PID one of ours (a live `node .../meshrev.mjs`), not a recycled pid?
ours() {
  local cmd
  cmd=$({ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null) || return 1
  [[ $cmd == *dist/meshrev.mjs* && $cmd == *"$MESHREV_CACHE/"* ]]
}

stop_processes() {
  local f pid name pids=()
  for f in "$STATE"/pids/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); name=$(basename "$f" .pid)
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      info "stopped $name (pid $pid)"
    fi
    rm -f "$f"
  done
  local i
  for i in $(seq 1 50); do
    local alive=0
    for pid in ${pids[@]+"${pids[@]}"}; do ours "$pid" && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for pid in ${pids[@]+"${pids[@]}"}; do ours "$pid" && kill -KILL "$pid" 2>/dev/null || true; done
}

# start NAME ARGS...: runs `node meshrev.mjs ARGS...` detached, output in $STATE/logs/NAME.log.
start() {
  local name=$1; shift
  setsid node "$MAIN" "$@" </dev/null >"$STATE/logs/$name.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$STATE/pids/$name.pid"
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# ---------------------------------------------------------------------------
# Cluster helpers (set by cluster_up).
KC=
KUBECTL=
k() { "$KUBECTL" --kubeconfig "$KC" "$@"; }

demo_namespaces() { k get ns -l "$PART_OF" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'; }

# Waits until every workload of the demo namespaces is rolled out and no pod is terminating.
settle() {
  local ns w i
  for ns in $(demo_namespaces); do
    for w in $(k get deploy,statefulset,daemonset -n "$ns" -o name); do
      k rollout status "$w" -n "$ns" --timeout=180s >/dev/null || die "$ns/$w did not roll out"
    done
  done
  for i in $(seq 1 120); do
    [ -z "$(k get pods -A -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{"\n"}{end}')" ] && break
    sleep 0.5
  done
  for ns in $(demo_namespaces); do
    k wait --for=condition=Ready pods --all -n "$ns" --timeout=120s >/dev/null || die "pods in $ns are not Ready"
  done
}

# Per namespace: its injection labels, and which revision injected each workload's pods.
show_state() {
  local ns inj rev pods
  printf '    %-15s %-16s %-13s %s\n' NAMESPACE ISTIO-INJECTION ISTIO.IO/REV 'PODS (app: injected by revision x count)'
  for ns in $(demo_namespaces); do
    inj=$(k get ns "$ns" -o jsonpath='{.metadata.labels.istio-injection}')
    rev=$(k get ns "$ns" -o jsonpath='{.metadata.labels.istio\.io/rev}')
    pods=$(k get pods -n "$ns" -o jsonpath='{range .items[*]}{.metadata.labels.app}{" "}{.metadata.annotations.istio\.io/rev}{"\n"}{end}' |
      awk 'NF { r = ($2 == "" ? "none" : $2); c[$1 ": " r]++ } END { for (x in c) printf "%s x%d\n", x, c[x] }' | sort | paste -sd, - | sed 's/,/, /g')
    printf '    %-15s %-16s %-13s %s\n' "$ns" "${inj:--}" "${rev:--}" "$pods"
  done
}

# Pod UIDs of the workloads no migration may touch (opted out, injection disabled).
untouchable_uids() {
  { k get pods -n payments -l app=fraud-scan -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}'
    k get pods -n legacy-batch -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}'; } | sort
}

# Fails unless every injectable pod of the six mesh namespaces was injected by REV
# and every namespace carries the expected labels.
expect_state() {
  local rev=$1 inj=$2 nsrev=$3 ns bad
  for ns in shop-frontend shop-cart shop-checkout payments inventory notifications; do
    [ "$(k get ns "$ns" -o jsonpath='{.metadata.labels.istio-injection}')" = "$inj" ] || die "namespace $ns: istio-injection is not '$inj'"
    [ "$(k get ns "$ns" -o jsonpath='{.metadata.labels.istio\.io/rev}')" = "$nsrev" ] || die "namespace $ns: istio.io/rev is not '$nsrev'"
    bad=$(k get pods -n "$ns" -l 'app!=fraud-scan' -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.annotations.istio\.io/rev}{"\n"}{end}' | awk -v r="$rev" '$2 != r')
    [ -z "$bad" ] || die "pods in $ns not injected by $rev: $bad"
  done
  [ -z "$(k get pods -n payments -l app=fraud-scan -o jsonpath='{.items[*].metadata.annotations.istio\.io/rev}')" ] || die "the opted-out fraud-scan pods were injected"
  [ -z "$(k get pods -n legacy-batch -o jsonpath='{.items[*].metadata.annotations.istio\.io/rev}')" ] || die "pods in legacy-batch were injected"
  [ "$(k get ns legacy-batch -o jsonpath='{.metadata.labels.istio-injection}')" = disabled ] || die "legacy-batch was relabelled"
  info "checked: every injectable pod runs $rev; fraud-scan (opted out) and legacy-batch (disabled) are not injected"
}

# Shows the migration of $NEW moving until its phase is WANT (one line per change).
watch_migration() {
  local want=$1 deadline=$((SECONDS + 300)) last= line phase
  local fmt='{.status.migration.phase}{"|"}{.status.migration.currentStep}{"|"}{.status.migration.summary}{"|"}{.status.migration.counts.inProgress}{"|"}{range .status.migration.namespaces[*]}{.name}{"="}{.state}{" "}{end}'
  while :; do
    line=$(k get mrev "$NEW" -o jsonpath="$fmt" 2>/dev/null || true)
    phase=${line%%|*}
    if [ -n "$phase" ] && [ "$line" != "$last" ]; then
      IFS='|' read -r p s m ip nss <<<"$line"
      # Only the namespaces that are not waiting for their step.
      nss=$(tr ' ' '\n' <<<"$nss" | grep -v '=Pending$' | grep . | paste -sd' ' - || true)
      printf '    %s  %-12s step %-2s migrated %-5s in progress %-2s %s\n' "$(date +%H:%M:%S)" "${p:-?}" "${s:--}" "${m:--}" "${ip:-0}" "$nss"
      last=$line
    fi
    [ "$phase" = "$want" ] && return 0
    case $phase in
      Failed | RolledBack | Suspended) [ "$phase" = "$want" ] || die "migration of $NEW is $phase (see 'kubectl get mrev $NEW -o yaml' and $STATE/logs/operator.log)" ;;
    esac
    [ $SECONDS -lt $deadline ] || die "migration of $NEW did not reach $want within 5 minutes"
    sleep 1
  done
}

# Which build injected a namespace's pods: the istio-proxy image istiod put there, and istiod's version.
show_injector() {
  local ns=$1 rev image
  rev=$(k get pods -n "$ns" -o jsonpath='{.items[0].metadata.annotations.istio\.io/rev}')
  image=$(k get pods -n "$ns" -o jsonpath='{.items[0].spec.containers[?(@.name=="istio-proxy")].image}')
  if [ "$INJECTOR" = istiod ]; then
    info "pods in $ns were injected by a real istiod, revision $rev, Istio $ISTIO_VERSION: sidecar image $image"
  else
    info "pods in $ns were injected by meshrev's reference injector, revision $rev: sidecar image $image"
  fi
}

has_status_cli() { node "$MAIN" status --help >/dev/null 2>&1; }

show_overview() {
  k get mrev | sed 's/^/    /'
  if has_status_cli; then
    echo
    info "meshrev status:"
    KUBECONFIG=$KC node "$MAIN" status 2>&1 | sed 's/^/    /' || info "(meshrev status failed)"
  fi
}

# ---------------------------------------------------------------------------
# On failure: say where to look, stop the processes this run started. The
# cluster is left for inspection (make demo-down removes it).
finished=0
on_exit() {
  local code=$?
  [ $finished = 1 ] && return 0
  trap - EXIT INT TERM
  set +e
  printf '\n\033[31m==> demo failed (exit %s) after %ss\033[0m\n' "$code" "$((SECONDS - t0))" >&2
  if [ -n "$KC" ] && k get crd meshrevisions.meshrev.io >/dev/null 2>&1; then
    echo "--- kubectl get mrev" >&2
    k get mrev >&2
    echo "--- kubectl get mrev $NEW -o yaml (status)" >&2
    k get mrev "$NEW" -o jsonpath='{.status}' 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.stringify(JSON.parse(s),null,2))}catch{console.log(s)}})' >&2
  fi
  if [ -f "$STATE/logs/operator.log" ]; then
    echo "--- last lines of $STATE/logs/operator.log" >&2
    tail -n 30 "$STATE/logs/operator.log" >&2
  fi
  echo "--- stopping the demo's processes" >&2
  stop_processes >&2
  [ -n "$KC" ] && echo "The cluster is left running for inspection: KUBECONFIG=$KC $KUBECTL get mrev; 'make demo-down' removes it." >&2
  exit "$code"
}

# ---------------------------------------------------------------------------

down() {
  step "${1:-Stopping the demo}"
  stop_processes
  hack/localcluster/cluster.sh down "$CLUSTER"
  rm -rf "$STATE"
}

start_reference_injectors() {
  step "Starting meshrev's reference injectors for revisions $OLD and $NEW on 127.0.0.1 (MESHREV_DEMO_INJECTOR=meshrev)"
  command -v openssl >/dev/null || die "openssl is required (MESHREV_DEMO_INJECTOR=meshrev)"
  (
    cd "$STATE/certs"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=meshrev-demo-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >ext.cnf
    openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 2>/dev/null
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 30 -extfile ext.cnf 2>/dev/null
  )
  local rev url i
  ca_bundle=$(base64 -w0 "$STATE/certs/ca.crt")
  for rev in $OLD $NEW; do
    start "injector-$rev" injector --revision "$rev" --cert "$STATE/certs/tls.crt" --key "$STATE/certs/tls.key" --port 0 --address 127.0.0.1
  done
  for rev in $OLD $NEW; do
    url=
    for i in $(seq 1 100); do
      url=$(grep -o 'https://127\.0\.0\.1:[0-9]*/inject' "$STATE/logs/injector-$rev.log" 2>/dev/null | head -n1 || true)
      [ -n "$url" ] && break
      ours "$(cat "$STATE/pids/injector-$rev.pid")" || die "injector $rev exited: $(cat "$STATE/logs/injector-$rev.log")"
      sleep 0.1
    done
    [ -n "$url" ] || die "injector $rev did not start (see $STATE/logs/injector-$rev.log)"
    curl -fsS --cacert "$STATE/certs/ca.crt" "${url%/inject}/healthz" >/dev/null || die "injector $rev does not answer on ${url%/inject}/healthz"
    urls[$rev]=$url
    info "injector $rev: $url (pid $(cat "$STATE/pids/injector-$rev.pid"), log $STATE/logs/injector-$rev.log)"
  done
}

up() {
  [ -f "$MAIN" ] || die "$MAIN is missing: run 'make build' (or use 'make demo')"
  case $INJECTOR in istiod | meshrev) ;; *) die "MESHREV_DEMO_INJECTOR must be istiod (default) or meshrev, not '$INJECTOR'" ;; esac
  down "Stopping the previous demo (if any)"
  trap on_exit EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$STATE"/{pids,logs,certs,manifests}

  step "Starting the local cluster $CLUSTER"
  local out
  # kwokctl's own JSON progress lines are noise here; its errors and cluster.sh's lines stay.
  out=$(hack/localcluster/cluster.sh up "$CLUSTER" 2> >(grep --line-buffered -v '^{"time":.*"level":"INFO"' >&2))
  KC=$(sed -n 's/^KUBECONFIG=//p' <<<"$out")
  KUBECTL=$(sed -n 's/^KUBECTL=//p' <<<"$out")
  [ -n "$KC" ] && [ -x "$KUBECTL" ] || die "cluster.sh printed no KUBECONFIG/KUBECTL"
  info "KUBECONFIG=$KC"

  declare -A urls
  local ca_bundle= rev i
  if [ "$INJECTOR" = meshrev ]; then
    start_reference_injectors
  else
    step "Starting real istiods for revisions $OLD and $NEW on 127.0.0.1"
    for rev in $OLD $NEW; do
      out=$(hack/localcluster/cluster.sh istiod "$CLUSTER" "$rev" 2> >(grep -v '^\[build' >&2)) || die "istiod $rev did not start"
      urls[$rev]=$(sed -n 's/^ISTIOD_INJECT_URL=//p' <<<"$out")
      ISTIO_VERSION=$(sed -n 's/^ISTIOD_VERSION=//p' <<<"$out")
      info "istiod $rev (Istio $ISTIO_VERSION): ${urls[$rev]} (pid $(sed -n 's/^ISTIOD_PID=//p' <<<"$out"), log $(sed -n 's/^ISTIOD_LOG=//p' <<<"$out"))"
    done
  fi
  step "Installing meshrev (CRD, namespace, RBAC) and running the operator on the host"
  k apply --server-side --force-conflicts -k config/default | sed 's/^/    /'
  k wait --for=condition=Established crd/meshrevisions.meshrev.io --timeout=60s >/dev/null
  local hport
  hport=$(free_port)
  start operator operator --kubeconfig "$KC" --health-address "127.0.0.1:$hport"
  for i in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$hport/readyz" >/dev/null 2>&1 && break
    ours "$(cat "$STATE/pids/operator.pid")" || die "the operator exited: $(tail -n 20 "$STATE/logs/operator.log")"
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$hport/readyz" >/dev/null || die "the operator is not ready on 127.0.0.1:$hport/readyz"
  info "operator: pid $(cat "$STATE/pids/operator.pid"), health on http://127.0.0.1:$hport/readyz, log $STATE/logs/operator.log"
  info "(the meshrev-operator Deployment's pods are KWOK fakes that run nothing: this host process is the operator)"

  step "Declaring revision $OLD, the default revision today"
  for rev in $OLD $NEW; do
    # istiod fills in caBundle itself; the reference injector's throwaway CA must be given.
    sed -e "s|@INJECTOR_URL@|${urls[$rev]}|" "hack/demo/meshrevision-$rev.yaml" |
      if [ -n "$ca_bundle" ]; then sed "/^    url: /a\\    caBundle: $ca_bundle"; else cat; fi >"$STATE/manifests/meshrevision-$rev.yaml"
  done
  k apply -f "$STATE/manifests/meshrevision-$OLD.yaml" | sed 's/^/    /'
  k wait --for=condition=Ready "mrev/$OLD" --timeout=60s >/dev/null || die "MeshRevision $OLD is not Ready"
  k get mutatingwebhookconfigurations -l "istio.io/rev=$OLD" | sed 's/^/    /'

  step "Deploying the sample apps in 7 namespaces"
  k apply -f hack/demo/namespaces.yaml | sed 's/^/    /'
  # The API server sees a new webhook configuration a moment after it is
  # written: wait until a server-side dry run of a pod is injected by $OLD.
  for i in $(seq 1 100); do
    [ "$(k create --dry-run=server -o jsonpath='{.metadata.annotations.istio\.io/rev}' -f - 2>/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: shop-frontend}
spec: {containers: [{name: probe, image: registry.example/demo/probe:1.0}]}
YAML
)" = "$OLD" ] && break
    [ "$i" -lt 100 ] || die "pods in istio-injection=enabled namespaces are not injected by $OLD"
    sleep 0.2
  done
  k apply -f hack/demo/workloads.yaml | sed 's/^/    /'
  info "waiting until every pod is Ready..."
  settle
  expect_state $OLD enabled ""
  show_state
  show_injector shop-frontend
  local before
  before=$(untouchable_uids)

  step "Declaring revision $NEW with a canary migration: 1 namespace (10s soak), 50% (5s soak), 100%; 2 namespaces at a time"
  sed -n '/^  migration:/,$p' "hack/demo/meshrevision-$NEW.yaml" | sed 's/^/    /'
  k apply -f "$STATE/manifests/meshrevision-$NEW.yaml" | sed 's/^/    /'
  watch_migration Succeeded
  k wait --for=jsonpath='{.status.migration.phase}'=Succeeded "mrev/$NEW" --timeout="$TIMEOUT" >/dev/null

  step "Migration done: every namespace is on $NEW"
  settle
  show_state
  expect_state $NEW "" $NEW
  show_injector shop-frontend
  [ "$(untouchable_uids)" = "$before" ] || die "pods of fraud-scan or legacy-batch were restarted"
  info "checked: fraud-scan and legacy-batch pods were not restarted (same pod UIDs)"
  echo
  show_overview

  step "Rolling back: spec.migration.rollback: {all: true} on $NEW"
  k patch mrev "$NEW" --type merge -p '{"spec":{"migration":{"rollback":{"all":true}}}}' | sed 's/^/    /'
  watch_migration RolledBack
  k wait --for=jsonpath='{.status.migration.phase}'=RolledBack "mrev/$NEW" --timeout="$TIMEOUT" >/dev/null

  step "Rollback done: every namespace is back on $OLD (istio-injection=enabled)"
  settle
  show_state
  expect_state $OLD enabled ""
  [ "$(untouchable_uids)" = "$before" ] || die "pods of fraud-scan or legacy-batch were restarted"
  echo
  show_overview

  finished=1
  step "Demo finished in $((SECONDS - t0))s; the cluster, the operator and the injectors keep running"
  cat <<EOF
    Look around:
      export KUBECONFIG=$KC
      alias kubectl=$KUBECTL
      kubectl get mrev                       # revisions, phase, migrated x/y, in use
      kubectl get mrev $NEW -o yaml          # conditions and per-namespace migration status
      kubectl get ns -L istio-injection,istio.io/rev
      kubectl get mutatingwebhookconfigurations -l app=sidecar-injector
      node dist/meshrev.mjs --help          # the meshrev CLI (check-inject, kube-inject, ...)
    Migrate again: kubectl patch mrev $NEW --type json -p '[{"op":"remove","path":"/spec/migration/rollback"}]'
    Logs: $STATE/logs/operator.log; istiods: $MESHREV_CACHE/clusters/$CLUSTER/istiod/<revision>/istiod.log
    Stop everything: make demo-down
EOF
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) usage ;;
esac
