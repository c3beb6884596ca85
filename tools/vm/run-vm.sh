#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot a kernel under QEMU (TCG) with the host's root shared read-only over
# 9p (the virtme approach), run the selftests tagged "vm" inside, stream their
# TAP output, and return their real status. The run fails when the guest
# kernel log shows BUG/Oops/WARNING/KASAN/general protection, when the guest
# does not report a status, or when it outlives --timeout (QEMU is killed).
#
#   run-vm.sh --kernel 6.1|6.12|/path/to/bzImage [--filter GLOB]
#             [--timeout SECONDS] [--cmd 'shell command'] [--kdir DIR]
#             [--queue DIR] [--results DIR] [--prepare | --no-build]
#
# --cmd runs a command in the guest instead of the selftests (the harness's
# own tests and the demo use it). Module sources are built for the guest's
# kernel first (build/kmod/<release>), against --kdir or /lib/modules/<release>/build
# (for a bzImage of tools/kernel/build-kernel.sh, its object tree).
# --prepare only builds the modules and the initramfs; --no-build boots
# with what an earlier --prepare built (tools/check-all.sh prepares each
# kernel once, then boots several guests of it side by side). --queue DIR
# runs the tests of a queue shared by several guests (selftests/run.sh
# --queue); --results DIR is where the guest's results go (default
# build/results/vm-<release>). With CRAB_STRICT=1 a kernel without a module
# build tree is a failure, not "modules not built".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=6.1 filter='*' timeout=${CRAB_VM_TIMEOUT:-1500} cmd= kdir= mem=${CRAB_VM_MEM:-2048}
queue= res= build=1 prepare=0
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--filter) filter=${2:-*}; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--cmd) cmd=$2; shift 2 ;;
	--kdir) kdir=$2; shift 2 ;;
	--queue) queue=$(cd "$2" && pwd) || exit 2; shift 2 ;;
	--results) res=$2; shift 2 ;;
	--prepare) prepare=1; shift ;;
	--no-build) build=0; shift ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

die() { echo "error: $*" >&2; exit 2; }

# ---- which kernel -----------------------------------------------------------
case $kernel in
6.1|6.12)
	image=$(ls /boot/vmlinuz-"$kernel".* 2>/dev/null | grep -v -e cloud -e rt | sort -V | tail -n1)
	[ -n "$image" ] || die "no Debian $kernel kernel in /boot (run 'make deps')"
	;;
*)
	image=$kernel
	[ -f "$image" ] || die "KERNEL '$kernel' is neither 6.1, 6.12 nor an existing bzImage"
	;;
esac
kver=$(file -bL "$image" | sed -n 's/.*version \([^ ]*\) .*/\1/p')
[ -n "$kver" ] || die "cannot read the kernel release of $image"
name=$(basename "$image")

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed (make deps)"
[ -x /bin/busybox ] || die "busybox-static not installed (make deps)"

# ---- modules for that kernel --------------------------------------------------
initrd=$top/build/vm/initramfs-$kver.cpio.gz
mkdir -p "$top/build/vm"
if [ "$build" = 1 ]; then
	[ -n "$kdir" ] || kdir=/lib/modules/$kver/build
	# A patched kernel of tools/kernel/build-kernel.sh: its object tree (the
	# image is <obj>/arch/x86/boot/bzImage, or <stamp>/bzImage in the stamp
	# cache with <stamp>/build linking to the tree while it still holds it).
	# The tree has vmlinux.symvers once "make modules" ran in it, or only
	# Module.symvers: either is what an out-of-tree build links against.
	for d in "$(dirname "$image")/build" "$(dirname "$image")/../../.."; do
		[ ! -e "$kdir/Makefile" ] && [ -e "$d/Makefile" ] &&
			{ [ -e "$d/vmlinux.symvers" ] || [ -e "$d/Module.symvers" ]; } &&
			kdir=$(cd "$d" && pwd)
	done
	# One build at a time per kernel: guests of one kernel may be prepared
	# side by side (and the harness boots 6.1 while check-all's guests run).
	exec 9>"$top/build/vm/lock-$kver"
	flock 9
	if [ -e "$kdir/Makefile" ]; then
		bash "$top/tools/build-modules.sh" "$kdir" "$top/build/kmod/$kver" || exit 1
	elif [ "${CRAB_STRICT:-0}" = 1 ]; then
		echo "not ok vm: no module build tree for $kver ($kdir) (CRAB_STRICT=1)"
		exit 1
	else
		echo "# no build tree for $kver ($kdir): modules not built"
	fi
	# A patched kernel's own modules ("make modules_install" output in
	# <stamp>/modules, or <obj>/../modroot): the guest sees the repository,
	# not the host's home or build cache, so they are copied there and the
	# guest mounts them on /lib/modules.
	kmods=
	for d in "$(dirname "$image")/modules" "$(dirname "$image")/../../../../modroot"; do
		[ -z "$kmods" ] && [ -d "$d/lib/modules/$kver" ] && kmods=$(cd "$d/lib/modules/$kver" && pwd)
	done
	if [ -n "$kmods" ]; then
		mkdir -p "$top/build/vm/kmods/$kver" &&
			rsync -a --delete "$kmods/" "$top/build/vm/kmods/$kver/" || exit 1
	else
		rm -rf "$top/build/vm/kmods/$kver"
	fi

	# ---- initramfs (cached per kernel) -------------------------------------------
	bash "$top/tools/vm/mkinitramfs.sh" "$kver" "$initrd" || exit 1
	flock -u 9
	exec 9>&-
