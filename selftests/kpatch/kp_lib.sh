#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers of the kernel patch selftests. They are for a kernel built from
# kernel-patches/6.12 by tools/kernel/build-kernel.sh (release "*-crab"): on
# any other kernel they skip ("kernel without the CRAB series"); on that
# kernel, a missing interface is a failure.

KP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KP_TOOL_PY=$KP_DIR/kp_tool.py
KP_TOOL="python3 $KP_TOOL_PY"
# The whole interface of the series: sysctls of net.ipv4 ...
KP_SYSCTLS="tcp_crab_client tcp_crab_server tcp_crab_announce tcp_crab_allow tcp_crab_kind tcp_crab_exid"
# ... and its TcpExt counters.
KP_MIBS="TCPCrabEchoed TCPCrabEchoNoRoom TCPCrabBadOption TCPCrabAnnounced
TCPCrabAnnounceNoRoom TCPCrabRedirected TCPCrabRejectNotSynSent
TCPCrabRejectNotAnnounced TCPCrabRejectDisabled TCPCrabRejectKeyed
TCPCrabRejectBadAck TCPCrabRejectNotAllowed TCPCrabRejectMartian
TCPCrabRejectRpFilter TCPCrabRejectDuplicate TCPCrabTwReplaced"

kp_is_patched_kernel() {
	case $(uname -r) in *-crab) return 0 ;; esac
	return 1
}

# Skip on a stock kernel; on ours, every sysctl, counter and the conntrack
# switch must be there.
kp_require_patched_kernel() {
	local s m
	kp_is_patched_kernel || crab_skip "kernel without the CRAB series ($(uname -r))"
	for s in $KP_SYSCTLS; do
		[ -e "/proc/sys/net/ipv4/$s" ] ||
			crab_fail "kernel $(uname -r) is built from the series but has no net.ipv4.$s"
	done
	for m in $KP_MIBS; do
		grep -qw "$m" /proc/net/netstat ||
			crab_fail "kernel $(uname -r) is built from the series but TcpExt has no $m"
	done
}

# kp_mib NS NAME: value of TcpExt counter NAME in namespace NS ("missing"
# when this kernel has none).
kp_mib() {
	crab_tcpext "$1" "$2" missing
}

# kp_mibs NS NAME...: "NAME=value ..." of several counters at once.
kp_mibs() {
	local ns=$1; shift
	ip netns exec "$ns" awk -v want="$*" '
		BEGIN { n = split(want, w, " ") }
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) idx[$i] = i; h = 1; next }
		$1 == "TcpExt:" && h { for (i = 1; i <= n; i++) printf "%s=%s ", w[i], (w[i] in idx) ? $idx[w[i]] : "missing"; exit }
	' /proc/net/netstat
}

# kp_sysctls NS CLIENT SERVER
kp_sysctls() {
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_crab_client="$2" \
		net.ipv4.tcp_crab_server="$3"
}

# kp_lists NS ANNOUNCE ALLOW: the client's prefix lists ("" empties one).
kp_lists() {
	printf '%s' "$2" | ip netns exec "$1" tee /proc/sys/net/ipv4/tcp_crab_announce >/dev/null &&
		printf '%s' "$3" | ip netns exec "$1" tee /proc/sys/net/ipv4/tcp_crab_allow >/dev/null
}

# kp_client NS: a client that announces to the VIP and accepts redirects
# from the segment (198.18.0.0/24).
kp_client() {
	kp_sysctls "$1" 1 0 && kp_lists "$1" "$VIP/32" "$CRAB_SUBNET.0/24"
}

# Stateless LB in $NS_LB: SYNs to VIP:PORT get their destination rewritten to
# one of the servers, round robin, untracked. Counter "lb" counts them.
kp_nft_lb() {
	local port=$1 i map=
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		map+="${map:+, }$((i - 1)) : ${IP_SRV[i]}"
	done
	ip netns exec "$NS_LB" nft -f - <<-NFT
	table ip crablb {
		counter lb { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			ip daddr $VIP tcp dport $port counter name "lb" ip daddr set numgen inc mod $CRAB_NSERVERS map { $map } notrack
		}
	}
	NFT
}

# Black hole LB: SYNs to VIP:PORT are counted and dropped.
kp_nft_blackhole() {
	ip netns exec "$NS_LB" nft -f - <<-NFT
	table ip crablb {
		counter lb { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			ip daddr $VIP tcp dport $1 counter name "lb" drop
		}
	}
	NFT
}

