#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo [LB=xdp|nf] [KERNEL=6.12|6.1]: the main job on an embedded
# default. Installs what it needs, builds everything, boots a Debian kernel in
# QEMU and, inside, builds the standard topology (client, LB, 3 servers) with
# the CRAB endpoint modules, sends real TCP connections to the VIP through
# the chosen LB and shows what happened.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
lb=${LB:-xdp} kernel=${KERNEL:-6.12} conns=${CONNS:-30}
while [ $# -gt 0 ]; do
	case $1 in
	--lb) lb=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--conns) conns=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case $lb in nf|xdp) ;; *) echo "error: LB must be nf or xdp, not '$lb'" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "error: the demo needs root (namespaces, QEMU, apt)" >&2; exit 1; }
cd "$top"
bash scripts/install-deps.sh
make -s all
exec bash tools/vm/run-vm.sh --kernel "$kernel" --timeout 1200 \
	--cmd "bash tools/demo-guest.sh --lb $lb --conns $conns"
