#!/bin/bash
# Boots the Debian 13 test node (scripts/vm/build-image.sh, cached) and runs one command inside it, in
# a copy of this checkout, then brings back its output (streamed live) and its exit code.
#
#   bash scripts/vm/run.sh [--timeout SEC] [--mem MiB] [--cpus N] -- COMMAND [ARG...]
#
# The command runs as root in /crius, a copy of the working tree (tracked and untracked files, dist/,
# native/build/, node_modules/ resolved) baked into a second ext4 disk: 9p is slow under TCG and
# cannot be idmapped, and crius's root, state and volumes must be on the VM's own ext4 disk anyway.
# Every run boots a fresh copy-on-write overlay of the cached image, so runs never see each other.
# Acceleration: KVM when it boots the guest, else TCG (Debian kernels die under the nested PVM KVM of
# some hosts); the result of the KVM attempt is remembered per kernel and QEMU build. Override with
# CRIUS_VM_ACCEL=kvm|tcg. CRIUS_VM_KEEP=1 keeps the run directory (console log, disks) for debugging.
# CRIUS_VM_EXTRA="FILE..." copies host files (e.g. a static critest) to /crius/.vm-extra/ in the VM.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${CRIUS_VM_CACHE:-/var/cache/crius-vm}
timeout=1800 mem=3072 cpus=2
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--timeout SEC] [--mem MiB] [--cpus N] -- COMMAND [ARG...]" >&2; exit 2; }

