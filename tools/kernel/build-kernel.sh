#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the CRAB test kernel: Debian's linux-source-6.12 with the patch series
# kernel-patches/6.12/*.patch applied, configured as a minimal QEMU guest
# (tinyconfig + kernel-patches/config/crab-vm.config). Nothing is downloaded.
#
#   build/kernel/src   the source, a git repository whose first commit is the
#                      pristine tarball (tag "pristine"); the series is applied
#                      with "git am" on top of it each time it changed
#   build/kernel/obj   the object tree (make O=...), kept between runs
#
# The build is skipped when the stamp (sha256 of the series, the config
# fragment and this script) matches the last successful build. The path of
# bzImage is the LAST line printed.
#
# A copy of each image built is kept by stamp in CRAB_KCACHE (default
# ~/.cache/crab/kernel/<stamp>/bzImage) and printed instead of building when
# the series, config and script match one. <stamp>/build links to the object
# tree of that build while it still holds it (an external-module build tree:
# tools/vm/run-vm.sh builds the project's modules against it).
# Environment: CRAB_KBUILD_DIR (default build/kernel: where src/, obj/ and the
# stamp live; CI points it outside the clone so that an unchanged series is
# not rebuilt), CRAB_KSRC_TAR (default /usr/src/linux-source-6.12.tar.xz),
# CRAB_KJOBS (default nproc), CRAB_KFORCE=1 rebuilds even if the stamp matches.
# The whole script is one function, parsed before it runs: editing the file
# while a build runs does not break that build.
die() { echo "build-kernel: error: $*" >&2; exit 1; }
say() { echo "build-kernel: $*" >&2; }

main() {
	set -euo pipefail
	local self=${BASH_SOURCE[0]}
	top=$(cd "$(dirname "$0")/../.." && pwd)
	tarball=${CRAB_KSRC_TAR:-/usr/src/linux-source-6.12.tar.xz}
	jobs=${CRAB_KJOBS:-$(nproc)}
	kdir=${CRAB_KBUILD_DIR:-$top/build/kernel}
	mkdir -p "$kdir"
	kdir=$(cd "$kdir" && pwd)
	src=$kdir/src
	obj=$kdir/obj
	frag=$top/kernel-patches/config/crab-vm.config
	image=$obj/arch/x86/boot/bzImage
	git=(git -C "$src" -c user.name="CRAB build" -c user.email="crab@localhost"
	     -c advice.detachedHead=false -c core.autocrlf=false -c gc.auto=0
	     -c maintenance.auto=false)


	shopt -s nullglob
	patches=("$top"/kernel-patches/6.12/*.patch)
	shopt -u nullglob

	stamp=$(cat "${patches[@]}" "$frag" "$self" | sha256sum | cut -d' ' -f1)
	if [ "${CRAB_KFORCE:-0}" != 1 ] && [ -f "$image" ] &&
	   [ "$(cat "$kdir/stamp" 2>/dev/null)" = "$stamp" ]; then
		say "up to date (stamp $stamp)"
		echo "$image"
		exit 0
	fi
	# Images of earlier builds, by stamp, outside the tree: a fresh clone
	# with an unchanged series and config reuses the image, as long as the
	# object tree it was built in still holds that build (the project's
	# modules are built against it; without it they could not be).
	cache=${CRAB_KCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crab/kernel}/$stamp
	if [ "${CRAB_KFORCE:-0}" != 1 ] && [ -f "$cache/bzImage" ] &&
	   [ -e "$cache/build/Module.symvers" ]; then
		say "up to date (stamp $stamp, cached image)"
		echo "$cache/bzImage"
		exit 0
	fi

	for t in git make gcc flex bison bc; do
		command -v "$t" >/dev/null || die "'$t' is not installed"
	done
	cc=gcc
	command -v ccache >/dev/null && cc="ccache gcc"

	# ---- pristine source as a git repository (once) -----------------------------
	if ! "${git[@]}" rev-parse -q --verify pristine >/dev/null 2>&1; then
		[ -f "$tarball" ] || die "$tarball not found (apt-get install linux-source-6.12)"
		say "extracting $tarball into $src"
		rm -rf "$src"
		mkdir -p "$src"
		tar -xJf "$tarball" -C "$src" --strip-components=1
		"${git[@]}" init -q
		"${git[@]}" add -A -f
		GIT_AUTHOR_DATE="2000-01-01T00:00:00 +0000" GIT_COMMITTER_DATE="2000-01-01T00:00:00 +0000" \
			"${git[@]}" commit -q -m "pristine $(basename "$tarball")"
		"${git[@]}" tag pristine
	fi

	# ---- apply the series ---------------------------------------------------------
	# Re-applying rewrites the patched files (and so recompiles what includes
	# them): skip it when the tree already holds exactly this series.
	series=$(cat /dev/null "${patches[@]}" | sha256sum | cut -d' ' -f1)
	if [ "$(cat "$src/.git/crab-series" 2>/dev/null)" = "$series" ] &&
	   [ -z "$("${git[@]}" status --porcelain --untracked-files=no)" ]; then
		say "series already applied"
	else
		rm -f "$src/.git/crab-series"
		"${git[@]}" am --abort >/dev/null 2>&1 || true
		"${git[@]}" checkout -q --detach pristine
		"${git[@]}" reset -q --hard pristine
		"${git[@]}" clean -q -fdx
		if [ ${#patches[@]} -gt 0 ]; then
			say "applying ${#patches[@]} patches"
			"${git[@]}" am -q --whitespace=error-all "${patches[@]}" ||
				die "the series does not apply to pristine (see $src, 'git am --abort')"
		fi
		echo "$series" >"$src/.git/crab-series"
	fi
	"${git[@]}" log --oneline pristine..HEAD >&2

	# ---- configure ------------------------------------------------------------------
	mkdir -p "$obj"
	mk=(make -C "$src" O="$obj" ARCH=x86_64 CC="$cc" HOSTCC=gcc LOCALVERSION= -s)
	"${mk[@]}" tinyconfig >/dev/null
	(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" >/dev/null)
	"${mk[@]}" olddefconfig >/dev/null
	missing=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$obj/.config" ||
				{ say "config: '$line' requested but not set"; missing=1; }
			;;
		esac
	done <"$frag"
	[ "$missing" = 0 ] || die "the config fragment did not apply (dependencies missing in $frag)"

	# ---- build ----------------------------------------------------------------------
	# The object tree is about to change: earlier cached images no longer
	# have a module build tree.
	for l in "$(dirname "$cache")"/*/build; do
		[ "$(readlink "$l")" != "$obj" ] || rm -f "$l"
	done
	say "building bzImage and modules with -j$jobs (CC=$cc)"
	# "modules" writes Module.symvers, which out-of-tree modules link against.
	"${mk[@]}" -j"$jobs" bzImage modules
	[ -f "$image" ] || die "no bzImage produced"
	echo "$stamp" >"$kdir/stamp"
	if mkdir -p "$cache" && cp "$image" "$cache/bzImage.tmp" &&
	   cp "$obj/.config" "$cache/config" && mv "$cache/bzImage.tmp" "$cache/bzImage" &&
	   ln -sfn "$obj" "$cache/build"; then
		say "image cached in $cache"
	else
		say "warning: could not cache the image in $cache"
	fi
	say "$("${mk[@]}" kernelrelease)"
	echo "$image"
}

main "$@"
