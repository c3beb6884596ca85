#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers shared by the DPDK LB selftests (sourced after ../lib.sh).

# dpdk_syns PCAP: the SYNs (without ACK) a server's capture holds, counted
# into CRAB_PCAP[s.*] (crab_pcap_summary).
dpdk_syns() {
	crab_pcap_summary --filter "flags+=S flags-=A" s="$1"
}

# dpdk_syns_ok PCAP DIP VIP N: the capture holds exactly N SYNs, all to DIP,
# all carrying the option naming VIP, none with a bad checksum.
dpdk_syns_ok() {
	dpdk_syns "$1"
	[ "${CRAB_PCAP[s.syn]}" = "$4" ] && [ "${CRAB_PCAP[s.dst]}" = "$2:$4" ] &&
		[ "${CRAB_PCAP[s.opt]}" = "$3:$4" ] && [ "${CRAB_PCAP[s.csum_bad]}" = 0 ]
}

# dpdk_send ARGS...: capable SYNs from the client to VIP:80 (crab-nettest
# send words; later ones win), 2 ms apart.
dpdk_send() {
	ip netns exec "$NS_CLI" "$CRAB_NETTEST" send src="$IP_CLI" dst="$VIP" dport=80 \
		opt=mss:1460,crab inter=0.002 "$@"
}

# dpdk_stop PID: SIGTERM the LB and wait up to 5 s for it; sets rc to its
# exit status, or 124 if it is still running (then it is left to the
# cleanup). Not for $(...): only this shell can wait for its child.
dpdk_stop() {
	local pid=$1
	rc=124
	kill -TERM "$pid"
	for _ in $(seq 1 50); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			rc=$?
			break
		fi
		sleep 0.1
	done
}

# dpdk_wait_ready PID PREFIX VIP:PORT DIP: wait up to 20 s until the LB PID
# (telemetry prefix PREFIX) lists DIP among the service's backends and no
# backend MAC is unresolved (ARP requests go out once a second); sets ready
# to 0 when it is, 1 otherwise (or when the LB died).
dpdk_wait_ready() {
	local pid=$1 prefix=$2 svc=$3 dip=$4 b
	ready=1
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		b=$(python3 "$(dirname "${BASH_SOURCE[0]}")/dpdk_tel.py" "$prefix" "/crab/backends,$svc" 2>/dev/null)
		if [ -n "$b" ] && ! grep -q unresolved <<<"$b" && grep -q "$dip" <<<"$b"; then
			ready=0
			break
		fi
		sleep 0.2
	done
}

# dpdk_start DIR [LB ARGS...]: crab-lb-dpdk on $NS_LB's eth0 through
# net_af_packet, one lcore, no hugepages, log in DIR/lb.log, with LB ARGS
# after --port-ip (services, backends, --exception ...). The LB namespace
# is made inert first: its kernel sees every frame the af_packet socket
# sees, so it must neither forward nor answer them (no ip_forward, no
# address, no IPv6 on eth0: its link-local address would be the LB's). LBD_WORKERS=W (default 1) runs W worker lcores on W queue
# pairs of the port (af_packet fanout spreads flows; the main lcore only
# sleeps, workers spread over the CPUs). Sets LBD, PREFIX, LB_PID (killed
# and its runtime directory removed at exit); returns once the LB answers
# /crab/services on its telemetry socket (at most 20 s; 1 if the LB died
# or never answered).
# Skips if it is not built.
dpdk_start() {
	local dir=$1 w=${LBD_WORKERS:-1} eal=(-l 0) vdev=net_af_packet0,iface=eth0 i lc=0@0
	shift
	if [ "$w" -gt 1 ]; then
		for ((i = 1; i <= w; i++)); do lc+=",$i@$(((i - 1) % $(nproc)))"; done
		eal=(--lcores "$lc")
		vdev+=",qpairs=$w"
	fi
	LBD=${CRAB_LBD:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-dpdk}
	crab_require_built "$LBD" "crab-lb-dpdk (libdpdk found by CMake?)"
	ip netns exec "$NS_LB" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.eth0.disable_ipv6=1
	ip -n "$NS_LB" addr flush dev eth0
	PREFIX=crab$$
	crab_defer rm -rf "/var/run/dpdk/$PREFIX"
	ip netns exec "$NS_LB" "$LBD" --no-huge -m 512 --no-pci "${eal[@]}" --log-level=user1,info \
		--vdev "$vdev" --file-prefix "$PREFIX" -- \
		--port-ip "$IP_LB" --idle-us 100 "$@" >"$dir/lb.log" 2>&1 &
	LB_PID=$!
	crab_defer "kill -KILL $LB_PID 2>/dev/null"
	for _ in $(seq 1 100); do
		kill -0 "$LB_PID" 2>/dev/null || break
		# EAL opens the socket before the app registers its commands.
		[ -S "/var/run/dpdk/$PREFIX/dpdk_telemetry.v2" ] &&
			python3 "$(dirname "${BASH_SOURCE[0]}")/dpdk_tel.py" "$PREFIX" /crab/services \
				>/dev/null 2>&1 && return 0
		sleep 0.2
	done
	sed 's/^/# lb: /' "$dir/lb.log"
	return 1
}
