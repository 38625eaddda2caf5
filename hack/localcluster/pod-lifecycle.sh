# Pod lifecycle of a local cluster (sourced by cluster.sh): parses
# `--pod-startup D[±J]` / `--pod-terminating D[±J]` and writes the KWOK Stages
# that make KWOK's fake kubelet behave like a real node.
#
# Instant (the default, what the test suite uses): KWOK's own "fast" stages —
# a scheduled pod is Running and Ready at once, a deleted pod is gone at once.
#
# With --pod-startup S±J, a scheduled pod goes through
#   pod-create    at once:              Pending, containers waiting (ContainerCreating), pod IP
#   pod-start     after S/2 ± J/2:      Running, containers running but not ready, Ready=False
#   pod-ready     after S/2 ± J/2 more: Ready=True, ContainersReady=True
# so it is Ready between S−J and S+J after KWOK saw it scheduled (mean S; the two
# halves are drawn independently, uniformly). With --pod-terminating T±U a pod
# with a deletionTimestamp stays Terminating (still Running, as the kubelet keeps it
# while its containers stop) for T−U to T+U before KWOK finalises it. KWOK's delay is
# uniform between durationMilliseconds and jitterDurationMilliseconds
# (sigs.k8s.io/kwok pkg/apis/v1alpha1 StageDelay).
#
# Giving kwokctl any Stage replaces all of its default stages, nodes' included, so
# the node stages below are KWOK v0.8.0's defaults for this runtime
# (kustomize/stage/node/fast/node-initialize.yaml and
# kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml).
# Job pods never complete under this profile (no pod-complete stage): the
# bench and the tests use Deployments only.

LIFECYCLE_FORMAT="DURATION[±JITTER] with units ms, s or m, e.g. 5s±2s (also written 5s+-2s or 5s~2s), 800ms, 1.5s~500ms; the jitter may not exceed the duration"

# parse_delay FLAG VALUE → "BASE_MS JITTER_MS" (empty VALUE: "0 0").
parse_delay() {
  local flag=$1 v=$2
  [ -z "$v" ] && { echo "0 0"; return 0; }
  local norm=${v//±/\~}
  norm=${norm//+-/\~}
  local num='([0-9]+(\.[0-9]+)?)(ms|s|m)'
  if [[ $norm =~ ^${num}(\~${num})?$ ]]; then
    local base jitter=0
    base=$(to_ms "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]}")
    [ -n "${BASH_REMATCH[4]}" ] && jitter=$(to_ms "${BASH_REMATCH[5]}" "${BASH_REMATCH[7]}")
    if [ "$jitter" -gt "$base" ]; then
      printf '[cluster] error: %s %s: the jitter is larger than the duration (a delay cannot be negative); expected %s\n' "$flag" "$v" "$LIFECYCLE_FORMAT" >&2
      return 1
    fi
    if [ "$((base + jitter))" -gt 3600000 ]; then
      printf '[cluster] error: %s %s: at most 1 h; expected %s\n' "$flag" "$v" "$LIFECYCLE_FORMAT" >&2
      return 1
    fi
    echo "$base $jitter"
    return 0
  fi
  printf "[cluster] error: %s '%s' is not a delay: expected %s\n" "$flag" "$v" "$LIFECYCLE_FORMAT" >&2
  return 1
}

to_ms() {
  local n=$1 unit=$2 mult
  case $unit in ms) mult=1 ;; s) mult=1000 ;; m) mult=60000 ;; esac
  awk -v n="$n" -v m="$mult" 'BEGIN { printf "%d\n", n * m + 0.5 }'
}

# lifecycle_describe STARTUP TERMINATING → "instant", or "startup=5000±2000ms terminating=2000±1000ms".
# The description is what a cluster records in pod-lifecycle, so two spellings of the same delays match.
lifecycle_describe() {
  local s t
  s=$(parse_delay --pod-startup "$1") || return 1
  t=$(parse_delay --pod-terminating "$2") || return 1
  if [ "$s" = "0 0" ] && [ "$t" = "0 0" ]; then echo instant; return 0; fi
  read -r sb sj <<<"$s"
  read -r tb tj <<<"$t"
  echo "startup=${sb}±${sj}ms terminating=${tb}±${tj}ms"
}

