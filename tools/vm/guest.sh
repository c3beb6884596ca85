#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# PID 1 inside the VM, on the host's root (after switch_root): mounts what tests
# expect, runs the job, writes counts and dmesg into the run directory on
# the shared repository and prints CRAB-VM-RC=<status> for the host side.
run=$1
# Always mount fresh: over 9p (multidevs=remap) the host's own /proc, /sys
# and /dev show through the shared root and look like mount points.
mount -t proc proc /proc || { echo "guest: cannot mount /proc"; exit 1; }
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# What udev/systemd would create: bash process substitution needs /dev/fd.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
mount -t debugfs none /sys/kernel/debug 2>/dev/null
mkdir -p /run/netns
ip link set lo up
hostname crab-vm 2>/dev/null
# shellcheck disable=SC1091
source "$run/job.env"
# A kernel built by tools/kernel/build-kernel.sh has no modules in the host's
# /lib/modules: run-vm.sh copied them into the repository (CRAB_KMODS).
if [ -n "${CRAB_KMODS:-}" ] && [ -d "$CRAB_KMODS" ]; then
	mount -t tmpfs tmpfs /lib/modules &&
		mkdir -p "/lib/modules/$(uname -r)" &&
		mount --bind "$CRAB_KMODS" "/lib/modules/$(uname -r)" ||
		echo "guest: cannot mount the kernel's modules from $CRAB_KMODS"
fi
export CRAB_MODDIR=$CRAB_TOP/build/kmod/$(uname -r)
export CRAB_STRICT CRAB_RUNNER_ID
cd "$CRAB_TOP" || exit 1
echo "CRAB-GUEST-BEGIN"
echo "# guest: $(uname -r), $(nproc) cpus, modules from $CRAB_MODDIR"
if [ -n "$CRAB_CMD" ]; then
	bash -c "$CRAB_CMD"
	rc=$?
elif [ -n "${CRAB_QUEUE:-}" ]; then
	# One of several guests sharing the queue of a kernel (tools/check-all.sh).
	bash selftests/run.sh --where vm --queue "$CRAB_QUEUE" --results "$run"
	rc=$?
else
	bash selftests/run.sh --where vm --filter "$CRAB_FILTER" --results "$run"
	rc=$?
fi
echo "CRAB-GUEST-END"
dmesg >"$run/dmesg.txt" 2>&1
sync
echo "CRAB-VM-RC=$rc"
# PID 1 must not exit (that panics the guest): power off, QEMU exits.
# busybox's poweroff -f is the reboot(2) syscall itself: the kernel powers
# off in this process's context and the call does not return. (sysrq 'o'
# alone was not enough: it powers off from a workqueue, and on a loaded TCG
# host that outlived the fixed sleep after it, so PID 1 exited first and
# the guest logged "Attempted to kill init!".)
busybox poweroff -f 2>/dev/null
echo o >/proc/sysrq-trigger
# Should both fail, wait forever using bash builtins only (the 9p root may
# be going away): never fall off the end of PID 1.
while :; do
	read -r -t 60 _ </dev/console 2>/dev/null || read -r -t 60 _ 2>/dev/null
done
