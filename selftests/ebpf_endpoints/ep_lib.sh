#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Common setup of the eBPF endpoint tests (sourced after ../lib.sh):
#  - the test re-runs itself in a private mount namespace with a fresh bpffs,
#    so pinned maps and links cannot leak between runs (XT test_runner.sh);
#  - the standard topology, a stateless round-robin tc fixture (lb_rr.bpf.c)
#    in $NS_LB as the LB (no nft binary on this machine)
#    (round-robin over the servers' DIPs, one packet per connection);
#  - cgroups $CG_CLI / $CG_SRV under the cgroup2 mount, one per role, with
#    the eBPF client (cgroup + eth0 of $NS_CLI) and server attached by crabctl.
# crabctl runs through `nsenter --net` (not `ip netns exec`, which remounts
# /sys and would hide the bpffs and the cgroup2 mount).

EP_PORT=8080
EP_PIN=/sys/fs/bpf/crab/ep
HOLD_ADDR=198.18.100.2	# dialed, never answered (SYN-SENT sockets)

ep_unshare() {
	if [ -z "$CRAB_EP_PRIVATE_MNT" ]; then
		crab_require_root
		crab_check_tool unshare
		CRAB_EP_PRIVATE_MNT=1 exec unshare -m --propagation private bash "$0" "$@"
	fi
	mount -t bpf bpf /sys/fs/bpf || crab_skip "cannot mount a bpffs"
}

ep_cgroup2() {
	local m
	m=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$m" ] || crab_skip "no cgroup2 mount"
	echo "$m"
}

# ep_in_cg CGDIR NS CMD...: run CMD in namespace NS as a member of CGDIR.
ep_in_cg() {
	local cg=$1 ns=$2; shift 2
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
		ip netns exec "$ns" "$@"
}

# Kill what is left in the test's cgroups (bounded wait), then remove them.
ep_cg_remove() {
	local base=$1 cg i
	for cg in "$base/cli" "$base/srv"; do
		[ -d "$cg" ] || continue
		for i in $(seq 1 50); do
			# (cgroupfs files report size 0: read them)
			[ -n "$(cat "$cg/cgroup.procs")" ] || break
			xargs -r kill -9 <"$cg/cgroup.procs" 2>/dev/null
			sleep 0.1
		done
		rmdir "$cg"
	done
	rmdir "$base"
}

ep_crabctl() {
	local ns=$1; shift
	nsenter --net="/run/netns/$ns" "$CRABCTL" "$@"
}

# ep_stat NAME: a counter (or maps.X) of `crabctl -j ebpf stats`.
ep_stat() {
	local j
	j=$("$CRABCTL" -j ebpf stats) || return 1
	case $1 in
	maps.*) crab_json "$j" "j['maps']['${1#maps.}']" ;;
	*) crab_json "$j" "j['counters']['$1']" ;;
	esac
}

# Echo server in NS as a member of $CG_SRV (after the server attach: the
# listener must be created while the sock_ops program is attached).
ep_echo_server() {
	local ns=$1 port=$2 i pid
	ep_in_cg "$CG_SRV" "$ns" $CRAB_TCPECHO server --port "$port" &
	pid=$!
	crab_defer "kill $pid"
	for i in $(seq 1 100); do
		ip netns exec "$ns" ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	crab_fail "echo server in $ns did not listen on $port"
}

# Connections the server stack completed (TcpPassiveOpens of its netns).
ep_server_opens() {
	ip netns exec "${NS_SRV[$1]}" awk '$1 == "Tcp:" && !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
		$1 == "Tcp:" { print $c["PassiveOpens"] }' /proc/net/snmp
}

ep_ip2hex() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '0x%02X%02X%02X%02X' "$a" "$b" "$c" "$d"
}

# The LB: lb_rr.bpf.c (a stateless round-robin tc fixture; this machine has
# no nft) on the LB's eth0, pinned in the private bpffs.
ep_lb_setup() {
	local d=$1 dir
	dir=$(dirname "$0")
	clang -O2 -g -mcpu=v3 -target bpf -I/usr/include/x86_64-linux-gnu \
		-DVIP="$(ep_ip2hex "$VIP")" -DHOLD_ADDR="$(ep_ip2hex "$HOLD_ADDR")" \
		-DPORT="$EP_PORT" -DDIP1="$(ep_ip2hex "${IP_SRV[1]}")" \
		-DDIP2="$(ep_ip2hex "${IP_SRV[2]}")" -DDIP3="$(ep_ip2hex "${IP_SRV[3]}")" \
		-c "$dir/lb_rr.bpf.c" -o "$d/lb_rr.o" || return 1
	bpftool prog load "$d/lb_rr.o" /sys/fs/bpf/crabtest_lb type classifier \
		pinmaps /sys/fs/bpf/crabtest_lbmaps || return 1
	nsenter --net="/run/netns/$NS_LB" tc qdisc add dev eth0 clsact || return 1
	nsenter --net="/run/netns/$NS_LB" tc filter add dev eth0 ingress \
		bpf da object-pinned /sys/fs/bpf/crabtest_lb
}

# Packets the LB saw for VIP:PORT.
ep_lb_packets() {
	bpftool -j map lookup pinned /sys/fs/bpf/crabtest_lbmaps/lb_cnt key 0 0 0 0 |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("formatted", j)["value"])'
}

# The whole setup; $1 = extra client attach options.
ep_setup() {
	local cgroot i
	crab_check_tool nsenter python3 clang bpftool tc
	[ -x "$CRABCTL" ] || crab_skip "crabctl not built ($CRABCTL)"
	crab_topo_setup 3
	cgroot=$(ep_cgroup2)
	CG_BASE=$cgroot/crab-ep-$CRAB_SFX
	mkdir -p "$CG_BASE/cli" "$CG_BASE/srv" || crab_skip "cannot create cgroups under $cgroot"
	crab_defer "ep_cg_remove $CG_BASE"
	CG_CLI=$CG_BASE/cli
	CG_SRV=$CG_BASE/srv

	EP_TMP=$(mktemp -d)
	crab_defer "rm -rf $EP_TMP"
	ep_lb_setup "$EP_TMP" || crab_fail "LB fixture setup"
	ip -n "$NS_CLI" route add "$HOLD_ADDR/32" via "$IP_LB"

	"$CRABCTL" ebpf server attach --cgroup "$CG_SRV" || crab_fail "crabctl ebpf server attach"
	crab_defer "$CRABCTL ebpf server detach --cgroup $CG_SRV"
	ep_crabctl "$NS_CLI" ebpf client attach --cgroup "$CG_CLI" --dev eth0 "$@" ||
		crab_fail "crabctl ebpf client attach"
	crab_defer "ep_crabctl $NS_CLI ebpf client detach --cgroup $CG_CLI --dev eth0"
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		ep_echo_server "${NS_SRV[i]}" "$EP_PORT"
	done
}
