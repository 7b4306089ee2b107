#!/usr/bin/env bash
# Runs the CRI conformance suite (critest v1.34 from ../shared/cri-tools) against a private crius daemon,
# fully offline, and exits non-zero when any spec fails. Run as root, from a built tree (npm run build).
#
#   bash scripts/critest.sh                      # one run
#   CRITEST_RUNS=3 bash scripts/critest.sh       # three runs in a row against the same daemon
#   bash scripts/critest.sh -ginkgo.focus='exec' # extra arguments go to critest
#
# What it does: starts a docker-registry on 127.0.0.1:5000 with busybox-based stand-ins of the ~20 public
# images critest pulls (critest-env.sh builds and pushes them), starts criusd on its own socket, root and
# state dirs with that registry as the mirror of docker.io, registry.k8s.io and gcr.io and with its own CNI
# bridge, runs critest through critest-env.sh (reports in $OUT/run-N), prints each run's summary, then
# stops and removes everything it started: pods, conmons, mounts, the daemon, the registry, the bridge.
#
# Environment:
#   CRITEST_RUNS      how many runs (default 1); the exit code is non-zero if any run failed a spec
#   OUT               report directory (default /tmp/crius-critest-out; kept afterwards)
#   CRI_TOOLS_DIR     the cri-tools directory (install.sh, critest-env.sh); default: ../shared/cri-tools
#                     next to the repository, else /work/shared/cri-tools
#   CRITEST_ROOT      crius's root dir (default /var/lib/crius-critest). Its parent must let the pod's
#                     host IDs through (0755 or 0711): a 0700 parent (mktemp -d) breaks user-namespaced pods.
#   CRITEST_KEEP=1    leave the daemon's dirs and logs in place after a failed run (for debugging)
#
# Integration tests share host resources: hold /tmp/crius-integration.lock while this runs, e.g.
#   flock /tmp/crius-integration.lock bash scripts/critest.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

