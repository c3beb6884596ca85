#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the CRAB test kernel: Debian's linux-source-6.12 with the patch series
# kernel-patches/6.12/*.patch applied, configured from Debian's own 6.12
# configuration with hardware drivers trimmed (tools/kernel/mkconfig.sh and
# kernel-patches/config/crab-vm.config). Nothing is downloaded.
#
#   build/kernel/src   the source, a git repository whose first commit is the
#                      pristine tarball (tag "pristine"); the series is applied
#                      with "git am" on top of it each time it changed, and
#                      every patch must pass scripts/checkpatch.pl --strict
#   build/kernel/obj   the object tree (make O=...), kept between runs
#
# The build is skipped when the stamp (sha256 of the series, Debian's config,
# the fragment, mkconfig.sh and this script) matches the last successful
# build. The path of bzImage is the LAST line printed.
#
# A copy of each image built is kept by stamp in CRAB_KCACHE (default
# ~/.cache/crab/kernel/<stamp>/): bzImage, config, modules/ (the kernel's own
# modules, "make modules_install" output: lib/modules/<release>/) and build,
# a link to the object tree while it still holds that build (an external
# module build tree with Module.symvers: tools/vm/run-vm.sh builds the
# project's modules against it). The image is printed instead of building
# when the series, config and scripts match one.
#
# Environment: CRAB_KBUILD_DIR (default build/kernel: where src/, obj/ and the
# stamp live; CI points it outside the clone so that an unchanged series is
# not rebuilt), CRAB_KSRC_TAR (default /usr/src/linux-source-6.12.tar.xz),
# CRAB_KBASE_CONFIG (default the newest /boot/config-6.12.*-amd64),
# CRAB_KJOBS (default nproc), CRAB_KFORCE=1 rebuilds even if the stamp
# matches, CRAB_KTIMING=FILE appends "stamp seconds user system" of the
# build to FILE.
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
	mkconfig=$top/tools/kernel/mkconfig.sh
	image=$obj/arch/x86/boot/bzImage
	base=${CRAB_KBASE_CONFIG:-$(ls /boot/config-6.12.*-amd64 2>/dev/null |
		grep -v -e cloud -e rt | sort -V | tail -n1)}
	[ -n "$base" ] && [ -f "$base" ] ||
		die "no Debian 6.12 kernel config in /boot (apt-get install linux-image-6.12-amd64), or set CRAB_KBASE_CONFIG"
	git=(git -C "$src" -c user.name="CRAB build" -c user.email="crab@localhost"
	     -c advice.detachedHead=false -c core.autocrlf=false -c gc.auto=0
	     -c maintenance.auto=false)

	# The series: every patch but a cover letter.
	shopt -s nullglob
	patches=()
	for p in "$top"/kernel-patches/6.12/*.patch; do
		case $(basename "$p") in 0000-*) ;; *) patches+=("$p") ;; esac
	done
	shopt -u nullglob
	[ ${#patches[@]} -gt 0 ] || die "no patches in kernel-patches/6.12"

	stamp=$(cat "${patches[@]}" "$base" "$frag" "$mkconfig" "$self" |
		sha256sum | cut -d' ' -f1)
	cache=${CRAB_KCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crab/kernel}/$stamp
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
	if [ "${CRAB_KFORCE:-0}" != 1 ] && [ -f "$cache/bzImage" ] &&
	   [ -d "$cache/modules/lib/modules" ] && [ -e "$cache/build/Module.symvers" ]; then
		say "up to date (stamp $stamp, cached image)"
		echo "$cache/bzImage"
		exit 0
	fi

	for t in git make gcc flex bison bc perl openssl; do
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
		say "applying ${#patches[@]} patches"
		"${git[@]}" am -q --whitespace=error-all "${patches[@]}" ||
			die "the series does not apply to pristine (see $src, 'git am --abort')"
		# A series that a netdev reviewer would send back is not built.
		for p in "${patches[@]}"; do
			out=$(cd "$src" && PATH=/usr/bin:/bin:$PATH \
			      scripts/checkpatch.pl --strict "$p" 2>&1) ||
				die "checkpatch.pl --strict: $(basename "$p"):"$'\n'"$out"
			case $out in
			*"total: 0 errors, 0 warnings, 0 checks,"*) ;;
			*) die "checkpatch.pl --strict: $(basename "$p"):"$'\n'"$out" ;;
			esac
		done
		echo "$series" >"$src/.git/crab-series"
	fi
	"${git[@]}" log --oneline pristine..HEAD >&2

	# ---- configure ------------------------------------------------------------------
	mkdir -p "$obj"
	mk=(make -C "$src" O="$obj" ARCH=x86_64 CC="$cc" HOSTCC=gcc LOCALVERSION= -s)
	bash "$mkconfig" "$src" "$obj" "$base" "$frag"
	"${mk[@]}" olddefconfig >/dev/null
	missing=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$obj/.config" ||
				{ say "config: '$line' requested but not set"; missing=1; }
			;;
		"# CONFIG_"*" is not set")
			! grep -q "^${line:2:-11}=" "$obj/.config" ||
				{ say "config: '$line' requested but set"; missing=1; }
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
	say "building bzImage and modules with -j$jobs (CC=$cc), base config $base"
	local tfile wall user sys TIMEFORMAT='%R %U %S'
	tfile=$(mktemp)
	# "modules" writes Module.symvers, which out-of-tree modules link against.
	# The time (wall, user and system seconds, make and its children) goes
	# to $tfile, make's own messages to stderr.
	{ time "${mk[@]}" -j"$jobs" bzImage modules 2>&3; } 3>&2 2>"$tfile" ||
		{ rm -f "$tfile"; die "the kernel build failed"; }
	read -r wall user sys <"$tfile"
	rm -f "$tfile"
	[ -f "$image" ] || die "no bzImage produced"
	say "built in ${wall}s (CPU: ${user}s user, ${sys}s system, -j$jobs)"
	[ -z "${CRAB_KTIMING:-}" ] ||
		echo "$stamp $wall $user $sys" >>"$CRAB_KTIMING"
	kver=$("${mk[@]}" kernelrelease)

	# The kernel's own modules, for the guest (tools/vm/run-vm.sh).
	rm -rf "$kdir/modroot"
	"${mk[@]}" INSTALL_MOD_PATH="$kdir/modroot" INSTALL_MOD_STRIP=1 \
		DEPMOD=/sbin/depmod modules_install >/dev/null
	rm -f "$kdir/modroot/lib/modules/$kver/build" "$kdir/modroot/lib/modules/$kver/source"

	echo "$stamp" >"$kdir/stamp"
	if mkdir -p "$cache" && cp "$image" "$cache/bzImage.tmp" &&
	   cp "$obj/.config" "$cache/config" && rm -rf "$cache/modules" &&
	   cp -a "$kdir/modroot" "$cache/modules" &&
	   mv "$cache/bzImage.tmp" "$cache/bzImage" &&
	   ln -sfn "$obj" "$cache/build"; then
		say "image cached in $cache"
	else
		say "warning: could not cache the image in $cache"
	fi
	say "$kver, bzImage $(stat -c %s "$image") bytes, modules $(du -sh "$kdir/modroot" | cut -f1)"
	echo "$image"
}

main "$@"
