#!/usr/bin/env bash
# The main job on a fresh machine: set up, start crius on a private socket, build the example image
# offline and serve it from a registry on 127.0.0.1:5055, run examples/userns-pod.yaml (hostUsers: false)
# with `crius run --detach`, show what to look at (uid_map, ids and file ownership inside vs on disk, the
# hostPort), then clean up everything. Run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
work=$(mktemp -d /tmp/crius-demo.XXXXXX)
chmod 711 "$work"
sock=$work/crius.sock
data=/var/tmp/crius-example-data
crius() { node bin/crius.js --socket "$sock" "$@"; }
touch "$work/none.toml"
reg_pid='' daemon_pid=''
cleanup() {
  set +e
  if [ -n "$daemon_pid" ]; then
    crius rm --all >/dev/null 2>&1
    kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null
  fi
  [ -n "$reg_pid" ] && { kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; }
  rm -rf "$work" "$data"
}
trap cleanup EXIT

say "a registry on 127.0.0.1:5055 with the example image (busybox-static, built here, no internet)"
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:5055, secret: crius-demo}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fsS http://127.0.0.1:5055/v2/ >/dev/null 2>&1 && break; sleep 0.1; done
node scripts/push-example-image.mjs http://127.0.0.1:5055 crius/busybox latest

say "criusd on $sock (root and state under $work)"
node $(grep -v '^#' bin/criusd.node-flags) bin/criusd.js --socket "$sock" --root "$work/root" --state "$work/state" --config "$work/none.toml" \
  >"$work/criusd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.1; done
crius version

say "a hostPath directory with a file owned by 1000:1000 on disk ($data)"
mkdir -p "$data" && echo hi >"$data/owned-by-1000" && chown 1000:1000 "$data/owned-by-1000"
ls -ln "$data"

say "crius run --detach examples/userns-pod.yaml"
crius run --detach examples/userns-pod.yaml
for _ in $(seq 100); do crius logs userns-web 2>/dev/null | grep -q serving && break; sleep 0.2; done

say "crius pods (HOST IDS: the range crius allocated for this pod)"
crius pods
say "crius logs userns-web (what the pod sees: root inside, its uid_map, volume ownership inside)"
crius logs userns-web
say "the same process seen from the host: an unprivileged uid from the pod's range, not root"
for p in $(pgrep -x httpd); do
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- '-f -v -p 8080 -h /www' || continue
  printf 'pid %s (%s): ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline")"; grep -E '^(Uid|Gid):' "/proc/$p/status" | tr '\n\t' '  '; echo
done
say "the hostPath on disk: what the pod's root wrote is owned by 0:0, the 1000 file still 1000:1000 (idmapped mount)"
ls -ln "$data"
say "curl http://127.0.0.1:18080/ (hostPort -> the pod's port 8080)"
for _ in $(seq 50); do curl -fsS http://127.0.0.1:18080/ && break; sleep 0.2; done
say "crius inspect userns-web (the ID range and how each volume is mapped)"
crius inspect userns-web
say "crius rm userns-web (pod, containers, volumes)"
crius rm userns-web