say() { printf '\n==> %s\n' "$*"; }
die() { echo "critest.sh: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root"
[ -f dist/src/daemon/main.js ] || die "no dist/: run npm run build first"

tools=${CRI_TOOLS_DIR:-}
if [ -z "$tools" ]; then
  for d in "$here/../shared/cri-tools" "$(git -C "$here" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)/../../shared/cri-tools" /work/shared/cri-tools; do
    [ -f "$d/critest-env.sh" ] && { tools=$(cd "$d" && pwd); break; }
  done
fi
[ -n "$tools" ] && [ -f "$tools/critest-env.sh" ] || die "cri-tools not found (set CRI_TOOLS_DIR to the dir holding critest-env.sh)"

runs=${CRITEST_RUNS:-1}
out=${OUT:-/tmp/crius-critest-out}
root=${CRITEST_ROOT:-/var/lib/crius-critest}
state=/run/crius-critest
sock=$state/crius.sock
work=$(mktemp -d /tmp/crius-critest.XXXXXX)   # config, CNI conf, logs, binaries: nothing a pod traverses
bridge=crit0
export REGISTRY_DIR=$work/registry
export IMAGES_DIR=${IMAGES_DIR:-/tmp/crius-critest-images}   # kept: the busybox download and builds are reused

# critest and crictl: from PATH, else unpacked from cri-tools into $work/bin.
if ! command -v critest >/dev/null || ! command -v crictl >/dev/null; then
  bash "$tools/install.sh" "$work/bin" >/dev/null
  export PATH=$work/bin:$PATH
fi
export CRITEST=${CRITEST:-$(command -v critest)}
export CRICTL=${CRICTL:-$(command -v crictl)}

daemon_pid=''
cleanup() {
  local rc=$?
  set +e
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    # Pods first, through CRI: that stops containers, conmons, netns and unmounts rootfs.
    local ids
    ids=$("$CRICTL" -r "unix://$sock" pods -q 2>/dev/null)
    for id in $ids; do "$CRICTL" -r "unix://$sock" stopp "$id" >/dev/null 2>&1; "$CRICTL" -r "unix://$sock" rmp -f "$id" >/dev/null 2>&1; done
    kill -TERM "$daemon_pid"
    for _ in $(seq 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$daemon_pid" 2>/dev/null && { echo "critest.sh: criusd did not stop in 15 s: killing it" >&2; kill -KILL "$daemon_pid"; }
    wait "$daemon_pid" 2>/dev/null
  fi
  # Whatever survived (a crashed daemon, a failed spec's leftovers): conmons and runtime processes of
  # this daemon's containers, then mounts under its dirs, deepest first.
  local p
  for p in $(pgrep -x conmon); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qE "($root|$state)/" && kill -KILL "$p" 2>/dev/null
  done
  local m
  for m in $(awk -v r="$root/" -v s="$state/" 'index($5, r) == 1 || index($5, s) == 1 || $5 == substr(r, 1, length(r) - 1) || $5 == substr(s, 1, length(s) - 1) { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  bash "$tools/critest-env.sh" registry-stop >/dev/null 2>&1
  ip link del "$bridge" >/dev/null 2>&1
  if [ "${CRITEST_KEEP:-0}" = 1 ] && [ "$rc" != 0 ]; then
    echo "critest.sh: kept $root, $state and $work (CRITEST_KEEP=1)" >&2
  else
    rm -rf "$root" "$state" "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A stale daemon of an earlier, killed run would hold the socket: refuse rather than fight over it.
[ -S "$sock" ] && "$CRICTL" -r "unix://$sock" version >/dev/null 2>&1 && die "a daemon already serves $sock"
if awk -v r="$root" '$5 == r || index($5, r "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
  die "mounts under $root remain from an earlier run: unmount them first"
fi
rm -rf "$root" "$state"
mkdir -p "$(dirname "$root")"
chmod 755 "$work"

say "stand-in images on 127.0.0.1:5000 (cri-tools/critest-env.sh images)"
if curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:5000/v2/ 2>/dev/null; then
  die "something already answers on 127.0.0.1:5000: stop it (critest-env.sh registry-stop) or wait for its owner"
fi
bash "$tools/critest-env.sh" images 2>&1 | tail -n 3

mkdir -p "$work/cni"
cat >"$work/cni/10-critest.conflist" <<EOF
{
  "cniVersion": "1.0.0", "name": "crius-critest", "disableCheck": true,
  "plugins": [
    { "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.234.0.0/16" }]], "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": "$work/ipam" } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
cat >"$work/config.toml" <<EOF
[cni]
conf_dir = "$work/cni"
plugin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
[registries."docker.io"]
mirrors = ["http://127.0.0.1:5000"]
[registries."registry.k8s.io"]
mirrors = ["http://127.0.0.1:5000"]
[registries."gcr.io"]
mirrors = ["http://127.0.0.1:5000"]
EOF

say "criusd on $sock (root $root, state $state; log $work/criusd.log)"
setsid node $(grep -v '^#' bin/criusd.node-flags) bin/criusd.js --config "$work/config.toml" --socket "$sock" --root "$root" --state "$state" \
  --log-level info >"$work/criusd.log" 2>&1 </dev/null &
daemon_pid=$!
for _ in $(seq 300); do
  grep -q '"serving CRI"' "$work/criusd.log" 2>/dev/null && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/criusd.log" >&2; die "criusd exited during start-up"; }
  sleep 0.1
done
grep -q '"serving CRI"' "$work/criusd.log" || { tail -n 20 "$work/criusd.log" >&2; die "criusd did not serve in 30 s"; }

status=0
rm -rf "$out"
mkdir -p "$out"
for n in $(seq "$runs"); do
  say "critest run $n of $runs (reports in $out/run-$n)"
  rc=0
  OUT=$out/run-$n bash "$tools/critest-env.sh" run "unix://$sock" "$@" || rc=$?
  # critest's own exit code covers failed specs; the report is read too, in case a spec failed while
  # ginkgo still exited 0 (it never should) or the run died before writing a report.
  if [ ! -s "$out/run-$n/report.json" ]; then
    echo "critest.sh: run $n wrote no report (critest exit $rc); see $out/run-$n/critest.log" >&2
    status=1
  elif [ "$rc" != 0 ] || grep -E '^  selected:' "$out/run-$n/summary.txt" | grep -qE '(failed|panicked|timedout|interrupted|aborted) [1-9]'; then
    status=1
  fi
done
cp "$work/criusd.log" "$out/criusd.log" 2>/dev/null || true
say "critest: $( [ $status = 0 ] && echo "all $runs run(s) passed" || echo "FAILED (see $out)" )"
exit $status
