#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Common setup of the eBPF endpoint tests (sourced after ../lib.sh):
#  - the test re-runs itself in a private mount namespace with a fresh bpffs,
#    so pinned maps and links cannot leak between runs (XT test_runner.sh);
#  - the standard topology with, in $NS_LB, either the project's XDP LB
#    (EP_LB=xdp: lb/ebpf_xdp attached natively by `crabctl lb xdp`, EP_LB=nf:
#    crab_lb_nf.ko, EP_LB=dpdk: crab-lb-dpdk on af_packet; service
#    $VIP:$EP_PORT rr over the three servers) or a stateless round-robin tc
#    fixture (EP_LB=rr, the default: lb_rr.bpf.c); both see one packet per
#    redirected connection and drop TCP to port 9999 of $VIP and $HOLD_ADDR
#    (client sockets held in SYN-SENT);
#  - cgroups $CG_CLI / $CG_SRV under the cgroup2 mount, one per role, with
#    the eBPF client (cgroup + eth0 of $NS_CLI) and server attached by crabctl.
# crabctl runs through `nsenter --net` (not `ip netns exec`, which remounts
# /sys and would hide the bpffs and the cgroup2 mount).

# The XDP LB tests' helpers (xdp_peer_napi, LIBXDP_SKIP_DISPATCHER).
source "$(dirname "${BASH_SOURCE[0]}")/../lb_xdp/xdp_lib.sh"

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

# The same in the background: EP_BG_PID is CMD's own pid (sh and
# `ip netns exec` exec into it), so killing it ends CMD.
ep_in_cg_bg() {
	local cg=$1 ns=$2; shift 2
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
		ip netns exec "$ns" "$@" &
	EP_BG_PID=$!
}

