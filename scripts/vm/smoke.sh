#!/bin/bash
# The VM lane for CI: builds (or reuses) the Debian 13 node image, boots it and runs the smoke scenario
# (test/vm/smoke.ts) inside: crius as a systemd service with the systemd cgroup driver, pure cgroup v2,
# AppArmor. Fails, loudly, when the image cannot be built, the VM cannot boot, or any check fails.
# Needs the checkout built (npm run build) on the host; the VM gets a copy of it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ ! -f "$repo/dist/test/vm/smoke.js" ]; then
  echo "[vm-smoke] FAILED: $repo/dist/test/vm/smoke.js is missing: run npm run build first" >&2
  exit 1
fi
# critest (cri-tools, static) runs its AppArmor specs inside when the host has it (.ci installs it).
if [ -z "${CRIUS_VM_EXTRA+x}" ] && command -v critest >/dev/null; then
  export CRIUS_VM_EXTRA
  CRIUS_VM_EXTRA=$(command -v critest)
fi
start=$SECONDS
bash "$here/run.sh" --timeout "${CRIUS_VM_SMOKE_TIMEOUT:-1500}" -- node dist/test/vm/smoke.js
rc=$?
if [ "$rc" = 0 ]; then
  echo "[vm-smoke] passed in $((SECONDS - start)) s"
else
  echo "[vm-smoke] FAILED (exit $rc) after $((SECONDS - start)) s" >&2
fi
exit "$rc"
