#!/usr/bin/env bash
# Runs a script on the JavaScript runtime ztauthz is set to use, so the choice
# is made in one place: package.json "config": {"runtime": ...}. npm hands it to
# scripts as npm_package_config_runtime; ZTAUTHZ_RUNTIME overrides it
# (ZTAUTHZ_RUNTIME=bun npm start). Both runtimes are pinned devDependencies
# (node, bun) and run from node_modules/.bin, never from the machine's PATH.
#
#   scripts/runtime.sh src/cli.ts serve   exec the chosen runtime on the script
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

case ${1:-} in
  --name) echo "$name" ;;
  --bin) echo "$bin" ;;
  --version) "$bin" --version ;;
  *) exec "$bin" "$@" ;;
esac