# Kill what is left in the test's cgroups (bounded wait), then remove them.
ep_cg_remove() {
	local base=$1 cg i
	for cg in "$base"/*/; do
		cg=${cg%/}
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
	# EP_ACCEPTED_DIR: each server keeps its count of accepted
	# connections in a file named after its namespace there.
	ep_in_cg "$CG_SRV" "$ns" $CRAB_TCPECHO server --port "$port" \
		${EP_ACCEPTED_DIR:+--accepted "$EP_ACCEPTED_DIR/$ns"} &
	pid=$!
	crab_defer "kill $pid"
	for i in $(seq 1 100); do
		ip netns exec "$ns" ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	crab_fail "echo server in $ns did not listen on $port"
}

# Connections server I completed: those its echo server accepted (the
# count file of EP_ACCEPTED_DIR). Not the stack's TcpPassiveOpens: two
# CPUs handling the client's ACK and its first data segment may both
# create a child, and the loser's is counted though it never becomes a
# connection (hardening/README.md).
ep_server_opens() {
	local v=0
	[ -e "$EP_ACCEPTED_DIR/${NS_SRV[$1]}" ] && read -r v <"$EP_ACCEPTED_DIR/${NS_SRV[$1]}"
	echo "${v:-0}"
}

ep_ip2hex() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '0x%02X%02X%02X%02X' "$a" "$b" "$c" "$d"
}

# The LB fixture: lb_rr.bpf.c (a stateless round-robin tc program) on the
# LB's eth0, pinned in the private bpffs (EP_LB_PIN: a second LB's name).
# Its backends are the three servers, or EP_RR_DIPS ("A B C").
ep_lb_rr_setup() {
	local d=$1 dir pin=/sys/fs/bpf/crabtest_lb${EP_LB_PIN:-} dips
	dir=$CRAB_TOP/selftests/endpoints_ebpf
	read -r -a dips <<<"${EP_RR_DIPS:-${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}}"
	clang -O2 -g -mcpu=v3 -target bpf -I/usr/include/x86_64-linux-gnu \
		-DVIP="$(ep_ip2hex "$VIP")" -DHOLD_ADDR="$(ep_ip2hex "$HOLD_ADDR")" \
		-DPORT="$EP_PORT" -DDIP1="$(ep_ip2hex "${dips[0]}")" \
		-DDIP2="$(ep_ip2hex "${dips[1]}")" -DDIP3="$(ep_ip2hex "${dips[2]}")" \
		-c "$dir/lb_rr.bpf.c" -o "$d/lb_rr${EP_LB_PIN:-}.o" || return 1
	bpftool prog load "$d/lb_rr${EP_LB_PIN:-}.o" "$pin" type classifier \
		pinmaps "${pin}maps" || return 1
	nsenter --net="/run/netns/$NS_LB" tc qdisc add dev eth0 clsact || return 1
	nsenter --net="/run/netns/$NS_LB" tc filter add dev eth0 ingress \
		bpf da object-pinned "$pin"
}

# Counter NAME of the XDP LB's service $VIP:$EP_PORT, or of the program
# with "global".
ep_xdp_counter() {
	ep_crabctl "$NS_LB" -j lb xdp stats --dev eth0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
name, svc = sys.argv[1], sys.argv[2]
if svc == "global":
    print(j["global"][name])
else:
    print([s for s in j["services"] if s["service"] == svc][0]["counters"][name])' "$1" "${2:-$VIP:$EP_PORT}"
}

# TCP to port 9999 reaching the LB's stack is dropped (nft; this kernel
# may lack tc's gact action).
ep_lb_drop_9999() {
	ip netns exec "$NS_LB" nft -f - <<-EOF
	table ip crab_ep_hold {
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			tcp dport 9999 counter drop
		}
	}
	EOF
}

# The project's XDP LB (lb/ebpf_xdp) natively on the LB's eth0, service
# $VIP:$EP_PORT (rr, legacy SYNs dropped) over the three servers.
ep_lb_xdp_setup() {
	local i
	crab_check_tool ethtool
	# (xdp_lib.sh exported LIBXDP_SKIP_DISPATCHER: a single program.)
	ep_crabctl "$NS_LB" lb xdp attach eth0 --mode native || return 1
	crab_defer "ep_crabctl $NS_LB lb xdp detach eth0"
	# XDP_TX on a veth needs a NAPI on the peer (../lb_xdp/xdp_lib.sh).
	xdp_peer_napi || return 1
	ep_crabctl "$NS_LB" lb xdp service add "$VIP:$EP_PORT" --policy rr \
		--legacy drop --dev eth0 || return 1
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		ep_crabctl "$NS_LB" lb xdp backend add "$VIP:$EP_PORT" "${IP_SRV[i]}" \
			--dev eth0 || return 1
		# Resolved neighbours: the SYN then leaves by XDP_TX.
		ip netns exec "$NS_LB" ping -c1 -W5 "${IP_SRV[i]}" >/dev/null || return 1
	done
	# Port 9999 (held sockets): not a service, so XDP passes it to the
	# stack, which drops it.
	ep_lb_drop_9999 || return 1
	# XDP sees the raw bytes of a frame whose checksum the client's stack
	# left to the "NIC" (CHECKSUM_PARTIAL on a veth): the client must
	# complete it itself (../lb_xdp/README.md).
	ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null
}

# The project's nf LB (lb/netfilter, crab_lb_nf.ko) in $NS_LB, the
# same service; port 9999 dropped as above.
ep_lb_nf_setup() {
	local i
	crab_load_module crab_lb_nf
	ip netns exec "$NS_LB" "$CRABCTL" lb nf service add "$VIP:$EP_PORT" --policy rr \
		--legacy drop || return 1
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		ip netns exec "$NS_LB" "$CRABCTL" lb nf backend add "$VIP:$EP_PORT" \
			"${IP_SRV[i]}" || return 1
	done
	ep_lb_drop_9999
}

# Counter NAME of the nf LB's service $VIP:$EP_PORT.
ep_nf_counter() {
	ip netns exec "$NS_LB" "$CRABCTL" -j lb nf stats | python3 -c '
import json, sys
print(json.load(sys.stdin)["services"][sys.argv[2]][sys.argv[1]])' "$1" "$VIP:$EP_PORT"
}

# crab-lb-dpdk on the LB's eth0 through net_af_packet
# (../lb_dpdk/dpdk_lib.sh dpdk_start: the LB namespace's own stack is made
# inert), the same service, backend MACs learned by ARP. What is not the
# LB's business is dropped (--exception drop, its default): port 9999 too.
ep_lb_dpdk_setup() {
	source "$CRAB_TOP/selftests/lb_dpdk/dpdk_lib.sh"
	dpdk_start "$1" --service "$VIP:$EP_PORT,policy=rr,legacy=drop" \
		--backend "$VIP:$EP_PORT,${IP_SRV[1]}" --backend "$VIP:$EP_PORT,${IP_SRV[2]}" \
		--backend "$VIP:$EP_PORT,${IP_SRV[3]}" || return 1
	dpdk_wait_ready "$LB_PID" "$PREFIX" "$VIP:$EP_PORT" "${IP_SRV[3]}"
	[ "$ready" = 0 ] || return 1
	# af_packet hands the LB the frame as the client's stack left it: a
	# CHECKSUM_PARTIAL SYN on a veth has only the pseudo-header sum in its
	# checksum field, which the LB's incremental update cannot complete.
	# The client computes full checksums instead (as for the XDP LB).
	ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null
}

# Counter NAME of crab-lb-dpdk's service $VIP:$EP_PORT.
ep_dpdk_counter() {
	"$CRABCTL" -j lb dpdk --prefix "$PREFIX" stats | python3 -c '
import json, sys
print(json.load(sys.stdin)["services"][sys.argv[2]][sys.argv[1]])' "$1" "$VIP:$EP_PORT"
}

ep_lb_setup() {
	case ${EP_LB:-rr} in
	xdp) ep_lb_xdp_setup ;;
	nf) ep_lb_nf_setup ;;
	dpdk) ep_lb_dpdk_setup "$1" ;;
	rr) ep_lb_rr_setup "$1" ;;
	*) crab_fail "EP_LB=$EP_LB: not xdp, nf, dpdk or rr" ;;
	esac
}

# Packets the LB saw for VIP:PORT (the XDP and nf LBs: SYNs they
# redirected plus every other packet to the service, dropped and counted).
ep_lb_packets() {
	case ${EP_LB:-rr} in
	xdp)
		echo $(($(ep_xdp_counter syn_redirected) + $(ep_xdp_counter nonsyn_drop) +
			$(ep_xdp_counter syn_legacy_drop)))
		return ;;
	nf)
		echo $(($(ep_nf_counter syn_redirected) + $(ep_nf_counter nonsyn_drop) +
			$(ep_nf_counter syn_legacy_drop)))
		return ;;
	dpdk)
		echo $(($(ep_dpdk_counter syn_redirected) + $(ep_dpdk_counter nonsyn_drop) +
			$(ep_dpdk_counter syn_legacy_drop)))
		return ;;
	esac
	bpftool -j map lookup pinned /sys/fs/bpf/crabtest_lbmaps/lb_cnt key 0 0 0 0 |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("formatted", j)["value"])'
}

# The whole setup; "$@" = the eBPF client's attach options (its announce
# and allow lists start empty: the caller names them). EP_CLIENT and
# EP_SERVER (ebpf, the default, or module: crab_client.ko/crab_server.ko,
# per netns) choose the endpoint implementations; every endpoint is
# configured explicitly (nothing happens by default): the eBPF server
# echoes (unless EP_SERVER_BARE=1: attached without options), a module
# client announces to $VIP and accepts redirects from the segment, module
# servers echo.
ep_setup() {
	local cgroot i
	crab_check_tool nsenter python3 clang bpftool tc ping
	case ${EP_LB:-rr} in xdp | nf) crab_check_tool nft ;; esac
	crab_require_built "$CRABCTL" crabctl
	[ "${EP_CLIENT:-ebpf}" = module ] && crab_load_module crab_client
	[ "${EP_SERVER:-ebpf}" = module ] && crab_load_module crab_server
	crab_topo_setup 3
	[ "${EP_CLIENT:-ebpf}" = module ] &&
		crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
	[ "${EP_SERVER:-ebpf}" = module ] && crab_server_config "${NS_SRV[@]:1}"
	cgroot=$(ep_cgroup2)
	CG_BASE=$cgroot/crab-ep-$CRAB_SFX
	mkdir -p "$CG_BASE/cli" "$CG_BASE/srv" || crab_skip "cannot create cgroups under $cgroot"
	crab_defer "ep_cg_remove $CG_BASE"
	CG_CLI=$CG_BASE/cli
	CG_SRV=$CG_BASE/srv

	EP_TMP=$(mktemp -d)
	crab_defer "rm -rf $EP_TMP"
	: "${EP_ACCEPTED_DIR:=$EP_TMP/accepted}"
	mkdir -p "$EP_ACCEPTED_DIR"
	ep_lb_setup "$EP_TMP" || crab_fail "LB setup (EP_LB=${EP_LB:-rr})"
	ip -n "$NS_CLI" route add "$HOLD_ADDR/32" via "$IP_LB"

	# (crabctl's notices are kept in $EP_TMP/attach-{srv,cli}.err too.)
	if [ "${EP_SERVER:-ebpf}" = ebpf ]; then
		local echo=(--echo on)
		[ -n "${EP_SERVER_BARE:-}" ] && echo=()
		"$CRABCTL" ebpf server attach --cgroup "$CG_SRV" "${echo[@]}" \
			2>"$EP_TMP/attach-srv.err" ||
			crab_fail "crabctl ebpf server attach: $(cat "$EP_TMP/attach-srv.err")"
		cat "$EP_TMP/attach-srv.err" >&2
		crab_defer "$CRABCTL ebpf server detach --cgroup $CG_SRV"
	fi
	if [ "${EP_CLIENT:-ebpf}" = ebpf ]; then
		ep_crabctl "$NS_CLI" ebpf client attach --cgroup "$CG_CLI" --dev eth0 "$@" \
			2>"$EP_TMP/attach-cli.err" ||
			crab_fail "crabctl ebpf client attach: $(cat "$EP_TMP/attach-cli.err")"
		cat "$EP_TMP/attach-cli.err" >&2
		crab_defer "ep_crabctl $NS_CLI ebpf client detach --cgroup $CG_CLI --dev eth0"
	fi
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		# EP_SERVER_SYSCTLS: "name=value ..." set in each server before
		# its listener starts.
		if [ -n "${EP_SERVER_SYSCTLS:-}" ]; then
			# shellcheck disable=SC2086
			ip netns exec "${NS_SRV[i]}" sysctl -qw $EP_SERVER_SYSCTLS ||
				crab_fail "sysctl $EP_SERVER_SYSCTLS in ${NS_SRV[i]}"
		fi
		ep_echo_server "${NS_SRV[i]}" "$EP_PORT"
	done
}

# Counter NAME of a module endpoint in namespace NS: ep_mod_counter NS
# crab_client|crab_server NAME.
ep_mod_counter() {
	ip netns exec "$1" awk -v n="$3" '$1 == n { print $2 }' "/proc/net/$2"
}

# ---- whole connections through an LB, the phases shared by the LB tests ----

# Counter NAME of the service at the LB chosen by EP_LB (xdp, nf, dpdk).
ep_lb_counter() {
	case $EP_LB in
	xdp) ep_xdp_counter "$1" ;;
	nf) ep_nf_counter "$1" ;;
	dpdk) ep_dpdk_counter "$1" ;;
	*) crab_fail "ep_lb_counter: EP_LB=$EP_LB has no service counters" ;;
	esac
}

# Remove backend DIP from the service at the LB chosen by EP_LB.
ep_lb_backend_del() {
	case $EP_LB in
	xdp) ep_crabctl "$NS_LB" lb xdp backend del "$VIP:$EP_PORT" "$1" --dev eth0 ;;
	nf) ip netns exec "$NS_LB" "$CRABCTL" lb nf backend del "$VIP:$EP_PORT" "$1" ;;
	dpdk) "$CRABCTL" lb dpdk --prefix "$PREFIX" backend del "$VIP:$EP_PORT" "$1" ;;
	*) crab_fail "ep_lb_backend_del: EP_LB=$EP_LB" ;;
	esac
}

# Connections each server completed so far: "a b c".
ep_opens() {
	local i out=
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do out+="$(ep_server_opens $i) "; done
	echo "${out% }"
}

# ep_conns_round N SLACK: N connections to the VIP through `client` (the
# test's function: crab-nettest client in $CG_CLI) succeed with data echoed,
# every one redirected by the eBPF client (getpeername() = VIP); the LB
# counted one SYN per connection plus the client's SYN retransmissions
# and no other packet of the service; the servers completed N/3 each,
# within SLACK (the LB's rr positions beyond one: per CPU or per worker)
# plus the retransmissions. Sets EP_RETR (retransmissions), EP_D (the
# per-server completions, an array).
ep_conns_round() {
	local n=$1 slack=$2 o0 o1 red0 retr0 syn0 nsd0 out red syn nsd tol ok i
	read -r -a o0 <<<"$(ep_opens)"
	red0=$(ep_stat redirected)
	retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
	syn0=$(ep_lb_counter syn_redirected)
	nsd0=$(ep_lb_counter nonsyn_drop)

	out=$(client --count "$n" --timeout 10 --deadline 400)
	crab_log "client: ${out:0:300}"
	[ "$(crab_json "$out" 'j["ok"]')" = "$n" ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
	log_test $? "$n connections via the $EP_LB LB succeed, data echoed"

	EP_RETR=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
	red=$(($(ep_stat redirected) - red0))
	[ "$red" = "$n" ] && [ "$(crab_json "$out" 'j["peers"]')" = "{'$VIP': $n}" ]
	log_test $? "every connection redirected by the eBPF client ($red), getpeername() = VIP"

	syn=$(($(ep_lb_counter syn_redirected) - syn0))
	nsd=$(($(ep_lb_counter nonsyn_drop) - nsd0))
	crab_log "LB: syn_redirected +$syn nonsyn_drop +$nsd; client SYN retransmissions $EP_RETR"
	[ "$syn" = $((n + EP_RETR)) ] && [ "$nsd" = 0 ]
	log_test $? "LB saw one packet per connection: $syn SYNs = $n + $EP_RETR retransmitted, $nsd others"

	read -r -a o1 <<<"$(ep_opens)"
	tol=$((EP_RETR + slack))
	ok=0
	EP_D=()
	for i in "${!o1[@]}"; do
		EP_D[i]=$((o1[i] - o0[i]))
		[ $((EP_D[i] - n / 3)) -le $tol ] && [ $((n / 3 - EP_D[i])) -le $tol ] || ok=1
	done
	[ $((EP_D[0] + EP_D[1] + EP_D[2])) = "$n" ] || ok=1
	log_test $ok "rr: servers completed ${EP_D[*]} (N/3 = $((n / 3)) within $tol)"
}

# ep_maps_drained: the eBPF client's flow table is empty again once the
# connections are closed (bounded wait for the last FIN exchanges); the
# per-socket state goes with the sockets. Sets EP_CLOSED (flows_closed).
ep_maps_drained() {
	local i f
	for i in $(seq 1 300); do
		f=$(ep_stat maps.flows)
		[ "$f" = 0 ] && break
		sleep 0.1
	done
	EP_CLOSED=$(ep_stat flows_closed)
	crab_log "maps: flows=$f probes=$(ep_stat maps.probes); flows_closed=$EP_CLOSED"
	[ "$f" = 0 ]
}

# ep_backend_removal H SLACK: H redirected connections held open (5
# exchange rounds 3 s apart), backend 2 removed at the LB once they are
# up: 30 new connections avoid it (split within SLACK + retransmissions),
# and all H connections, those to the removed backend included, keep
# exchanging data after the removal.
ep_backend_removal() {
	local h=$1 slack=$2 retr0 hpid i on2 t_del o2 o3 out retr tol hrc hold t_end
	retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
	rm -f "$EP_TMP/ready"
	client --count "$h" --hold --rounds 5 --interval 3 --timeout 10 --deadline 300 \
		--ready "$EP_TMP/ready" >"$EP_TMP/hold.json" &
	hpid=$!
	crab_defer "kill $hpid"
	for i in $(seq 600); do
		[ -e "$EP_TMP/ready" ] && break
		kill -0 $hpid 2>/dev/null || break
		sleep 0.2
	done
	[ -e "$EP_TMP/ready" ] || crab_fail "the $h held connections did not come up: $(cat "$EP_TMP/hold.json")"
	on2=$(ip netns exec "${NS_SRV[2]}" ss -Htn state established "sport = :$EP_PORT" | wc -l)
	# The first exchange round starts 3 s after "ready": the backend is
	# gone by then, so every round runs after the removal.
	ep_lb_backend_del "${IP_SRV[2]}"
	log_test $? "backend ${IP_SRV[2]} removed with $on2 of $h redirected connections open to it"
	t_del=$(date +%s)

	read -r -a o2 <<<"$(ep_opens)"
	out=$(client --count 30 --timeout 10 --deadline 300)
	read -r -a o3 <<<"$(ep_opens)"
	retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
	tol=$((retr + slack))
	local n1=$((o3[0] - o2[0])) n2=$((o3[1] - o2[1])) n3=$((o3[2] - o2[2]))
	crab_log "new connections: ${out:0:200}; per server: $n1 $n2 $n3"
	[ "$(crab_json "$out" 'j["ok"]')" = 30 ] && [ "$n2" = 0 ] && [ $((n1 + n3)) = 30 ] &&
		[ $((n1 - 15)) -le $tol ] && [ $((15 - n1)) -le $tol ]
	log_test $? "30 new connections avoid the removed backend ($n1/$n3, rr within $tol)"

	wait $hpid
	hrc=$?
	hold=$(cat "$EP_TMP/hold.json")
	t_end=$(stat -c %Y "$EP_TMP/hold.json")
	crab_log "held connections: ${hold:0:300}; last round $((t_end - t_del)) s after the removal"
	[ $((t_end - t_del)) -ge 3 ]
	log_test $? "exchange rounds ran after the removal"
	[ $hrc = 0 ] && [ "$(crab_json "$hold" 'j["ok"]')" = "$h" ] &&
		[ "$(crab_json "$hold" 'j["failed"]')" = 0 ] && [ "$on2" -ge $((h / 3 - tol)) ] && [ "$on2" -gt 0 ]
	log_test $? "all $h open connections, $on2 of them to the removed backend, kept exchanging data"
}

# ---- long-lived helpers: one python per role and test, never per packet ----

# ep_helper_start NAME NS CG SCRIPT [ARGS...]: start python3 SCRIPT in
# namespace NS (as a member of cgroup CG unless empty), talking over two
# FIFOs in $EP_TMP. ep_helper NAME LINE sends one command line and prints
# the helper's one-line answer (60 s at most: a guest imports scapy slowly).
declare -A EP_HIN EP_HOUT
ep_helper_start() {
	local name=$1 ns=$2 cg=$3 d fin fout
	shift 3
	d=$EP_TMP/helper-$name
	mkfifo "$d.in" "$d.out" || crab_fail "mkfifo $d"
	if [ -n "$cg" ]; then
		sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
			ip netns exec "$ns" python3 "$@" <"$d.in" >"$d.out" 2>"$d.err" &
	else
		ip netns exec "$ns" python3 "$@" <"$d.in" >"$d.out" 2>"$d.err" &
	fi
	crab_defer "kill $!"
	exec {fin}>"$d.in" {fout}<"$d.out"
	EP_HIN[$name]=$fin
	EP_HOUT[$name]=$fout
}

ep_helper() {
	local line
	echo "$2" >&"${EP_HIN[$1]}"
	read -r -t 60 line <&"${EP_HOUT[$1]}" ||
		line="error: no answer from helper $1: $(tail -n 3 "$EP_TMP/helper-$1.err" | tr '\n' ' ')"
	echo "$line"
}

# The attacker of the spoofing tests: host $2 (default .50) on the client's
# segment with the packet forger (ep_spoof.py) as helper "spoof"; sets
# NS_SPOOF, CLI_MAC.
ep_spoofer_start() {
	crab_add_host SPOOF "${1:-$CRAB_SUBNET.50}"
	CLI_MAC=$(ip -n "$NS_CLI" -br link show eth0 | awk '{ print $3 }')
	ep_helper_start spoof "$NS_SPOOF" "" "$CRAB_TOP/selftests/endpoints_ebpf/ep_spoof.py"
}

# A SYN-ACK for the spoofer: ep_synack_json SRC LPORT ACK [EXTRA_JSON]
# (from SRC:9999 to the client's LPORT, naming $VIP).
ep_synack_json() {
	printf '{"op": "synack", "dst_mac": "%s", "src": "%s", "dst": "%s", "sport": 9999, "dport": %s, "seq": 12345, "ack": %s, "name": "%s"%s}' \
		"$CLI_MAC" "$1" "$IP_CLI" "$2" "$3" "$VIP" "${4:+, $4}"
}

# ep_syn_seq PCAP LPORT: the sequence number of the SYN from LPORT in the
# running capture PCAP (10 s at most).
ep_syn_seq() {
	local i s
	for i in $(seq 100); do
		s=$(tcpdump -nn -r "$1" "tcp src port $2 and tcp[13] & 18 == 2" 2>/dev/null |
			head -n 1 | sed -n 's/.* seq \([0-9]*\),.*/\1/p')
		[ -n "$s" ] && { echo "$s"; return 0; }
		sleep 0.1
	done
	return 1
}

