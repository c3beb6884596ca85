#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The host demo (make demo MODE=host, tools/demo-host.sh) end to end, as a
# user runs it: it exits 0 and says so only after its own checks passed (30
# connections, each redirected by the eBPF client, the LB saw only the SYNs,
# all three backends used); its report shows the explicit configuration it
# ran (announce and allow lists, echo on) and the per-backend split; and it
# leaves no namespace, cgroup or attachment behind.

source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_require_built "$CRABCTL" crabctl
crab_need_nettest
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || crab_skip_env "no cgroup2 mount"
# The demo's namespaces and cgroups carry this suffix (lib.sh's CRAB_SFX).
sfx=demotest-$$-$RANDOM
out=$(mktemp)
crab_defer "rm -f $out"

CRAB_SFX=$sfx timeout 120 bash "$CRAB_TOP/tools/demo-host.sh" --conns 30 >"$out" 2>&1
rc=$?
sed 's/^/# /' "$out"
[ $rc = 0 ] && [ "$(tail -n 1 "$out")" = "demo: OK" ]
log_test $? "the demo exits 0 after its checks (rc $rc)"

# The LB's packets: the SYNs, one per connection plus the client's SYN
# retransmissions (the demo counts those).
lb=$(sed -n 's/.*the LB handled \([0-9]*\) (its counters)$/\1/p' "$out")
retr=$(sed -n 's/^  (\([0-9]*\) = 30 + \([0-9]*\) retransmitted).*/\2/p' "$out")
grep -q '^connections ok: 30, failed: 0$' "$out" && [ -n "$lb" ] && [ -n "$retr" ] &&
	[ "$lb" = $((30 + retr)) ]
log_test $? "report: 30 connections, the LB handled their SYNs only (${lb:-?} = 30 + ${retr:-?} retransmitted)"

n=$(grep -cE '^  198\.18\.0\.1[123] +[1-9][0-9]* +#+$' "$out")
[ "$n" = 3 ]
log_test $? "report: connections on each of the three backends ($n backends)"

grep -qF "crabctl ebpf client attach --cgroup $cgroot/crab-demo-$sfx/client --dev eth0 --announce 198.18.100.1/32 --allow 198.18.0.0/24" "$out" &&
	grep -qF "crabctl ebpf server attach --cgroup $cgroot/crab-demo-$sfx/servers --echo on" "$out" &&
	grep -qF "crabctl lb xdp service add 198.18.100.1:80 --policy rr --dev eth0" "$out"
log_test $? "report: the configuration commands it ran (announce, allow, echo on, service)"

left=$(ip netns list 2>/dev/null | grep -c -- "-$sfx")
[ "$left" = 0 ] && [ ! -e "$cgroot/crab-demo-$sfx" ]
log_test $? "nothing left behind: $left namespaces, cgroup $([ -e "$cgroot/crab-demo-$sfx" ] && echo present || echo gone)"

crab_exit