kp_nft_lb_packets() {
	ip netns exec "$NS_LB" nft list counter ip crablb lb |
		sed -n 's/.*packets \([0-9]*\) .*/\1/p'
}

# Tcp OutRsts of namespace $1 (/proc/net/snmp).
kp_out_rsts() {
	ip netns exec "$1" awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) idx[$i] = i; h = 1; next }
		$1 == "Tcp:" && h { print $idx["OutRsts"]; exit }' /proc/net/snmp
}

# ---- long-lived helper processes (kp_tool.py serve|attack) -------------------
# One per role and test: a Python start costs ~2 s in a TCG guest (and the
# scapy import 12 s), so commands go to a running process over two FIFOs.
declare -A KP_FDIN KP_FDOUT
KP_TMP=

# kp_helper NAME NS serve|attack [COMMAND PREFIX...]: start helper NAME in
# namespace NS (the prefix, e.g. "setpriv --reuid=65534 ...", runs it).
kp_helper() {
	local name=$1 ns=$2 mode=$3 fdin fdout line
	shift 3
	if [ -z "$KP_TMP" ]; then
		KP_TMP=$(mktemp -d /tmp/crab-kp-XXXXXX)
		crab_defer "rm -rf $KP_TMP"
		# A copy of the tool that a helper of another user (the prefix)
		# can read wherever the tree is checked out.
		cp "$KP_TOOL_PY" "$KP_TMP/kp_tool.py" && chmod 755 "$KP_TMP" ||
			crab_fail "cannot copy $KP_TOOL_PY to $KP_TMP"
	fi
	mkfifo "$KP_TMP/$name.in" "$KP_TMP/$name.out"
	ip netns exec "$ns" "$@" python3 "$KP_TMP/kp_tool.py" "$mode" \
		<"$KP_TMP/$name.in" >"$KP_TMP/$name.out" 2>"$KP_TMP/$name.err" &
	crab_defer "kill $!"
	exec {fdin}>"$KP_TMP/$name.in" {fdout}<"$KP_TMP/$name.out"
	KP_FDIN[$name]=$fdin
	KP_FDOUT[$name]=$fdout
	if [ "$mode" = attack ]; then
		read -r -t 180 line <&"$fdout" ||
			crab_fail "packet helper did not start: $(cat "$KP_TMP/$name.err")"
	fi
}

# kp_call NAME JSON [TIMEOUT]: one command, its JSON answer on stdout.
kp_call() {
	local line
	echo "$2" >&"${KP_FDIN[$1]}"
	read -r -t "${3:-60}" line <&"${KP_FDOUT[$1]}" ||
		{ echo "# helper $1: no answer to $2: $(tail -n3 "$KP_TMP/$1.err")" >&2; return 1; }
	echo "$line"
}

# kp_get JSON KEY: the value of a top-level key of a flat JSON object.
kp_get() {
	local re="\"$2\": *(\"([^\"]*)\"|([^,}]*))"
	[[ $1 =~ $re ]] && echo "${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
}

# kp_conns HELPER N [TIMEOUT [PORT]]: N connections to the VIP one after the
# other through socket helper HELPER, each given TIMEOUT seconds (10) to
# connect and echo 512 bytes. Prints "ok=N failed=N peers=ADDR:N,...".
kp_conns() {
	local h=$1 n=$2 t=${3:-10} port=${4:-$PORT} i r ok=0 fail=0 p
	local -A peers=()
	for ((i = 0; i < n; i++)); do
		kp_call "$h" "{\"cmd\": \"connect\", \"id\": \"k$i\", \"addr\": \"$VIP\", \"port\": $port}" >/dev/null
		r=$(kp_call "$h" "{\"cmd\": \"wait\", \"id\": \"k$i\", \"timeout\": $t}" $((t + 30)))
		if [ "$(kp_get "$r" connected)" = true ] &&
		   [ "$(kp_get "$(kp_call "$h" "{\"cmd\": \"echo\", \"id\": \"k$i\"}")" echo)" = true ]; then
			ok=$((ok + 1))
			p=$(kp_get "$r" peer)
			peers[$p]=$((${peers[$p]:-0} + 1))
		else
			fail=$((fail + 1))
		fi
		kp_call "$h" "{\"cmd\": \"close\", \"id\": \"k$i\"}" >/dev/null
	done
	r=
	for p in $(printf '%s\n' "${!peers[@]}" | sort); do r+="${r:+,}$p:${peers[$p]}"; done
	echo "ok=$ok failed=$fail peers=$r"
}

