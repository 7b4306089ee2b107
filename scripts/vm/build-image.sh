#!/bin/bash
# Builds the Debian 13 (trixie) test node image for the VM lane, from Debian's archive only:
# debootstrap (minbase) + the packages below with apt inside the tree, a kernel and initrd copied out,
# and the tree turned into an ext4 image with `mkfs.ext4 -d` (no loop mounts, no root fs of the host
# touched). The result is cached under $CRIUS_VM_CACHE/<hash of the inputs>/ and reused as long as
# this script, the guest files and the package list are unchanged.
#
#   bash scripts/vm/build-image.sh          # prints the image directory on its last line
#
# Needs on the host: debootstrap, e2fsprogs (mkfs.ext4 -d), network access to the Debian mirror.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${CRIUS_VM_CACHE:-/var/cache/crius-vm}
MIRROR=${CRIUS_VM_MIRROR:-http://deb.debian.org/debian}
RELEASE=trixie

# What a 2026 Kubernetes node running crius has: systemd as PID 1 (pure cgroup v2), AppArmor, the
# OCI runtimes and conmon, the CNI plugins, Node.js >= 20 from the release itself; plus what the smoke
# scenario uses (busybox-static to build its image, docker-registry to serve it, sudo for critest,
# which loads its AppArmor profiles with `sudo apparmor_parser`).
PACKAGES=(
  linux-image-amd64 systemd systemd-sysv udev dbus kmod
  apparmor crun runc conmon containernetworking-plugins
  nodejs busybox-static docker-registry sudo
  iproute2 iptables procps psmisc util-linux e2fsprogs
)

log() { printf '[vm-build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[vm-build] FAILED: %s\n' "$*" >&2; exit 1; }

for tool in debootstrap mkfs.ext4 sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed on the host (apt-get install debootstrap e2fsprogs)"
done
[ "$(id -u)" = 0 ] || die "needs root (debootstrap)"

key=$( { cat "$0"; cat "$here"/guest/*; echo "$RELEASE $MIRROR ${PACKAGES[*]}"; } | sha256sum | cut -c1-16)
out="$CACHE/$key"
if [ -f "$out/done" ]; then
  log "cached image $out"
  echo "$out"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
flock 9
if [ -f "$out/done" ]; then echo "$out"; exit 0; fi

work=$(mktemp -d "$CACHE/build.XXXXXX")
root="$work/root"
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT

t0=$SECONDS
log "debootstrap $RELEASE (minbase) from $MIRROR"
debootstrap --variant=minbase "$RELEASE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
t1=$SECONDS
log "debootstrap took $((t1 - t0)) s"

# Packages: installed by apt inside the tree (it resolves alternatives debootstrap's resolver cannot),
# with services kept from starting and /proc etc. present for the maintainer scripts.
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
printf 'deb %s %s main\n' "$MIRROR" "$RELEASE" >"$root/etc/apt/sources.list"
cat >"$root/etc/kernel-img.conf" <<'EOF'
do_symlinks = yes
EOF
chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update -q >"$work/apt.log" 2>&1 \
  || { tail -30 "$work/apt.log" >&2; die "apt-get update in the tree failed"; }
chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get install -y -q --no-install-recommends \
  "${PACKAGES[@]}" >>"$work/apt.log" 2>&1 \
  || { tail -40 "$work/apt.log" >&2; die "apt-get install in the tree failed"; }
chroot "$root" apt-get clean
rm -f "$root/usr/sbin/policy-rc.d"
t2=$SECONDS
log "package installs took $((t2 - t1)) s"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' nodejs crun runc conmon systemd apparmor linux-image-amd64 >&2

# Node configuration: no login needed (the job unit does the work), nothing that wakes up on a timer.
echo crius-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 crius-vm\n::1 localhost\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw,noatime,errors=remount-ro 0 1\n' >"$root/etc/fstab"
chroot "$root" passwd -d root >/dev/null
install -m 0755 "$here/guest/crius-vm-job" "$root/usr/local/sbin/crius-vm-job"
install -m 0644 "$here/guest/crius-vm-job.service" "$root/etc/systemd/system/crius-vm-job.service"
chroot "$root" systemctl enable crius-vm-job.service >/dev/null 2>&1
for unit in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer docker-registry.service \
  systemd-timesyncd.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# journald to the console only on errors; the console log is the host's boot log.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' >"$root/etc/systemd/journald.conf.d/vm.conf"

for m in dev/pts dev proc sys; do umount -l "$root/$m"; done

mkdir -p "$work/img"
kernel=$(readlink -f "$root/vmlinuz"); initrd=$(readlink -f "$root/initrd.img")
[ -f "$kernel" ] && [ -f "$initrd" ] || die "no kernel/initrd in the tree (linux-image-amd64 not installed?)"
cp "$kernel" "$work/img/vmlinuz"
cp "$initrd" "$work/img/initrd.img"
size_mb=$(( $(du -sm "$root" | cut -f1) + 3072 ))
mkfs.ext4 -q -F -L crius-root -d "$root" "$work/img/root.img" "${size_mb}M" \
  || die "mkfs.ext4 -d failed"
t3=$SECONDS
log "kernel, initrd and ${size_mb} MiB ext4 image took $((t3 - t2)) s"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$work/img/packages.txt"

mkdir -p "$out"
mv "$work/img/"* "$out/"
touch "$out/done"
# Older images (other inputs) are not used again: drop them (a VM still running on one keeps its open file).
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{16}' ! -name "$key" -exec rm -rf {} +
log "image ready in $out (total $((t3 - t0)) s)"
echo "$out"
