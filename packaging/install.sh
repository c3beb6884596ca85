#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Install crabctl and what goes with it (make install; the crabctl Debian
# package uses it too):
#   PREFIX/sbin/crabctl, PREFIX/share/man/man8/crabctl.8,
#   PREFIX/share/bash-completion/completions/crabctl   (cmake --install)
#   PREFIX/lib/crab/bpf/*.bpf.o        BPF objects (crabctl embeds them as
#                                      skeletons; these are for bpftool/inspection)
#   SYSTEMDDIR/*.service               units, crabctl's path filled in
#   PREFIX/share/crab/{modules-load.d,sysctl.d}/*.conf, lb.toml, default-crab
#                                      snippets and examples, enabled by copying
#                                      or linking them into /etc
# Usage: install.sh [--uninstall] [--prefix /usr/local] [--destdir DIR]
#                   [--systemddir DIR] [--build DIR]
# DESTDIR is prepended to every path (staged installs, packages).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local destdir= systemddir= build=$top/build uninstall=0
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=$2; shift 2 ;;
	--destdir) destdir=$2; shift 2 ;;
	--systemddir) systemddir=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--uninstall) uninstall=1; shift ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
# systemd reads units from /usr/local/lib/systemd/system as well; Debian 12
# packages ship them in /lib/systemd/system.
[ -n "$systemddir" ] || systemddir=$prefix/lib/systemd/system
sbindir=$prefix/sbin
share=$prefix/share/crab
bpfdir=$prefix/lib/crab/bpf
units=("$top"/packaging/systemd/*.service)
files=(
	"$sbindir/crabctl" "$prefix/share/man/man8/crabctl.8"
	"$prefix/share/bash-completion/completions/crabctl"
)

if [ "$uninstall" = 1 ]; then
	for f in "${files[@]}"; do rm -f "$destdir$f"; done
	for u in "${units[@]}"; do rm -f "$destdir$systemddir/$(basename "$u")"; done
	rm -rf "$destdir$share" "$destdir$prefix/lib/crab"
	echo "uninstalled crabctl from $destdir$prefix"
	exit 0
fi

uspace=$build/userspace
[ -x "$uspace/userspace/crabctl/crabctl" ] ||
	{ echo "error: crabctl is not built in $uspace (run 'make userspace')" >&2; exit 1; }
DESTDIR=$destdir cmake --install "$uspace" --prefix "$prefix" >/dev/null
objs=("$build"/bpf/*.bpf.o)
[ -e "${objs[0]}" ] || { echo "error: no BPF objects in $build/bpf (run 'make bpf')" >&2; exit 1; }
install -d "$destdir$bpfdir" "$destdir$systemddir" "$destdir$share/modules-load.d" "$destdir$share/sysctl.d"
install -m 0644 "${objs[@]}" "$destdir$bpfdir/"
for u in "${units[@]}"; do
	sed "s,@SBINDIR@,$sbindir,g" "$u" >"$destdir$systemddir/$(basename "$u")"
	chmod 0644 "$destdir$systemddir/$(basename "$u")"
done
install -m 0644 "$top"/packaging/modules-load.d/*.conf "$destdir$share/modules-load.d/"
install -m 0644 "$top"/packaging/sysctl.d/*.conf "$destdir$share/sysctl.d/"
install -m 0644 "$top"/packaging/examples/lb.toml "$top"/packaging/examples/default-crab "$destdir$share/"
echo "installed crabctl into $destdir$prefix (units in $destdir$systemddir)"
