# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers of the crabctl selftests (sourced after ../lib.sh). The XDP LB
# tests reuse the lb_xdp helpers (private bpffs, crabctl via nsenter) and
# the lb_nf capture helpers (nf_capture_start/stop, nf_res, nf_send).

# The standard topology with 3 servers and the XDP LB attached natively to
# the LB's eth0 (its bridge-side peer gets a pass program for XDP_TX).
cc_xdp_setup() {
	crab_topo_setup 3
	NF_DIR=$(mktemp -d)
	crab_defer "rm -rf $NF_DIR"
	lbctl lb xdp attach eth0 --mode native 2>"$NF_DIR/attach.err" || {
		cat "$NF_DIR/attach.err"
		crab_fail "cannot attach the XDP LB"
	}
	crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
	xdp_peer_napi || crab_log "could not attach an XDP program to the LB's veth peer"
}

# cc_conf FILE POLICY "DIP[:WEIGHT[:drain]] ...": a one-service config file.
cc_conf() {
	local file=$1 policy=$2 spec ip w d
	{
		echo "# written by $CRAB_TEST"
		echo "[lb]"
		echo "type = \"xdp\""
		echo "dev = \"eth0\""
		echo
		echo "[[service]]"
		echo "vip = \"$VIP\""
		echo "port = $NF_PORT"
		echo "policy = \"$policy\""
		for spec in $3; do
			IFS=: read -r ip w d <<<"$spec"
			echo
			echo "  [[service.backend]]"
			echo "  addr = \"$ip\""
			[ -n "$w" ] && echo "  weight = $w"
			[ "$d" = drain ] && echo "  drain = true"
		done
	} >"$file"
}

# cc_syns N SPORT: send N capable SYNs to the VIP from one CPU (the rr
# position is per CPU) and print the client's SYNs each server received,
# "[a, b, c]" (captures keep only packets from the client, so health
# probes from the LB do not count).
cc_syns() {
	local i files=() args=()
	rm -f "$NF_DIR"/*.pcap "$NF_DIR"/*.pcap.err
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		crab_capture_start "${NS_SRV[i]}" "$NF_DIR/srv$i.pcap" \
			"src host $IP_CLI and tcp dst port $NF_PORT"
		files+=("$NF_DIR/srv$i.pcap")
		args+=("srv$i=$NF_DIR/srv$i.pcap")
	done
	taskset -c 0 ip netns exec "$NS_CLI" $NF_PKT send --dst "$VIP" --dport "$NF_PORT" \
		--count "$1" --sport "${2:-20000}" --opt vip
	crab_capture_stop "${files[@]}"
	NF_RES=$($NF_PKT check --port "$NF_PORT" "${args[@]}")
	nf_res '[L(i)["syn"] for i in (1,2,3)]'
}
