# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the hardening selftests (sourced after ../lib.sh).

HD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HD_MALFORMED="python3 $HD_DIR/malformed.py"
# The spoofing host on the segment (crab_add_host EVIL).
IP_EVIL=$CRAB_SUBNET.66

# crab_client is loaded for every namespace: were it turned on in the
# spoofing host, it would announce in the raw SYNs of malformed.py too
# (LOCAL_OUT sees them), putting a well-formed option first. It starts
# off; make sure it stays so.
hd_evil_quiet() {
	ip netns exec "$NS_EVIL" sysctl -qw net.crab.client_enabled=0 ||
		crab_fail "cannot disable crab_client in $NS_EVIL"
}

# hd_ns_pid NS: a sleeping process in NS (started on the first call, in
# the test's shell: call it once outside $(...) first), whose
# /proc/PID/net/... files show that namespace's counters without starting
# a process per read.
declare -A HD_NSPID=()
hd_ns_pid() {
	local ns=$1 pid ino i
	if [ -z "${HD_NSPID[$ns]:-}" ]; then
		ip netns exec "$ns" sleep 100000 </dev/null >/dev/null 2>&1 &
		pid=$!
		crab_defer "kill $pid"
		ino=$(stat -L -c %i "/run/netns/$ns")
		for ((i = 0; i < 200; i++)); do
			[ "$(readlink "/proc/$pid/ns/net")" = "net:[$ino]" ] && break
			sleep 0.05
		done
		HD_NSPID[$ns]=$pid
	fi
	echo "${HD_NSPID[$ns]}"
}

# Remember where the kernel log is now (a line of our own in it: a line
# count would shift once the ring buffer is full and wraps); hd_dmesg_check
# looks only past it.
hd_dmesg_mark() {
	HD_DMESG_MARK="crab-test: $CRAB_TEST mark $$ $RANDOM"
	echo "$HD_DMESG_MARK" >/dev/kmsg || crab_fail "cannot write to /dev/kmsg"
}

# The kernel log since hd_dmesg_mark; the whole buffer when the mark has
# already been pushed out of it (then every line in it is newer).
hd_dmesg_since() {
	local log
	log=$(dmesg)
	if grep -qF -- "$HD_DMESG_MARK" <<<"$log"; then
		sed -n "/$HD_DMESG_MARK/,\$p" <<<"$log"
	else
		echo "$log"
	fi
}

# hd_dmesg_check: fails (and prints them) when the kernel logged an oops,
# a WARN, a BUG or a sanitizer report since hd_dmesg_mark.
hd_dmesg_check() {
	local bad
	bad=$(hd_dmesg_since | grep -E \
		'BUG:|WARNING:|Oops|general protection|KASAN|UBSAN|kernel BUG|refcount_t:|list_(add|del) corruption|stack-protector|RIP:' |
		head -n 20)
	[ -z "$bad" ] && return 0
	echo "$bad" | sed 's/^/# dmesg: /'
	return 1
}

# Run a command in namespace $1. With HD_NSENTER set, by nsenter (keeps
# the caller's mounts, e.g. a private bpffs), else by ip netns exec.
hd_nsexec() {
	local ns=$1; shift
	if [ -n "${HD_NSENTER:-}" ]; then
		nsenter --net="/run/netns/$ns" "$@"
	else
		ip netns exec "$ns" "$@"
	fi
}

# hd_nsexec_exec NS CMD...: hd_nsexec that ends in CMD (for exec).
hd_nsexec_exec() {
	local ns=$1; shift
	if [ -n "${HD_NSENTER:-}" ]; then
		exec nsenter --net="/run/netns/$ns" "$@"
	fi
	exec ip netns exec "$ns" "$@"
}

