#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Write the series of a kernel git tree (pristine..HEAD, developed on top of
# the "pristine" tag of tools/kernel/build-kernel.sh) into
# kernel-patches/6.12, with a cover letter whose subject and text are the
# first line and the rest of COVER (a text file), and check every patch with
# scripts/checkpatch.pl --strict.
#   export-series.sh KERNEL_GIT_TREE COVER
set -euo pipefail
tree=$1 cover=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/kernel-patches/6.12
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$tree" format-patch -q --cover-letter --zero-commit -o "$tmp" pristine..HEAD
python3 - "$tmp/0000-cover-letter.patch" "$cover" <<'PY'
import sys
p, c = sys.argv[1], open(sys.argv[2]).read().rstrip("\n").split("\n", 1)
s = open(p).read()
s = s.replace("*** SUBJECT HERE ***", c[0]).replace("*** BLURB HERE ***", c[1].strip("\n"))
open(p, "w").write(s)
PY
for p in "$tmp"/*.patch; do
	case $(basename "$p") in 0000-*) continue ;; esac
	r=$(cd "$tree" && PATH=/usr/bin:/bin:$PATH scripts/checkpatch.pl --strict "$p" 2>&1 | grep "^total:")
	case $r in *"0 errors, 0 warnings, 0 checks"*) ;; *) echo "$(basename "$p"): $r" >&2; exit 1 ;; esac
done
rm -f "$out"/*.patch
cp "$tmp"/*.patch "$out"/
ls "$out"
