#!/usr/bin/env bash
# Run by test/deploy/container.test.ts inside `unshare --mount --net`: sets up
# the container's view of the filesystem, starts ztauthz as the container
# would (the arguments are the container's args), probes it, stops it with
# SIGTERM and prints "@@name value" result lines.
#
# Environment: EXTRA (mount points to lay over /etc), MOUNTS ("path=dir ..."),
# ROOT (the repository: the image's /app), APP (an empty directory every user
# can reach, and an empty APP.top beside it, where ROOT is mounted for the
# container's user: a checkout in a 0700 directory such as mktemp -d makes is
# out of that user's reach), NODE (Node 24, for the HTTP probes), SERVER (the
# runtime binary ztauthz runs on: node or bun, as the image's), GRPCURL, RUN_UID.
set -euo pipefail
ip link set lo up
# Mount points for the volumes, over a read-only /etc.
mount -t overlay overlay -o "lowerdir=$EXTRA:/etc" /etc
for spec in $MOUNTS; do
  path=${spec%%=*}; dir=${spec#*=}
  mount --bind "$dir" "$path"
  mount -o remount,bind,ro "$path"
done
# An overlay rather than a bind mount: its root directory takes the mode of
# the empty top layer (0755), where a bind mount would keep the checkout's own
# (0700 under mktemp -d).
mount -t overlay overlay -o "lowerdir=$APP.top:$ROOT" "$APP"
server=${SERVER:-$NODE}
if [[ $server == "$ROOT"/* ]]; then server="$APP${server#"$ROOT"}"; fi
# readOnlyRootFilesystem: everything read-only but /proc, /sys and /dev.
findmnt -rno TARGET | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
if touch /tmp/.ztauthz-rw-probe 2>/dev/null || touch "$ROOT/.ztauthz-rw-probe" 2>/dev/null; then
  echo "@@ the root filesystem is writable" >&2
  exit 97
fi
cd "$APP"
env -i PATH=/usr/bin:/bin NODE_ENV=production \
  setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups --no-new-privs -- "$server" src/cli.ts "$@" &
pid=$!
probe() {
  "$NODE" -e 'fetch(process.argv[1]).then(async (r) => { console.log(r.status + " " + (await r.text()).length); process.exit(r.status === 200 ? 0 : 1); }, () => process.exit(1))' "$1"
}
ready=0
for _ in $(seq 1 600); do
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  if probe http://127.0.0.1:8181/readyz >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
if [[ $ready == 1 ]]; then
  echo "@@exe $(readlink "/proc/$pid/exe" || true)"
  echo "@@healthz $(probe http://127.0.0.1:8181/healthz || true)"
  echo "@@readyz $(probe http://127.0.0.1:8181/readyz || true)"
  "$NODE" -e 'fetch("http://127.0.0.1:8181/metrics").then(async (r) => console.log("@@metrics " + r.status + " " + /^ztauthz_/m.test(await r.text())))'
  echo "@@health $("$GRPCURL" -max-time 10 -plaintext -import-path proto -proto grpc/health/v1/health.proto 127.0.0.1:9191 grpc.health.v1.Health/Check | tr -d ' \n')"
  echo "@@check $("$GRPCURL" -max-time 10 -plaintext -import-path proto -proto envoy/service/auth/v3/external_auth.proto -d @ 127.0.0.1:9191 envoy.service.auth.v3.Authorization/Check < test/fixtures/requests/frontend-infer.json | tr -d ' \n')"
  echo "@@denied $("$GRPCURL" -max-time 10 -plaintext -import-path proto -proto envoy/service/auth/v3/external_auth.proto -d @ 127.0.0.1:9191 envoy.service.auth.v3.Authorization/Check < test/fixtures/requests/trainer-infer.json | tr -d ' \n')"
  kill -TERM "$pid"
  # Bounded: the server drains for at most 10 s.
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
# Not ready within 60 s, or not gone 30 s after SIGTERM: killed (exit 137).
kill -KILL "$pid" 2>/dev/null || true
set +e
wait "$pid"
echo "@@exit $?"