log() { printf '[vm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '\n[vm] FAILED: %s\n\n' "$*" >&2; exit 1; }

for tool in qemu-system-x86_64 qemu-img mkfs.ext4; do
  command -v "$tool" >/dev/null || die "$tool is not installed on the host (apt-get install qemu-system-x86 qemu-utils e2fsprogs)"
done

t_start=$SECONDS
img=$(bash "$here/build-image.sh" | tail -1) || die "the VM image could not be built (see above)"
[ -f "$img/done" ] || die "the VM image could not be built (no image at '$img')"
t_img=$SECONDS

run=$(mktemp -d /var/tmp/crius-vm-run.XXXXXX)
qpid=
cleanup() {
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
  if [ "${CRIUS_VM_KEEP:-0}" = 1 ]; then log "kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The checkout disk: the working tree as the host sees it (node_modules may be a symlink: resolved).
stage="$run/checkout"
mkdir -p "$stage"
tar -C "$repo" --exclude=./.git --exclude='./.ci/logs' -chf - . | tar -C "$stage" -xf - \
  || die "copying the checkout failed"
# Host files the job needs that are not part of the checkout (e.g. critest): /crius/.vm-extra/<name>.
for f in ${CRIUS_VM_EXTRA:-}; do
  mkdir -p "$stage/.vm-extra"
  cp -L "$f" "$stage/.vm-extra/" || die "cannot copy $f into the VM (CRIUS_VM_EXTRA)"
done
{
  echo 'set -e'
  echo 'cd /crius'
  printf 'exec'; printf ' %q' "$@"; echo
} >"$stage/.vm-job"
size_mb=$(( $(du -sm "$stage" | cut -f1) + 512 ))
mkfs.ext4 -q -F -L crius-checkout -d "$stage" "$run/checkout.img" "${size_mb}M" || die "mkfs.ext4 of the checkout disk failed"
rm -rf "$stage"
qemu-img create -q -f qcow2 -F raw -b "$img/root.img" "$run/root.qcow2" || die "qemu-img overlay failed"
t_disks=$SECONDS
log "image $img ($((t_img - t_start)) s), checkout disk ${size_mb} MiB ($((t_disks - t_img)) s)"

kvm_key=$( { sha256sum <"$img/vmlinuz"; qemu-system-x86_64 --version; uname -r; } | sha256sum | cut -c1-16)
kvm_note="$CACHE/kvm-$kvm_key"

# boot ACCEL: starts QEMU in the background and sets qpid.
boot() {
  local accel=$1 cpu
  if [ "$accel" = kvm ]; then cpu=host; else cpu=max; fi
  : >"$run/console.log"; : >"$run/job.log"
  qemu-system-x86_64 \
    -machine q35 -accel "$accel$( [ "$accel" = tcg ] && echo ",thread=multi,tb-size=512" )" \
    -cpu "$cpu" -m "$mem" -smp "$cpus" \
    -display none -vga none -monitor none -no-reboot -nic none \
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet loglevel=4 systemd.show_status=1" \
    -drive file="$run/root.qcow2",if=virtio,format=qcow2,cache=unsafe,discard=unmap \
    -drive file="$run/checkout.img",if=virtio,format=raw,cache=unsafe \
    -serial file:"$run/console.log" -serial file:"$run/job.log" \
    >"$run/qemu.log" 2>&1 &
  qpid=$!
}

# wait_start SECONDS: 0 when the job started inside, 1 when QEMU died or the time ran out first.
wait_start() {
  local limit=$1 t=0
  while [ "$t" -lt "$limit" ]; do
    grep -q '^CRIUS-VM-START' "$run/job.log" 2>/dev/null && return 0
    kill -0 "$qpid" 2>/dev/null || return 1
    # KVM that cannot run the guest stops it with this and keeps QEMU alive: give up at once.
    grep -qE 'KVM internal error|emulation failure' "$run/qemu.log" 2>/dev/null && return 1
    sleep 1; t=$((t + 1))
  done
  return 1
}

accel=${CRIUS_VM_ACCEL:-}
why=
if [ -z "$accel" ]; then
  if [ ! -w /dev/kvm ]; then
    accel=tcg why="/dev/kvm is not usable"
  elif [ -f "$kvm_note" ] && [ "$(cat "$kvm_note")" != ok ]; then
    accel=tcg why="KVM failed to boot this kernel before: $(cat "$kvm_note")"
  else
    log "trying KVM"
    boot kvm
    if wait_start 120; then
      accel=kvm; echo ok >"$kvm_note"
    else
      reason=$(grep -h -m1 -iE 'error|fail|emulation|internal' "$run/qemu.log" 2>/dev/null | head -c 300)
      [ -n "$reason" ] || reason="the guest did not reach the job within 120 s"
      kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; qpid=
      echo "$reason" >"$kvm_note"
      accel=tcg why="KVM failed: $reason"
      # the overlay may have been written to: start again from the image
      rm -f "$run/root.qcow2"; qemu-img create -q -f qcow2 -F raw -b "$img/root.img" "$run/root.qcow2"
    fi
  fi
fi
if [ -z "$qpid" ]; then
  # QEMU 7.2's TCG now and then crashes the guest kernel in its first second (seen: a fault right after
  # SLUB's cmpxchg16b in start_kernel); the guest panics and QEMU exits. Such a boot is retried from a
  # fresh overlay, twice at most; a guest that hangs or fails later is not retried.
  for attempt in 1 2 3; do
    boot "$accel"
    log "booting under ${accel^^}${why:+ ($why)}${attempt:+ (attempt $attempt)}"
    wait_start 900 && break
    early=$(grep -m1 -oE '^\[ *[0-9]+\.[0-9]+\]' "$run/console.log" | head -1)
    if ! kill -0 "$qpid" 2>/dev/null && grep -q 'Kernel panic' "$run/console.log" && [ "$attempt" -lt 3 ] \
       && ! grep -q 'systemd\[1\]' "$run/console.log"; then
      log "the guest kernel panicked while booting (${early:-?}): $(grep -m1 -E 'RIP:|Kernel panic' "$run/console.log"); retrying"
      wait "$qpid" 2>/dev/null; qpid=
      rm -f "$run/root.qcow2"; qemu-img create -q -f qcow2 -F raw -b "$img/root.img" "$run/root.qcow2"
      continue
    fi
    tail -40 "$run/console.log" >&2; cat "$run/qemu.log" >&2
    die "the VM did not boot under ${accel^^} (console above)"
  done
else
  log "booting under KVM"
fi
t_boot=$SECONDS
echo "[vm] accelerator: ${accel^^}${why:+ ($why)}"
log "boot to job took $((t_boot - t_disks)) s"

# Stream the job's output until QEMU exits (the guest powers off after the job), or the timeout.
tail -n +1 -f --pid="$qpid" "$run/job.log" | grep -av --line-buffered '^CRIUS-VM-' &
tpid=$!
deadline=$((SECONDS + timeout))
while kill -0 "$qpid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    kill "$qpid" 2>/dev/null
    wait "$tpid" 2>/dev/null
    tail -30 "$run/console.log" >&2
    die "the command did not finish within ${timeout} s (console above)"
  fi
  sleep 1
done
wait "$qpid" 2>/dev/null; qpid=
wait "$tpid" 2>/dev/null
rc=$(grep -a '^CRIUS-VM-EXIT' "$run/job.log" | tail -1 | awk '{print $2}' | tr -dc 0-9)
log "job took $((SECONDS - t_boot)) s; whole run $((SECONDS - t_start)) s"
if [ -z "$rc" ]; then
  tail -40 "$run/console.log" >&2; cat "$run/qemu.log" >&2
  die "the VM stopped without reporting the command's exit code (console above)"
fi
exit "$rc"
