#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh: packages, npm ci, build) and runs every test: unit, then
# integration (real daemon, crun, runc, conmon, CNI, a local registry). Run as root.
#   bash scripts/test.sh            # setup + all tests
#   SKIP_SETUP=1 bash scripts/test.sh unit   # only unit tests, no setup
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh
fi

which=${1:-all}
files=()
case "$which" in
  unit) mapfile -t files < <(find dist/test/unit -name '*.test.js' | sort) ;;
  integration) mapfile -t files < <(find dist/test/integration -name '*.test.js' | sort) ;;
  all) mapfile -t files < <(find dist/test/unit -name '*.test.js' | sort; find dist/test/integration -name '*.test.js' | sort) ;;
  *) echo "usage: scripts/test.sh [unit|integration|all]" >&2; exit 2 ;;
esac
[ ${#files[@]} -gt 0 ] || { echo "no test files found under dist/test (did the build run?)" >&2; exit 1; }

printf '\n==> running %d test files\n' "${#files[@]}"
# One file at a time: integration tests share host resources (mounts, cgroups, ports, CNI bridge).
status=0
node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}" || status=$?

# Leaks are bugs: every test must clean up its mounts, namespaces and conmon processes.
leaks=$(grep -c -E 'crius' /proc/self/mountinfo || true)
conmons=$(pgrep -x conmon | wc -l || true)
if [ "${leaks:-0}" -gt 0 ] || [ "${conmons:-0}" -gt 0 ]; then
  echo "LEAK: $leaks crius mounts and $conmons conmon processes remain after the tests:" >&2
  grep -E 'crius' /proc/self/mountinfo | head -20 >&2 || true
  status=1
fi
exit $status
