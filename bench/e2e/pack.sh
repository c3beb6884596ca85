#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Pack one bench/e2e run directory for publishing under docs/perf/:
#   pack.sh RUN_DIR
# Keeps at the top of RUN_DIR what a reader needs: summary.md, the
# environment and load files, each figure (NAME.png) with the numbers it
# draws (NAME.json, written by plot.py). Every other file (per-round JSON,
# latency histograms, logs, LB counters) goes into RUN_DIR/raw.tar.xz, with
# its SHA-256 in RUN_DIR/raw.tar.xz.sha256.
#
# Before deleting anything it proves the archive is enough: the archive is
# unpacked into a scratch copy, plot.py regenerates the summary there, and
# it must equal RUN_DIR/summary.md byte for byte. To check a published run
# the same way:
#   d=$(mktemp -d)/RUN; mkdir -p "$d"; tar -xJf RUN_DIR/raw.tar.xz -C "$d"
#   cp RUN_DIR/*.txt "$d"/; python3 bench/e2e/plot.py "$d" >/dev/null
#   diff RUN_DIR/summary.md "$d"/summary.md
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=${1:?usage: pack.sh RUN_DIR}
[ -d "$run" ] || { echo "error: $run is not a directory" >&2; exit 2; }
run=$(cd "$run" && pwd)
[ -e "$run/raw.tar.xz" ] && { echo "error: $run is already packed" >&2; exit 2; }
py=/usr/bin/python3	# Debian's, with matplotlib
keep() {
	case $1 in
	summary.md | env.txt | guest-env.txt | host-load.txt | timeline.txt | *.png) return 0 ;;
	exp[0-9]*-*.json) [ -e "$run/${1%.json}.png" ] ;;
	*) return 1 ;;
	esac
}

# Regenerate summary and figures (with their data files) from the raw files.
"$py" "$here/plot.py" "$run" >/dev/null

raw=()
for f in "$run"/* "$run"/.[!.]*; do
	[ -e "$f" ] || continue
	n=$(basename "$f")
	keep "$n" || raw+=("$n")
done
[ ${#raw[@]} -gt 0 ] || { echo "error: nothing to pack in $run" >&2; exit 2; }
# Reproducible archive: sorted names, fixed owner and mtime.
tar -C "$run" --sort=name --owner=0 --group=0 --numeric-owner \
	--mtime='2000-01-01 00:00Z' -cf - "${raw[@]}" | xz -9e -T1 >"$run/raw.tar.xz.tmp"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
chk=$scratch/$(basename "$run")
mkdir -p "$chk"
tar -xJf "$run/raw.tar.xz.tmp" -C "$chk"
for f in env.txt guest-env.txt host-load.txt timeline.txt; do
	[ -e "$run/$f" ] && cp "$run/$f" "$chk/"
done
"$py" "$here/plot.py" "$chk" >/dev/null
if ! cmp -s "$run/summary.md" "$chk/summary.md"; then
	diff "$run/summary.md" "$chk/summary.md" | head -20 >&2
	rm -f "$run/raw.tar.xz.tmp"
	echo "error: the archive does not reproduce summary.md; nothing deleted" >&2
	exit 1
fi
mv "$run/raw.tar.xz.tmp" "$run/raw.tar.xz"
(cd "$run" && sha256sum raw.tar.xz >raw.tar.xz.sha256)
for n in "${raw[@]}"; do rm -rf "${run:?}/$n"; done
echo "packed ${#raw[@]} entries of $run into raw.tar.xz ($(du -h "$run/raw.tar.xz" | cut -f1)); summary reproduced"
