#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh: packages, npm ci, build) and runs every test. Run as root.
#   bash scripts/test.sh                         # setup + everything below, in this order
#   SKIP_SETUP=1 bash scripts/test.sh STAGE...   # only the named stages, no setup
# Stages:
#   lint         scripts/lint.mjs: no export nobody imports, no `as unknown as` outside src/generated
#   unit         pure logic (test/unit)
#   integration  the real daemon, crun, runc, conmon, CNI and a local registry (test/integration)
#   hostile      hostile registries, clients, fields and local users (test/hostile)
#   setup-check  scripts/setup.sh --system-only in a fresh Debian 12 chroot moves nothing (test/system)
#   critest      the CRI conformance suite v1.34 against crius, offline (scripts/critest.sh)
#   vm           a Debian 13 VM (cgroup v2, systemd, AppArmor) runs the node smoke scenario (scripts/vm/smoke.sh)
# Each stage prints its own result; the run fails if any stage fails, and says which at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

all_stages=(lint unit integration hostile setup-check critest vm)
stages=("$@")
[ ${#stages[@]} -gt 0 ] && [ "${stages[0]}" != all ] || stages=("${all_stages[@]}")
for s in "${stages[@]}"; do
  [[ " ${all_stages[*]} " == *" $s "* ]] || { echo "usage: scripts/test.sh [all | ${all_stages[*]}]..." >&2; exit 2; }
done

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh
fi

banner() { printf '\n======== %s ========\n' "$*"; }
failed_stages=()
record() { # record STAGE STATUS
  if [ "$2" = 0 ]; then echo "stage $1: passed"; else echo "stage $1: FAILED (exit $2)"; failed_stages+=("$1"); fi
}

# Leaks are bugs: every test must clean up its mounts, namespaces and conmon processes.
leak_check() {
  local leaks conmons
  for _ in 1 2 3; do # a conmon may exit just after writing the exit file a test waited for
    leaks=$(grep -c -E 'crius' /proc/self/mountinfo || true)
    conmons=$(pgrep -x conmon | wc -l || true)
    [ "${leaks:-0}" = 0 ] && [ "${conmons:-0}" = 0 ] && return 0
    sleep 1
  done
  echo "LEAK: $leaks crius mounts and $conmons conmon processes remain after the tests:" >&2
  grep -E 'crius' /proc/self/mountinfo | head -20 >&2 || true
  return 1
}

# Lint first: it reads the sources (TypeScript's own parser), needs no build and takes a second or two.
if [[ " ${stages[*]} " == *" lint "* ]]; then
  banner "lint: unused exports, casts through unknown"
  status=0; node scripts/lint.mjs || status=$?; record lint "$status"
fi

# The node:test stages run as one runner invocation, one file at a time: integration and hostile tests
# share host resources (mounts, cgroups, ports, CNI bridges).
node_files=()
for s in "${stages[@]}"; do
  case "$s" in
    unit | integration | hostile)
      [ -d "dist/test/$s" ] || { echo "no dist/test/$s (did the build run?)" >&2; exit 1; }
      mapfile -t -O "${#node_files[@]}" node_files < <(find "dist/test/$s" -name '*.test.js' | sort) ;;
  esac
done
if [ ${#node_files[@]} -gt 0 ]; then
  banner "node tests: ${#node_files[@]} files"
  status=0
  node --test --test-concurrency=1 --test-timeout=600000 "${node_files[@]}" || status=$?
  leak_check || status=1
  record "node tests" "$status"
fi

for s in "${stages[@]}"; do
  case "$s" in
    setup-check)
      banner "setup check: a fresh Debian 12 chroot"
      . /etc/os-release
      if [ "${VERSION_CODENAME:-}" = bookworm ]; then
        status=0; bash test/system/setup-chroot.sh || status=$?; record setup-check "$status"
      else
        echo "setup check skipped: it builds a Debian 12 chroot on a Debian 12 host (this is ${PRETTY_NAME:-unknown})"
      fi ;;
    critest)
      banner "critest v1.34"
      # Three runs in a row against one daemon: a flaky spec shows up here, not on a node.
      status=0; CRITEST_RUNS=${CRITEST_RUNS:-3} bash scripts/critest.sh || status=$?; leak_check || status=1; record critest "$status" ;;
    vm)
      banner "Debian 13 VM lane: cgroup v2, systemd, AppArmor"
      status=0; bash scripts/vm/smoke.sh || status=$?; record vm "$status" ;;
  esac
done

if [ ${#failed_stages[@]} -gt 0 ]; then
  echo "FAILED stages: ${failed_stages[*]}"
  exit 1
fi
echo "all stages passed: ${stages[*]}"
