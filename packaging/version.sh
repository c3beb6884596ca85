#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The one version of CRAB: project(crab VERSION x.y.z) in CMakeLists.txt.
top=$(cd "$(dirname "$0")/.." && pwd)
v=$(sed -n 's/^project(crab VERSION \([0-9][0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
[ -n "$v" ] || { echo "error: no version in $top/CMakeLists.txt" >&2; exit 1; }
echo "$v"
