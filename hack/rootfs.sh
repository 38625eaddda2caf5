#!/usr/bin/env bash
# Assembles, without a container builder or registry, the root filesystem the
# Containerfile's image has: Node.js 20 at /nodejs/bin/node with the shared
# libraries it loads (found with ldd), the bundle at /app/meshrev.mjs, and an
# /etc/passwd naming UID 65532 "nonroot" — nothing else (no shell, no package
# manager), plus the empty mount points a container runtime mounts over
# (/proc, /dev, /tmp, the ServiceAccount directory).
#
#   hack/rootfs.sh            → prints ROOTFS=<dir> as its last line
#
# Node.js is the host's (`node` on PATH, or $NODE; on Debian the `nodejs`
# package); it must be major version 20, as the image's. The result is cached
# under $MESHREV_CACHE/rootfs/node-<version>-<bundle sha256 prefix>/ and
# rebuilt only when either changes; test/e2e/pod-like.test.ts runs it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${MESHREV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshrev}
log() { printf '[rootfs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bundle=$here/dist/meshrev.mjs
[ -f "$bundle" ] || die "$bundle is missing: run 'make build' first"
node=$(command -v "${NODE:-node}") || die "no node on PATH (install Debian's nodejs package, Node.js 20) or set NODE=<path>"
node=$(readlink -f "$node")
version=$("$node" -p process.version)
[[ $version == v20.* ]] || die "$node is Node.js $version; the image runs Node.js 20 (set NODE=<path to a Node.js 20 binary>)"
sum=$(sha256sum "$bundle" | cut -c1-16)
out=$cache/rootfs/node-$version-$sum
if [ -x "$out/nodejs/bin/node" ] && [ -f "$out/app/meshrev.mjs" ]; then
  log "cached: $out"
  echo "ROOTFS=$out"
  exit 0
fi

log "assembling $out from $node ($version) and $bundle"
tmp=$(mktemp -d "$cache/rootfs.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
install -D -m 0555 "$node" "$tmp/nodejs/bin/node"
install -D -m 0444 "$bundle" "$tmp/app/meshrev.mjs"
# The shared libraries and the dynamic loader, each at the path the binary asks for.
libs=$(ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || die "ldd found no libraries for $node (a static binary needs none; check ldd's output)"
for lib in $libs; do
  install -D -m 0555 "$(readlink -f "$lib")" "$tmp$lib"
done
mkdir -p "$tmp/etc" "$tmp/proc" "$tmp/dev" "$tmp/var/run/secrets/kubernetes.io/serviceaccount" "$tmp/home/nonroot"
install -d -m 1777 "$tmp/tmp"
chown 65532:65532 "$tmp/home/nonroot"
# As distroless's /etc/passwd and /etc/group: root, nobody, nonroot.
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$tmp/etc/passwd"
printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' > "$tmp/etc/group"
chmod 0755 "$tmp"
mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
# Keep the cache small (each is ~100 MB): only the root filesystem of the current bundle.
find "$(dirname "$out")" -mindepth 1 -maxdepth 1 -name 'node-*' ! -path "$out" -exec rm -rf {} +
log "done: $(du -sh "$out" | cut -f1) in $(find "$out" -type f | wc -l) files"
echo "ROOTFS=$out"
