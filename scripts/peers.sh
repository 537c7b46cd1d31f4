#!/usr/bin/env bash
# Installs the benchmark's peer, opa-envoy-plugin, into .tools/bin (git-ignored),
# for bench/run.ts's comparison rows. Idempotent: a binary already in place is
# kept, whatever built it (go install, or a build from source where the Go
# module proxy refuses the module). Never fails the bench: if the install
# fails it prints go's error, says the opa-envoy-plugin rows will be missing,
# and exits 0.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
VERSION=v1.19.1-envoy
MODULE=github.com/open-policy-agent/opa-envoy-plugin/cmd/opa-envoy-plugin

if [[ -x "$bin/opa-envoy-plugin" ]]; then exit 0; fi
mkdir -p "$bin"
if ! command -v go >/dev/null; then
  echo "peers: go is not installed, so opa-envoy-plugin $VERSION cannot be built; the benchmark's opa-envoy-plugin rows will be missing" >&2
  exit 0
fi
echo "peers: installing opa-envoy-plugin $VERSION (a few minutes the first time)" >&2
if ! out=$(cd "$root" && GOBIN="$bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$MODULE@$VERSION" 2>&1); then
  echo "$out" >&2
  echo "peers: go install $MODULE@$VERSION failed (above); the benchmark's opa-envoy-plugin rows will be missing" >&2
  exit 0
fi
echo "peers: installed $bin/opa-envoy-plugin" >&2
