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
CRAB_TCPECHO="python3 $CRAB_TOP/selftests/tools/tcpecho.py"
CRAB_SUBNET=198.18.0
VIP=198.18.100.1
IP_LB=$CRAB_SUBNET.1
IP_CLI=$CRAB_SUBNET.2
declare -a NS_SRV IP_SRV
CRAB_NS_ALL=()
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
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
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

# Standard topology with $1 servers (default 3).
crab_topo_setup() {
	local n=${1:-3} i
	crab_require_root
	crab_check_tool ip
	NS_SW=crab-sw-$CRAB_SFX
	NS_CLI=crab-cli-$CRAB_SFX
	NS_LB=crab-lb-$CRAB_SFX
	crab_ns_add "$NS_SW"
	ip -n "$NS_SW" link add br0 type bridge
	ip -n "$NS_SW" link set br0 type bridge forward_delay 0 2>/dev/null
	ip -n "$NS_SW" link set br0 up
	crab_ns_add "$NS_LB"
	crab_ns_attach "$NS_LB" "$IP_LB"
	ip netns exec "$NS_LB" sysctl -qw net.ipv4.ip_forward=1
	# The LB forwards SYNs back out of the interface they came in on; no
	# redirects must be sent to the client for that.
	ip netns exec "$NS_LB" sysctl -qw net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.eth0.send_redirects=0
	crab_ns_add "$NS_CLI"
	crab_ns_attach "$NS_CLI" "$IP_CLI"
	ip -n "$NS_CLI" route add "$VIP/32" via "$IP_LB"
	NS_SRV=() IP_SRV=()
	for ((i = 1; i <= n; i++)); do
		NS_SRV[i]=crab-srv$i-$CRAB_SFX
		IP_SRV[i]=$CRAB_SUBNET.$((10 + i))
		crab_ns_add "${NS_SRV[i]}"
		crab_ns_attach "${NS_SRV[i]}" "${IP_SRV[i]}"
	done
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

# Start a background echo server in namespace $1 on port $2; waits until it listens.
crab_echo_server() {
	local ns=$1 port=$2 i; shift 2
	ip netns exec "$ns" $CRAB_TCPECHO server --port "$port" "$@" &
	local pid=$!
	crab_defer "kill $pid"
	for i in $(seq 1 100); do
		ip netns exec "$ns" ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	crab_fail "echo server in $ns did not listen on $port"
}

crab_echo_servers() {
	local port=$1 i
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		crab_echo_server "${NS_SRV[i]}" "$port"
	done
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
crab_tcpext() {
	ip netns exec "$1" awk -v n="$2" -v m="${3:-0}" '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) idx[$i] = i; h = 1; next }
		$1 == "TcpExt:" && h { print (n in idx) ? $idx[n] : m; exit }
	' /proc/net/netstat
}

# JSON field extraction for tests: crab_json FILE_OR_STRING PYEXPR (j is the doc)
crab_json() {
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
