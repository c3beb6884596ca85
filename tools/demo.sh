#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo [MODE=host|vm] [LB=xdp|nf] [KERNEL=6.12|6.1] [CONNS=30]: the
# main job on an embedded default, in one of two modes:
#   host  the eBPF endpoints and the XDP LB in namespaces on the host,
#         on the running kernel, no guest (tools/demo-host.sh; seconds);
#   vm    boots a Debian kernel in QEMU and, inside, uses the CRAB endpoint
#         modules with the chosen LB (tools/demo-guest.sh; minutes).
# Both build the standard topology (client, LB, 3 servers), send real TCP
# connections to the VIP through the LB and show what happened.
# Without MODE: host when the running kernel can run the eBPF endpoints
# (>= 5.17 with the BPF syscall, BTF and a cgroup2 mount) and LB is xdp;
# vm otherwise (and always for LB=nf, a kernel module).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${MODE:-} lb=${LB:-xdp} kernel=${KERNEL:-6.12} conns=${CONNS:-30}
while [ $# -gt 0 ]; do
	case $1 in
	--mode) mode=$2; shift 2 ;;
	--lb) lb=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--conns) conns=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case $lb in nf|xdp) ;; *) echo "error: LB must be nf or xdp, not '$lb'" >&2; exit 2 ;; esac
case $mode in ''|host|vm) ;; *) echo "error: MODE must be host or vm, not '$mode'" >&2; exit 2 ;; esac

# Why the running kernel cannot run the host demo (empty: it can).
host_unfit() {
	local v
	v=$(uname -r | sed -n 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
	read -r maj min <<<"$v"
	if [ -z "$v" ] || [ "$maj" -lt 5 ] || { [ "$maj" = 5 ] && [ "$min" -lt 17 ]; }; then
		echo "kernel $(uname -r) is older than 5.17"
	elif [ ! -e /proc/sys/kernel/unprivileged_bpf_disabled ]; then
		echo "kernel $(uname -r) has no BPF syscall"
	elif [ ! -e /sys/kernel/btf/vmlinux ]; then
		echo "kernel $(uname -r) has no BTF (/sys/kernel/btf/vmlinux)"
	elif ! awk '$3 == "cgroup2" { f = 1 } END { exit !f }' /proc/mounts; then
		echo "no cgroup2 mount"
	fi
}

if [ -z "$mode" ]; then
	if [ "$lb" = nf ]; then
		mode=vm why="LB=nf is a kernel module"
	else
		why=$(host_unfit)
		if [ -z "$why" ]; then mode=host; else mode=vm; fi
	fi
	[ -n "${why:-}" ] && echo "demo: no host mode here: $why"
fi
if [ "$mode" = host ]; then
	[ "$lb" = xdp ] || { echo "error: MODE=host runs the XDP LB; LB=nf needs MODE=vm (a kernel module)" >&2; exit 2; }
	echo "demo: mode host (eBPF endpoints + XDP LB on the host kernel); make demo MODE=vm for the kernel modules in a QEMU guest"
else
	echo "demo: mode vm (kernel modules + $lb LB in a QEMU guest, Debian $kernel); make demo MODE=host for the eBPF endpoints + XDP LB on the host kernel"
fi
[ "$(id -u)" -eq 0 ] || {
	echo "error: the demo needs root (namespaces$([ "$mode" = vm ] && echo ', QEMU' || echo ', cgroups, BPF'), apt): run it as root" >&2
	exit 1
}
cd "$top"
bash scripts/install-deps.sh
if [ "$mode" = host ]; then
	echo "demo: building the BPF objects, crabctl and crab-nettest (make bpf userspace; output in build/demo-build.log)"
	mkdir -p build
	make -s bpf userspace >build/demo-build.log 2>&1 ||
		{ tail -n 30 build/demo-build.log >&2; echo "error: make bpf userspace failed (build/demo-build.log)" >&2; exit 1; }
	exec bash tools/demo-host.sh --conns "$conns"
fi
make -s all
exec bash tools/vm/run-vm.sh --kernel "$kernel" --timeout 1200 \
	--cmd "bash tools/demo-guest.sh --lb $lb --conns $conns"
