#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build the kernel modules against KDIR in OUT, a copy of the module sources,
# so that the tree stays clean and several kernels can be served side by side.
# Usage: build-modules.sh KDIR OUT
set -euo pipefail
kdir=$1 out=$2
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -e "$kdir/Makefile" ]; then
	echo "error: no kernel build tree at '$kdir' (install linux-headers, or pass KDIR=)" >&2
	exit 2
fi
mkdir -p "$out"
# Mirror the sources (Kbuild, shared headers, module dirs); keep objects of
# earlier builds so kbuild only rebuilds what changed.
for p in Kbuild include modules lb/netfilter; do
	[ -e "$top/$p" ] || continue
	mkdir -p "$out/$(dirname "$p")"
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--exclude '*.mod*' --exclude modules.order --exclude Module.symvers \
		"$top/$p" "$out/$(dirname "$p")/"
done
log=$out/build.log
if ! make -C "$kdir" M="$out" modules >"$log" 2>&1; then
	cat "$log" >&2
	echo "error: module build failed against $kdir (log: $log)" >&2
	exit 1
fi
# Warning-free is part of the contract: any compiler warning fails the build.
if grep -E 'warning:' "$log" >&2; then
	echo "error: module build against $kdir produced warnings (log: $log)" >&2
	exit 1
fi
# A .ko the build did not make now (a module that moved, say) is stale: a
# test that looks modules up by name must not find it.
find "$out" -name '*.ko' | while read -r ko; do
	grep -qxF -e "${ko%.ko}.o" -e "$ko" "$out/modules.order" || rm -f "$ko"
done
n=$(find "$out" -name '*.ko' | wc -l)
echo "modules: $n built for $(basename "$out") in $out"
