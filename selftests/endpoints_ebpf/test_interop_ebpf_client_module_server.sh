#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Interoperability: the eBPF client (sock_ops + tc) with the module server
# (crab_server.ko) on the three backends, through the XDP LB. $N
# connections to the VIP succeed with data echoed, each one redirected by
# the eBPF client on the module's echoed option; the LB saw one packet per
# connection and split them evenly (rr); the client's flow table drains;
# on Linux 6.4 and later each redirect went through the input-path probe.
# Then the same pair over IPv6, through the IPv6 nft LB (SYNs only, every
# other segment to VIP6 dropped).

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

N=${EP_CONNS:-30}

ep_unshare "$@"
crab_has_modules || crab_skip "kernel without loadable module support"
crab_check_tool taskset
EP_LB=xdp EP_SERVER=module
ep_setup --announce "$VIP/32,$VIP6/128" --allow "$CRAB_SUBNET.0/24,$EP6_NET::10/124"

e0=0
for i in 1 2 3; do
	e0=$((e0 + $(ep_mod_counter "${NS_SRV[i]}" crab_server synack_echoed)))
done
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
# One CPU sends everything (the XDP LB's rr position is per CPU).
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" taskset -c 0 $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count $N --timeout 10 --deadline 300)
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "client: ${out:0:300}"
[ "$(crab_json "$out" 'j["ok"]')" = $N ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
log_test $? "$N connections eBPF client -> XDP LB -> crab_server.ko, data echoed"

e1=0
s=()
for i in 1 2 3; do
	e1=$((e1 + $(ep_mod_counter "${NS_SRV[i]}" crab_server synack_echoed)))
	s[i]=$(ep_server_opens $i)
done
red=$(ep_stat redirected)
crab_log "crab_server synack_echoed +$((e1 - e0)); eBPF client redirected=$red; per server ${s[*]:1}; SYN retransmissions $retr"
[ "$red" = $N ] && [ $((e1 - e0)) -ge $N ] &&
	[ "$(crab_json "$out" 'j["peers"]')" = "{'$VIP': $N}" ]
log_test $? "the module's echoed option redirected every connection ($red), getpeername() = VIP"

syn=$(ep_xdp_counter syn_redirected)
nsd=$(ep_xdp_counter nonsyn_drop)
# Per-CPU rr: within one per extra CPU (see test_endpoints_ebpf_connections.sh).
tol=$((retr + $(nproc) - 1))
ok=0
for i in 1 2 3; do
	[ $((s[i] - N / 3)) -le $tol ] && [ $((N / 3 - s[i])) -le $tol ] || ok=1
done
[ "$syn" = $((N + retr)) ] && [ "$nsd" = 0 ] && [ $((s[1] + s[2] + s[3])) = $N ] || ok=1
log_test $ok "LB saw one SYN per connection ($syn, $nsd others), rr split ${s[*]:1}"

ep_maps_drained && [ "$EP_CLOSED" = $N ]
log_test $? "client flow table is empty after close"

# Linux 6.4 and later: every redirect went through the input-path probe.
if ep_probe_expected; then
	ep_probe_attached && [ "$(ep_stat probes_sent)" = $N ] && [ "$(ep_stat rejected_probe)" = 0 ]
	log_test $? "each redirect passed the input-path probe ($(ep_stat probes_sent) probes)"
else
	log_test $ksft_skip "input-path probe: kernel $(uname -r) has no BPF netfilter programs (Linux 6.4)"
fi

# IPv6: the eBPF client announces and redirects, the module servers echo
# the 20-byte form.
P6=8086 N6=${EP_CONNS6:-15}
ep_v6_setup || crab_fail "IPv6 addresses of the topology"
ep_lb6_setup $P6 || crab_fail "the IPv6 nft LB"
for i in 1 2 3; do
	ep_helper_start "srv$i" "${NS_SRV[i]}" "" "$(dirname "$0")/ep_hold.py"
done
ep_helper_start cli "$NS_CLI" "$CG_CLI" "$(dirname "$0")/ep_hold.py"
for i in 1 2 3; do
	[ "$(ep_helper "srv$i" "listen $P6 v6")" = ok ] &&
		[ "$(ep_helper "srv$i" "serve $P6 $EP_TMP/acc6-$i")" = ok ] ||
		crab_fail "IPv6 listener on server $i"
done
e0=0
for i in 1 2 3; do
	e0=$((e0 + $(ep_mod_counter "${NS_SRV[i]}" crab_server synack_echoed)))
done
red0=$(ep_stat redirected)
r=$(ep_helper cli "conns $VIP6 $P6 $N6 10")
e1=0 acc=0
for i in 1 2 3; do
	e1=$((e1 + $(ep_mod_counter "${NS_SRV[i]}" crab_server synack_echoed)))
	[ -e "$EP_TMP/acc6-$i" ] && acc=$((acc + $(cat "$EP_TMP/acc6-$i")))
done
red=$(($(ep_stat redirected) - red0))
crab_log "IPv6: conns $r; eBPF client redirected +$red; crab_server echoed +$((e1 - e0)); accepted $acc; LB6 syn $(ep_lb6_count syn) other $(ep_lb6_count other)"
[ "$r" = "ok $N6" ] && [ "$red" = $N6 ] && [ $((e1 - e0)) -ge $N6 ] && [ "$acc" = $N6 ] &&
	[ "$(ep_lb6_count other)" = 0 ]
log_test $? "IPv6: $N6 connections eBPF client -> IPv6 LB -> crab_server.ko, each redirected on the module's echo"

crab_exit
