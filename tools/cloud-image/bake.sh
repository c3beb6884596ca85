#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make cloud-image: bake CRAB into a Debian 12 cloud image.
#
#   1. base (mkbase.sh): mmdebstrap's Debian 12 tree with linux-image-cloud-amd64
#      and its headers, systemd, cloud-init and DKMS; the .debs of a second
#      cloud kernel (6.12) downloaded next to it.
#   2. CRAB: a copy of the tree, in which `apt-get install` of build/deb's
#      crab-dkms and crabctl runs in a chroot: crab-dkms's postinst has DKMS
#      build and install the modules for the cloud kernel, natively.
#   3. Kernel upgrade: `apt-get install` of the second cloud kernel and its
#      headers in the same chroot: the kernel's hooks run DKMS, which builds
#      the modules for it (what happens on a machine after `apt upgrade`).
#   4. The image: disk.raw, an ext4 file system made by `mkfs.ext4 -d` from
#      the tree (no loop mount), label crab-root, room to spare; the kernels
#      and initrds next to it for QEMU's direct boot (boot.sh).
#
# Everything lands in CRAB_CLOUDIMG_CACHE (default ~/.cache/crab/cloud-image):
#   img-<stamp>/   disk.raw, vmlinuz-<kver>, initrd.img-<kver>, kernels (the
#                  base kernel, then the upgrade), manifest (dpkg -l), dkms
#                  (dkms status), bake.log
#   base-<stamp>/  the tree of step 1; apt/ the downloaded .debs
# The image's stamp hashes the base's stamp, this script and the CRAB
# packages' contents (their files and maintainer scripts, not dates); the
# base's stamp hashes mkbase.sh, the packages' dependencies and the versions
# Debian offers for the kernels, cloud-init and DKMS (from this host's apt
# lists). A stamp already baked is reused: the image's directory is the LAST
# line printed. The two newest images and bases are kept.
#
# Environment: CRAB_CLOUDIMG_DEBS (default build/deb), CRAB_CLOUDIMG_CACHE,
# CRAB_CLOUDIMG_FORCE=1 bakes even if the stamp matches, CRAB_CLOUDIMG_EXTRA
# (more Debian packages), CRAB_CLOUDIMG_MIRROR. Needs root (mmdebstrap's
# root mode, chroot) and no loop device.
set -euo pipefail
die() { echo "bake: error: $*" >&2; exit 1; }
say() { echo "bake: $*" >&2; }
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
top=$(cd "$(dirname "$0")/../.." && pwd)

