#!/usr/bin/env bash
# Debian 12 only: builds crun and conmon from the Debian source packages of a newer suite against
# Debian 12's own libraries, and installs them into /usr/local/bin, where crius looks first
# (src/common/host-binaries.ts). No installed package changes version: the build dependencies come from
# Debian 12 and the newer suites are only read as deb-src. Idempotent: an installed binary that already
# reports the wanted version is kept. Run as root; called by scripts/setup.sh.
#
#   crun   1.21-1 (trixie): the last crun that builds with yajl (1.28 needs libblake3, not in Debian 12)
#   conmon 2.1.13+ds1-2 (sid)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/debian-source.sh"

CRUN_DEBIAN_VERSION=1.21-1 CRUN_VERSION=1.21
CONMON_DEBIAN_VERSION=2.1.13+ds1-2 CONMON_VERSION=2.1.13
PREFIX=${CRIUS_PREFIX:-/usr/local}

step() { printf '\n==> %s\n' "$*"; }

build_deps=(build-essential pkgconf autoconf automake libtool gperf python3 xz-utils
  libcap-dev libseccomp-dev libsystemd-dev libyajl-dev libglib2.0-dev)

need_crun=1 need_conmon=1
[ "$(installed_version $PREFIX/bin/crun)" = "$CRUN_VERSION" ] && need_crun=0
[ "$(installed_version $PREFIX/bin/conmon)" = "$CONMON_VERSION" ] && need_conmon=0
if [ $need_crun = 0 ] && [ $need_conmon = 0 ]; then
  echo "crun $CRUN_VERSION and conmon $CONMON_VERSION already in $PREFIX/bin"
  exit 0
fi

step "build dependencies from Debian 12: ${build_deps[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${build_deps[@]}" >/dev/null
ensure_debian_sources

work=$(mktemp -d "${TMPDIR:-/tmp}/crius-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ $need_crun = 1 ]; then
  step "crun $CRUN_DEBIAN_VERSION from Debian's source archive"
  tarball=$(upstream_tarball crun "$CRUN_DEBIAN_VERSION")
  tar -xf "$tarball" -C "$work"
  (
    cd "$work/crun-$CRUN_VERSION"
    # criu (checkpoint/restore) and wasm handlers are not used by crius and not in Debian 12's archive.
    ./configure --prefix=$PREFIX --disable-criu >"$work/crun-configure.log" 2>&1 || { tail -30 "$work/crun-configure.log"; exit 1; }
    grep -q '^#define HAVE_SYSTEMD 1' config.h || { echo "crun: configure found no libsystemd (systemd cgroup driver)" >&2; exit 1; }
    grep -q '^#define HAVE_SECCOMP 1' config.h || { echo "crun: configure found no libseccomp" >&2; exit 1; }
    make -j"$(nproc)" >"$work/crun-make.log" 2>&1 || { tail -30 "$work/crun-make.log"; exit 1; }
    install -m 0755 crun $PREFIX/bin/crun.new && mv -f $PREFIX/bin/crun.new $PREFIX/bin/crun
  )
fi

if [ $need_conmon = 1 ]; then
  step "conmon $CONMON_DEBIAN_VERSION from Debian's source archive"
  tarball=$(upstream_tarball conmon "$CONMON_DEBIAN_VERSION")
  tar -xf "$tarball" -C "$work"
  (
    cd "$work/conmon-$CONMON_VERSION"
    make -j"$(nproc)" bin/conmon VERSION=$CONMON_VERSION GIT_COMMIT="debian-$CONMON_DEBIAN_VERSION" >"$work/conmon-make.log" 2>&1 || { tail -30 "$work/conmon-make.log"; exit 1; }
    install -m 0755 bin/conmon $PREFIX/bin/conmon.new && mv -f $PREFIX/bin/conmon.new $PREFIX/bin/conmon
  )
fi

printf 'crun %s, conmon %s in %s/bin\n' "$(installed_version $PREFIX/bin/crun)" "$(installed_version $PREFIX/bin/conmon)" "$PREFIX"
