#!/bin/bash
# The DPDK LB core's process() alone, per commit: instructions per call
# (callgrind) and TSC cycles per call (micro.cpp: the benchmark's 4096 SYNs
# copied into mbuf-like buffers, bursts of 32, best of 5 x 200000 bursts,
# pinned to CPU 1). Not a repo benchmark: a scratch driver, kept with the
# data it produced.
#   bash micro_steps.sh SYNS4.pcap SYNS6.pcap COMMIT...
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(git -C "$HERE" rev-parse --show-toplevel)
P4=$(realpath "$1"); P6=$(realpath "$2"); shift 2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
printf '%-9s %10s %10s %10s %10s\n' commit instr_v4 tsc_v4 instr_v6 tsc_v6
for c in "$@"; do
	rm -rf "$W/src" && mkdir -p "$W/src"
	git -C "$TOP" archive "$c" lb/dpdk/core include userspace/common | tar -x -C "$W/src"
	S=$W/src
	g++ -O2 -g -DNDEBUG -std=c++20 -I"$S/lb/dpdk/core" -I"$S/include" -I"$S/userspace/common" \
		"$HERE/micro.cpp" "$S/lb/dpdk/core/lb_core.cpp" "$S/lb/dpdk/core/config.cpp" "$S/lb/dpdk/core/ndp.cpp" \
		"$S/userspace/common/common.cpp" "$S/userspace/common/config.cpp" -o "$W/micro"
	row=$c
	for f in 4 6; do
		pc=$P4; [ $f = 6 ] && pc=$P6
		valgrind --tool=callgrind --callgrind-out-file="$W/cg" "$W/micro" "$pc" $f 1000 >/dev/null 2>&1
		ins=$(callgrind_annotate --inclusive=yes "$W/cg" 2>/dev/null | grep 'process(' | head -1 |
			awk '{gsub(",","",$1); printf "%.1f", $1/160000}')
		cyc=$(taskset -c 1 "$W/micro" "$pc" $f 200000 | awk '/best/ {print $2}')
		row="$row $ins $cyc"
	done
	printf '%-9s %10s %10s %10s %10s\n' $row
done
