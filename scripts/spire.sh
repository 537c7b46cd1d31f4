#!/usr/bin/env bash
# Installs the pinned SPIRE server and agent (v1.15.3) into .tools/bin (git-ignored)
# for the real-SPIRE end-to-end test, test/spire-e2e.test.ts. `npm test` runs it.
#
# Idempotent: when both binaries are in place and the stamp names this version the
# script exits at once. Otherwise it builds them from the published source tarball,
# shared/sources/spire-v1.15.3.tar.gz, because the Go module proxy refuses the
# spire module (403), so `go install …@v1.15.3` cannot work. The tarball is looked
# for in $SPIRE_TARBALL, ../shared beside the checkout, and ../shared beside the
# main checkout of a git worktree.
#
# One change to the source, and only one: the ejbca upstream-authority plugin is
# left out of the server's built-in catalogue (pkg/server/catalog/upstreamauthority.go),
# because the proxy also refuses its dependency github.com/Keyfactor/ejbca-go-client-sdk.
# Nothing ztauthz tests uses it. CGO_ENABLED=1: the server's SQLite datastore is a
# cgo driver. The first build takes about 5 minutes on 2 cores; -trimpath keeps
# the paths of the temporary build folder out of Go's build cache keys, so a
# rebuild after the stamp is removed reuses that cache.
#
# The build happens in a temporary directory and each binary is moved into place
# in one rename, so two runs at once never leave half a binary. Exits 1, loudly,
# when the binaries cannot be had. Prints the bin directory on the last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
stamp="$tools/.stamp-spire"
VERSION=v1.15.3
TARBALL_NAME="spire-$VERSION.tar.gz"

fail() {
  echo "spire: ERROR: $1" >&2
  echo "spire: test/spire-e2e.test.ts needs spire-server and spire-agent $VERSION in $bin" >&2
  exit 1
}

if [[ -x "$bin/spire-server" && -x "$bin/spire-agent" && -f "$stamp" && "$(cat "$stamp")" == "$VERSION" ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$bin"

command -v go >/dev/null || fail "go (>= 1.26) is not installed, so SPIRE $VERSION cannot be built"
command -v gcc >/dev/null || command -v cc >/dev/null || fail "a C compiler is needed (cgo, for the SQLite datastore)"

tarball=""
candidates=("${SPIRE_TARBALL:-}" "$root/../shared/sources/$TARBALL_NAME")
common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
[[ -n "$common" ]] && candidates+=("$(dirname "$common")/../shared/sources/$TARBALL_NAME")
for c in "${candidates[@]}"; do
  if [[ -n "$c" && -f "$c" ]]; then tarball=$c; break; fi
done
[[ -n "$tarball" ]] || fail "no $TARBALL_NAME found (looked in: ${candidates[*]})"

work=$(mktemp -d "${TMPDIR:-/tmp}/ztauthz-spire.XXXXXX")
trap 'rm -rf "$work"' EXIT

tar -xzf "$tarball" -C "$work" || fail "could not unpack $tarball"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'spire*' | head -n1)
catalog="$src/pkg/server/catalog/upstreamauthority.go"
[[ -n "$src" && -d "$src/cmd/spire-server" && -d "$src/cmd/spire-agent" && -f "$catalog" ]] ||
  fail "$tarball does not hold cmd/spire-server, cmd/spire-agent and $catalog"

# Drop the import and the registration of the ejbca plugin, then make sure
# nothing of it is left, so a changed upstream file fails here and not in go build.
sed -i -e '/upstreamauthority\/ejbca"/d' -e '/ejbca\.BuiltIn()/d' "$catalog"
if grep -q ejbca "$catalog"; then fail "could not remove the ejbca plugin from $catalog"; fi

echo "spire: building spire-server and spire-agent $VERSION from $tarball (about 5 minutes the first time)" >&2
start=$(date +%s)
if ! out=$(cd "$src" && CGO_ENABLED=1 GOFLAGS=-buildvcs=false go build -trimpath -o "$work/out/" ./cmd/spire-server ./cmd/spire-agent 2>&1); then
  echo "$out" >&2
  fail "go build of SPIRE $VERSION failed (above)"
fi
for name in spire-server spire-agent; do
  chmod 0755 "$work/out/$name"
  # A git archive carries no tag, so the binaries say 1.15.3-dev-unk: the base version must match.
  got=$("$work/out/$name" --version 2>&1 || true)
  [[ "$got" == "${VERSION#v}"* ]] || fail "the built $name reports version '$got', not ${VERSION#v}"
  mv -f "$work/out/$name" "$bin/.$name.$$" && mv -f "$bin/.$name.$$" "$bin/$name" || fail "could not move $name into $bin"
done
echo "$VERSION" >"$stamp"
echo "spire: installed spire-server and spire-agent $VERSION in $bin ($(($(date +%s) - start)) s)" >&2
echo "$bin"
