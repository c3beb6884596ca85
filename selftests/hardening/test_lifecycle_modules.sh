#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Module lifecycle under traffic: crab_client, crab_server and crab_lb_nf
# are each unloaded and reloaded $CRAB_CYCLES times (default 3 in make
# check; CRAB_CYCLES=100 is the long run) while new connections run through the VIP
# in a loop and redirected connections stay open exchanging data. After
# every reload the configuration is applied again as a user would (sysctls
# in the client and server namespaces, the LB's service and backends) and
# read back: every namespace has its sysctls and /proc file again, counters
# start at zero, the service has its three backends. Every rmmod succeeds
# with traffic flowing and removes the module's sysctls and /proc files.
# At the end: the held connections never failed, new connections through
# the VIP are redirected (getpeername() = a DIP, client, LB and server
# counters); the three modules unload with a zero refcount, leaving no
# netfilter hook ("nft list hooks"), sysctl, /proc file, generic netlink
# family behind; no growth of unreclaimable kernel memory over the cycles
# (Debian's kernels have no kmemleak: see README), while the final unload
# visibly frees the modules' tables; no oops, WARN or BUG in the kernel log.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/hd_lib.sh"

N=${CRAB_CYCLES:-3}
MODS="crab_client crab_server crab_lb_nf"
crab_require_root
crab_has_modules || crab_skip "kernel without loadable module support"
crab_check_tool python3 sysctl nft
crab_require_built "$CRABCTL" crabctl
for m in $MODS; do
	grep -q "^$m " /proc/modules && crab_missing "$m already loaded (left by an earlier test?)"
	ko=$(find "$CRAB_MODDIR" -name "$m.ko" 2>/dev/null | head -n1)
	[ -n "$ko" ] || crab_missing "module $m.ko not built in $CRAB_MODDIR"
	printf -v "KO_$m" '%s' "$ko"
done
ko() { local v=KO_$1; echo "${!v}"; }

hd_dmesg_mark
orph0=$(hd_vmalloc_orphans)
crab_topo_setup 3
NS_IDLE=crab-idle-$CRAB_SFX
crab_ns_add "$NS_IDLE"
ALLNS=("$NS_CLI" "$NS_LB" "${NS_SRV[@]:1}" "$NS_IDLE")
# Checked every cycle (apply_* reads the client's and servers' back).
CYCNS=("$NS_LB" "$NS_IDLE")
crab_defer "for m in $MODS; do grep -q \"^\$m \" /proc/modules && rmmod \$m; done"
for m in $MODS; do insmod "$(ko $m)" || crab_fail "insmod $m"; done
NF_DIR=$(mktemp -d)
crab_defer "rm -rf $NF_DIR"

# The configuration a user applies after loading each module.
apply_client() {
	ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=1 \
		net.crab.client_announce_cidrs="$VIP/32" \
		net.crab.client_allow_cidrs="$CRAB_SUBNET.0/24" || return 1
	[ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/crab/client_announce_cidrs)" = "$VIP/32" ] &&
		[ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/crab/client_allow_cidrs)" = "$CRAB_SUBNET.0/24" ]
}
apply_server() {
	local i
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		ip netns exec "${NS_SRV[i]}" sysctl -qw net.crab.server_enabled=1 || return 1
		[ "$(ip netns exec "${NS_SRV[i]}" cat /proc/sys/net/crab/server_enabled)" = 1 ] || return 1
	done
}
apply_lb_nf() {
	nf_service --policy rr --legacy drop || return 1
	lbctl -j lb nf show | python3 -c '
import json, sys
s = [s for s in json.load(sys.stdin)["services"] if s["service"] == sys.argv[1]]
sys.exit(0 if len(s) == 1 and len(s[0]["backends"]) == 3 else 1)' "$NF_SVC"
}
apply() {
	case $1 in
	crab_client) apply_client ;;
	crab_server) apply_server ;;
	crab_lb_nf) apply_lb_nf ;;
	esac
}
# The module's files in every namespace: sysctls (endpoints), /proc/net.
files_of() {
	case $1 in
	crab_client) echo /proc/sys/net/crab/client_enabled /proc/net/crab_client ;;
	crab_server) echo /proc/sys/net/crab/server_enabled /proc/net/crab_server ;;
	crab_lb_nf) echo /proc/net/crab_lb ;;
	esac
}
# files_state MOD NS...: "present" / "absent" when the namespaces agree,
# else "mixed".
files_state() {
	local m=$1 ns n p=0 a=0; shift
	for ns in "$@"; do
		n=$(ip netns exec "$ns" sh -c 'n=0; for f; do [ -e "$f" ] && n=$((n + 1)); done; echo $n' \
			sh $(files_of "$m"))
		p=$((p + n))
		a=$((a + $(files_of "$m" | wc -w) - n))
	done
	if [ $a = 0 ]; then echo present; elif [ $p = 0 ]; then echo absent; else echo mixed; fi
}
# Fresh state after a load: every /proc/net line of an endpoint module is
# 0 in a namespace without traffic; the LB has no service.
counters_zero() {
	if [ "$1" = crab_lb_nf ]; then	# no service left from before
		[ "$(lbctl -j lb nf show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["services"]))')" = 0 ]
		return
	fi
	ip netns exec "$NS_IDLE" awk 'NF == 2 && $2 != 0 { bad = 1 } END { exit bad }' "/proc/net/$1"
}

