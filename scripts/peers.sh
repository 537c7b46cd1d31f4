#!/usr/bin/env bash
# Installs the peer, opa-envoy-plugin, pinned at v1.19.1-envoy, into .tools/bin
# (git-ignored): the benchmark's comparison rows and the differential tests
# (test/drop-in/) run it.
#
#   bash scripts/peers.sh             the bench's forgiving mode: never fails; if the
#                                     peer cannot be had it says the rows will be missing
#   bash scripts/peers.sh --required  the tests' mode: exits 1, loudly, without the peer
#
# Idempotent: a binary already in place whose stamp names this version is kept
# (as is an unstamped one, whatever built it). First `go install`; the Go module
# proxy here refuses the module (403), so then a build from the published source
# tarball, shared/sources/opa-envoy-plugin-v1.19.1-envoy.tar.gz, looked for in
# $OPA_ENVOY_PLUGIN_TARBALL, ../shared beside the checkout, and ../shared beside
# the main checkout of a git worktree. The build happens in a temporary
# directory and the binary is moved into place in one rename, so two runs at
# once never leave half a binary.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
stamp="$root/.tools/.stamp-opa-envoy-plugin"
VERSION=v1.19.1-envoy
MODULE=github.com/open-policy-agent/opa-envoy-plugin/cmd/opa-envoy-plugin
TARBALL_NAME="opa-envoy-plugin-$VERSION.tar.gz"

required=false
[[ "${1:-}" == "--required" ]] && required=true

give_up() {
  if $required; then
    echo "peers: ERROR: $1" >&2
    echo "peers: the differential tests (test/drop-in/) need opa-envoy-plugin $VERSION in $bin" >&2
    exit 1
  fi
  echo "peers: $1; the benchmark's opa-envoy-plugin rows will be missing" >&2
  exit 0
}

if [[ -x "$bin/opa-envoy-plugin" ]]; then
  if [[ ! -f "$stamp" || "$(cat "$stamp")" == "$VERSION" ]]; then exit 0; fi
  echo "peers: $bin/opa-envoy-plugin is $(cat "$stamp"), not $VERSION: rebuilding" >&2
fi
mkdir -p "$bin"
command -v go >/dev/null || give_up "go is not installed, so opa-envoy-plugin $VERSION cannot be built"

work=$(mktemp -d "${TMPDIR:-/tmp}/ztauthz-peers.XXXXXX")
trap 'rm -rf "$work"' EXIT

install_into() { # $1: the built binary
  chmod 0755 "$1" && mv -f "$1" "$bin/.opa-envoy-plugin.$$" && mv -f "$bin/.opa-envoy-plugin.$$" "$bin/opa-envoy-plugin" &&
    echo "$VERSION" >"$stamp" && echo "peers: installed $bin/opa-envoy-plugin ($VERSION)" >&2
}

echo "peers: installing opa-envoy-plugin $VERSION (a minute or more the first time)" >&2
if out=$(cd "$work" && GOBIN="$work/gobin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$MODULE@$VERSION" 2>&1); then
  install_into "$work/gobin/opa-envoy-plugin" && exit 0
  give_up "could not move the installed binary into $bin"
fi
echo "peers: go install $MODULE@$VERSION failed ($(echo "$out" | tail -n1)); building from the source tarball" >&2

tarball=""
candidates=("${OPA_ENVOY_PLUGIN_TARBALL:-}" "$root/../shared/sources/$TARBALL_NAME")
common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
[[ -n "$common" ]] && candidates+=("$(dirname "$common")/../shared/sources/$TARBALL_NAME")
for c in "${candidates[@]}"; do
  if [[ -n "$c" && -f "$c" ]]; then tarball=$c; break; fi
done
[[ -n "$tarball" ]] || give_up "go install was refused and no $TARBALL_NAME was found (looked in: ${candidates[*]})"

if ! tar -xzf "$tarball" -C "$work"; then give_up "could not unpack $tarball"; fi
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'opa-envoy-plugin*' | head -n1)
[[ -n "$src" && -d "$src/cmd/opa-envoy-plugin" ]] || give_up "$tarball does not hold cmd/opa-envoy-plugin"
if ! out=$(cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -o "$work/opa-envoy-plugin" ./cmd/opa-envoy-plugin 2>&1); then
  echo "$out" >&2
  give_up "go build of opa-envoy-plugin $VERSION from $tarball failed (above)"
fi
install_into "$work/opa-envoy-plugin" || give_up "could not move the built binary into $bin"
