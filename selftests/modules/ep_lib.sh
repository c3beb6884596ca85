# SPDX-License-Identifier: GPL-2.0-only
# Helpers shared by the endpoint tests (sourced after ../lib.sh).

# ep_ns_watch NS...: a sleeping process in each NS, whose /proc/PID/net
# files ep_counter then reads with bash builtins: no process start per
# read (ip netns exec + awk cost about 0.4 s in an emulated guest).
declare -A EP_NSPID=()
ep_ns_watch() {
	local ns pid ino i
	for ns in "$@"; do
		ip netns exec "$ns" sleep 100000 </dev/null >/dev/null 2>&1 &
		pid=$!
		crab_defer "kill $pid"
		ino=$(stat -L -c %i "/run/netns/$ns")
		for ((i = 0; i < 200; i++)); do
			[ "$(readlink "/proc/$pid/ns/net")" = "net:[$ino]" ] && break
			sleep 0.05
		done
		EP_NSPID[$ns]=$pid
	done
}

# Counter $2 of /proc/net/crab_client|crab_server ($3) in namespace $1.
ep_counter() {
	local pid=${EP_NSPID[$1]:-} n v
	if [ -n "$pid" ]; then
		[ -r "/proc/$pid/net/$3" ] || return 0
		while read -r n v; do
			[ "$n" = "$2" ] && { echo "$v"; return 0; }
		done <"/proc/$pid/net/$3"
		return 0
	fi
	ip netns exec "$1" awk -v n="$2" '$1 == n { print $2 }' "/proc/net/$3"
}

