#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# make deb: build the Debian packages crab-dkms (module sources + dkms.conf)
# and crabctl (binary, man page, completion, units, snippets) with
# dpkg-buildpackage/debhelper, in a staged copy of the repository so that
# the working tree stays clean and the packages land in build/deb/:
#   build/deb/crab-dkms_VERSION_all.deb  build/deb/crabctl_VERSION_amd64.deb
# Then lintian on them when installed (its findings are printed; errors fail).
#
# crabctl is the one `make userspace` built in build/ (CRAB_PREBUILT, see
# debian/rules); CRAB_DEB_REBUILD=1 builds it again from the staged sources
# with Debian's flags instead (slower).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ver=$(bash "$top/packaging/version.sh")
out=$top/build/deb
src=$out/src/crab-$ver
for t in dpkg-buildpackage dh dh_dkms; do
	command -v "$t" >/dev/null ||
		{ echo "error: $t not found (make deps installs dpkg-dev, debhelper, dh-dkms)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$src"
# The repository's files as they are now (tracked and new, not ignored),
# without the build tree.
cd "$top"
git ls-files -z -c -o --exclude-standard | grep -zv '^build/' |
	rsync -a --from0 --files-from=- "$top/" "$src/"
cp -r "$top/packaging/debian" "$src/debian"
# Native package, version of CMakeLists.txt; the date of the last commit
# keeps the changelog (and so the packages) reproducible.
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
cat >"$src/debian/changelog" <<EOC
crab ($ver) unstable; urgency=medium

  * Built from the CRAB repository ($(git rev-parse --short HEAD 2>/dev/null || echo unknown)).

 -- CRAB developers <dev@crab.invalid>  $date
EOC
cd "$src"
log=$out/build.log
start=$(date +%s)
if [ "${CRAB_DEB_REBUILD:-0}" = 1 ]; then
	unset CRAB_PREBUILT
else
	[ -x "$top/build/userspace/userspace/crabctl/crabctl" ] ||
		{ echo "error: crabctl not built (make userspace, or CRAB_DEB_REBUILD=1)" >&2; exit 1; }
	export CRAB_PREBUILT=$top/build
fi
# No automatic -dbgsym packages: build/deb holds what a user installs.
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noddebs"
if ! dpkg-buildpackage -b -us -uc >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "error: dpkg-buildpackage failed (log: $log)" >&2
	exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out/"
echo "deb: built in $(($(date +%s) - start))s (log: $log)"
for d in "$out"/*.deb; do
	echo "deb: $(basename "$d"): $(dpkg-deb -f "$d" Depends)"
done
if command -v lintian >/dev/null; then
	if ! lintian --fail-on error "$out"/*.changes; then
		echo "error: lintian found errors" >&2
		exit 1
	fi
fi
