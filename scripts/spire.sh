#!/usr/bin/env bash
# Installs the pinned SPIRE server and agent into .tools/bin (git-ignored) for the
# real-SPIRE test (test/tls/spire.test.ts). Idempotent like scripts/toolchain.sh:
# binaries whose pinned version is already in place are skipped, so a second run
# takes well under a second. Kept apart from toolchain.sh because SPIRE is a large
# build that only that one test needs. Prints the bin directory on the last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin"

SPIRE_VERSION=v1.15.3

spire_tool() {
  local name=$1
  local stamp="$tools/.stamp-$name"
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$SPIRE_VERSION" ]]; then return; fi
  command -v go >/dev/null || { echo "spire: go (>= 1.26) is required to install $name" >&2; exit 1; }
  echo "spire: installing $name $SPIRE_VERSION" >&2
  # cgo left at Go's default: spire-server's SQLite datastore is a cgo driver.
  GOBIN="$bin" GOFLAGS=-buildvcs=false go install "github.com/spiffe/spire/cmd/$name@$SPIRE_VERSION"
  echo "$SPIRE_VERSION" >"$stamp"
}

spire_tool spire-server
spire_tool spire-agent

echo "$bin"