# ep_wait_stat NAME VALUE: until counter NAME reaches VALUE (20 s at most).
ep_wait_stat() {
	local i
	for i in $(seq 200); do
		[ "$(ep_stat "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ep_probe_expected: does this kernel have BPF netfilter programs (Linux
# 6.4), so that the eBPF client attaches its input-path probe? Decided from
# the kernel, not from what crabctl did: a probe crabctl failed to attach
# is a failure (ep_probe_attached), never a skip.
ep_probe_expected() {
	grep -qw bpf_nf_link_attach /proc/kallsyms
}

# ep_probe_attached: the client in $NS_CLI has its netfilter link pinned.
ep_probe_attached() {
	nsenter --net="/run/netns/$NS_CLI" find "$EP_PIN" -name 'client_nf_*' | grep -q .
}

# ep_stats_changed BEFORE: every counter that moved since BEFORE (the JSON
# of `crabctl -j ebpf stats`), as "name +n ...".
ep_stats_changed() {
	python3 -c '
import json, sys
a, b = json.loads(sys.argv[1])["counters"], json.loads(sys.argv[2])["counters"]
print(" ".join("%s +%d" % (k, b[k] - a.get(k, 0)) for k in sorted(b) if b[k] != a.get(k, 0)))
' "$1" "$("$CRABCTL" -j ebpf stats)"
}

# ep_s2_blocked WHERE N FAMILY S2: the firewall tests' check with a rule
# dropping traffic from server 2 (address S2, "ip" or "ip6") in place at
# WHERE: the test's `round N DESC` (which sets D, the connections each
# server took) succeeds, server 2 takes none, the client sends it nothing
# and the probe refused at least one redirect (rejected_probe).
ep_s2_blocked() {
	local where=$1 n=$2 fam=$3 s2=$4 rp0 pcap rc=0 sent before
	rp0=$(ep_stat rejected_probe)
	before=$("$CRABCTL" -j ebpf stats)
	pcap=$EP_TMP/to-s2-$where.pcap
	crab_capture_start "$NS_CLI" "$pcap" "$fam dst host $s2"
	round "$n" "S2 dropped at $where" || rc=1
	crab_capture_stop "$pcap"
	sent=$(tcpdump -nn -r "$pcap" 2>/dev/null | wc -l)
	tcpdump -nn -r "$pcap" 2>/dev/null | head -n 5 | sed "s/^/# to S2: /"
	crab_log "rejected_probe +$(($(ep_stat rejected_probe) - rp0)), packets to S2: $sent; counters: $(ep_stats_changed "$before")"
	[ "${D[1]}" = 0 ] && [ $((D[0] + D[2])) = "$n" ] && [ "$sent" = 0 ] &&
		[ "$(ep_stat rejected_probe)" -gt "$rp0" ] || rc=1
	log_test $rc "$fam saddr S2 drop at $where: no redirect to S2, nothing sent to it, $n of $n via the others"
}

# ep_probe6_attached: the client in $NS_CLI has its IPv6 netfilter link pinned.
ep_probe6_attached() {
	nsenter --net="/run/netns/$NS_CLI" find "$EP_PIN" -name 'client_nf6_*' | grep -q .
}

# ---- IPv6 -----------------------------------------------------------------
# The standard topology's IPv6 addresses (crab_topo6_setup in ../lib.sh).
EP6_NET=$CRAB_SUBNET6

# ep_v6_setup: crab_topo6_setup, and on the client
# net.ipv6.conf.lo.forwarding=1, which the eBPF client's IPv6 reverse-path
# check needs (a FIB lookup; it does not make the host forward).
ep_v6_setup() {
	crab_topo6_setup || return 1
	"$CRAB_NETTEST" sysctl "@$NS_CLI" net.ipv6.conf.lo.forwarding=1
}

# ep_add_host6 NAME IP IP6: crab_add_host with an IPv6 address too.
ep_add_host6() {
	crab_add_host6 "$@"
}

# ep_lb6_setup PORT: the IPv6 LB of the tests, nft in $NS_LB: a stateless
# (notrack) round robin of the TCP segments to VIP6:PORT over the three
# servers by rewriting the destination (nft fixes the TCP checksum), the
# SYNs counted in counter "syn", every other segment to the service in
# "other" and dropped (the LB must see only SYNs); TCP to port 9999 of
# VIP6 is dropped (client sockets held in SYN-SENT).
ep_lb6_setup() {
	ip netns exec "$NS_LB" nft -f - <<-EOF2
	table ip6 crab_ep_lb6 {
		counter syn { }
		counter other { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			ip6 daddr $VIP6 tcp dport 9999 drop
			ip6 daddr $VIP6 tcp dport $1 tcp flags & (syn | ack) != syn counter name "other" drop
			ip6 daddr $VIP6 tcp dport $1 notrack counter name "syn" ip6 daddr set numgen inc mod 3 map { 0 : ${IP6_SRV[1]}, 1 : ${IP6_SRV[2]}, 2 : ${IP6_SRV[3]} }
		}
	}
	EOF2
}

# ep_lb6_count syn|other: packets of that nft counter.
ep_lb6_count() {
	ip netns exec "$NS_LB" nft list counter ip6 crab_ep_lb6 "$1" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