# Load one of our modules wherever the build put it under $CRAB_MODDIR (flat
# or mirroring the source tree); skips or fails like crab_load_module.
# ep_load_module NAME [PARAM=VALUE...]: with parameters, a module loaded
# already is loaded again with them.
ep_load_module() {
	local name=$1 ko; shift
	crab_has_modules || crab_skip "kernel without loadable module support"
	ko=$(find "$CRAB_MODDIR" -name "$name.ko" 2>/dev/null | head -n1)
	[ -n "$ko" ] || crab_missing "module $name.ko not built in $CRAB_MODDIR"
	if [ $# -gt 0 ] && grep -q "^$name " /proc/modules; then
		rmmod "$name" || crab_fail "rmmod $name (to load it with $*) failed"
	fi
	if ! grep -q "^$name " /proc/modules; then
		insmod "$ko" "$@" || crab_fail "insmod $name $* failed"
		crab_defer "rmmod $name"
	fi
}

# Stateless LB in $NS_LB for VIP:$1 with tc (no conntrack): the daddr of
# every packet to it is rewritten to DIP $2 or $3 ($2 again when omitted) by
# bit 1 of the client port (connect() takes even ports, in steps of 2, so
# bit 0 would not spread), checksums recomputed, and the kernel
# forwards it. The tc action counters tell what the LB saw. The client's
# option already names the VIP, so the LB does not touch it.
ep_tc_lb() {
	local port=$1 d0=$2 d1=${3:-$2} par
	ip netns exec "$NS_LB" tc qdisc add dev eth0 clsact 2>/dev/null
	for par in 0 1; do
		local d=$d0
		[ $par = 1 ] && d=$d1
		ip netns exec "$NS_LB" tc filter add dev eth0 ingress protocol ip \
			pref "$port" u32 match ip dst "$VIP/32" match ip dport "$port" 0xffff \
			match ip sport $((par * 2)) 0x2 \
			action pedit ex munge ip dst set "$d" pipe action csum ip4h tcp || return 1
	done
}

# A black hole LB for VIP:$1: every packet to it is dropped (and counted).
ep_tc_drop() {
	local port=$1
	ip netns exec "$NS_LB" tc qdisc add dev eth0 clsact 2>/dev/null
	ip netns exec "$NS_LB" tc filter add dev eth0 ingress protocol ip \
		pref "$port" u32 match ip dst "$VIP/32" match ip dport "$port" 0xffff \
		action gact drop
}

ep_tc_del() {
	ip netns exec "$NS_LB" tc filter del dev eth0 ingress pref "$1"
}

# Packets the LB rules for VIP:$1 saw.
ep_tc_count() {
	ip netns exec "$NS_LB" tc -s -j filter show dev eth0 ingress pref "$1" |
		python3 -c '
import json, sys
n = 0
for f in json.load(sys.stdin):
    acts = f.get("options", {}).get("actions", [])
    if acts:
        n += acts[0].get("stats", {}).get("packets", 0)
print(n)'
}

# The segment as a hub: no MAC learning on the bridge, so every frame
# reaches every port and a host on the segment sees the others' SYNs, as an
# attacker tapping the segment would.
ep_bridge_hub() {
	local p
	for p in $(ip -n "$NS_SW" -o link show master br0 | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
		bridge -n "$NS_SW" link set dev "$p" learning off || return 1
	done
	ip -n "$NS_SW" link set dev br0 type bridge fdb_flush
}

# One long-lived ep_attack.py in namespace $1 (extra arguments: its
# options), driven through a coprocess: ep_att CMD... prints the reply and
# succeeds when it starts with "ok". Call it directly or in $(...), never
# in a pipeline: a pipeline's subshell does not have the coprocess' pipes.
ep_att_start() {
	local ns=$1 line; shift
	coproc EP_ATT { exec ip netns exec "$ns" python3 "$CRAB_TOP/selftests/modules/ep_attack.py" "$@" 2>&1; }
	crab_defer "kill $EP_ATT_PID"
	read -r -t 120 line <&"${EP_ATT[0]}"
	[ "$line" = "ok ready" ] || crab_fail "ep_attack.py did not start: $line"
}

# ep_hold_pair PORT: the socket holders of a two-server test, started side
# by side (an interpreter start costs seconds in a guest): "cli" in
# $NS_CLI, "s1" and "s2" in the servers, each server with a dual-stack
# echo listener on PORT that counts its accepts in $EP_HOLD_DIR/acc1|acc2;
# and the sniffer/attacker in $NS_EVIL.
ep_hold_pair() {
	local i
	ep_hold_start cli "$NS_CLI"
	ep_hold_start s1 "${NS_SRV[1]}"
	ep_hold_start s2 "${NS_SRV[2]}"
	ep_att_start "$NS_EVIL"
	for i in 1 2; do
		[ "$(ep_hold s$i "listen $1 dual")" = ok ] &&
			[ "$(ep_hold s$i "serve $1 $EP_HOLD_DIR/acc$i")" = ok ] ||
			crab_fail "listener on server $i"
	done
}

# ep_dial HOLDER ADDR PORT: one connection from socket holder HOLDER to
# ADDR:PORT, seen by the sniffer (ep_att_start): takes the sniffer's mark
# first (the kernel's port pick may be an earlier connection's), connects,
# waits up to 30 s, and reads the first SYN from the connection's port
# after the mark. Sets m (the mark), p (the client port), up ("up PEER" or
# "down ...") and syn (the SYN's summary, see ep_attack.py).
ep_dial() {
	m=$(ep_att mark) && m=${m#ok } || crab_fail "no mark from the sniffer: $m"
	p=$(ep_hold "$1" "connect $2 $3")
	up=$(ep_hold "$1" "wait $p 30")
	syn=$(ep_att syn_from "$p" 10 after="$m")
}

ep_att() {
	local line
	echo "$*" >&"${EP_ATT[1]}" || return 1
	read -r -t 300 line <&"${EP_ATT[0]}" || return 1
	echo "$line"
	[[ $line == ok* ]]
}

# ep_field REPLY NAME: the NAME=value of an ep_att reply (bash only: a
# process start costs about 0.5 s in an emulated guest).
ep_field() {
	local r=" $1 " k=" $2="
	[[ $r == *"$k"* ]] || return 0
	r=${r#*"$k"}
	echo "${r%% *}"
}

# ep_jget JSON KEY: a top-level scalar (string unquoted, number, true,
# false, null) of the one-line JSON reports of ep_tool.py, without python.
ep_jget() {
	local re="\"$2\": (\"([^\"]*)\"|[^,}]*)"
	[[ $1 =~ $re ]] || return 1
	if [[ ${BASH_REMATCH[1]} == \"* ]]; then
		echo "${BASH_REMATCH[2]}"
	else
		echo "${BASH_REMATCH[1]}"
	fi
}

# ep_peer JSON: the peer of an ep_tool.py connect report whose data was
# echoed, else "-".
ep_peer() {
	if [ "$(ep_jget "$1" echo)" = true ]; then ep_jget "$1" peer; else echo -; fi
}

# ep_jpeers JSON ADDR: connections to ADDR in a crab-nettest client report.
ep_jpeers() {
	local re="\"$2\": ([0-9]+)"
	if [[ $1 =~ $re ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi
}

# ep_tcpext NS NAME: TcpExt counter NAME of namespace NS (/proc/net/netstat),
# through ep_ns_watch's process when there is one.
ep_tcpext() {
	local pid=${EP_NSPID[$1]:-} l names=() i
	if [ -z "$pid" ]; then
		crab_tcpext "$1" "$2"
		return
	fi
	while read -r -a l; do
		[ "${l[0]}" = TcpExt: ] || continue
		if [ ${#names[@]} = 0 ]; then
			names=("${l[@]}")
			continue
		fi
		for ((i = 1; i < ${#names[@]}; i++)); do
			[ "${names[i]}" = "$2" ] && { echo "${l[i]}"; return 0; }
		done
		echo 0
		return 0
	done <"/proc/$pid/net/netstat"
	echo 0
}

# ep_wait_counter NS FILE NAME VALUE [TRIES]: poll /proc/net/FILE in NS
# until counter NAME reaches VALUE (0.1 s apart, default 100 tries);
# prints the last value, fails when it never got there.
ep_wait_counter() {
	local ns=$1 f=$2 n=$3 want=$4 tries=${5:-100} v i
	for ((i = 0; i < tries; i++)); do
		v=$(ep_counter "$ns" "$n" "$f")
		[ "${v:-0}" -ge "$want" ] && break
		sleep 0.1
	done
	echo "${v:-0}"
	[ "${v:-0}" -ge "$want" ]
}

# ep_hold_start NAME NS: the socket holder of the endpoint tests
# (../endpoints_ebpf/ep_hold.py: connect, wait, listen, serve, conns...) as
# a long-lived helper NAME in namespace NS; several run side by side (they
# start in parallel). ep_hold NAME CMD prints its one-line answer.
declare -A EP_HIN=() EP_HOUT=()
EP_HOLD_DIR=
ep_hold_start() {
	local name=$1 ns=$2 d fin fout
	if [ -z "$EP_HOLD_DIR" ]; then
		EP_HOLD_DIR=$(mktemp -d /tmp/crab-hold-XXXXXX) || crab_fail "mktemp"
		crab_defer "rm -rf $EP_HOLD_DIR"
	fi
	d=$EP_HOLD_DIR/$name
	mkfifo "$d.in" "$d.out" || crab_fail "mkfifo $d"
	ip netns exec "$ns" python3 "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py" \
		<"$d.in" >"$d.out" 2>"$d.err" &
	crab_defer "kill $!"
	exec {fin}>"$d.in" {fout}<"$d.out"
	EP_HIN[$name]=$fin
	EP_HOUT[$name]=$fout
}

ep_hold() {
	local line
	echo "$2" >&"${EP_HIN[$1]}"
	read -r -t 120 line <&"${EP_HOUT[$1]}" ||
		line="error: no answer from helper $1: $(tail -n 3 "$EP_HOLD_DIR/$1.err" | tr '\n' ' ')"
	echo "$line"
}

# ep_lb6 PORT DIP...: a stateless IPv6 LB in $NS_LB (nft, notrack): a SYN
# to VIP6:PORT goes to the DIPs in turn (the destination rewritten, the TCP
# checksum fixed by nft), counted in counter "syn"; any other segment to
# it is counted in "other" and dropped: connections complete only when
# redirected. ep_lb6_count syn|other reads a counter.
ep_lb6() {
	local port=$1 map= i=0 d; shift
	for d in "$@"; do
		map+="${map:+, }$i : $d"
		i=$((i + 1))
	done
	ip netns exec "$NS_LB" nft -f - <<-EOF2
	table ip6 crab_mod_lb6 {
		counter syn { }
		counter other { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			ip6 daddr $VIP6 tcp dport $port tcp flags & (syn | ack) != syn counter name "other" drop
			ip6 daddr $VIP6 tcp dport $port notrack counter name "syn" ip6 daddr set numgen inc mod $# map { $map }
		}
	}
	EOF2
}

ep_lb6_count() {
	ip netns exec "$NS_LB" nft list counter ip6 crab_mod_lb6 "$1" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
