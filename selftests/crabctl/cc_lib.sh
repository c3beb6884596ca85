# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers of the crabctl selftests (sourced after ../lib.sh). The XDP LB
# tests reuse the lb_xdp helpers (private bpffs, crabctl via nsenter) and
# the lb_nf helpers (crabctl in the LB's namespace, captures).

# The standard topology with 3 servers and the XDP LB attached natively to
# the LB's eth0 (its bridge-side peer gets a pass program for XDP_TX).
cc_xdp_setup() {
	crab_need_nettest
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
# "a b c" (captures keep only packets from the client, so health probes
# from the LB do not count).
cc_syns() {
	local i args=()
	rm -f "$NF_DIR"/*.pcap "$NF_DIR"/*.pcap.err
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		crab_capture_start "${NS_SRV[i]}" "$NF_DIR/srv$i.pcap" \
			"src host $IP_CLI and tcp dst port $NF_PORT"
		args+=("srv$i=$NF_DIR/srv$i.pcap")
	done
	taskset -c 0 ip netns exec "$NS_CLI" "$CRAB_NETTEST" send dst="$VIP" dport="$NF_PORT" \
		count="$1" sport="${2:-20000}" opt=mss:1460,crab
	crab_capture_stop "${args[@]#*=}"
	crab_pcap_summary --port "$NF_PORT" "${args[@]}"
	echo "${CRAB_PCAP[srv1.syn]} ${CRAB_PCAP[srv2.syn]} ${CRAB_PCAP[srv3.syn]}"
}

# ---- crab-lb-dpdk (net_af_packet on the LB's veth) ---------------------------

# cc_dpdk_setup: the standard topology with 3 servers and crab-lb-dpdk on
# the LB's eth0 (../lb_dpdk/dpdk_lib.sh dpdk_start), started without
# services. Sets LBD, PREFIX, WORK, LB_PID.
cc_dpdk_setup() {
	source "$CRAB_TOP/selftests/lb_dpdk/dpdk_lib.sh"
	crab_need_nettest
	crab_topo_setup 3
	WORK=$(mktemp -d)
	crab_defer rm -rf "$WORK"
	dpdk_start "$WORK" || crab_fail "crab-lb-dpdk did not start"
}

# cc_dpdk_wait_macs: until the LB answers and every backend has a MAC
# (it ARPs once a second).
cc_dpdk_wait_macs() {
	local i b
	for i in $(seq 1 100); do
		kill -0 "$LB_PID" 2>/dev/null || return 1
		b=$("$CRABCTL" -j lb dpdk --prefix "$PREFIX" show 2>/dev/null) && [ -n "$b" ] &&
			! grep -q unresolved <<<"$b" && return 0
		sleep 0.2
	done
	return 1
}

# cc_dpdk_conf FILE POLICY "DIP[:WEIGHT[:drain]] ...": one service VIP:80.
cc_dpdk_conf() {
	local spec ip w d
	{
		printf '[lb]\ntype = "dpdk"\nprefix = "%s"\n\n[[service]]\nvip = "%s"\nport = 80\npolicy = "%s"\n' \
			"$PREFIX" "$VIP" "$2"
		for spec in $3; do
			IFS=: read -r ip w d <<<"$spec"
			printf '\n  [[service.backend]]\n  addr = "%s"\n' "$ip"
			[ -n "$w" ] && printf '  weight = %s\n' "$w"
			[ "$d" = drain ] && printf '  drain = true\n'
		done
	} >"$1"
}

# cc_dpdk_syns N SPORT: N capable SYNs from the client, source ports
# SPORT.., prints the SYNs each server received, "a b c" (only those: other
# traffic from the client, e.g. health probes, is not counted).
cc_dpdk_syns() {
	local i
	for i in 1 2 3; do
		crab_capture_start "${NS_SRV[i]}" "$WORK/s$i.pcap" \
			"tcp and src host $IP_CLI and src portrange $2-$(($2 + $1 - 1))"
	done
	ip netns exec "$NS_CLI" "$CRAB_NETTEST" send dst="$VIP" dport=80 count="$1" sport="$2" \
		opt=mss:1460,crab inter=0.002
	crab_capture_stop "$WORK/s1.pcap" "$WORK/s2.pcap" "$WORK/s3.pcap"
	crab_pcap_summary --filter "flags=S" s1="$WORK/s1.pcap" s2="$WORK/s2.pcap" s3="$WORK/s3.pcap"
	echo "${CRAB_PCAP[s1.syn]} ${CRAB_PCAP[s2.syn]} ${CRAB_PCAP[s3.syn]}"
}

# ---- crabctl health, the same scenario on every LB ----------------------------

# cc_health_suite DIR TARGET...: crabctl health against the LB that the
# crabctl target options TARGET name (e.g. --lb xdp --dev eth0), whose
# service VIP:PORT has the 3 servers as backends, echo servers on PORT.
# The caller sets CC_HCTL, an array: the command that runs crabctl where
# probes reach the servers (it must exec crabctl: the daemon's PID is
# signalled), and defines cc_split N SPORT (capable SYNs sent to the VIP, printed per server
# "a b c"). Checks: servers with plain listeners answer the probe SYN
# (which carries the redirect option) with a SYN-ACK without it,
# "reachable"; a filtered server (nft drop) is "down" for --once, which
# changes nothing; the daemon drains it after --fall failed probes, new
# SYNs avoid it, open connections to another backend keep working; when
# the filter goes it restores the backend after --rise good probes and it
# gets SYNs again; transitions are logged with timestamps; SIGTERM ends it.
cc_health_suite() {
	local dir=$1 n=6 out rc got hold hpid i
	shift
	drained() {
		"${CC_HCTL[@]}" -j show "$@" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([str(b["drain"]).lower() for b in j["service"][0]["backend"] if b["addr"] == sys.argv[1]][0])' "$H_IP"
	}
	wait_log() {
		for i in $(seq 200); do
			grep -q "$1" "$dir/health.log" && return 0
			sleep 0.1
		done
		return 1
	}

	out=$("${CC_HCTL[@]}" -j health "$@" --once --timeout 1000)
	rc=$?
	[ $rc -eq 0 ] && [ "$(crab_json "$out" 'sorted(set(p["state"] for p in j))')" = "['reachable']" ] &&
		[ "$(crab_json "$out" 'len(j)')" = 3 ]
	log_test $? "health --once: 3 backends reachable (SYN-ACK without the option), exit 0"

	ip netns exec "${NS_SRV[1]}" nft -f - <<-NFT
	table inet cc_health {
		chain in { type filter hook input priority 0; tcp dport $CC_PORT drop; }
	}
	NFT
	"${CC_HCTL[@]}" health "$@" --once --timeout 300 >"$dir/once.out" 2>&1
	rc=$?
	sed 's/^/# /' "$dir/once.out"
	[ $rc -eq 1 ] && grep -q "^$VIP:$CC_PORT *${IP_SRV[1]} *down" "$dir/once.out" &&
		[ "$(grep -c ' reachable ' "$dir/once.out")" = 2 ]
	log_test $? "health --once: filtered backend down, exit 1"
	H_IP=${IP_SRV[1]}
	[ "$(drained "$@")" = false ]
	log_test $? "--once changes nothing"

	# Redirected connections talk to the backend directly: hold two open
	# to srv2 while srv1 is drained and restored.
	ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "${IP_SRV[2]}" --port "$CC_PORT" --count 2 \
		--hold --rounds 24 --interval 0.5 --ready "$dir/ready" >"$dir/hold.json" 2>&1 &
	hold=$!
	crab_defer "kill $hold"
	for i in $(seq 100); do [ -e "$dir/ready" ] && break; sleep 0.1; done

	"${CC_HCTL[@]}" health "$@" --interval 0.5 --fall 2 --rise 2 --timeout 300 >"$dir/health.log" 2>&1 &
	hpid=$!
	crab_defer "kill $hpid"
	H_IP=${IP_SRV[1]}
	wait_log "${IP_SRV[1]}: up -> down.*drained$" && [ "$(drained "$@")" = true ] &&
		H_IP=${IP_SRV[2]} && [ "$(drained "$@")" = false ]
	log_test $? "daemon: filtered backend drained after 2 failed probes"
	got=$(cc_split $((2 * n)) 22000)
	[ "$got" = "0 $n $n" ]
	log_test $? "new SYNs avoid the drained backend ($got)"

	ip netns exec "${NS_SRV[1]}" nft delete table inet cc_health
	H_IP=${IP_SRV[1]}
	wait_log "${IP_SRV[1]}: down -> up.*activated$" && [ "$(drained "$@")" = false ]
	log_test $? "daemon: backend restored after 2 good probes"
	got=$(cc_split $((3 * n)) 23000)
	[ "$got" = "$n $n $n" ]
	log_test $? "restored backend gets SYNs again ($got)"

	wait $hold
	crab_conns_ok "$(cat "$dir/hold.json")" 2
	log_test $? "open connections to another backend kept working while it was drained"

	sed 's/^/# /' "$dir/health.log"
	[ "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z .*(up -> down|down -> up)' "$dir/health.log")" = 2 ]
	log_test $? "exactly two transitions logged, with timestamps"
	kill -TERM $hpid
	for i in $(seq 50); do kill -0 $hpid 2>/dev/null || break; sleep 0.1; done
	wait $hpid
	rc=$?
	[ $rc -eq 0 ] && grep -q "stopping" "$dir/health.log"
	log_test $? "SIGTERM: daemon stops, exit 0"
}