elif [ ! -f "$initrd" ]; then
	die "no initramfs for $kver: run with --prepare first"
fi
[ "$prepare" = 1 ] && exit 0

# ---- the job ----------------------------------------------------------------------
run=$(mktemp -d "$top/build/vm/run.XXXXXX")
trap 'rm -rf "$run"' EXIT
{
	printf 'CRAB_FILTER=%q\n' "$filter"
	printf 'CRAB_CMD=%q\n' "$cmd"
	printf 'CRAB_TOP=%q\n' "$top"
	km=$top/build/vm/kmods/$kver; [ -d "$km" ] || km=
	printf 'CRAB_KMODS=%q\n' "$km"
	printf 'CRAB_QUEUE=%q\n' "$queue"
	printf 'CRAB_RUNNER_ID=%q\n' "${CRAB_RUNNER_ID:-$(basename "$run")}"
	printf 'CRAB_STRICT=%q\n' "${CRAB_STRICT:-0}"
} >"$run/job.env"
console=$run/console.log

# ---- accelerator: KVM where it works, TCG otherwise (tools/vm/accel.sh) -------
# shellcheck source=tools/vm/accel.sh
source "$top/tools/vm/accel.sh"
crab_vm_accel "$image" || exit 2

echo "# vm: booting $name ($kver) under QEMU/${CRAB_ACCEL^^}, timeout ${timeout}s, run directory $run"
start=$(date +%s)
# -no-reboot: a guest panic (panic=-1 reboots) or poweroff ends QEMU.
timeout -k 5 "$timeout" qemu-system-x86_64 \
	"${CRAB_ACCEL_ARGS[@]}" -smp "${CRAB_VM_CPUS:-2}" -m "$mem" \
	-display none -monitor none -serial stdio -no-reboot -nic none \
	-kernel "$image" -initrd "$initrd" \
	-append "console=ttyS0 loglevel=5 panic=-1 crab.run=$run crab.top=$top" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$top",mount_tag=crabtop,security_model=none,multidevs=remap \
	</dev/null 2>&1 | tee "$console" | sed -u -n '/^CRAB-GUEST-BEGIN/,/^CRAB-GUEST-END/{/^CRAB-GUEST-/d;p}'
qrc=${PIPESTATUS[0]}
dur=$(($(date +%s) - start))

fail=0
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "not ok vm: guest timed out after ${timeout}s, QEMU killed"
	fail=1
fi
rc=$(sed -n 's/^CRAB-VM-RC=\([0-9]*\).*/\1/p' "$console" | tail -n1)
if [ -z "$rc" ]; then
	echo "not ok vm: guest reported no status (crash or hang); last console lines:"
	tail -n 30 "$console" | sed 's/^/#   /'
	fail=1
	rc=1
fi
# Kernel log: console (catches a hang mid-test) and the guest's full dmesg.
bad='(BUG:|Oops|WARNING:|KASAN|general protection|Kernel panic|UBSAN:|kernel BUG|refcount_t:|list_add corruption|list_del corruption)'
if grep -aEh "$bad" "$console" "$run/dmesg.txt" 2>/dev/null | grep -av 'CRAB-' | sort -u >"$run/bad.txt" && [ -s "$run/bad.txt" ]; then
	echo "not ok vm: guest kernel log has errors:"
	sed 's/^/#   /' "$run/bad.txt" | head -n 40
	grep -aE -A25 "$bad" "$run/dmesg.txt" 2>/dev/null | head -n 80 | sed 's/^/#   /'
	fail=1
fi

[ -n "$res" ] || res=$top/build/results/vm-$kver
counts="0 0 0"
[ -s "$run/counts" ] && counts=$(cat "$run/counts")
read -r p f s <<<"$counts"
if [ -z "$cmd" ]; then
	mkdir -p "$res"
	# The kernel log check is one more check of the run.
	if [ "$fail" = 0 ]; then p=$((p + 1)); else f=$((f + 1)); fi
	echo "$p $f $s" >"$res/counts"
	for r in times skips skipped-checks manual wall dmesg.txt; do
		[ -e "$run/$r" ] && cp "$run/$r" "$res/$r"
	done
	cp "$console" "$res/console.log"
	echo "$dur" >"$res/guest-wall"
fi
echo "# vm $kver: guest status $rc, kernel log $([ $fail = 0 ] && echo clean || echo BAD), ${dur}s"
[ "$fail" = 0 ] && [ "$rc" = 0 ]
