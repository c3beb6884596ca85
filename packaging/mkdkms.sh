#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Lay out the DKMS source tree of the CRAB modules in OUT (default
# build/dkms/crab-VERSION): dkms.conf with the version filled in, the
# top-level Kbuild, the shared headers and the module sources.
# Usage: mkdkms.sh [OUT]    prints OUT
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ver=$(bash "$top/packaging/version.sh")
out=${1:-$top/build/dkms/crab-$ver}
rm -rf "$out"
mkdir -p "$out"
for p in Kbuild include modules lb/netfilter; do
	mkdir -p "$out/$(dirname "$p")"
	# Sources only: no objects of an earlier in-tree build, no READMEs.
	rsync -a --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod*' \
		--exclude modules.order --exclude Module.symvers --exclude '*.md' \
		"$top/$p" "$out/$(dirname "$p")/"
done
sed "s/@VERSION@/$ver/" "$top/packaging/dkms.conf.in" >"$out/dkms.conf"
echo "$out"
