#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The Debian part of the CRAB cloud image (tools/cloud-image/bake.sh runs
# it): a Debian 12 root tree made by mmdebstrap with the cloud kernel and its
# headers, systemd, cloud-init, DKMS and the libraries crabctl links, and the
# packages of a second cloud kernel downloaded next to it (the kernel upgrade
# that bake.sh installs after CRAB, so that DKMS rebuilds for it).
#
#   mkbase.sh BASEDIR DEPENDS...
#
# BASEDIR/root      the tree (owned by root: mmdebstrap's root mode)
# BASEDIR/upgrade   linux-image-6.12-cloud-amd64 and linux-headers-6.12-cloud-amd64
#                   with what they need beyond the tree (.debs)
# BASEDIR/ok        written last: the directory is complete
# DEPENDS           package names the CRAB packages depend on (installed too)
#
# Packages come from the Debian mirror through apt (CRAB_CLOUDIMG_MIRROR,
# default http://deb.debian.org/debian, and its -security twin); the .debs
# are kept in CRAB_CLOUDIMG_APTCACHE so that a new base downloads only what
# changed. CRAB_CLOUDIMG_EXTRA adds packages (e.g. "openssh-server").
set -euo pipefail
die() { echo "mkbase: error: $*" >&2; exit 1; }
say() { echo "mkbase: $*" >&2; }

[ $# -ge 1 ] || die "usage: mkbase.sh BASEDIR [DEPENDS...]"
base=$1; shift
mirror=${CRAB_CLOUDIMG_MIRROR:-http://deb.debian.org/debian}
security=${CRAB_CLOUDIMG_SECURITY:-${mirror%/debian}/debian-security}
aptcache=${CRAB_CLOUDIMG_APTCACHE:?}
suite=bookworm

# What a minimal Debian cloud image has, plus what DKMS needs to build
# for the cloud kernel (its headers pull gcc and kbuild) and what the
# image's own tests use (iproute2, ping, socat; python3 comes with cloud-init).
pkgs=(
	linux-image-cloud-amd64 linux-headers-cloud-amd64 initramfs-tools zstd
	systemd-sysv udev dbus kmod procps e2fsprogs sudo
	cloud-init ifupdown isc-dhcp-client iproute2 iputils-ping socat
	dkms openssl python3
	"$@"
)
# shellcheck disable=SC2206
pkgs+=(${CRAB_CLOUDIMG_EXTRA:-})
upgrade=(linux-image-6.12-cloud-amd64 linux-headers-6.12-cloud-amd64)

command -v mmdebstrap >/dev/null || die "mmdebstrap not installed (make deps)"
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap's root mode: the tree is owned by root)"
rm -rf "$base"
mkdir -p "$base/upgrade" "$aptcache"
root=$base/root

say "mmdebstrap $suite: ${pkgs[*]}"
# Hooks run on the host with the tree as $1. The apt cache is synced in
# before the download and out after the install; then the upgrade kernel
# is downloaded (not installed) with the tree's apt, and its .debs kept.
# /usr/share/doc (but copyright), man pages and translations are left out,
# as in Debian's slim images; the tree's dpkg keeps that setting. dpkg
# skips fsync while the tree is made (mkfs.ext4 copies it afterwards);
# that setting is taken out of the tree at the end.
# shellcheck disable=SC2016
mmdebstrap --mode=root --variant=minbase --format=directory \
	--include="$(IFS=,; echo "${pkgs[*]}")" \
	--aptopt='Acquire::Languages "none"' \
	--dpkgopt=force-unsafe-io \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--skip=essential/unlink \
	--setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
	--setup-hook="sync-in $aptcache /var/cache/apt/archives/" \
	--customize-hook='rm -f '"$aptcache"'/*.deb' \
	--customize-hook="sync-out /var/cache/apt/archives $aptcache" \
	--customize-hook='chroot "$1" apt-get clean' \
	--customize-hook='chroot "$1" apt-get install -y -q --download-only '"${upgrade[*]}" \
	--customize-hook='cp "$1"/var/cache/apt/archives/*.deb '"$base/upgrade/" \
	--customize-hook='chroot "$1" apt-get clean' \
	"$suite" "$root" \
	"deb $mirror $suite main" \
	"deb $mirror $suite-updates main" \
	"deb $security $suite-security main"

ls "$base"/upgrade/linux-image-6.12*-cloud-amd64_*.deb >/dev/null 2>&1 ||
	die "the upgrade kernel (${upgrade[*]}) was not downloaded"
ls "$root"/boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || die "no cloud kernel in the tree"

sed -i '/^force-unsafe-io$/d' "$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
grep -q unsafe "$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap" && die "cannot drop force-unsafe-io from the tree's dpkg.cfg"
# The C.UTF-8 locale (in libc; no locales package): cloud-init's locale
# module then has nothing to generate.
echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
# The root file system by label (bake.sh makes it with that label), as a
# cloud image's fstab does.
printf 'LABEL=crab-root / ext4 rw,discard,errors=remount-ro 0 1\n' >"$root/etc/fstab"
# A NIC named by the cloud gets DHCP from cloud-init's network config;
# ifupdown reads what cloud-init writes there.
mkdir -p "$root/etc/network/interfaces.d"
printf 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n' \
	>"$root/etc/network/interfaces"
echo "$suite $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$base/ok"
say "base in $base: $(du -sh "$root" | cut -f1), upgrade: $(cd "$base/upgrade" && echo *.deb)"