# kp_mac NS [DEV]: MAC address of DEV (eth0) in NS.
kp_mac() {
	ip -n "$1" link show "${2:-eth0}" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# ---- interoperability with the module and eBPF endpoints -------------------
# kp_interop CLIENT SERVER LB: CLIENT and SERVER are patched, module or ebpf
# (one of them patched), LB is xdp or nf (the project's LBs), in the
# topology of ../endpoints_ebpf/ep_lib.sh (the test must have called
# ep_unshare "$@" first). $N (default 30) connections to the VIP from one
# CPU: all succeed with data echoed; the client's redirect counter and the
# servers' echo counters account for every connection; getpeername() is the
# DIP (patched and module clients re-key the socket) or the VIP (the eBPF
# client translates around it); each server completed N/3 connections
# (rr); the LB saw one packet per connection (plus SYN retransmissions).
kp_interop() {
	local cli=$1 srv=$2 i out retr retr0 red red0 ech ech0 s=() ok peers tol
	N=${N:-30}
	kp_require_patched_kernel
	crab_check_tool taskset
	# The project's modules are built for this kernel by tools/vm/run-vm.sh
	# against its object tree: missing ones are a build failure here.
	for m in crab_client crab_server crab_lb_nf; do
		case " $cli $srv $3 " in
		*" module "*|*" nf "*)
			[ -n "$(find "$CRAB_MODDIR" -name "$m.ko" 2>/dev/null)" ] ||
				crab_fail "$m.ko was not built for $(uname -r) in $CRAB_MODDIR"
			;;
		esac
	done
	EP_CLIENT=$cli EP_SERVER=$srv EP_LB=$3
	case $cli in patched) EP_CLIENT=none ;; esac
	case $srv in patched) EP_SERVER=none ;; esac
	# An eBPF client's lists name the IPv6 side too (kp_interop6).
	if [ "$cli" = ebpf ]; then
		ep_setup --announce "$VIP/32,$VIP6/128" --allow "$CRAB_SUBNET.0/24,$EP6_NET::10/124"
	else
		ep_setup
	fi
	# Patched ends: only the sysctl of their side on; the others off.
	if [ "$cli" = patched ]; then kp_client "$NS_CLI"; else kp_sysctls "$NS_CLI" 0 0; fi
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		kp_sysctls "${NS_SRV[i]}" 0 "$([ "$srv" = patched ] && echo 1 || echo 0)"
	done
	# Module ends are off until configured (where lib.sh knows how).
	if [ "$cli" = module ] && declare -F crab_client_config >/dev/null; then
		crab_client_config "$NS_CLI"
	fi
	if [ "$srv" = module ] && declare -F crab_server_config >/dev/null; then
		crab_server_config "${NS_SRV[@]}"
	fi

	kp_interop_red() {
		case $cli in
		patched) kp_mib "$NS_CLI" TCPCrabRedirected ;;
		module) ep_mod_counter "$NS_CLI" crab_client redirected ;;
		ebpf) ep_stat redirected ;;
		esac
	}
	kp_interop_echoed() {
		local i n=0
		for ((i = 1; i <= CRAB_NSERVERS; i++)); do
			case $srv in
			patched) n=$((n + $(kp_mib "${NS_SRV[i]}" TCPCrabEchoed))) ;;
			module) n=$((n + $(ep_mod_counter "${NS_SRV[i]}" crab_server synack_echoed))) ;;
			esac
		done
		[ "$srv" = ebpf ] && n=$(ep_stat echoed)
		echo "$n"
	}
	red0=$(kp_interop_red)
	ech0=$(kp_interop_echoed)
	retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
	out=$(ep_in_cg "$CG_CLI" "$NS_CLI" taskset -c 0 $CRAB_TCPECHO client --addr "$VIP" \
		--port "$EP_PORT" --count "$N" --timeout 10 --deadline 300)
	retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
	crab_log "client: ${out:0:300}"
	[ "$(crab_json "$out" 'j["ok"]')" = "$N" ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
	log_test $? "$N connections $cli client -> $3 LB -> $srv server, data echoed"

	red=$(($(kp_interop_red) - red0))
	ech=$(($(kp_interop_echoed) - ech0))
	crab_log "$cli client redirected +$red, $srv servers echoed +$ech, SYN retransmissions $retr"
	ok=0
	[ "$red" = "$N" ] && [ "$ech" -ge "$N" ] || ok=1
	if [ "$cli" = patched ]; then
		[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$N" ] || ok=1
	fi
	log_test $ok "counters: $cli client redirected $red/$N, $srv servers echoed $ech (>= $N)"

	peers=$(crab_json "$out" 'sorted(j["peers"])')
	if [ "$cli" = ebpf ]; then
		[ "$peers" = "['$VIP']" ]
	else
		[ "$peers" = "['${IP_SRV[1]}', '${IP_SRV[2]}', '${IP_SRV[3]}']" ]
	fi
	log_test $? "getpeername() on the $cli client: $(crab_json "$out" 'j["peers"]')"

	# Per-CPU rr position (XDP LB): within one per extra CPU.
	tol=$((retr + $(nproc) - 1))
	ok=0
	for i in 1 2 3; do
		s[i]=$(ep_server_opens $i)
		[ $((s[i] - N / 3)) -le $tol ] && [ $((N / 3 - s[i])) -le $tol ] || ok=1
	done
	[ $((s[1] + s[2] + s[3])) = "$N" ] || ok=1
	[ "$(ep_lb_packets)" = $((N + retr)) ] || ok=1
	log_test $ok "LB saw one packet per connection ($(ep_lb_packets), $retr SYN retransmissions), rr split ${s[*]:1}"
}

# kp_crab_mibs NS: "COUNT SUM" over the TcpExt counters named TCPCrab*.
kp_crab_mibs() {
	ip netns exec "$1" awk '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
		$1 == "TcpExt:" && h { for (i = 2; i <= NF; i++) if (n[i] ~ /^TCPCrab/) { c++; s += $i }
			print c + 0, s + 0; exit }' /proc/net/netstat
}

# kp_interop6 CLIENT SERVER (after kp_interop CLIENT SERVER ...): the same
# ends over IPv6 through the IPv6 nft LB (SYNs only): every connection
# redirected and accepted on a backend, the servers' echo counters account
# for it. getpeername() is VIP6 on the eBPF client (it translates at tc),
# a backend's DIP6 on the patched one (the kernel re-keys the socket).
kp_interop6() {
	local cli=$1 srv=$2 p6=8086 n6=${EP_CONNS6:-15} i acc=0 red0 red ech0 ech r p up
	ep_v6_setup || crab_fail "IPv6 addresses of the topology"
	ep_lb6_setup $p6 || crab_fail "the IPv6 nft LB"
	if [ "$cli" = patched ]; then
		kp_lists "$NS_CLI" "$VIP/32,$VIP6/128" "$CRAB_SUBNET.0/24,$EP6_NET::10/124" ||
			crab_fail "cannot give the patched client its IPv6 lists"
	fi
	# The eBPF server acts on the sockets of its cgroup.
	local scg=
	[ "$srv" = ebpf ] && scg=$CG_SRV
	for i in 1 2 3; do
		ep_helper_start "srv6-$i" "${NS_SRV[i]}" "$scg" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
	done
	ep_helper_start cli6 "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
	for i in 1 2 3; do
		[ "$(ep_helper "srv6-$i" "listen $p6 v6")" = ok ] &&
			[ "$(ep_helper "srv6-$i" "serve $p6 $EP_TMP/acc6-$i")" = ok ] ||
			crab_fail "IPv6 listener on server $i"
	done
	red0=$(kp_interop_red) ech0=$(kp_interop_echoed)
	r=$(ep_helper cli6 "conns $VIP6 $p6 $n6 10")
	p=$(ep_helper cli6 "connect $VIP6 $p6")
	up=$(ep_helper cli6 "wait $p 30")
	for i in 1 2 3; do
		[ -e "$EP_TMP/acc6-$i" ] && acc=$((acc + $(cat "$EP_TMP/acc6-$i")))
	done
	red=$(($(kp_interop_red) - red0)) ech=$(($(kp_interop_echoed) - ech0))
	crab_log "IPv6: conns $r; one more $up; $cli client redirected +$red; $srv servers echoed +$ech; accepted $acc; LB6 syn $(ep_lb6_count syn) other $(ep_lb6_count other)"
	local peer=ok
	if [ "$cli" = ebpf ]; then
		[ "$up" = "up $VIP6" ] || peer=bad
	else
		[[ "$up" == "up $EP6_NET::1"[123] ]] || peer=bad
	fi
	[ "$r" = "ok $n6" ] && [ "$red" = $((n6 + 1)) ] && [ "$ech" -ge $((n6 + 1)) ] &&
		[ "$acc" = $((n6 + 1)) ] && [ "$(ep_lb6_count other)" = 0 ] && [ $peer = ok ]
	log_test $? "IPv6: $n6 + 1 connections $cli client -> IPv6 LB -> $srv servers, each redirected and echoed (${up#up })"
}
