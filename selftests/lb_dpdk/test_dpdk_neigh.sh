#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crab-lb-dpdk's neighbour table on af_packet: backend MACs are learned only
# from replies to the LB's own ARP requests. A third host on the segment
# tries to poison the table (an unsolicited reply addressed to the LB, a
# gratuitous request and reply, a request claiming a backend's address, a
# reply for an address nobody asked about): nothing is learned, each is
# counted (arp_unsolicited), SYNs keep going to the real backends. A table
# of two entries with a third backend added: the third stays unresolved
# (neigh_full, "neigh=full" in crabctl show, a line in the log), its SYNs
# are dropped and counted, the two live entries are untouched. Entries age
# (--neigh-lifetime 10): a removed backend's entry expires and is forgotten,
# which lets the third resolve; a backend that stops answering ARP expires
# (its SYNs dropped) and is resolved again when it answers. Also: every
# worker's state lives in DPDK memory on its lcore's socket.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/dpdk_lib.sh"

DIR=$(cd "$(dirname "$0")" && pwd)
TEL="python3 $DIR/dpdk_tel.py"
SVC=$VIP:80
LIFE=10

crab_require_root
crab_check_tool tcpdump python3
crab_need_nettest
crab_require_built "$CRABCTL" crabctl

crab_topo_setup 3
IP_ATK=$CRAB_SUBNET.66
crab_add_host ATK "$IP_ATK"
WORK=$(mktemp -d)
crab_defer rm -rf "$WORK"

mac_of() { ip netns exec "$1" cat /sys/class/net/eth0/address; }
LB_MAC=$(mac_of "$NS_LB")
ATK_MAC=$(mac_of "$NS_ATK")
for i in 1 2 3; do SMAC[i]=$(mac_of "${NS_SRV[i]}"); done

dpdk_start "$WORK" --neigh-size 2 --neigh-lifetime $LIFE --service "$SVC,policy=rr,legacy=drop" \
	--backend "$SVC,${IP_SRV[1]}" --backend "$SVC,${IP_SRV[2]}"
dpdk_wait_ready "$LB_PID" "$PREFIX" "$SVC" "${IP_SRV[2]}"
[ $ready = 0 ] || sed 's/^/# lb: /' "$WORK/lb.log"
log_test $ready "LB up, two backend MACs learned by ARP (table of 2 entries)"
[ $ready = 0 ] || crab_exit

G=
gstats() { G=$($TEL "$PREFIX" /crab/stats); }
g() { crab_jnum "$G" "$1"; }
# be IP: that backend's listing line ("IP weight=.. state=.. mac=.. neigh=..")
be() { $TEL "$PREFIX" "/crab/backends,$SVC" | grep -o "\"$1 [^\"]*\"" | tr -d '"'; }
be_is() { [[ "$(be "$1")" == *"mac=$2 neigh=$3" ]]; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds (polls every 0.2 s)
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}

# 1. Poisoning from a third host, first thing after the MACs are learned:
#    no request of the LB is outstanding (the next refresh is due LIFE/2 s
#    after learning), so no forged reply can pass for an answer.
gstats
unsol0=$(g arp_unsolicited) learned0=$(g arp_learned)
ip netns exec "$NS_ATK" python3 "$DIR/dpdk_arp.py" eth0 \
	"op=reply,dmac=$LB_MAC,smac=$ATK_MAC,sip=${IP_SRV[1]},tha=$LB_MAC,tip=$IP_LB" \
	"op=request,smac=$ATK_MAC,sip=${IP_SRV[2]},tip=${IP_SRV[2]}" \
	"op=reply,smac=$ATK_MAC,sip=${IP_SRV[1]},tha=ff:ff:ff:ff:ff:ff,tip=${IP_SRV[1]}" \
	"op=request,smac=$ATK_MAC,sip=${IP_SRV[1]},tip=$IP_LB" \
	"op=reply,dmac=$LB_MAC,smac=$ATK_MAC,sip=$CRAB_SUBNET.99,tha=$LB_MAC,tip=$IP_LB"
wait_for 5 eval 'gstats; [ "$(g arp_unsolicited)" -ge $((unsol0 + 5)) ]'
gstats
crab_log "arp_unsolicited $(g arp_unsolicited) (was $unsol0) arp_learned $(g arp_learned) neigh_entries $(g neigh_entries)"
crab_log "$(be "${IP_SRV[1]}") / $(be "${IP_SRV[2]}")"
be_is "${IP_SRV[1]}" "${SMAC[1]}" reachable && be_is "${IP_SRV[2]}" "${SMAC[2]}" reachable &&
	[ "$(g arp_unsolicited)" = $((unsol0 + 5)) ] && [ "$(g arp_learned)" = "$learned0" ] &&
	[ "$(g neigh_entries)" = 2 ]
log_test $? "5 poisoning ARPs from a third host: not learned, counted (arp_unsolicited +5), no new entry"

