#!/usr/bin/env bash
# Installs the system tools the tests need, from Debian's packages, when they
# are missing: openssl (throwaway certificates for loopback webhooks) and
# prometheus (a real Prometheus server for the metric gates' e2e tests; the
# tests run the binary themselves on 127.0.0.1).
set -euo pipefail
log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v flock >/dev/null || need+=(util-linux)
# test/e2e/pod-like.test.ts: the pod-like sandbox's loopback (unshare, setpriv: util-linux).
command -v ip >/dev/null || need+=(iproute2)
command -v prometheus >/dev/null || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  log "missing: ${need[*]} — install them with: sudo apt-get install --no-install-recommends ${need[*]}"
  exit 1
fi
log "apt-get install ${need[*]}"
# Debian's prometheus postinst starts its service (invoke-rc.d, or systemd) listening
# on 0.0.0.0:9090. A policy-rc.d answering 101 (the Debian mechanism, honoured by
# invoke-rc.d and deb-systemd-invoke) keeps any packaged daemon from starting, and
# --no-install-recommends keeps out prometheus-node-exporter (another daemon, on 0.0.0.0:9100).
policy=/usr/sbin/policy-rc.d own_policy=
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1; fi
trap '[ -z "$own_policy" ] || rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
