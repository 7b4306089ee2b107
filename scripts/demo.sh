#!/usr/bin/env bash
# The main job on a fresh machine: set up, start the daemon on a private socket, and show crius talking
# to it (runtime status and which handlers can run user-namespaced pods). Run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh

work=$(mktemp -d /tmp/crius-demo.XXXXXX)
sock=$work/crius.sock
touch "$work/none.toml"
node bin/criusd.js --socket "$sock" --root "$work/root" --state "$work/state" --config "$work/none.toml" \
  >"$work/criusd.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done

printf '\n==> crius version\n'
node bin/crius.js --socket "$sock" version
printf '\n==> crius info\n'
node bin/crius.js --socket "$sock" info