crab_capture_start "${NS_SRV[1]}" "$WORK/s1.pcap" "tcp and src host $IP_CLI"
crab_capture_start "${NS_SRV[2]}" "$WORK/s2.pcap" "tcp and src host $IP_CLI"
crab_capture_start "$NS_ATK" "$WORK/atk.pcap" "tcp"
dpdk_send count=4 sport=20000
crab_capture_stop "$WORK/s1.pcap" "$WORK/s2.pcap" "$WORK/atk.pcap"
ok=0
dpdk_syns_ok "$WORK/s1.pcap" "${IP_SRV[1]}" "$VIP" 2 || ok=1
dpdk_syns_ok "$WORK/s2.pcap" "${IP_SRV[2]}" "$VIP" 2 || ok=1
dpdk_syns "$WORK/atk.pcap"
[ "${CRAB_PCAP[s.syn]}" = 0 ] || ok=1
log_test $ok "SYNs after the attempt: 2/2 at the real backends, none at the third host"

# 2. The worker's state: DPDK memory, its lcore's socket, cache-line aligned.
wm=$(crab_json "$G" 'j["worker_mem"]' | tr -d "[]'")
crab_log "worker_mem: $wm"
[[ $wm =~ lcore_socket=([0-9]+)\ mem=dpdk\ mem_socket=([0-9]+)\ aligned=1 ]] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
log_test $? "per-lcore state in DPDK memory on the lcore's socket, cache-line aligned"

# 3. Full table: a third backend cannot get an entry; the live ones stay.
r=$($TEL "$PREFIX" "/crab/backend_add,$SVC,${IP_SRV[3]}")
crab_log "backend_add: $r"
wait_for 5 eval 'gstats; [ "$(g neigh_full)" -ge 1 ]'
gstats
show=$("$CRABCTL" lb dpdk --prefix "$PREFIX" show 2>&1)
stats=$("$CRABCTL" lb dpdk --prefix "$PREFIX" stats 2>&1)
crab_log "$(grep "${IP_SRV[3]}" <<<"$show")"
grep -q "${IP_SRV[3]} .*mac=unresolved neigh=full" <<<"$show" &&
	grep -Eq '^  neigh_full [1-9]' <<<"$stats" && grep -q "neighbour table full" "$WORK/lb.log" &&
	be_is "${IP_SRV[1]}" "${SMAC[1]}" reachable && be_is "${IP_SRV[2]}" "${SMAC[2]}" reachable &&
	[ "$(g neigh_entries)" = 2 ] && [ "$(g neigh_capacity)" = 2 ]
log_test $? "full table: ${IP_SRV[3]} unresolved (neigh_full in crabctl stats, neigh=full in show, logged), live entries kept"
nn0=$(g no_neigh)
dpdk_send count=3 sport=21000
wait_for 5 eval 'gstats; [ "$(g no_neigh)" -ge $((nn0 + 1)) ]'
[ "$(g no_neigh)" = $((nn0 + 1)) ]
log_test $? "rr over 3 backends: the SYN for the unresolved one dropped and counted (no_neigh +1)"

# 4. Ageing: remove backend 1 (its entry expires, then is forgotten, and
#    backend 3 gets the slot) while backend 2 stops answering ARP (expires,
#    its SYNs dropped), then answers again (resolved again).
exp0=$(g neigh_expired)
$TEL "$PREFIX" "/crab/backend_del,$SVC,${IP_SRV[1]}" >/dev/null
ip -n "${NS_SRV[2]}" link set eth0 arp off
t0=$SECONDS
wait_for $((LIFE + 10)) be_is "${IP_SRV[3]}" "${SMAC[3]}" reachable
rc3=$?
wait_for $((LIFE + 4)) eval 'be "${IP_SRV[2]}" | grep -q "mac=unresolved neigh=expired"'
rc2=$?
gstats
crab_log "after $((SECONDS - t0)) s: $(be "${IP_SRV[3]}") / $(be "${IP_SRV[2]}"); neigh_expired $(g neigh_expired) (was $exp0)"
[ $rc3 = 0 ] && [ $rc2 = 0 ] && [ "$(g neigh_expired)" -ge $((exp0 + 2)) ]
log_test $? "aged: removed backend's entry expired and freed, ${IP_SRV[3]} resolved; silent ${IP_SRV[2]} expired"
nn0=$(g no_neigh)
dpdk_send count=2 sport=22000
wait_for 5 eval 'gstats; [ "$(g no_neigh)" -ge $((nn0 + 1)) ]'
[ "$(g no_neigh)" = $((nn0 + 1)) ]
log_test $? "SYN for the expired next hop dropped and counted (no_neigh +1)"
ip -n "${NS_SRV[2]}" link set eth0 arp on
wait_for 5 be_is "${IP_SRV[2]}" "${SMAC[2]}" reachable
log_test $? "expired next hop re-resolved once it answers ARP again"

dpdk_stop "$LB_PID"
[ $rc = 0 ]
log_test $? "SIGTERM: clean exit (rc=$rc)"
[ $rc = 0 ] || sed 's/^/# lb: /' "$WORK/lb.log"

crab_exit
