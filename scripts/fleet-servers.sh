#!/usr/bin/env bash
# Makes sure the real servers the remote-bundle tests (test/fleet/) start are
# installed: nginx (serves bundles with ETags) and docker-registry (Debian's
# package of the CNCF distribution registry, for OCI bundles). Idempotent: does
# nothing when both are on PATH; otherwise installs the Debian packages with
# apt-get (as root, or with sudo -n), and fails loudly when it cannot.
set -euo pipefail
need=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v docker-registry >/dev/null || need+=(docker-registry)
((${#need[@]})) || exit 0
if [[ $(id -u) -eq 0 ]]; then as_root=(); elif sudo -n true 2>/dev/null; then as_root=(sudo -n); else
  echo "fleet-servers: ERROR: ${need[*]} missing and no root to install them (apt-get install ${need[*]})" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "fleet-servers: ERROR: ${need[*]} missing and no apt-get to install them" >&2; exit 1; }
echo "fleet-servers: installing ${need[*]}" >&2
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
