#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers of the nf LB selftests (sourced after ../lib.sh): load
# crab_lb_nf.ko, run crabctl in the LB namespace, send hand-built packets
# and capture on the servers (crab-nettest), read the LB's counters.
# Nothing here starts an interpreter: in an emulated guest each start
# costs seconds.

NF_PORT=80
NF_SVC=$VIP:$NF_PORT

# Standard topology with 3 servers, the module loaded, crabctl present.
nf_setup() {
	crab_require_root
	crab_check_tool tcpdump
	crab_need_nettest
	crab_require_built "$CRABCTL" crabctl
	crab_topo_setup 3
	crab_load_module crab_lb_nf "${NF_MODPARAMS[@]}"
	NF_DIR=$(mktemp -d)
	crab_defer "rm -rf $NF_DIR"
}

# Whole connections: nf_setup plus the endpoint modules, the service
# $NF_SVC (rr, legacy drop) over the 3 servers and echo servers on them.
nf_setup_connections() {
	crab_has_modules || crab_skip "kernel without loadable module support"
	nf_setup
	crab_load_module crab_client
	crab_load_module crab_server
	crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
	crab_server_config "${NS_SRV[@]:1}"
	nf_service --policy rr --legacy drop || crab_fail "service add"
	crab_echo_servers "$NF_PORT"
}

lbctl() {
	ip netns exec "$NS_LB" "$CRABCTL" "$@"
}

# Start tcpdump on every server; wait until each one is capturing.
nf_capture_start() {
	local i
	rm -f "$NF_DIR"/*.pcap "$NF_DIR"/*.err
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		crab_capture_start "${NS_SRV[i]}" "$NF_DIR/srv$i.pcap" \
			"tcp dst port $NF_PORT or tcp dst port 81"
	done
}

# Stop the captures and count them (crab_pcap_summary): nf_get LABEL KEY
# and nf_syns read the result. NF_PCAP_ARGS: more `pcap --summary`
# options (--opt-kind 254 for the RFC 6994 form).
nf_capture_stop() {
	local i files=() args=()
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		files+=("$NF_DIR/srv$i.pcap")
		args+=("srv$i=$NF_DIR/srv$i.pcap")
	done
	crab_capture_stop "${files[@]}"
	crab_pcap_summary --port "$NF_PORT" "${NF_PCAP_ARGS[@]}" "${args[@]}"
}

# nf_get I KEY: what server I's capture counted (n, syn, csum_bad, dst,
# opt, ttl, len; the last four are KEY:N histograms).
nf_get() {
	echo "${CRAB_PCAP[srv$1.$2]}"
}

# nf_sum KEY: KEY (a count) summed over the servers.
nf_sum() {
	local i s=0
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		s=$((s + ${CRAB_PCAP[srv$i.$1]:-0}))
	done
	echo "$s"
}

# nf_hist_sum KEY VALUE: the count of VALUE in the KEY histograms of all
# servers (nf_hist_sum opt 198.18.100.1).
nf_hist_sum() {
	local i s=0
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		s=$((s + $(crab_hist_get "${CRAB_PCAP[srv$i.$1]}" "$2")))
	done
	echo "$s"
}

# nf_syns: the SYNs each server captured, "a b c".
nf_syns() {
	local i out=
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		out+="${CRAB_PCAP[srv$i.syn]:-0} "
	done
	echo "${out% }"
}

# Send from the client: nf_send [crab-nettest send words]. Defaults: SYNs
# from source port 20000 up, seq 1000 up, MSS and the redirect option
# naming the VIP; later words win (opt=mss:1460 for a legacy SYN).
nf_send() {
	ip netns exec "$NS_CLI" "$CRAB_NETTEST" send src="$IP_CLI" dst="$VIP" dport="$NF_PORT" \
		sport=20000 seq=1000 flags=S opt=mss:1460,crab "$@"
}

# nf_counter NAME [SERVICE]: a per-service counter of the LB (or a global
# one with SERVICE=-), from /proc/net/crab_lb of the LB's namespace, read
# with shell builtins; "missing" when there is no such counter.
nf_counter() {
	local name=$1 svc=${2:-$NF_SVC} f k v in=global
	f=$(crab_ns_file "$NS_LB" crab_lb)
	while read -r k v _; do
		if [ "$k" = service ]; then
			in=$v
			continue
		fi
		if [ "$k" = "$name" ] && { [ "$svc" = - ] && [ "$in" = global ] || [ "$in" = "$svc" ]; }; then
			echo "$v"
			return
		fi
	done <"$f" 2>/dev/null
	echo missing
}

# nf_show PATH...: values of `crabctl -j lb nf show` at crab-nettest json
# paths (nf_show /services/0/backends/1/state).
nf_show() {
	lbctl -j lb nf show | crab_jget "$@"
}

# Add the service $NF_SVC with the 3 servers as backends: nf_service [opts]
nf_service() {
	local i
	lbctl lb nf service add "$NF_SVC" "$@" || return 1
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		lbctl lb nf backend add "$NF_SVC" "${IP_SRV[i]}" || return 1
	done
}

# nf_chi2 "a b c" N: chi-square of the counts against N/3 each, times 100
# (integer shell arithmetic).
nf_chi2() {
	local c e=$(($2 * 100 / 3)) s=0
	for c in $1; do
		s=$((s + (c * 100 - e) * (c * 100 - e) / e))
	done
	echo "$s"
}

# nf_reload PARAMS...: crab_lb_nf.ko unloaded and loaded again with module
# parameters (its services are gone with it).
nf_reload() {
	local ko
	ko=$(find "$CRAB_MODDIR" -name crab_lb_nf.ko 2>/dev/null | head -n1)
	[ -n "$ko" ] || crab_fail "crab_lb_nf.ko not built in $CRAB_MODDIR"
	if grep -q '^crab_lb_nf ' /proc/modules; then
		rmmod crab_lb_nf || crab_fail "rmmod crab_lb_nf"
	fi
	insmod "$ko" "$@" || crab_fail "insmod crab_lb_nf $*"
}

# nf_flows: "SPORT:LABEL[,LABEL] ..." of the packets the current captures
# hold, in port order: which servers each flow's packets reached.
nf_flows() {
	local i args=() line sp lb out=
	local -a m=()
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		args+=("srv$i=$NF_DIR/srv$i.pcap")
	done
	while read -r line; do
		[[ $line =~ ^label=([^ ]+).*\ sport=([0-9]+) ]] || continue
		lb=${BASH_REMATCH[1]} sp=${BASH_REMATCH[2]}
		[[ ",${m[sp]}," == *",$lb,"* ]] || m[sp]+=${m[sp]:+,}$lb
	done < <("$CRAB_NETTEST" pcap --port "$NF_PORT" "${NF_PCAP_ARGS[@]}" "${args[@]}")
	for sp in "${!m[@]}"; do
		out+="$sp:${m[sp]} "
	done
	echo "${out% }"
}