# hd_run_cases OUTFILE NS ARGS...: run malformed.py in NS, one log_test per
# case line ("ok NAME ..." / "FAIL NAME: ..."). Returns malformed.py's status.
hd_run_cases() {
	local out=$1 ns=$2 rc line name; shift 2
	hd_nsexec "$ns" $HD_MALFORMED "$@" >"$out"
	rc=$?
	while read -r line; do
		name=${line#ok }
		name=${name#FAIL }
		name=${name%%[ :]*}
		case $line in
		"ok "*) echo "# $line"; log_test 0 "$HD_TARGET: $name counted, nothing else" ;;
		*) echo "# $line"; log_test 1 "$HD_TARGET: $name counted, nothing else" ;;
		esac
	done <"$out"
	[ -s "$out" ] || log_test 1 "$HD_TARGET: malformed.py produced no result (rc $rc)"
	return $rc
}

# hd_traffic_start NS ADDR PORT OUT [TIMEOUT]: real connections, 10 a
# second, until hd_traffic_stop (each with TIMEOUT seconds, default 20, to
# connect and echo): one crab-nettest client process (--rate --until),
# whose JSON report goes to OUT. Paced: back to back, they would take the
# only CPU of an emulated guest from the code under test. With
# HD_TRAFFIC_CG set, the client runs as a member of that cgroup (v2 path).
hd_traffic_start() {
	local ns=$1 addr=$2 port=$3 out=$4 tmo=${5:-20}
	crab_need_nettest
	: >"$out"
	rm -f "$out.stop"
	(
		if [ -n "${HD_TRAFFIC_CG:-}" ]; then
			echo $BASHPID >"$HD_TRAFFIC_CG/cgroup.procs" || exit 1
		fi
		hd_nsexec_exec "$ns" "$CRAB_NETTEST" client --addr "$addr" --port "$port" --count 1000000 \
			--rate 10 --parallel 4 --timeout "$tmo" --until "$out.stop" --deadline 3600 >"$out"
	) &
	HD_TRAFFIC_PID=$!
	crab_defer "touch $out.stop; kill $HD_TRAFFIC_PID"
}

# hd_traffic_stop OUT: let the running connections finish, then read the
# report: sets HD_OK and HD_FAILED (connections), HD_ROUNDS (the
# connections in threes, as the earlier rounds of three counted).
hd_traffic_stop() {
	local out=$1 r
	touch "$out.stop"
	wait "$HD_TRAFFIC_PID"
	r=$(cat "$out")
	HD_OK=$(crab_jnum "$r" ok) HD_FAILED=$(crab_jnum "$r" failed)
	: "${HD_OK:=0}" "${HD_FAILED:=1}"
	HD_ROUNDS=$(((HD_OK + HD_FAILED) / 3))
}

# ---- leak evidence on kernels without kmemleak (Debian's have none) ----

# vmalloc areas whose allocating caller no longer resolves to a symbol:
# what an unloaded module left allocated by vmalloc (e.g. a kvcalloc'ed
# table that did not fit kmalloc) stays listed with a bare address.
hd_vmalloc_orphans() {
	awk '$3 ~ /^0x[0-9a-f]+$/' /proc/vmallocinfo | wc -l
}

# Unreclaimable kernel memory in kB: SUnreclaim (slabs, and the pages of
# kmalloc_large, where the modules' kvcalloc'ed tables land) plus
# VmallocUsed (where kvcalloc falls back to).
hd_kmem_kb() {
	awk '$1 == "SUnreclaim:" || $1 == "VmallocUsed:" { s += $2 } END { print s + 0 }' /proc/meminfo
}

# Bytes in active objects of the kmalloc-* slab caches.
hd_kmalloc_bytes() {
	awk '$1 ~ /^kmalloc-[0-9kK]+$/ { b += $2 * $4 } END { print b + 0 }' /proc/slabinfo
}

# Percpu memory (kB, /proc/meminfo).
hd_percpu_kb() {
	awk '$1 == "Percpu:" { print $2 }' /proc/meminfo
}

# hd_hooks NS: netfilter hook functions registered in NS ("nft list
# hooks": the function and, for a module, [module]).
hd_hooks() {
	ip netns exec "$1" nft list hooks 2>/dev/null
}