for m in $MODS; do apply $m || crab_fail "configuring $m"; done
crab_echo_servers "$NF_PORT"

# Hooks as the kernel lists them, to prove the check below can see ours.
hooks_seen=$(hd_hooks "$NS_CLI"; hd_hooks "$NS_LB"; hd_hooks "${NS_SRV[1]}")
hooks_listed=0
for m in $MODS; do
	grep -q "\[$m\]" <<<"$hooks_seen" && hooks_listed=$((hooks_listed + 1))
done
crab_log "nft list hooks shows the hooks of $hooks_listed of the 3 modules"
genl ctrl list 2>/dev/null | grep -q "Name: crab_lb$" ||
	crab_fail "genl ctrl list does not show the crab_lb family while crab_lb_nf is loaded"
crab_log "orphaned vmalloc areas before: $orph0"
# A first connection proves the setup before the cycles.
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$NF_PORT" \
	--count 3 --timeout 20 --deadline 120)
[ "$(crab_json "$out" 'j["ok"]')" = 3 ] || crab_fail "3 probe connections via the VIP failed: ${out:0:300}"
km0=$(hd_kmalloc_bytes) pc0=$(hd_percpu_kb) mem0=$(hd_kmem_kb)

# Redirected connections held open through every cycle.
H=6
rm -f "$NF_DIR/ready" "$NF_DIR/hold.stop"
ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$NF_PORT" --count $H \
	--hold --rounds 100000 --interval 1 --timeout 20 --deadline 120 \
	--ready "$NF_DIR/ready" --stop-file "$NF_DIR/hold.stop" >"$NF_DIR/hold.json" &
hpid=$!
crab_defer "touch $NF_DIR/hold.stop; kill $hpid"
for _ in $(seq 600); do
	[ -e "$NF_DIR/ready" ] && break
	kill -0 $hpid 2>/dev/null || break
	sleep 0.2
done
[ -e "$NF_DIR/ready" ] || crab_fail "the $H held connections did not come up: $(cat "$NF_DIR/hold.json")"

# New connections in a loop: short timeouts, they fail while a module is out.
hd_traffic_start "$NS_CLI" "$VIP" "$NF_PORT" "$NF_DIR/traffic.json" 4
t0=$(date +%s)
declare -A BAD
for ((c = 1; c <= N; c++)); do
	for m in $MODS; do
		why=
		refs=$(cat "/sys/module/$m/refcnt" 2>/dev/null)
		if ! rmmod "$m"; then
			why="rmmod failed (refcnt ${refs:-?})"
		elif [ -e "/sys/module/$m" ] || [ "$(files_state $m "${CYCNS[@]}")" != absent ]; then
			why="not gone after rmmod"
		elif ! insmod "$(ko $m)"; then
			why="insmod failed"
		elif [ "$(files_state $m "${CYCNS[@]}")" != present ]; then
			why="sysctls or /proc file missing after insmod"
		elif ! counters_zero $m; then
			why="state not fresh after insmod"
		elif ! apply $m; then
			why="configuration not applied"
		fi
		if [ -n "$why" ]; then
			crab_log "cycle $c $m: $why"
			BAD[$m]=$((${BAD[$m]:-0} + 1))
			grep -q "^$m " /proc/modules || insmod "$(ko $m)"
			apply $m
		fi
	done
	# Progress of a long run (CRAB_CYCLES=100 takes hours in a loaded TCG
	# guest): every 10 cycles, and the kernel log's state so far.
	[ $((c % 10)) = 0 ] && crab_log "cycle $c of $N: $(($(date +%s) - t0)) s, failures so far: ${#BAD[@]} module(s)$(hd_dmesg_check >/dev/null || echo ', the kernel log has a report (hd_dmesg_check)')"
done
t1=$(date +%s)
hd_traffic_stop "$NF_DIR/traffic.json"
crab_log "$N cycles in $((t1 - t0)) s; new connections meanwhile: $HD_OK ok, $HD_FAILED failed, $HD_ROUNDS rounds"
for m in $MODS; do
	[ "${BAD[$m]:-0}" = 0 ]
	log_test $? "$m: $N rmmod/insmod cycles under traffic, each clean and reconfigured"
done
[ "$HD_OK" -gt 0 ]
log_test $? "connections through the VIP succeeded between the cycles ($HD_OK)"

touch "$NF_DIR/hold.stop"
wait $hpid
hold=$(cat "$NF_DIR/hold.json")
crab_log "held: ${hold:0:300}"
[ "$(crab_json "$hold" 'j["ok"]')" = $H ] && [ "$(crab_json "$hold" 'j["failed"]')" = 0 ] &&
	[ "$(crab_json "$hold" '"'"$VIP"'" not in j["peers"]')" = True ]
