#!/usr/bin/env bash
# Compiles src/ to plain JavaScript in dist/ (tsc -p tsconfig.build.json:
# types erased, comments dropped, .ts imports rewritten to .js).
#
# Why: Node 24 runs the TypeScript sources directly, but its type stripper (a
# WebAssembly build of swc) and the TypeScript source texts stay in memory for
# the life of the process: about 28 MiB of a ~115 MiB idle server. From dist/
# Node carries neither. Bun gets one minified file per entry in dist/bun/
# (below). scripts/runtime.sh runs the build when it is current and the
# sources otherwise.
#
#   scripts/build.sh            build dist/ (from scratch)
#   scripts/build.sh --if-stale build only when dist/ is missing or older than src/
#   scripts/build.sh --check    exit 0 when dist/ is current, 1 when not (no output)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Current: built after the last change to the sources, the compiler settings
# and the installed dependencies (the Bun bundle carries its libraries inside;
# npm writes node_modules/.package-lock.json on every install).
current() {
  local inputs=(src tsconfig.json tsconfig.build.json)
  [[ -f node_modules/.package-lock.json ]] && inputs+=(node_modules/.package-lock.json)
  [[ -f dist/.built ]] && [[ -z $(find "${inputs[@]}" -newer dist/.built -print -quit) ]]
}

case ${1:-} in
  --check) current; exit ;;
  --if-stale) if current; then exit 0; fi ;;
  '') ;;
  *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
esac

rm -rf dist
"$root/node_modules/.bin/tsc" -p tsconfig.build.json
# Bun: one minified file per entry (the CLI and the http.send worker, which
# HttpSendRuntime finds beside its module), in dist/bun/, two directories below
# the root like every module that finds proto/ or the demo bundle by a relative
# path. One file idles at 68 MiB against 71 for the ~300 modules (the module
# records, their code and the transpiler's work: docs/performance.md "Memory").
bun=$root/node_modules/bun/bin/bun.exe
if [[ -x $bun ]]; then
  "$bun" build src/cli.ts --target=bun --minify --outfile dist/bun/cli.js >/dev/null
  "$bun" build src/policy/httpsend/evalWorker.ts --target=bun --minify --outfile dist/bun/evalWorker.js >/dev/null
fi
touch dist/.built