# ---- step 2 and 3, inside a private mount namespace (see below) -------------------
if [ "${1:-}" = --chroot-steps ]; then
	root=$2 out=$3
	mount --make-rprivate /
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs tmpfs "$root/run"
	chr() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
	# No fsync while the tree is made: mkfs.ext4 copies it afterwards.
	aptopt=(-o Dpkg::Options::=--force-unsafe-io)
	base_kver=$(head -n1 "$out/kernels")
	say "apt-get install crab-dkms crabctl (DKMS builds for $base_kver)"
	# shellcheck disable=SC2046
	chr apt-get install "${aptopt[@]}" -y -q $(cd "$root" && ls tmp/crab/*.deb | sed 's|^|/|') ||
		die "apt-get install of the CRAB packages failed"
	ver=$(chr dpkg-query -W -f '${Version}' crab-dkms)
	chr dkms status -m crab -v "$ver" -k "$base_kver" | grep -q ": installed" ||
		die "DKMS did not install crab/$ver for $base_kver"
	say "kernel upgrade: apt-get install $(cd "$root/tmp/upgrade" && echo *.deb)"
	# shellcheck disable=SC2046
	chr apt-get install "${aptopt[@]}" -y -q $(cd "$root" && ls tmp/upgrade/*.deb | sed 's|^|/|') 2>&1 |
		tee "$out/upgrade.log" || die "the kernel upgrade failed"
	up_kver=$(cd "$root/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | grep -vxF "$base_kver" | sort -V | tail -n1)
	[ -n "$up_kver" ] || die "no second kernel in /boot after the upgrade"
	echo "$up_kver" >>"$out/kernels"
	chr dkms status -m crab -v "$ver" -k "$up_kver" | grep -q ": installed" ||
		die "DKMS did not rebuild crab/$ver for the upgraded kernel $up_kver"
	chr dkms status >"$out/dkms"
	chr dpkg-query -W -f '${Package} ${Version}\n' >"$out/manifest"
	chr apt-get clean
	exit 0
fi

main() {
	debs_dir=${CRAB_CLOUDIMG_DEBS:-$top/build/deb}
	cache=${CRAB_CLOUDIMG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crab/cloud-image}
	[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap's root mode and chroot)"
	for t in mmdebstrap mkfs.ext4 dpkg-deb unshare chroot flock sha256sum; do
		command -v "$t" >/dev/null || die "'$t' not installed (make deps)"
	done
	shopt -s nullglob
	debs=("$debs_dir"/crab-dkms_*_all.deb "$debs_dir"/crabctl_*_amd64.deb)
	shopt -u nullglob
	[ ${#debs[@]} = 2 ] || die "need exactly one crab-dkms and one crabctl package in $debs_dir (make deb)"
	mkdir -p "$cache"
	exec 9>"$cache/lock"
	flock 9

	# ---- stamps ---------------------------------------------------------------------
	local t deps digest vers base_stamp stamp mkbase
	mkbase=$(dirname "$self")/mkbase.sh
	t=$(mktemp -d)
	trap 'rm -rf "$t"' EXIT
	# The packages' files and maintainer scripts, without dates and without
	# /usr/share/doc (the image leaves it out but for copyright, and the
	# changelog names the commit).
	digest=$(for d in "${debs[@]}"; do
		dpkg-deb -f "$d" Package Version Architecture Depends Recommends
		rm -rf "$t/c" "$t/x"
		dpkg-deb -e "$d" "$t/c"
		dpkg-deb -x "$d" "$t/x"
		(cd "$t/c" && find . -type f ! -name md5sums -exec sha256sum {} + | sort -k2)
		(cd "$t/x" && find . ! -path './usr/share/doc/*' -printf '%M %p %l\n' | sort -k2 &&
			find . -type f ! -path './usr/share/doc/*' -exec sha256sum {} + | sort -k2)
	done | sha256sum | cut -d' ' -f1)
	deps=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Depends; done |
		tr ',' '\n' | sed 's/(.*//; s/|.*//; s/[[:space:]]//g' | grep . | sort -u | tr '\n' ' ')
	vers=$(apt-cache policy linux-image-cloud-amd64 linux-headers-cloud-amd64 \
		linux-image-6.12-cloud-amd64 linux-headers-6.12-cloud-amd64 cloud-init dkms systemd \
		2>/dev/null | grep -E '^[a-z0-9]|Candidate' || true)
	base_stamp=$(printf '%s\n' "$(sha256sum <"$mkbase")" "$deps" "${CRAB_CLOUDIMG_EXTRA:-}" "${CRAB_CLOUDIMG_MIRROR:-}" "$vers" |
		sha256sum | cut -c1-16)
	stamp=$(printf '%s\n' "$base_stamp" "$(sha256sum <"$self")" "$digest" | sha256sum | cut -c1-16)
	img=$cache/img-$stamp
	if [ "${CRAB_CLOUDIMG_FORCE:-0}" != 1 ] && [ -f "$img/ok" ]; then
		say "up to date (stamp $stamp, base $base_stamp): $(du -h --apparent-size "$img/disk.raw" | cut -f1) image, $(du -h "$img/disk.raw" | cut -f1) used"
		touch "$img"
		echo "$img"
		return 0
	fi
	local start=$SECONDS
	local base=$cache/base-$base_stamp
	if [ ! -f "$base/ok" ]; then
		say "base $base_stamp: mmdebstrap (packages in $cache/apt)"
		# shellcheck disable=SC2086
		CRAB_CLOUDIMG_APTCACHE=$cache/apt bash "$mkbase" "$base" $deps ||
			die "the base failed"
	else
		say "base $base_stamp: cached"
	fi
	touch "$base"

	# ---- CRAB and the kernel upgrade in a copy of the base --------------------------
	local work=$cache/work-$stamp
	rm -rf "$work" "$img.tmp"
	mkdir -p "$work" "$img.tmp"
	say "copying the base"
	cp -a --reflink=auto "$base/root" "$work/root"
	mkdir -p "$work/root/tmp/crab" "$work/root/tmp/upgrade"
	cp "${debs[@]}" "$work/root/tmp/crab/"
	cp "$base"/upgrade/*.deb "$work/root/tmp/upgrade/"
	(cd "$work/root/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -n1) >"$img.tmp/kernels"
	unshare -m bash "$self" --chroot-steps "$work/root" "$img.tmp" 2>&1 |
		tee "$img.tmp/bake.log" >&2 ||
		die "installing CRAB in the image failed (log: $img.tmp/bake.log)"
	rm -rf "$work/root/tmp/crab" "$work/root/tmp/upgrade"
	local k
	while read -r k; do
		cp "$work/root/boot/vmlinuz-$k" "$work/root/boot/initrd.img-$k" "$img.tmp/"
	done <"$img.tmp/kernels"

	# ---- the file system ------------------------------------------------------------
	# The tree's size plus a sixth and 1 GiB free (logs, apt, a DKMS build);
	# the file is sparse, only the data takes room.
	local used size
	used=$(du -sb "$work/root" | cut -f1)
	size=$(((used + used / 6) / 1048576 + 1024))
	say "mkfs.ext4 -d: ${size} MiB file system from $((used / 1048576)) MiB of files"
	mkfs.ext4 -q -F -L crab-root -d "$work/root" "$img.tmp/disk.raw" "${size}M" ||
		die "mkfs.ext4 -d failed"
	rm -rf "$work"
	echo "$stamp $(date -u +%Y-%m-%dT%H:%M:%SZ) $((SECONDS - start))s" >"$img.tmp/ok"
	rm -rf "$img"
	mv "$img.tmp" "$img"

	# Keep the two newest images and bases.
	local old
	for old in $(find "$cache" -maxdepth 1 -name 'img-*' ! -name '*.tmp' -printf '%T@ %p\n' |
		sort -rn | tail -n +3 | cut -d' ' -f2) \
		$(find "$cache" -maxdepth 1 -name 'base-*' -printf '%T@ %p\n' | sort -rn | tail -n +3 |
		cut -d' ' -f2); do
		say "removing the old $old"
		rm -rf "$old"
	done
	say "baked $img in $((SECONDS - start))s: kernels $(tr '\n' ' ' <"$img/kernels"); $(du -h --apparent-size "$img/disk.raw" | cut -f1) image, $(du -h "$img/disk.raw" | cut -f1) used"
	echo "$img"
}

main "$@"
