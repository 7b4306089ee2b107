#!/usr/bin/env bash
# Sets up a fresh Debian 12/13 machine for crius: system packages, npm dependencies, build.
# Idempotent: run it as often as you like. Prints each step and stops at the first failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
step() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and, later, runs containers)"
. /etc/os-release
codename=${VERSION_CODENAME:-unknown}

# crun >= 1.9, conmon >= 2.1.12 and the CNI plugins are in Debian 13 (trixie); runc >= 1.2 is only in
# unstable (sid). On older releases those suites are added with a low pin priority, so nothing else on
# the machine moves: only packages named with -t <suite> come from them.
add_pinned_suite() {
  local suite=$1 prio=$2
  local list=/etc/apt/sources.list.d/crius-$suite.list pref=/etc/apt/preferences.d/crius-$suite
  if [ ! -f "$list" ]; then
    step "adding Debian $suite as a pinned source ($list, priority $prio)"
    echo "deb http://deb.debian.org/debian $suite main" >"$list"
    printf 'Package: *\nPin: release n=%s\nPin-Priority: %s\n' "$suite" "$prio" >"$pref"
    need_update=1
  fi
}

need_update=0
if [ "$codename" != trixie ] && [ "$codename" != forky ] && [ "$codename" != sid ]; then
  add_pinned_suite trixie 100
fi
[ "$codename" != sid ] && add_pinned_suite sid 50

stamp=/var/lib/apt/periodic/crius-update-stamp
if [ "$need_update" = 1 ] || [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  step "apt-get update"
  apt-get update -qq
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

step "base packages (util-linux, iproute2, iptables, build tools, test tools)"
apt_install util-linux iproute2 iptables ca-certificates build-essential python3 \
  busybox-static docker-registry apache2-utils zstd xz-utils kmod openssl curl

if [ "$codename" = trixie ] || [ "$codename" = forky ] || [ "$codename" = sid ]; then
  step "crun, conmon, CNI plugins from $codename"
  apt_install crun conmon containernetworking-plugins
else
  step "crun, conmon, CNI plugins from trixie (pinned)"
  apt_install -t trixie crun conmon containernetworking-plugins
fi

step "runc >= 1.2 from sid (pinned)"
apt_install -t sid runc

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
crun_v=$(crun --version | awk '/^crun version/ {print $3}')
conmon_v=$(conmon --version | awk '/^conmon version/ {print $3}')
runc_v=$(runc --version | awk '/^runc version/ {print $3}')
version_ge "$crun_v" 1.9 || die "crun $crun_v is older than 1.9"
version_ge "$conmon_v" 2.1.12 || die "conmon $conmon_v is older than 2.1.12"
version_ge "${runc_v%%+*}" 1.2 || die "runc $runc_v is older than 1.2"
printf 'crun %s, conmon %s, runc %s\n' "$crun_v" "$conmon_v" "$runc_v"

# The default pod network (bridge crius0, host-local 10.88.0.0/16, portmap), only when no CNI config
# exists: an operator's own network always wins (the lexicographically first file is the default).
cni_dir=/etc/cni/net.d
if ! ls "$cni_dir"/*.conf "$cni_dir"/*.conflist "$cni_dir"/*.json >/dev/null 2>&1; then
  step "default CNI network $cni_dir/10-crius.conflist"
  install -D -m 0644 "$here/contrib/cni/10-crius.conflist" "$cni_dir/10-crius.conflist"
fi

step "npm ci and build"
cd "$here"
npm ci --no-audit --no-fund
npm run build

step "done"
