#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Shared library of the CRAB selftests (kselftest conventions: exit 0 pass,
# 1 fail, 4 skip). Source it from selftests/<area>/test_*.sh:
#     source "$(dirname "$0")/../lib.sh"
#
# The standard topology (crab_topo_setup N): one L2 segment (a bridge in its
# own namespace) joining a client, the LB and N servers; the VIP is routed
# from the client via the LB. Everything is torn down at exit.
#
#       NS_CLI 198.18.0.2 ---+
#       NS_LB  198.18.0.1 ---+--- br0 (NS_SW)
#       NS_SRV[i] 198.18.0.(10+i) ---+
#       VIP 198.18.100.1: client route "via 198.18.0.1"

ksft_skip=4
# Debian's python3 (with scapy) and system tools first, whatever the caller's
# PATH (a pyenv shim, say) prefers.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
CRAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRAB_TEST=$(basename "$0" .sh)
: "${CRAB_MODDIR:=$CRAB_TOP/build/kmod/$(uname -r)}"
: "${CRAB_BIN:=$CRAB_TOP/build/userspace/userspace}"
CRABCTL=${CRABCTL:-$CRAB_BIN/crabctl/crabctl}
# crab-nettest (selftests/tools/nettest): echo servers, checking clients,
# raw packets, captures, JSON paths. "$CRAB_TCPECHO client|server" takes the
# words of the Python tool it replaced and prints the same JSON report.
: "${CRAB_NETTEST:=$CRAB_TOP/build/userspace/selftests/tools/nettest/crab-nettest}"
CRAB_TCPECHO=$CRAB_NETTEST
CRAB_SUBNET=198.18.0
VIP=198.18.100.1
IP_LB=$CRAB_SUBNET.1
IP_CLI=$CRAB_SUBNET.2
declare -a NS_SRV IP_SRV
CRAB_NS_ALL=()
declare -A CRAB_NS_PID=()
CRAB_DEFERRED=()
CRAB_RESULTS_FAIL=0
CRAB_RESULTS_PASS=0
CRAB_RESULTS_SKIP=0
# A unique suffix keeps parallel or leftover runs from colliding.
CRAB_SFX=${CRAB_SFX:-$$-$RANDOM}

crab_log() { echo "# $*"; }

log_test() {
	local rc=$1; shift
	local desc="$*"
	case $rc in
	0) printf 'TEST: %-64s [ OK ]\n' "$desc"; CRAB_RESULTS_PASS=$((CRAB_RESULTS_PASS + 1)) ;;
	"$ksft_skip") printf 'TEST: %-64s [SKIP]\n' "$desc"; CRAB_RESULTS_SKIP=$((CRAB_RESULTS_SKIP + 1)) ;;
	*) printf 'TEST: %-64s [FAIL]\n' "$desc"; CRAB_RESULTS_FAIL=$((CRAB_RESULTS_FAIL + 1)) ;;
	esac
	return 0
}

# A test passes only when it made at least one check: an exit with zero
# log_test lines is a failure (a test that checked nothing proved nothing).
crab_exit() {
	if [ "$CRAB_RESULTS_FAIL" -gt 0 ]; then
		exit 1
	fi
	if [ "$CRAB_RESULTS_PASS" -eq 0 ] && [ "$CRAB_RESULTS_SKIP" -eq 0 ]; then
		echo "FAIL: $CRAB_TEST: made no checks (no log_test line)"
		exit 1
	fi
	if [ "$CRAB_RESULTS_PASS" -eq 0 ]; then
		echo "SKIP: $CRAB_TEST: every check was skipped (reasons on the [SKIP] lines)"
		exit $ksft_skip
	fi
	exit 0
}

# Skips and CRAB_STRICT. A skip is only for a reason outside the project (a
# kernel without a feature, a machine without a device): crab_skip_env
# REASON. Whatever the build or scripts/install-deps.sh was supposed to
# provide (crabctl, a .ko, a BPF object, a module build tree, a Debian tool
# or Python module) and is missing goes through crab_missing REASON (or
# crab_require_built, crab_check_tool, crab_require_python_module): with
# CRAB_STRICT=1, as .ci/run sets, that is a failure; otherwise a skip that
# says what is missing. The runner prints every skip's reason and make
# check's summary groups them.
: "${CRAB_STRICT:=0}"