# A Stage's delay block: uniform in [lo, hi] ms (nothing when both are 0).
stage_delay() {
  local lo=$1 hi=$2
  [ "$hi" -eq 0 ] && return 0
  printf '  delay:\n    durationMilliseconds: %d\n    jitterDurationMilliseconds: %d\n' "$lo" "$hi"
}

# lifecycle_stages STARTUP TERMINATING → YAML documents (each starting with ---).
lifecycle_stages() {
  local sb sj tb tj
  read -r sb sj <<<"$(parse_delay --pod-startup "$1")"
  read -r tb tj <<<"$(parse_delay --pod-terminating "$2")"
  # Each of the two start-up steps takes half: [ (S−J)/2, (S+J)/2 ].
  local lo=$(((sb - sj) / 2)) hi=$(((sb + sj) / 2))
  cat <<'YAML'
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values:
      - 'True'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type  | Quote}}
      {{ end }}

      {{ $hasInternalIP := false }}
      {{ $hasHostname := false }}
      {{ range .status.addresses }}
        {{ if eq .type "InternalIP" }}
          {{ $hasInternalIP = true }}
        {{ end }}
        {{ if eq .type "Hostname" }}
          {{ $hasHostname = true }}
        {{ end }}
      {{ end }}
      {{ if or (not $hasInternalIP) (not $hasHostname) }}
      addresses:
      {{ end }}
      {{ if not $hasInternalIP }}
      {{ with NodeIP }}
      - address: {{ . | Quote }}
        type: InternalIP
      {{ end }}
      {{ end }}
      {{ if not $hasHostname }}
      {{ with NodeName }}
      - address: {{ . | Quote }}
        type: Hostname
      {{ end }}
      {{ end }}

      {{ with NodePort }}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ . }}
      {{ end }}

      allocatable:
      {{ with .status.allocatable }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: 1k
        memory: 1Ti
        pods: 1M
      {{ end }}
      capacity:
      {{ with .status.capacity }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: 1k
        memory: 1Ti
        pods: 1M
      {{ end }}

      {{ $nodeInfo := .status.nodeInfo }}
      {{ $kwokVersion := printf "kwok-%s" Version }}
      nodeInfo:
        architecture: {{ or $nodeInfo.architecture "amd64" }}
        bootID: {{ or $nodeInfo.bootID `""` }}
        containerRuntimeVersion: {{ or $nodeInfo.containerRuntimeVersion $kwokVersion }}
        kernelVersion: {{ or $nodeInfo.kernelVersion $kwokVersion }}
        kubeProxyVersion: {{ or $nodeInfo.kubeProxyVersion $kwokVersion }}
        kubeletVersion: {{ or $nodeInfo.kubeletVersion $kwokVersion }}
        machineID: {{ or $nodeInfo.machineID `""` }}
        operatingSystem: {{ or $nodeInfo.operatingSystem "linux" }}
        osImage: {{ or $nodeInfo.osImage `""` }}
        systemUUID: {{ or $nodeInfo.systemUUID `""` }}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-heartbeat-with-lease
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values:
      - 'True'
  delay:
    durationMilliseconds: 600000
    jitterDurationMilliseconds: 610000
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}

      addresses:
      {{ with .status.addresses }}
      {{ YAML . 1 }}
      {{ else }}
      {{ with NodeIP }}
      - address: {{ . | Quote }}
        type: InternalIP
      {{ end }}
      {{ with NodeName }}
      - address: {{ . | Quote }}
        type: Hostname
      {{ end }}
      {{ end }}

      {{ with NodePort }}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ . }}
      {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-create
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        message: 'containers with unready status: [{{ range .spec.containers }}{{ .name }} {{ end }}]'
        reason: ContainersNotReady
        status: "False"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        message: 'containers with unready status: [{{ range .spec.containers }}{{ .name }} {{ end }}]'
        reason: ContainersNotReady
        status: "False"
        type: ContainersReady
      {{ range .spec.readinessGates }}
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: {{ .conditionType | Quote }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            reason: ContainerCreating
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Pending
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-start
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: '.status.podIP'
      operator: 'Exists'
YAML
  stage_delay "$lo" "$hi"
  cat <<'YAML'
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values:
      - 'True'
YAML
  stage_delay "$lo" "$hi"
  cat <<'YAML'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        message: ''
        reason: ''
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        message: ''
        reason: ''
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
YAML
  stage_delay "$((tb - tj))" "$((tb + tj))"
  cat <<'YAML'
  next:
    delete: true
YAML
}