log_test $? "$H redirected connections exchanged data through all cycles"

# After the last reload: redirected connections, counted everywhere.
K=9
srv_echo() {
	local i s=0
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		s=$((s + $(ip netns exec "${NS_SRV[i]}" awk '$1 == "synack_echoed" { print $2 }' /proc/net/crab_server)))
	done
	echo $s
}
red0=$(ip netns exec "$NS_CLI" awk '$1 == "redirected" { print $2 }' /proc/net/crab_client)
syn0=$(nf_counter syn_redirected)
echo0=$(srv_echo)
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$NF_PORT" \
	--count $K --timeout 20 --deadline 200)
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
red=$(($(ip netns exec "$NS_CLI" awk '$1 == "redirected" { print $2 }' /proc/net/crab_client) - red0))
syn=$(($(nf_counter syn_redirected) - syn0))
echo=$(($(srv_echo) - echo0))
crab_log "after: ${out:0:300}; redirected +$red, LB syn_redirected +$syn, servers synack_echoed +$echo, SYN retransmissions $retr"
[ "$(crab_json "$out" 'j["ok"]')" = $K ] &&
	[ "$(crab_json "$out" 'set(j["peers"]) <= {"'"${IP_SRV[1]}"'", "'"${IP_SRV[2]}"'", "'"${IP_SRV[3]}"'"}')" = True ] &&
	[ "$red" = $K ] && [ "$syn" -ge $K ] && [ "$syn" -le $((K + retr)) ] &&
	[ "$echo" -ge $K ] && [ "$echo" -le $((K + retr)) ]
log_test $? "after the last reload: $K connections redirected (peers are DIPs, counters agree)"

# Final unload, quiescent: no held connection, no traffic.
km1=$(hd_kmalloc_bytes) pc1=$(hd_percpu_kb) mem1=$(hd_kmem_kb)
rc=0
for m in $MODS; do
	refs=$(cat "/sys/module/$m/refcnt")
	[ "$refs" = 0 ] || { crab_log "$m refcnt $refs before the final rmmod"; rc=1; }
	rmmod "$m" || { crab_log "final rmmod $m failed"; rc=1; }
	[ -e "/sys/module/$m" ] && { crab_log "/sys/module/$m still there"; rc=1; }
	[ "$(files_state $m "${ALLNS[@]}")" = absent ] || { crab_log "$m: sysctls or /proc files left"; rc=1; }
done
log_test $rc "final unload: refcounts 0, modules, sysctls and /proc files gone in every namespace"

rc=0
hooks=$(for ns in "${ALLNS[@]}"; do hd_hooks "$ns"; done | grep -E '\[crab_(client|server|lb_nf)\]')
[ -z "$hooks" ] || { echo "$hooks" | sed 's/^/# left: /'; rc=1; }
if genl ctrl list 2>/dev/null | grep -q "Name: crab_lb$"; then
	crab_log "generic netlink family crab_lb still registered"
	rc=1
fi
[ -d /proc/sys/net/crab ] && { crab_log "/proc/sys/net/crab still there"; rc=1; }
if [ "$hooks_listed" = 3 ]; then
	log_test $rc "no netfilter hook (nft list hooks), genl family or sysctl directory left"
else
	log_test $rc "no genl family or sysctl directory left (nft list hooks did not list the modules' hooks: not checked)"
fi

# Leak evidence without kmemleak (README): unreclaimable kernel memory
# in the same state (all loaded and configured, no connection) before
# and after the cycles; the final unload must free the endpoint tables
# (16384 slots of 32 bytes, a 512 KiB allocation plus locks, per module
# and namespace: 2 x (${#ALLNS[@]} + 2) of them, init_net and the bridge's
# namespace too), which shows the measure sees them.
orph1=$(hd_vmalloc_orphans)
mem2=$(hd_kmem_kb)
crab_log "kmalloc slabs: $km0 -> $km1 bytes ($(((km1 - km0) / 1024)) KiB) over $N cycles; percpu $pc0 -> $pc1 kB"
crab_log "SUnreclaim + VmallocUsed: $mem0 kB before the cycles, $mem1 kB after ($((mem1 - mem0)) kB), $mem2 kB after the final unload ($((mem2 - mem1)) kB); orphaned vmalloc areas $orph0 -> $orph1"
# An endpoint table is 16384 slots of 32 bytes, 512 KiB: one leaked per
# cycle would grow the measure by N x 512 kB, above the bound from 2 cycles on.
[ $((mem1 - mem0)) -lt 1024 ] && [ "$orph1" -le "$orph0" ]
log_test $? "no kernel memory growth over the cycles (< 1 MiB; one leaked table per cycle would be $((N * 512)) kB)"
[ $((mem1 - mem2)) -ge 4096 ]
log_test $? "the final unload freed the modules' tables ($((mem1 - mem2)) kB >= 4 MiB: the measure sees them)"

hd_dmesg_check
log_test $? "no oops, WARN or BUG in the kernel log"

crab_exit