crab_skip_env() {
	echo "SKIP: $CRAB_TEST: $*"
	exit $ksft_skip
}

# Kept for the existing callers: the same as crab_skip_env (a reason
# outside the project). Something missing from the build is crab_missing.
crab_skip() {
	crab_skip_env "$@"
}

crab_fail() {
	echo "FAIL: $CRAB_TEST: $*"
	exit 1
}

crab_missing() {
	[ "$CRAB_STRICT" = 1 ] && crab_fail "$* (CRAB_STRICT=1: a missing build output or dependency is a failure)"
	crab_skip_env "$*"
}

# crab_require_built PATH WHAT: PATH is an output of `make all` (or make
# deb, make kernel...), e.g. crab_require_built "$CRABCTL" crabctl.
crab_require_built() {
	[ -e "$1" ] || crab_missing "$2 not built ($1)"
}

# crab_check_missing DESC REASON: one check that cannot be made because
# something of the build or of the dependencies is missing: a failed check
# with CRAB_STRICT=1, a skipped check otherwise.
crab_check_missing() {
	if [ "$CRAB_STRICT" = 1 ]; then
		log_test 1 "$1: $2 (CRAB_STRICT=1)"
	else
		log_test $ksft_skip "$1: $2"
	fi
}

crab_require_root() {
	[ "$(id -u)" -eq 0 ] || crab_missing "needs root"
}

# Tools come from scripts/install-deps.sh (make deps): missing is crab_missing.
crab_check_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 ||
			crab_missing "tool '$t' not found (scripts/install-deps.sh installs it)"
	done
}

# crab_require_python_module NAME...: a Debian python3 module (scapy...).
# Looks for the package on disk first: starting python3 just to try the
# import costs seconds in an emulated guest.
crab_require_python_module() {
	local m d
	for m in "$@"; do
		for d in /usr/lib/python3/dist-packages /usr/local/lib/python3*/dist-packages; do
			{ [ -e "$d/$m/__init__.py" ] || [ -e "$d/$m.py" ]; } && continue 2
		done
		python3 -c "import $m" 2>/dev/null ||
			crab_missing "python3 module '$m' not installed (scripts/install-deps.sh installs it)"
	done
}

# Register a cleanup command; run LIFO at exit (even on failure).
crab_defer() {
	CRAB_DEFERRED+=("$*")
}

