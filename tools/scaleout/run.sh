#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make scaleout-experiment: three LBs behind an ECMP router (FRR: BGP + BFD),
# LB 2 killed and brought back under a steady stream of new connections and
# long-lived connections carrying data (tools/scaleout/experiment.sh), then
# the summary and the figure (plot.py). Two parts, each its own same-run
# comparison:
#   host  CRAB with the XDP LB and the eBPF endpoints on the host's own kernel,
#         with and without the switch flooding unknown unicast to the LBs
#   vm    CRAB with the nf LB module and the endpoint modules, and
#         IPVS NAT, one after the other in ONE boot of Debian's 6.1 under
#         QEMU/TCG (IPVS and our modules need loadable modules, which the
#         host kernel lacks), same router, same FRR settings
# The host's 1-min load average is sampled every second throughout.
#
#   run.sh [--out DIR] [--parts "host vm"] [--kernel 6.1|6.12]
#          [--host-args "..."] [--vm-args "..."]
set -euo pipefail
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
top=$(cd "$(dirname "$0")/../.." && pwd)
cmdline="$0 $*"
out= parts="host vm" kernel=6.1
# The guest is ~35x slower: fewer connections per second, the same timeline.
host_args="--rate 50 --held 30 --duration 40 --kill-at 12 --back-at 26"
# BFD 500 ms x 3 there: an emulated vCPU on a loaded host stalls for longer
# than 300 ms x 3 at times, and BFD then drops healthy LBs.
vm_args="--rate 6 --held 10 --held-interval 0.5 --duration 45 --kill-at 15 --back-at 30 --sample 1 --bfd-ms 500 --converge-s 300"
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--parts) parts=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--host-args) host_args=$2; shift 2 ;;
	--vm-args) vm_args=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
for p in $parts; do
	case $p in host | vm) ;; *) echo "error: --parts: unknown part '$p' (host, vm)" >&2; exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "error: the scale-out experiment needs root (namespaces, XDP, QEMU)" >&2; exit 1; }
for t in vtysh ipvsadm nft qemu-system-x86_64; do
	command -v "$t" >/dev/null || { echo "error: $t not installed (make deps)" >&2; exit 1; }
done
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
	{ echo "error: python3-matplotlib not installed (make deps)" >&2; exit 1; }
[ -n "$out" ] || out=$top/build/scaleout/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out"
out=$(cd "$out" && pwd)
case " $parts " in
*" vm "*)
	# The guest writes its results through the repository's 9p share.
	[[ $out == "$top"/* ]] || { echo "error: --out must be inside $top for the vm part" >&2; exit 2; } ;;
esac

{
	echo "command: $cmdline"
	echo "git: $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(uname -r), $(nproc) CPUs"
	echo "frr: $(dpkg-query -W -f '${Version}' frr 2>/dev/null)"
	echo "parts: $parts; host: $host_args; vm (kernel $kernel, 1 vCPU, TCG): $vm_args"
} >"$out/env.txt"

touch "$out/.sampling"
(
	while [ -e "$out/.sampling" ]; do
		echo "$(date +%s.%N) $(cut -d' ' -f1 /proc/loadavg)"
		sleep 1
	done
) >"$out/host-load.txt" &
sampler=$!
trap 'rm -f "$out/.sampling"; wait $sampler 2>/dev/null' EXIT

rc=0
for p in $parts; do
	case $p in
	host)
		echo "# scaleout: host part (CRAB XDP LBs)"
		# shellcheck disable=SC2086
		bash "$top/tools/scaleout/experiment.sh" --out "$out" --alts "xdp xdp-noflood" $host_args || rc=1
		;;
	vm)
		echo "# scaleout: vm part (CRAB nf LB, IPVS NAT) in one guest"
		CRAB_VM_CPUS=1 nice -n 5 bash "$top/tools/vm/run-vm.sh" --kernel "$kernel" --timeout 3600 \
			--cmd "bash tools/scaleout/experiment.sh --out $out --alts 'nf ipvs' $vm_args" || rc=1
		;;
	esac
done
rm -f "$out/.sampling"
wait $sampler 2>/dev/null || true
/usr/bin/python3 "$top/tools/scaleout/plot.py" "$out" || rc=1
echo "# scaleout: results in $out (summary.md, scaleout.png)"
exit $rc
