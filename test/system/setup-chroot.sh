#!/usr/bin/env bash
# The honest check that scripts/setup.sh moves nothing on a pristine Debian 12 (issue 11): a
# `debootstrap --variant=minbase bookworm` tree (built once, cached), copied fresh, in which
# `setup.sh --system-only` runs in a chroot. Afterwards every package installed before has the same
# version, os-release still says 12, `apt-get -s upgrade` proposes nothing, and crun/conmon/runc report
# what crius needs (crun and runc with linux.mountExtensions.idmap). Run as root; prints
# "N passed, N failed" and exits non-zero on any failure. Leaves no mount and no copy behind.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cache=${CRIUS_CHROOT_CACHE:-/var/cache/crius-test}
pristine=$cache/bookworm-minbase
apt_archives=$cache/bookworm-apt-archives
mirror=http://deb.debian.org/debian

say() { printf '\n==> %s\n' "$*"; }
passed=0 failed=0
check() { # check NAME COMMAND...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}

command -v debootstrap >/dev/null || { say "installing debootstrap (Debian 12)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }

if [ ! -f "$pristine/.complete" ]; then
  say "debootstrap --variant=minbase bookworm (once; cached in $pristine)"
  rm -rf "$pristine" && mkdir -p "$cache"
  t0=$(date +%s)
  debootstrap --variant=minbase bookworm "$pristine" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log"; echo "debootstrap failed"; exit 1; }
  touch "$pristine/.complete"
  echo "debootstrap took $(( $(date +%s) - t0 )) s"
fi

root=$(mktemp -d /var/tmp/crius-chroot.XXXXXX)
mounts=()
cleanup() {
  set +e
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
bind() { mkdir -p "$2"; [ -f "$1" ] && { rmdir "$2" 2>/dev/null; touch "$2"; }; mount --bind "$1" "$2"; mounts+=("$2"); }

say "fresh copy of the pristine tree in $root"
cp -a "$pristine/." "$root/"
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
bind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"; mounts+=("$root/tmp")
mkdir -p "$apt_archives/partial"
bind "$apt_archives" "$root/var/cache/apt/archives"   # downloaded .debs only (apt verifies them)
bind "$here" "$root/crius"
mount -o remount,bind,ro "$root/crius"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# How this machine reaches its Debian mirror (e.g. a snapshot mirror whose Release files are past their
# Valid-Until) is the machine's, not setup's: the chroot gets the host's Acquire settings.
for f in $(grep -ls -E 'Check-Valid-Until|Check-Date' /etc/apt/apt.conf.d/* || true); do cp "$f" "$root/etc/apt/apt.conf.d/"; done
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null && mounts+=("$root/dev/pts") || true
# Node.js >= 20 is the operator's to bring on Debian 12 (its own is 18); lend the host's binary.
bind "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

in_root dpkg-query -W -f '${Package} ${Version}\n' | sort >"$root/tmp/before"
say "setup.sh --system-only inside the chroot ($(wc -l <"$root/tmp/before") packages installed before)"
t0=$(date +%s)
status=0
in_root bash /crius/scripts/setup.sh --system-only >"$root/tmp/setup.log" 2>&1 || status=$?
secs=$(( $(date +%s) - t0 ))
tail -25 "$root/tmp/setup.log"
echo "setup.sh --system-only took $secs s and exited $status"
in_root dpkg-query -W -f '${Package} ${Version}\n' | sort >"$root/tmp/after"

check "setup.sh --system-only exits 0" test "$status" = 0

moved=$(join "$root/tmp/before" "$root/tmp/after" | awk '$2 != $3 { print $1, $2, "->", $3 }')
removed=$(join -v1 "$root/tmp/before" "$root/tmp/after" | awk '{ print $1 }')
added=$(join -v2 "$root/tmp/before" "$root/tmp/after" | wc -l)
echo "packages: $(wc -l <"$root/tmp/before") before, $(wc -l <"$root/tmp/after") after ($added added), moved: ${moved:-none}, removed: ${removed:-none}"
check "no package installed before changed version" test -z "$moved"
check "no package installed before was removed" test -z "$removed"
check "os-release still says Debian 12" grep -q '^VERSION_ID="12"' "$root/etc/os-release"
upgrades=$(in_root apt-get -s upgrade 2>/dev/null | grep -c '^Inst ' || true)
check "apt-get -s upgrade proposes nothing ($upgrades)" test "$upgrades" = 0
newer_binary_sources() { # suites of binary (not deb-src) sources in the tree that are newer than bookworm
  python3 - "$root/etc/apt" <<'PY'
import glob, re, sys
apt = sys.argv[1]
suites = []
for f in [apt + '/sources.list'] + glob.glob(apt + '/sources.list.d/*.list'):
    try: lines = open(f).read().splitlines()
    except OSError: continue
    for l in lines:
        w = l.split()
        if w and w[0] == 'deb':
            rest = [x for x in w[1:] if not x.startswith('[')]
            if len(rest) > 1: suites.append(rest[1])
for f in glob.glob(apt + '/sources.list.d/*.sources'):
    for stanza in open(f).read().split('\n\n'):
        fields = dict(re.findall(r'^(\w[\w-]*):\s*(.*)$', stanza, re.M))
        if 'deb' in fields.get('Types', '').split(): suites += fields.get('Suites', '').split()
print(' '.join(s for s in suites if not s.startswith('bookworm')))
PY
}
newer=$(newer_binary_sources)
check "no binary source of a newer suite (${newer:-none})" test -z "$newer"

features() { in_root "$1" features 2>/dev/null | grep -q '"idmap": *{ *"enabled": *true' || in_root "$1" features 2>/dev/null | tr -d ' \n' | grep -q '"idmap":{"enabled":true'; }
check "crun >= 1.9 on PATH with idmap in its features ($(in_root crun --version 2>/dev/null | head -1))" features crun
check "conmon >= 2.1.12 on PATH ($(in_root conmon --version 2>/dev/null | head -1))" \
  bash -c "v=\$(chroot '$root' /usr/bin/env PATH=/usr/local/bin:/usr/bin conmon --version | awk '/version/{print \$3}'); [ \"\$(printf '%s\n2.1.12\n' \"\$v\" | sort -V | head -1)\" = 2.1.12 ]"
check "runc >= 1.2 on PATH with idmap in its features ($(in_root runc --version 2>/dev/null | head -1))" features runc
check "CNI plugins where crius looks (/usr/lib/cni)" test -x "$root/usr/lib/cni/ptp" -a -x "$root/usr/lib/cni/bridge" -a -x "$root/usr/lib/cni/host-local" -a -x "$root/usr/lib/cni/portmap"

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