crab_cleanup() {
	local i
	for ((i = ${#CRAB_DEFERRED[@]} - 1; i >= 0; i--)); do
		eval "${CRAB_DEFERRED[$i]}" >/dev/null 2>&1 || true
	done
	CRAB_DEFERRED=()
	if [ ${#CRAB_NS_ALL[@]} -gt 0 ] && [ -x "$CRAB_NETTEST" ]; then
		# Two processes for any number of namespaces: kill what runs in
		# them, then delete them all (ip -force: on past an error).
		local b=
		"$CRAB_NETTEST" reap "${CRAB_NS_ALL[@]}" 2>/dev/null
		for ((i = ${#CRAB_NS_ALL[@]} - 1; i >= 0; i--)); do
			b+="netns del ${CRAB_NS_ALL[$i]}"$'\n'
		done
		ip -force -b - <<<"$b" >/dev/null 2>&1
		CRAB_NS_ALL=()
	fi
	for ((i = ${#CRAB_NS_ALL[@]} - 1; i >= 0; i--)); do
		ip netns pids "${CRAB_NS_ALL[$i]}" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "${CRAB_NS_ALL[$i]}" 2>/dev/null
	done
	CRAB_NS_ALL=()
}
trap crab_cleanup EXIT
# A runner timeout sends TERM: leave through the EXIT trap so namespaces go.
trap 'exit 1' TERM INT

crab_ns_add() {
	local ns=$1
	ip netns add "$ns" || crab_fail "cannot create netns $ns"
	CRAB_NS_ALL+=("$ns")
	crab_ns_anchor "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

# crab_ns_anchor NS...: a process in each namespace for the whole test
# (CRAB_NS_PID, read by crab_ns_file); killed with the namespaces.
crab_ns_anchor() {
	local ns pid
	if [ -x "$CRAB_NETTEST" ]; then
		while read -r ns pid; do
			CRAB_NS_PID[$ns]=$pid
		done < <("$CRAB_NETTEST" anchor "$@")
		return
	fi
	for ns in "$@"; do
		nsenter --net="/run/netns/$ns" sleep 1000000 </dev/null >/dev/null 2>&1 &
		CRAB_NS_PID[$ns]=$!
		disown $!
	done
}

# Attach namespace $1 to the segment as eth0 with address $2.
crab_ns_attach() {
	local ns=$1 ip=$2 peer=v${#CRAB_NS_ALL[@]}-$RANDOM
	ip link add eth0 netns "$ns" type veth peer name "$peer" netns "$NS_SW" ||
		crab_fail "cannot create veth for $ns"
	ip -n "$NS_SW" link set "$peer" master br0 up
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.eth0.rp_filter=0
}

# Standard topology with $1 servers (default 3). Built with a handful of
# processes (ip -batch per namespace, every sysctl by one crab-nettest):
# in an emulated guest each `ip` costs a third of a second, and every
# test starts with this.
crab_topo_setup() {
	local n=${1:-3} i ns b peer sys=() hosts=()
	local -A addr=() peers=()
	crab_require_root
	crab_check_tool ip
	crab_need_nettest
	NS_SW=crab-sw-$CRAB_SFX
	NS_CLI=crab-cli-$CRAB_SFX
	NS_LB=crab-lb-$CRAB_SFX
	NS_SRV=() IP_SRV=()
	addr[$NS_LB]=$IP_LB
	addr[$NS_CLI]=$IP_CLI
	hosts=("$NS_LB" "$NS_CLI")
	for ((i = 1; i <= n; i++)); do
		NS_SRV[i]=crab-srv$i-$CRAB_SFX
		IP_SRV[i]=$CRAB_SUBNET.$((10 + i))
		addr[${NS_SRV[i]}]=${IP_SRV[i]}
		hosts+=("${NS_SRV[i]}")
	done
	# Namespaces, and each host's veth with its other end in the switch.
	b=
	for ns in "$NS_SW" "${hosts[@]}"; do
		b+="netns add $ns"$'\n'
	done
	for ns in "${hosts[@]}"; do
		peer=v$((${#CRAB_NS_ALL[@]} + ${#peers[@]}))-$RANDOM
		peers[$ns]=$peer
		b+="link add eth0 netns $ns type veth peer name $peer netns $NS_SW"$'\n'
	done
	ip -b - <<<"$b" || crab_fail "cannot create the namespaces and veths of the topology"
	CRAB_NS_ALL+=("$NS_SW" "${hosts[@]}")
	crab_ns_anchor "$NS_SW" "${hosts[@]}"
	# The switch: a bridge with every host's port.
	b="link set lo up"$'\n'"link add br0 type bridge forward_delay 0"$'\n'"link set br0 up"$'\n'
	for ns in "${hosts[@]}"; do
		b+="link set ${peers[$ns]} master br0 up"$'\n'
	done
	ip -n "$NS_SW" -b - <<<"$b" || crab_fail "cannot build the switch in $NS_SW"
	# Each host: loopback, its address; the client routes the VIP via the LB.
	for ns in "${hosts[@]}"; do
		b="link set lo up"$'\n'"addr add ${addr[$ns]}/24 dev eth0"$'\n'"link set eth0 up"$'\n'
		[ "$ns" = "$NS_CLI" ] && b+="route add $VIP/32 via $IP_LB"$'\n'
		ip -n "$ns" -b - <<<"$b" || crab_fail "cannot configure $ns"
	done
	# Sysctls, all namespaces in one process: no reverse-path filter; the
	# LB forwards, and sends SYNs back out of the interface they came in
	# on without redirecting the client.
	for ns in "$NS_SW" "${hosts[@]}"; do
		sys+=("@$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0)
		[ "$ns" = "$NS_SW" ] || sys+=(net.ipv4.conf.eth0.rp_filter=0)
	done
	sys+=("@$NS_LB" net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0
		net.ipv4.conf.eth0.send_redirects=0)
	"$CRAB_NETTEST" sysctl "${sys[@]}" || crab_fail "cannot set the topology's sysctls"
	CRAB_NSERVERS=$n
	crab_wait_l2
}

# Extra host on the segment: crab_add_host NAME IP sets NS_<NAME>.
crab_add_host() {
	local name=$1 ip=$2 ns=crab-${1,,}-$CRAB_SFX
	crab_ns_add "$ns"
	crab_ns_attach "$ns" "$ip"
	printf -v "NS_$name" '%s' "$ns"
}

# Wait until the segment forwards (bridge ports up): ping LB from the client.
crab_wait_l2() {
	local i
	for i in $(seq 1 50); do
		ip netns exec "$NS_CLI" ping -c1 -W1 "$IP_LB" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	crab_fail "L2 segment did not come up"
}

# ---- IPv6 addresses of the standard topology ---------------------------------
# ULA, inside the test's namespaces: the segment CRAB_SUBNET6::/64 (LB ::1,
# client ::2, server i ::1i), VIP6 routed from the client via the LB.
# crab_topo_setup gives IPv4 only; crab_topo6_setup adds these.
CRAB_SUBNET6=fd00:c4ab:0:1
VIP6=fd00:c4ab:100::1
IP6_LB=$CRAB_SUBNET6::1
IP6_CLI=$CRAB_SUBNET6::2
declare -a IP6_SRV

# crab_topo6_setup (after crab_topo_setup): the addresses (without DAD:
# usable at once), the client's route to VIP6, forwarding on the LB, and
# the neighbours resolved (the LB's and the client's of every server).
crab_topo6_setup() {
	local i ns
	ip -n "$NS_LB" addr add "$IP6_LB/64" dev eth0 nodad || return 1
	ip -n "$NS_CLI" addr add "$IP6_CLI/64" dev eth0 nodad || return 1
	ip -n "$NS_CLI" route add "$VIP6/128" via "$IP6_LB" || return 1
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		IP6_SRV[i]=$CRAB_SUBNET6::1$i
		ip -n "${NS_SRV[i]}" addr add "${IP6_SRV[i]}/64" dev eth0 nodad || return 1
	done
	"$CRAB_NETTEST" sysctl "@$NS_LB" net.ipv6.conf.all.forwarding=1 || return 1
	for i in $(seq 1 50); do
		ip netns exec "$NS_CLI" ping -6 -c1 -W1 "$IP6_LB" >/dev/null 2>&1 && break
		sleep 0.1
	done
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		for ns in "$NS_LB" "$NS_CLI"; do
			ip netns exec "$ns" ping -6 -c1 -W5 "${IP6_SRV[i]}" >/dev/null || return 1
		done
	done
}

# crab_add_host6 NAME IP IP6: crab_add_host with an IPv6 address too.
crab_add_host6() {
	local ns
	crab_add_host "$1" "$2"
	ns=NS_$1
	ip -n "${!ns}" addr add "$3/64" dev eth0 nodad
}

# Put VIP on the loopback of every server (DSR, legacy hash mode).
crab_servers_vip_on_lo() {
	local i
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		ip -n "${NS_SRV[i]}" addr add "$VIP/32" dev lo
		ip netns exec "${NS_SRV[i]}" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2
	done
}

crab_has_modules() {
	[ -e /proc/modules ]
}

# The kernel can load modules (the host kernel cannot; the VM kernels can).
crab_require_modules() {
	crab_has_modules || crab_skip_env "kernel $(uname -r) without loadable module support"
}

# insmod a module of ours built for the running kernel. A kernel without
# module support is a skip; a module that was not built is crab_missing.
crab_load_module() {
	local name=$1; shift
	local ko
	crab_require_modules
	ko=$(find "$CRAB_MODDIR" -name "$name.ko" 2>/dev/null | head -n1)
	[ -n "$ko" ] || crab_missing "module $name.ko not built in $CRAB_MODDIR"
	if ! grep -q "^$name " /proc/modules; then
		insmod "$ko" "$@" || crab_fail "insmod $name failed"
		crab_defer "rmmod $name"
	fi
}

# The endpoint modules (crab_client.ko, crab_server.ko) change nothing
# until configured, in every namespace: enabled 0, lists empty (= none).
#   crab_client_config NS [--announce CIDRS] [--allow CIDRS] [--off]
# configures crab_client in NS explicitly: announce in SYNs to CIDRS
# (default $VIP/32), accept redirects from CIDRS (default the segment,
# $CRAB_SUBNET.0/24; "" = none), enabled (--off: disabled), and reads the
# values back. Fails the test when the module is not loaded.
crab_client_config() {
	local ns=$1 ann=$VIP/32 allow=$CRAB_SUBNET.0/24 en=1 got; shift
	while [ $# -gt 0 ]; do
		case $1 in
		--announce) ann=$2; shift 2 ;;
		--allow) allow=$2; shift 2 ;;
		--off) en=0; shift ;;
		*) crab_fail "crab_client_config: unknown argument '$1'" ;;
		esac
	done
	ip netns exec "$ns" sh -c 'cd /proc/sys/net/crab &&
		printf "%s" "$1" >client_announce_cidrs &&
		printf "%s" "$2" >client_allow_cidrs && echo "$3" >client_enabled' \
		sh "$ann" "$allow" "$en" || crab_fail "cannot configure crab_client in $ns"
	got=$(ip netns exec "$ns" sh -c 'cd /proc/sys/net/crab &&
		echo "$(cat client_enabled) $(cat client_announce_cidrs) $(cat client_allow_cidrs)"')
	crab_log "crab_client in $ns: enabled, announce, allow = $got"
}

#   crab_server_config [--off] NS...
# turns crab_server's echo on (--off: off) in each NS.
crab_server_config() {
	local en=1 ns
	[ "${1:-}" = --off ] && { en=0; shift; }
	for ns in "$@"; do
		ip netns exec "$ns" sh -c "echo $en >/proc/sys/net/crab/server_enabled" ||
			crab_fail "cannot configure crab_server in $ns"
	done
}

# The test tool must be built: a missing one is a failure, not a skip.
crab_need_nettest() {
	[ -x "$CRAB_NETTEST" ] || crab_fail "crab-nettest not built ($CRAB_NETTEST; make userspace)"
}

# crab_echo_server NS PORT[,PORT...] [crab-nettest server options]: an echo
# server in namespace NS, listening when this returns (the tool forks once
# its sockets listen: no polling). Its pid in CRAB_ECHO_PID.
crab_echo_server() {
	local ns=$1 port=$2; shift 2
	crab_need_nettest
	CRAB_ECHO_PID=$(ip netns exec "$ns" "$CRAB_NETTEST" server --port "$port" --daemon "$@") &&
		[ -n "$CRAB_ECHO_PID" ] || crab_fail "echo server in $ns did not listen on $port"
	crab_defer "kill $CRAB_ECHO_PID"
}

# crab_echo_servers PORT[,PORT...] [options]: one on every server.
crab_echo_servers() {
	local port=$1 i; shift
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		crab_echo_server "${NS_SRV[i]}" "$port" "$@"
	done
}

# ---- the client's JSON report, read without a process ------------------------
# crab_jnum REPORT KEY: a top-level number of a client report ("ok",
# "failed", "rounds", ...), empty when absent.
crab_jnum() {
	[[ $1 =~ \"$2\":\ *(-?[0-9.]+) ]] && echo "${BASH_REMATCH[1]}"
}

# crab_peers REPORT: the peers as "IP:N IP:N ..." (sorted by address text).
crab_peers() {
	local p out=
	[[ $1 =~ \"peers\":\ *\{([^}]*)\} ]] || return 0
	p=${BASH_REMATCH[1]//\"/}
	p=${p//: /:}
	p=${p//,/}
	echo $p
}

# crab_peer REPORT IP: connections whose peer was IP (0 when none).
crab_peer() {
	local e
	for e in $(crab_peers "$1"); do
		[ "${e%:*}" = "$2" ] && { echo "${e##*:}"; return; }
	done
	echo 0
}

# crab_conns_ok REPORT N: N connections succeeded and none failed.
crab_conns_ok() {
	[ "$(crab_jnum "$1" ok)" = "$2" ] && [ "$(crab_jnum "$1" failed)" = 0 ]
}

# crab_peers_within REPORT N TOL IP...: exactly these peers, each N +- TOL.
crab_peers_within() {
	local r=$1 n=$2 tol=$3 e v seen=0; shift 3
	for e in $(crab_peers "$r"); do
		[[ " $* " == *" ${e%:*} "* ]] || return 1
		v=${e##*:}
		[ $((v - n)) -le "$tol" ] && [ $((n - v)) -le "$tol" ] || return 1
		seen=$((seen + 1))
	done
	[ "$seen" = $# ]
}

# crab_peers_among REPORT IP...: every peer is one of these.
crab_peers_among() {
	local r=$1 e; shift
	for e in $(crab_peers "$r"); do
		[[ " $* " == *" ${e%:*} "* ]] || return 1
	done
}

# crab_hist_get HIST KEY: a count of "KEY:N,KEY:N" (crab-nettest pcap
# --summary's histograms), 0 when the key is absent.
crab_hist_get() {
	local e
	for e in ${1//,/ }; do
		[ "${e%:*}" = "$2" ] && { echo "${e##*:}"; return; }
	done
	echo 0
}

# crab_pcap_summary [--port P] [--opt-kind K] LABEL=FILE...: the captured
# TCP packets counted per label into CRAB_PCAP[LABEL.KEY] (n, syn,
# csum_bad, dst, opt, ttl, len: see crab-nettest pcap --summary), and
# CRAB_PCAP[sports.total] / CRAB_PCAP[sports.multi] (source ports seen, and
# seen at more than one label). One process for all files.
declare -A CRAB_PCAP
crab_pcap_summary() {
	local out label rest kv
	crab_need_nettest
	out=$("$CRAB_NETTEST" pcap --summary "$@") || crab_fail "cannot read the captures: $*"
	CRAB_PCAP=()
	while read -r label rest; do
		for kv in $rest; do
			CRAB_PCAP[$label.${kv%%=*}]=${kv#*=}
		done
	done <<<"$out"
}

# crab_jget PATH... < JSON: values at crab-nettest json paths (one a line).
crab_jget() {
	"$CRAB_NETTEST" json "$@"
}

# ---- counters of a namespace, read without a process -------------------------
# Every namespace of crab_ns_add gets a process that lives in it for the
# whole test (CRAB_NS_PID): /proc/PID/net/* is then the namespace's, and a
# test reads counters with shell builtins instead of starting `ip netns
# exec` and a reader each time (a third of a second apiece in an emulated
# guest). crab_ns_file NS FILE: the path of /proc/net/FILE as NS sees it.
crab_ns_file() {
	local pid=${CRAB_NS_PID[$1]:-}
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || pid=$(ip netns pids "$1" 2>/dev/null | head -n1)
	echo "/proc/${pid:-self}/net/$2"
}

# crab_proc_counter NS FILE NAME [MISSING]: the value of "NAME VALUE" in
# /proc/net/FILE of NS (/proc/net/crab_client, crab_server, the global
# lines of crab_lb); MISSING (default 0) when absent.
crab_proc_counter() {
	local f k v
	f=$(crab_ns_file "$1" "$2")
	while read -r k v _; do
		[ "$k" = "$3" ] && { echo "$v"; return; }
	done <"$f"
	echo "${4:-0}"
}

# Packet captures. crab_capture_start NS FILE FILTER...: tcpdump on eth0 of
# NS into FILE (in immediate mode: libpcap otherwise holds packets in its
# ring for up to a second, and a capture stopped early loses them), returns
# once tcpdump is listening. crab_capture_stop FILE...: waits until every
# packet seen by the kernel is in FILE, stops tcpdump and waits for it.
declare -A CRAB_CAP_PID
crab_capture_start() {
	local ns=$1 file=$2 i; shift 2
	: >"$file.err"
	ip netns exec "$ns" tcpdump -i eth0 -nn -U --immediate-mode -w "$file" \
		"$@" 2>"$file.err" &
	CRAB_CAP_PID[$file]=$!
	crab_defer "kill ${CRAB_CAP_PID[$file]}"
	for i in $(seq 100); do
		grep -q "listening on" "$file.err" && return 0
		kill -0 "${CRAB_CAP_PID[$file]}" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/# tcpdump: /' "$file.err"
	crab_fail "tcpdump did not start in $ns"
}

crab_capture_stop() {
	local file pid i
	# Immediate mode writes each packet as soon as tcpdump runs; on a slow
	# emulated guest it may not have run yet. A stop (SIGTERM) drops what is
	# still queued on its socket: wait until the files stop growing first.
	local sizes prev= n=0
	for i in $(seq 40); do
		sizes=$(stat -c %s "$@" 2>/dev/null | tr '\n' ' ')
		if [ "$sizes" = "$prev" ]; then
			n=$((n + 1))
			[ $n -ge 3 ] && break
		else
			n=0
		fi
		prev=$sizes
		sleep 0.2
	done
	for file in "$@"; do
		pid=${CRAB_CAP_PID[$file]:-}
		[ -n "$pid" ] || continue
		# SIGTERM: background jobs of a script ignore SIGINT; tcpdump
		# flushes its output and exits on either.
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		unset "CRAB_CAP_PID[$file]"
	done
}

# A TcpExt counter of namespace NS: crab_tcpext NS NAME [MISSING]
# (e.g. TCPSynRetrans); prints MISSING (default 0) when the kernel lacks it.
# crab_snmp NS Tcp|Ip|... NAME: the same for /proc/net/snmp. Shell
# builtins over /proc/PID/net (crab_ns_pid): no process per read.
crab_tcpext() {
	crab_netstat_get "$1" netstat TcpExt: "$2" "${3:-0}"
}

crab_snmp() {
	crab_netstat_get "$1" snmp "$2:" "$3" "${4:-0}"
}

crab_netstat_get() {
	local f hdr=() val i
	f=$(crab_ns_file "$1" "$2")
	while read -r -a val; do
		[ "${val[0]}" = "$3" ] || continue
		if [ ${#hdr[@]} = 0 ]; then
			hdr=("${val[@]}")
			continue
		fi
		for i in "${!hdr[@]}"; do
			[ "${hdr[i]}" = "$4" ] && { echo "${val[i]}"; return; }
		done
		break
	done <"$f"
	echo "$5"
}

# JSON field extraction for tests: crab_json JSON PYEXPR (j is the doc).
# A plain lookup (j["a"]["b"], j['a']) of a number, string or boolean is
# answered by crab-nettest json, printed as Python prints it; any other
# expression starts Python (seconds in an emulated guest).
crab_json() {
	local e=$2 path= v
	if [[ $e =~ ^j(\[(\"[A-Za-z0-9_.:-]+\"|\'[A-Za-z0-9_.:-]+\')\])+$ ]] && [ -x "$CRAB_NETTEST" ]; then
		e=${e#j}
		e=${e//\"/}
		e=${e//\'/}
		e=${e//\[/\/}
		path=${e//\]/}
		if v=$("$CRAB_NETTEST" json "$path" <<<"$1" 2>/dev/null); then
			case $v in
			true) echo True; return 0 ;;
			false) echo False; return 0 ;;
			null) echo None; return 0 ;;
			'{'* | '['*) ;;
			*) echo "$v"; return 0 ;;
			esac
		fi
	fi
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
