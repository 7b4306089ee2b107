#!/usr/bin/env bash
# Sets up a Debian 12 or 13 machine for crius. Idempotent: run it as often as you like.
#   bash scripts/setup.sh                # system part, then npm ci and the build (the README's commands)
#   bash scripts/setup.sh --system-only  # only the system part: for admins and image builders
#
# The promise: nothing already installed changes version, and no newer Debian suite is added as a
# binary source. crius needs crun >= 1.9 and conmon >= 2.1.12 (idmapped mounts), runc >= 1.2 for the
# runc handler, and the CNI plugins.
#   Debian 13: all of it from its own archive (its runc is 1.1: the runc handler then refuses
#              user-namespaced pods with a clear error, and the tests that need runc >= 1.2 skip).
#   Debian 12: the CNI plugins from its archive; crun, conmon and runc built from the Debian source
#              packages of trixie/sid against Debian 12's libraries into /usr/local
#              (scripts/build-crun-conmon.sh, scripts/build-runc.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
step() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

system_only=0
for arg in "$@"; do
  case "$arg" in
    --system-only) system_only=1 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) die "unknown argument $arg (usage: setup.sh [--system-only])" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and, later, runs containers)"
[ -r /etc/os-release ] || die "no /etc/os-release: crius's setup knows Debian 12 (bookworm) and 13 (trixie) only"
. /etc/os-release
codename=${VERSION_CODENAME:-unknown}
case "${ID:-}:$codename" in
  debian:bookworm | debian:trixie) ;;
  *) die "this is ${PRETTY_NAME:-an unknown system}; setup.sh supports Debian 12 (bookworm) and 13 (trixie).
  Elsewhere install by hand: crun >= 1.9 (or runc >= 1.2), conmon >= 2.1.12, the CNI plugins (bridge,
  host-local, portmap, loopback) in /usr/lib/cni or /opt/cni/bin, Node.js >= 20, then npm ci && npm run build." ;;
esac

# Node.js >= 20 runs crius. Debian 13 has it (installed below, after apt-get update); Debian 12's own
# nodejs is 18, so there the operator brings it: checked first, before anything is installed.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ] && [ "$codename" != trixie ]; then
  die "crius needs Node.js >= 20 and Debian 12's own nodejs is 18 at most (found: $(node --version 2>/dev/null || echo none)).
  Install Node.js 20 or newer, e.g. from the Node.js project's Debian packages (nodesource) or its release
  tarballs, so that \`node --version\` prints v20 or later, then run this script again. Nothing was changed."
fi

# Earlier versions of this script pinned trixie and sid as binary sources; those could raise packages
# to a newer suite. They are ours to remove (packages already taken from them stay as they are).
for suite in trixie sid; do
  if [ -f /etc/apt/sources.list.d/crius-$suite.list ]; then
    step "removing the binary source crius-$suite.list that an older setup added"
    rm -f /etc/apt/sources.list.d/crius-$suite.list /etc/apt/preferences.d/crius-$suite
    rm -f /var/lib/apt/periodic/crius-update-stamp
  fi
done

stamp=/var/lib/apt/periodic/crius-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  step "apt-get update"
  apt-get update -qq
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

step "base packages from Debian $VERSION_ID (namespaces, networking, the native helpers' compiler)"
apt_install util-linux iproute2 iptables ca-certificates build-essential python3 kmod curl xz-utils \
  containernetworking-plugins

if [ "$codename" = trixie ]; then
  step "crun, conmon, runc from Debian 13"
  apt_install crun conmon runc
else
  step "crun and conmon: built from Debian's source packages against Debian 12 (into /usr/local/bin)"
  bash "$here/scripts/build-crun-conmon.sh"
  step "runc: built from Debian's source package against Debian 12 (into /usr/local/sbin)"
  bash "$here/scripts/build-runc.sh"
fi

# The versions crius needs, read from the binaries crius will run (src/common/host-binaries.ts order).
find_bin() { for d in /usr/local/bin /usr/local/sbin /usr/bin /usr/sbin; do [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }; done; return 0; }
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
crun=$(find_bin crun) conmon=$(find_bin conmon) runc=$(find_bin runc)
[ -n "$crun" ] || die "crun is not installed"
[ -n "$conmon" ] || die "conmon is not installed"
crun_v=$("$crun" --version | awk '/^crun version/ {print $3}')
conmon_v=$("$conmon" --version | awk '/^conmon version/ {print $3}')
version_ge "$crun_v" 1.9 || die "$crun is crun $crun_v, older than 1.9 (no idmapped mounts)"
version_ge "$conmon_v" 2.1.12 || die "$conmon is conmon $conmon_v, older than 2.1.12"
"$crun" features | grep -q '"idmap"' || die "$crun features does not report linux.mountExtensions.idmap"
printf 'crun %s (%s), conmon %s (%s)\n' "$crun_v" "$crun" "$conmon_v" "$conmon"
if [ -n "$runc" ]; then
  runc_v=$("$runc" --version | awk '/^runc version/ {print $3}')
  if version_ge "${runc_v%%+*}" 1.2; then
    printf 'runc %s (%s)\n' "$runc_v" "$runc"
  else
    printf 'runc %s (%s): older than 1.2, so the runc handler refuses user-namespaced pods\n' "$runc_v" "$runc"
  fi
fi

# The default pod network (ptp: a routed veth per pod, host-local 10.88.0.0/16, portmap), only when no
# CNI config exists: an operator's own network always wins (the lexicographically first file is the
# default). Not a bridge: the kernel caps a bridge at 1023 ports, so at ~1020 pods, and a dense node holds
# more (contrib/cni/10-crius-bridge.conflist is the bridge form).
cni_dir=/etc/cni/net.d
if ! ls "$cni_dir"/*.conf "$cni_dir"/*.conflist "$cni_dir"/*.json >/dev/null 2>&1; then
  step "default CNI network $cni_dir/10-crius.conflist"
  install -D -m 0644 "$here/contrib/cni/10-crius.conflist" "$cni_dir/10-crius.conflist"
fi


if [ "$node_major" -lt 20 ]; then
  step "Node.js from Debian 13"
  apt_install nodejs npm
fi
printf 'node %s\n' "$(node --version)"

[ "$system_only" = 1 ] && { step "system part done (--system-only: no npm, no build)"; exit 0; }

step "test and demo tools (busybox-static for images, docker-registry for a local registry, debootstrap and qemu for the chroot and VM stages)"
apt_install busybox-static docker-registry apache2-utils zstd openssl debootstrap e2fsprogs qemu-system-x86 qemu-utils

step "npm ci and build"
cd "$here"
npm ci --no-audit --no-fund
npm run build

step "done"
