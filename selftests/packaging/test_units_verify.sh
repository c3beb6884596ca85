#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# make install's result: packaging/install.sh into a scratch PREFIX (and
# with DESTDIR) puts crabctl, man page, completion, BPF objects, units and
# snippets where packaging/README.md says, with crabctl's path in the
# units; `systemd-analyze verify` accepts every unit (templates as an
# instance) without a single warning; uninstall removes it all again.
source "$(dirname "$0")/../lib.sh"

crab_check_tool cmake
crab_require_built "$CRABCTL" crabctl
DIR=$(mktemp -d)
crab_defer "rm -rf $DIR"
P=$DIR/prefix

bash "$CRAB_TOP/packaging/install.sh" --prefix "$P" >"$DIR/install.log" 2>&1 ||
	{ cat "$DIR/install.log"; crab_fail "install.sh failed"; }
rc=0
for f in sbin/crabctl share/man/man8/crabctl.8 share/bash-completion/completions/crabctl \
	lib/crab/bpf/crab_lb.bpf.o lib/systemd/system/crab-lb-xdp@.service \
	lib/systemd/system/crab-health-xdp@.service lib/systemd/system/crab-nexthops-xdp@.service \
	lib/systemd/system/crab-lb-nf.service \
	lib/systemd/system/crab-health-nf.service lib/systemd/system/crab-bgp-xdp@.service \
	lib/systemd/system/crab-bgp-nf.service share/crab/modules-load.d/crab-client.conf \
	share/crab/modules-load.d/crab-server.conf share/crab/sysctl.d/90-crab-client.conf \
	share/crab/sysctl.d/90-crab-server.conf share/crab/lb.toml; do
	[ -e "$P/$f" ] || { crab_log "missing $f"; rc=1; }
done
"$P/sbin/crabctl" --version | grep -q '^crabctl ' || rc=1
grep -q "^ExecStart=$P/sbin/crabctl apply -f /etc/crab/lb-%I.toml --lb xdp --dev %I$" \
	"$P/lib/systemd/system/crab-lb-xdp@.service" || rc=1
! grep -rq @SBINDIR@ "$P/lib/systemd/system" || rc=1
log_test $rc "install.sh --prefix: files in place, crabctl runs, units name $P/sbin/crabctl"

bash "$CRAB_TOP/packaging/install.sh" --prefix /usr --destdir "$DIR/dest" >/dev/null 2>&1 &&
	[ -x "$DIR/dest/usr/sbin/crabctl" ] && [ -e "$DIR/dest/usr/lib/systemd/system/crab-lb-nf.service" ] &&
	grep -q '^ExecStart=/usr/sbin/crabctl apply' "$DIR/dest/usr/lib/systemd/system/crab-lb-nf.service"
log_test $? "install.sh --destdir: staged under DESTDIR, units name /usr/sbin/crabctl"

if command -v systemd-analyze >/dev/null; then
	u=$P/lib/systemd/system
	cp "$u/crab-lb-xdp@.service" "$DIR/crab-lb-xdp@eth0.service"
	cp "$u/crab-health-xdp@.service" "$DIR/crab-health-xdp@eth0.service"
	cp "$u/crab-bgp-xdp@.service" "$DIR/crab-bgp-xdp@eth0.service"
	cp "$u/crab-nexthops-xdp@.service" "$DIR/crab-nexthops-xdp@eth0.service"
	out=$(cd "$DIR" && MANPATH=$P/share/man systemd-analyze verify ./crab-lb-xdp@eth0.service \
		./crab-health-xdp@eth0.service ./crab-bgp-xdp@eth0.service ./crab-nexthops-xdp@eth0.service \
		"$u/crab-lb-nf.service" \
		"$u/crab-health-nf.service" "$u/crab-bgp-nf.service" 2>&1)
	rc=$?
	[ -n "$out" ] && echo "$out" | sed 's/^/# /'
	[ $rc = 0 ] && [ -z "$out" ]
	log_test $? "systemd-analyze verify: the 7 units, no warning"
else
	crab_check_missing "systemd-analyze verify" "systemd-analyze not installed (make deps)"
fi

bash "$CRAB_TOP/packaging/install.sh" --uninstall --prefix "$P" >/dev/null &&
	[ -z "$(find "$P" -type f)" ]
log_test $? "uninstall removes every installed file"

crab_exit
