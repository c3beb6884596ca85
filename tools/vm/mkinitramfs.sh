#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build the tiny busybox initramfs that mounts the host root over 9p for a
# given kernel release: busybox-static, the virtio/9p modules that kernel
# needs (in modprobe's dependency order, decompressed, since busybox insmod
# cannot read .ko.xz) and tools/vm/init. Cached: rebuilt when inputs change.
# Usage: mkinitramfs.sh KVER OUT.cpio.gz
set -euo pipefail
kver=$1 out=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
stamp="$kver $(md5sum "$top/tools/vm/init" /bin/busybox | cut -c1-32 | tr '\n' ' ')"
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d"/{bin,dev,proc,sys,newroot,mods}
cp /bin/busybox "$d/bin/busybox"
ln -s busybox "$d/bin/sh"
cp "$top/tools/vm/init" "$d/init"
chmod +x "$d/init"
: >"$d/mods.list"
if [ -d "/lib/modules/$kver" ]; then
	# Everything needed for 9p over virtio-pci; built-in ones print "builtin".
	for m in virtio_pci 9pnet_virtio 9p; do
		modprobe -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}'
	done | awk '!seen[$0]++' | while read -r ko; do
		base=$(basename "$ko")
		case $ko in
		*.xz) xz -dc "$ko" >"$d/mods/${base%.xz}"; base=${base%.xz} ;;
		*.zst) zstd -qdc "$ko" >"$d/mods/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$ko" "$d/mods/$base" ;;
		esac
		echo "$base" >>"$d/mods.list"
	done
fi
mkdir -p "$(dirname "$out")"
(cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
echo "$stamp" >"$out.stamp"
