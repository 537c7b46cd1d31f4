#!/usr/bin/env bash
# Runs a script on the JavaScript runtime ztauthz is set to use, so the choice
# is made in one place: package.json "config": {"runtime": ...}. npm hands it to
# scripts as npm_package_config_runtime; ZTAUTHZ_RUNTIME overrides it
# (ZTAUTHZ_RUNTIME=bun npm start). Both runtimes are pinned devDependencies
# (node, bun) and run from node_modules/.bin, never from the machine's PATH.
#
#   scripts/runtime.sh src/cli.ts serve   exec the chosen runtime on the script
#   scripts/runtime.sh --build src/cli.ts serve   the same, compiling dist/ first if stale
#   scripts/runtime.sh --name             print node or bun
#   scripts/runtime.sh --bin              print the runtime binary's path
#   scripts/runtime.sh --version          print the runtime's version
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

name=${ZTAUTHZ_RUNTIME:-${npm_package_config_runtime:-}}
if [[ -z $name ]]; then
  # Outside npm: read the config block of package.json itself (one "runtime" key there).
  name=$(sed -n 's/^ *"runtime": *"\([a-z]*\)".*/\1/p' "$root/package.json" | head -n1)
fi

case $name in
  node) bin=$root/node_modules/node/bin/node ;;
  bun) bin=$root/node_modules/bun/bin/bun.exe ;;
  *) echo "runtime.sh: unknown runtime '${name}' (ZTAUTHZ_RUNTIME or package.json config.runtime: node or bun)" >&2; exit 2 ;;
esac
[[ -x $bin ]] || { echo "runtime.sh: $name is not installed at $bin (npm ci installs it)" >&2; exit 2; }

# Runtime flags, chosen by measurement (docs/performance.md, "Memory"); the
# Dockerfile's ENTRYPOINTs carry the same. ZTAUTHZ_RUNTIME_FLAGS, when set
# (even empty), replaces them. Node: a 2 MiB semi-space instead of V8's
# default of up to 16 MiB: at 1,500 RPS of distinct requests peak RSS fell
# from about 320 to 200-225 MiB and idle by ~11 MiB; its CPU cost was within
# the 2-core machine's noise (0-40 % per Check in single runs). 1 MiB saved
# no more; --optimize-for-size reached 135 MiB at ~50 % more CPU. Bun: none
# (--smol changed nothing measurable).
case $name in
  node) flags=(--max-semi-space-size=2) ;;
  bun) flags=() ;;
esac
if [[ -n ${ZTAUTHZ_RUNTIME_FLAGS+set} ]]; then read -r -a flags <<< "$ZTAUTHZ_RUNTIME_FLAGS"; fi

case ${1:-} in
  --name) echo "$name"; exit ;;
  --bin) echo "$bin"; exit ;;
  --version) exec "$bin" --version ;;
  --flags) echo "${flags[*]}"; exit ;;
esac

# A script under src/ runs from its build (scripts/build.sh) when the build
# is current: on Node the compiled dist/ (Node's TypeScript stripper and the
# source texts cost about 28 MiB of resident memory for the life of the
# process), on Bun the CLI's one-file bundle dist/bun/cli.js (about 3 MiB less
# idle than the modules; other scripts run from the sources, which Bun
# transpiles natively). --build compiles first when stale; if it is stale and
# not rebuilt, or ZTAUTHZ_FROM_SOURCE is set, the sources run (same
# behaviour, more memory).
build=
if [[ ${1:-} == --build ]]; then build=1; shift; fi
script=${1:-}
rel=${script#"$root"/}
compiled=
case $name in
  node) compiled=dist/${rel#src/}; compiled=${compiled%.ts}.js ;;
  bun) if [[ $rel == src/cli.ts ]]; then compiled=dist/bun/cli.js; fi ;;
esac
if [[ -z ${ZTAUTHZ_FROM_SOURCE:-} && $rel == src/*.ts && -n $compiled ]]; then
  if [[ -n $build ]] && ! bash "$root/scripts/build.sh" --check; then
    echo "runtime.sh: compiling src/ to dist/ (scripts/build.sh)" >&2
    bash "$root/scripts/build.sh" >&2 || echo "runtime.sh: the build failed; running the TypeScript sources" >&2
  fi
  if bash "$root/scripts/build.sh" --check && [[ -f $root/$compiled ]]; then
    shift
    set -- "$root/$compiled" "$@"
  fi
fi
exec "$bin" ${flags[@]+"${flags[@]}"} "$@"
