#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot a baked cloud image (bake.sh) under QEMU as a cloud boots it: the
# image's own kernel and initrd, the image as the first virtio disk, more
# virtio disks read-only (a NoCloud seed, a test disk), no network.
#
#   boot.sh --image IMGDIR --disk DISK [--kernel KVER] [--drive FILE]...
#           [--append 'ARGS'] [--console FILE] [--timeout S]
#
# DISK is the root disk (raw or qcow2, e.g. a qcow2 overlay over
# IMGDIR/disk.raw: the cached image itself never changes); KVER one of
# IMGDIR/kernels (default the first, the image's own cloud kernel). The
# serial console (ttyS0) goes to --console; the second serial port (ttyS1)
# is the guest's channel for results, copied to stdout. QEMU exits when the
# guest powers off or reboots (-no-reboot); the exit status is QEMU's, 124
# when --timeout (default 900 s) killed it.
#
# Acceleration: CRAB_VM_ACCEL=kvm|tcg|auto (default auto). auto uses KVM
# when /dev/kvm opens and a bounded probe boot (the image's kernel up to
# its root mount, 20 s at most) finishes under it; the answer is kept per
# host boot in ~/.cache/crab/kvm-probe. Nested KVM that hangs in early
# boot, as on some cloud VMs, thus costs one probe and then TCG.
# CRAB_VM_CPUS (default 1) and CRAB_VM_MEM (MiB, default 1024) size the guest.
set -uo pipefail
die() { echo "boot: error: $*" >&2; exit 2; }

img= disk= kver= append= console=/dev/null timeout=900 drives=()
while [ $# -gt 0 ]; do
	case $1 in
	--image) img=$2; shift 2 ;;
	--disk) disk=$2; shift 2 ;;
	--kernel) kver=$2; shift 2 ;;
	--drive) drives+=("$2"); shift 2 ;;
	--append) append=$2; shift 2 ;;
	--console) console=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	*) die "unknown argument '$1'" ;;
	esac
done
[ -f "$img/kernels" ] || die "--image $img is not a baked image (no kernels file)"
[ -f "$disk" ] || die "--disk $disk not found"
[ -n "$kver" ] || kver=$(head -n1 "$img/kernels")
grep -qxF -- "$kver" "$img/kernels" || die "kernel $kver is not in $img/kernels"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed (make deps)"
vmlinuz=$img/vmlinuz-$kver initrd=$img/initrd.img-$kver

# KVM where it runs a guest, TCG otherwise (tools/vm/accel.sh).
# shellcheck source=tools/vm/accel.sh
source "$(dirname "$0")/../vm/accel.sh"
crab_vm_accel "$vmlinuz" || exit 2
accel=("${CRAB_ACCEL_ARGS[@]}")

fmt=raw
[ "$(head -c4 "$disk")" = "QFI$(printf '\xfb')" ] && fmt=qcow2
args=(-drive "file=$disk,if=virtio,format=$fmt,discard=unmap")
for d in "${drives[@]}"; do
	args+=(-drive "file=$d,if=virtio,format=raw,readonly=on")
done
echo "boot: $kver (${accel[1]}), $(basename "$disk") + ${#drives[@]} read-only disks, timeout ${timeout}s" >&2
# ttyS0: console into the log; ttyS1: the results channel (CR stripped).
# The CPU QEMU used is about the wall time of the boot on an idle host.
TIMEFORMAT='boot: QEMU used %0Us user + %0Ss system CPU in %0Rs'
time timeout -k 5 "$timeout" qemu-system-x86_64 "${accel[@]}" \
	-smp "${CRAB_VM_CPUS:-1}" -m "${CRAB_VM_MEM:-1024}" \
	-display none -monitor none -no-reboot -nic none \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "root=LABEL=crab-root ro console=ttyS0 $append" \
	"${args[@]}" -serial "file:$console" -serial stdio </dev/null | tr -d '\r'
rc=${PIPESTATUS[0]}
exit "$rc"
