#!/usr/bin/env bash
# Runs a command from a root filesystem (hack/rootfs.sh) the way a container
# runtime runs a pod's container: own mount, PID, network, UTS and IPC
# namespaces; the root read-only (/tmp too: the Deployment mounts no emptyDir); /proc, a minimal /dev;
# the ServiceAccount directory (token, ca.crt, namespace) read-only at
# /var/run/secrets/kubernetes.io/serviceaccount; UID/GID 65532 with no
# capabilities and no_new_privs; only the environment given. Must be run as
# root (it sets the namespaces up, then drops to 65532).
#
#   hack/podlike.sh ROOTFS SA_DIR [--forward SPEC]... -- [NAME=VALUE]... -- COMMAND [ARG]...
#
# The pod's network namespace has only loopback. --forward connects it to the
# host through unix sockets (a relay runs in the pod's network namespace, outside
# its root, with the host's Node.js):
#   --forward in:IP:PORT=SOCKET    listen on IP:PORT in the pod (IP is added to lo),
#                                  relay each connection to the unix socket SOCKET
#   --forward out:SOCKET=IP:PORT   listen on the unix socket SOCKET, relay to IP:PORT in the pod
# The host side of an `in` socket is the caller's business (test/support/podlike.ts).
set -euo pipefail
rootfs=${1:?usage: podlike.sh ROOTFS SA_DIR [--forward SPEC]... -- [NAME=VALUE]... -- COMMAND [ARG]...}
sa=${2:?SA_DIR missing}
shift 2
forwards=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case $1 in
    --forward) forwards+=("$2"); shift 2 ;;
    *) echo "podlike.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "${1:-}" = -- ] || { echo "podlike.sh: expected -- before the environment" >&2; exit 2; }
shift
envs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
[ "${1:-}" = -- ] || { echo "podlike.sh: expected -- before the command" >&2; exit 2; }
shift
[ $# -gt 0 ] || { echo "podlike.sh: no command" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "podlike.sh: must run as root to set up the namespaces (it drops to UID 65532 before the command)" >&2; exit 1; }
relay=$(cd "$(dirname "$0")" && pwd)/podlike-relay.mjs
node=$(command -v node)

# Everything below runs inside the new namespaces, as PID 1's parent shell.
inner() {
  set -euo pipefail
  ip link set lo up
  # The rootfs bound over itself: what is mounted on it below exists in this mount namespace only.
  local root=$rootfs
  mount --bind "$rootfs" "$root"
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount -t tmpfs -o nosuid,mode=0755,size=64k tmpfs "$root/dev"
  local d
  for d in null zero full random urandom tty; do
    touch "$root/dev/$d"
    mount --bind "/dev/$d" "$root/dev/$d"
  done
  mount --bind "$sa" "$root/var/run/secrets/kubernetes.io/serviceaccount"
  mount -o remount,bind,ro "$root/var/run/secrets/kubernetes.io/serviceaccount"
  mount -o remount,bind,ro,nosuid,nodev "$root"
  local f
  for f in "${forwards[@]}"; do
    if [[ $f == in:* ]]; then
      local ip=${f#in:}; ip=${ip%%:*}
      [ "$ip" = 127.0.0.1 ] || ip addr add "$ip/32" dev lo
    fi
  done
  if [ ${#forwards[@]} -gt 0 ]; then
    # The relay prints "ready" once every listener is up.
    local line=
    exec 3< <(exec "$node" "$relay" "${forwards[@]}")
    read -r -t 10 -u 3 line || true
    exec 3<&-
    [ "$line" = ready ] || { echo "podlike.sh: the relay did not start (${forwards[*]})" >&2; exit 1; }
  fi
  cd "$root"
  exec env -i "${envs[@]}" /usr/bin/setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,+sys_chroot,+setuid,+setgid \
    /usr/sbin/chroot --userspec=65532:65532 --groups= "$root" "$@"
}
export rootfs sa relay node
exec unshare --mount --pid --net --uts --ipc --fork --kill-child=SIGKILL bash -c "$(declare -p forwards envs); $(declare -f inner); inner \"\$@\"" podlike "$@"
