#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Pack one scale-out run directory for publishing under docs/perf/:
#   pack.sh RUN_DIR
# Keeps at the top what a reader needs: summary.md, env.txt, host-load.txt,
# scaleout.png and the numbers it draws (scaleout.json). The per-alternative
# raw files (every connection, route changes, SYN counters, FRR and crabctl
# logs) go into RUN_DIR/raw.tar.xz with its SHA-256 in raw.tar.xz.sha256.
# Before deleting anything it proves the archive is enough: unpacked into a
# scratch copy, plot.py must regenerate summary.md byte for byte. To check
# a published run the same way:
#   d=$(mktemp -d)/RUN; mkdir -p "$d"; tar -xJf RUN_DIR/raw.tar.xz -C "$d"
#   cp RUN_DIR/*.txt "$d"/; python3 tools/scaleout/plot.py "$d" >/dev/null
#   diff RUN_DIR/summary.md "$d"/summary.md
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=${1:?usage: pack.sh RUN_DIR}
[ -d "$run" ] || { echo "error: $run is not a directory" >&2; exit 2; }
run=$(cd "$run" && pwd)
[ -e "$run/raw.tar.xz" ] && { echo "error: $run is already packed" >&2; exit 2; }
py=/usr/bin/python3	# Debian's, with matplotlib
"$py" "$here/plot.py" "$run" >/dev/null
raw=()
for f in "$run"/*; do
	n=$(basename "$f")
	case $n in summary.md | env.txt | host-load.txt | scaleout.png | scaleout.json) ;; *) raw+=("$n") ;; esac
done
[ ${#raw[@]} -gt 0 ] || { echo "error: nothing to pack in $run" >&2; exit 2; }
# packet captures (SO_CAPTURE=1 runs) are not published
tar -C "$run" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
	--exclude='*.pcap' -cf - "${raw[@]}" | xz -9e -T1 >"$run/raw.tar.xz.tmp"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
chk=$scratch/$(basename "$run")
mkdir -p "$chk"
tar -xJf "$run/raw.tar.xz.tmp" -C "$chk"
cp "$run"/env.txt "$run"/host-load.txt "$chk"/ 2>/dev/null || true
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
