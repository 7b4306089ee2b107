#!/bin/bash
# Installs crius's systemd unit (contrib/systemd/crius.service.in) for this checkout as
# /etc/systemd/system/crius.service. Not enabled unless asked:
#   bash scripts/install-service.sh            # install, daemon-reload
#   bash scripts/install-service.sh --enable   # and enable --now
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -d /run/systemd/system ] || { echo "install-service: systemd is not PID 1 here; run criusd directly (node bin/criusd.js)" >&2; exit 1; }
node=$(command -v node) || { echo "install-service: node is not on PATH" >&2; exit 1; }
[ -f "$repo/dist/src/daemon/main.js" ] || { echo "install-service: build first (npm run build)" >&2; exit 1; }
flags=$(grep -v '^#' "$repo/bin/criusd.node-flags" | tr '\n' ' ' | sed 's/ *$//')
sed -e "s#@NODE@#$node#g" -e "s#@NODE_FLAGS@#$flags#g" -e "s#@CRIUS_DIR@#$repo#g" "$repo/contrib/systemd/crius.service.in" >/etc/systemd/system/crius.service
mkdir -p /etc/crius
systemctl daemon-reload
echo "installed /etc/systemd/system/crius.service (ExecStart $node $flags $repo/bin/criusd.js)"
if [ "${1:-}" = --enable ]; then
  systemctl enable --now crius.service
  echo "enabled and started crius.service"
fi
